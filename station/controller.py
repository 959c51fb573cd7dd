"""The controller: one thread that owns the hardware, the store and the state machine.

Every input — a tap, a button, a timer tick, a web command — becomes a message on one queue,
handled one at a time by :func:`station.machine.handle`. The controller then applies the outcome:
relay off first when the machine loses power; the events and their projections in one SQLite
transaction; relay on only after that commit. Any exception switches the relay off and stops the
controller (systemd restarts the station, which closes the open session as ``station_restart``).
Web threads never touch hardware: they read :meth:`Controller.status` and post messages.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from station import __version__, stepping
from station import status as status_view
from station.broadcast import Broadcaster
from station.clock import Clock, Now, SimulatedClock, iso
from station.config import Config
from station.events import EventType, MachineStateChanged, SessionEnded, StationStarted
from station.machine import (
    AirSample,
    ButtonHold,
    ButtonPress,
    Command,
    Context,
    Cue,
    Input,
    Outcome,
    PlugFault,
    PowerSample,
    State,
    Tap,
    Tick,
    handle,
    next_due,
    station_stopped,
)
from station.metering import MeteringConfig, MinuteAggregator
from station.model import EndReason, MachineState
from station.ports import AirReading, Hardware, PlugProblem, PowerReading
from station.roster import Roster
from station.roster_age import roster_expiry
from station.sdnotify import Notifier, watchdog_interval_s
from station.store import Store, store_problem

log = logging.getLogger(__name__)

MAX_WAIT_S = 1.0
"""The loop wakes at least this often: real-clock ticks and watchdog pings."""
ROSTER_EVENTS = frozenset({"qualification_granted", "badge_enrolled"})
"""Events whose projection changes the roster: the controller reloads it after them."""
SAMPLE_BATCH = 5
"""Per-minute sensor rows are written this many at a time (SD cards wear with small writes)."""


@dataclass
class _Message:
    inp: Input | None = None
    reply: Future[Any] | None = None
    advance_s: float | None = None
    stop: bool = False
    call: Callable[[], Any] | None = None
    posted: float = field(default_factory=time.perf_counter)


class ControllerStopped(RuntimeError):
    """The controller is not running (stopped, or failed: see :attr:`Controller.failure`)."""


class Controller:
    def __init__(
        self,
        config: Config,
        hardware: Hardware,
        clock: Clock,
        *,
        notifier: Notifier | None = None,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        store_factory: Callable[[], Store] | None = None,
    ) -> None:
        self.config = config
        self.hardware = hardware
        self.clock = clock
        self.notifier = notifier or Notifier()
        self.new_id = new_id
        self._store_factory = store_factory or (
            lambda: Store(config.db_path, config.station.id, config.machine.id)
        )
        self.broadcaster = Broadcaster()
        self._roster_expired_told = False
        """Whether the last status the kiosk heard said the roster was too old."""
        self._queue: queue.Queue[_Message] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self.failure: BaseException | None = None
        self._status: dict[str, Any] = {}
        self._started_mono = time.monotonic()
        self._last_decision: dict[str, Any] | None = None
        self._decision_seq = 0
        """Counts decisions: two at the same instant are still two screens on the kiosk."""
        self._last_unknown_uid: str | None = None
        self._sync: dict[str, Any] = {"enabled": bool(config.central.url)}
        self._last_seq = 0
        """The log's last seq, kept by every append: the backlog is counted from it."""
        self._acked_seq = 0
        """The highest seq the central store acknowledged (the store's, then the sync client's)."""
        sensors = config.sensors
        metering = MeteringConfig(
            busy_watts=config.machine.busy_watts, stale_after_s=sensors.stale_after_s
        )
        self.metering = metering if hardware.power_meter is not None else None
        self._minutes = MinuteAggregator(metering)
        self._sample_rows: list[dict[str, Any]] = []
        self.sensor_step_s = min(2.0, sensors.stale_after_s / 2)
        """Under a simulated clock, sensors are polled at least this often while time advances."""
        self.state = State()
        self._roster = Roster()
        self._tap_waiters: dict[str, list[Future[Any]]] = {}
        self._waiters_lock = threading.Lock()
        self.store: Store | None = None
        self.roster_version = 0
        self.hardware.relay.off()

    # --- life cycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        self._thread = threading.Thread(target=self._run, name="controller", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self.failure is not None:
            self.latch_relay()
            raise ControllerStopped(f"the station did not start: {self.failure_message()}")
        self.hardware.reader.start(self.tap)
        watch = getattr(self.hardware.relay, "watch", None)
        if callable(watch):  # a smart plug reports what it did unasked (station/machine_plug.py)
            watch(self.plug_problem)
        if not isinstance(self.clock, SimulatedClock):
            # Real time: the sensors' own threads report readings. Simulated time: the controller
            # polls them as it advances the clock (see _advance), so readings follow that clock.
            for sensor in (self.hardware.power_meter, self.hardware.air_sensor):
                if sensor is not None:
                    sensor.start(self.reading)
        if self.hardware.button is not None:
            self.hardware.button.start(self._button_pressed, self._button_held)

    def stop(self, timeout: float = 5.0) -> None:
        """Relay latched off before anything else; then the loop ends what runs (reason
        ``station_stopped``) and stops, within ``timeout``; then the hardware closes."""
        self.latch_relay()
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_Message(stop=True))
            self._thread.join(timeout)
        self.hardware.close()

    def latch_relay(self) -> None:
        """Off now, and no ``relay.on()`` in this process any more (see station/latch.py)."""
        relay = self.hardware.relay
        latch = getattr(relay, "latch_off", None)
        if callable(latch):
            latch()
        else:
            relay.off()

    def failure_message(self) -> str:
        """Why the controller stopped, in one sentence (with what to do when we know it)."""
        if self.failure is None:
            return "the controller is not running"
        return store_problem(self.failure, self.config.db_path) or repr(self.failure)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopped.is_set()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        return self._stopped.wait(timeout)

    # --- inputs (any thread) ------------------------------------------------------------------

    def _button_pressed(self) -> None:
        self.post(ButtonPress())

    def _button_held(self) -> None:
        self.post(ButtonHold())

    def reading(self, reading: object) -> None:
        """The sensors' callback: only posts (it runs on the sensor's own thread)."""
        if isinstance(reading, PowerReading):
            self.post(PowerSample(reading))
        elif isinstance(reading, AirReading):
            self.post(AirSample(reading))

    def plug_problem(self, problem: PlugProblem) -> None:
        """The smart plug's callback: only posts (it runs on the MQTT thread)."""
        self.post(PlugFault(problem.kind, dict(problem.detail)))

    def poll_sensors(self, timeout: float = 10.0) -> None:
        """Read the sensors now, on the controller thread (``/sim/power`` on a simulated clock)."""
        self.run_in_loop(self._poll_sensors, timeout)

    def tap(self, uid: str, verified: bool | None = None) -> None:
        """The reader's callback: only posts (it may run on the reader's own thread)."""
        self.post(Tap(uid, verified))

    def post(self, inp: Input) -> Future[Any]:
        reply: Future[Any] = Future()
        if not self.running:
            reply.set_exception(ControllerStopped("the controller is not running"))
            return reply
        self._queue.put(_Message(inp=inp, reply=reply))
        return reply

    def call(self, inp: Input, timeout: float = 5.0) -> Any:
        """Post an input and wait for the decision it led to (``/sim/badge``, commands)."""
        return self.post(inp).result(timeout)

    def advance(self, seconds: float, timeout: float = 30.0) -> dict[str, Any]:
        """Move a simulated clock forward, handling on the way everything that falls due."""
        if not isinstance(self.clock, SimulatedClock):
            raise ValueError("only a simulated clock can be advanced ([clock] simulated = true)")
        if not math.isfinite(seconds) or seconds < 0 or seconds > 7 * 86400:
            raise ValueError("seconds must be between 0 and 604800 (one week)")
        reply: Future[Any] = Future()
        if not self.running:
            raise ControllerStopped("the controller is not running")
        self._queue.put(_Message(advance_s=seconds, reply=reply))
        return reply.result(timeout)

    def run_in_loop(self, fn: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Run ``fn`` on the controller thread (which owns the store connection)."""
        reply: Future[Any] = Future()
        if not self.running:
            raise ControllerStopped("the controller is not running")
        self._queue.put(_Message(call=fn, reply=reply))
        return reply.result(timeout)

    # --- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._startup()
            self._ready.set()
            self.notifier.ready()
            self._loop()
        except BaseException as e:
            self.latch_relay()
            self.failure = e
            problem = store_problem(e, self.config.db_path)
            if problem is None:
                log.exception("controller failed; relay switched off")
            elif self._ready.is_set():  # running: what to do, not a traceback
                log.error("relay switched off, controller stopped: %s", problem)
            # (failing at start: start() raises it as one sentence, no second line)
        finally:
            self.hardware.relay.off()
            self._stopped.set()
            self._ready.set()
            if self.store is not None:
                self.store.close()
            self._drain()

    def _drain(self) -> None:
        while True:
            try:
                msg = self._queue.get_nowait()
            except queue.Empty:
                return
            if msg.reply is not None and not msg.reply.done():
                msg.reply.set_exception(ControllerStopped("the controller stopped"))

    def _startup(self) -> None:
        self.hardware.relay.off()
        self.store = self._store_factory()
        machine, reason = self.store.machine_state()
        now = self.clock.now()
        records: list[tuple[EventType, Mapping[str, Any]]] = [
            (
                "station_started",
                StationStarted(
                    version=__version__,
                    backend=self.config.hardware.backend,
                    machine_id=self.config.machine.id,
                    kind=self.config.machine.kind,
                ),
            )
        ]
        open_session = self.store.open_session()
        if open_session is not None:
            records += restart_records(open_session, self.config.machine.needs_check_after_use)
            changed = records[-1][1]
            machine = (
                MachineState.TO_CHECK if changed["to"] == "to_check" else (MachineState.AVAILABLE)
            )
            reason = changed["reason"]
        elif machine.relay_on:
            back: MachineStateChanged = {
                "from": machine.value,
                "to": "available",
                "reason": None,
                "why": "station_restart",
                "by": None,
            }
            records.append(("machine_state_changed", back))
            machine, reason = MachineState.AVAILABLE, None
        self.store.append(records, now, self.clock.boot_id)
        self._last_seq = self.store.last_seq()
        self._acked_seq = self.store.acked_seq()
        self.state = State(machine=machine, reason=reason)
        self._reload_roster()
        self._show(self.state)
        self._publish_status()

    def _loop(self) -> None:
        watchdog_s = watchdog_interval_s()
        last_ping = time.monotonic()
        while True:
            wait = MAX_WAIT_S
            if not isinstance(self.clock, SimulatedClock):
                due = next_due(self.state, self._context())
                if due is not None:
                    wait = min(wait, max(0.0, due - self.clock.now().mono))
            try:
                msg: _Message | None = self._queue.get(timeout=wait)
            except queue.Empty:
                msg = None
            if watchdog_s is None or time.monotonic() - last_ping >= watchdog_s:
                self.notifier.watchdog()
                last_ping = time.monotonic()
            self._keep_plug_alive()
            if msg is None:
                if not isinstance(self.clock, SimulatedClock):
                    self._step(Tick())
                continue
            if msg.stop:
                self.hardware.relay.off()
                self._clean_stop()
                return
            try:
                result = self._message(msg)
            except Exception as e:
                if msg.reply is not None and not msg.reply.done():
                    msg.reply.set_exception(e)
                if msg.call is not None:
                    # A read or a small write asked by another thread (its transaction rolled
                    # back): the caller gets the error, the machine logic goes on.
                    log.warning("a call on the controller thread failed: %r", e)
                    continue
                raise  # a failed decision or commit: stop, relay off (see _run)
            except BaseException as e:
                if msg.reply is not None and not msg.reply.done():
                    msg.reply.set_exception(e)
                raise
            if msg.reply is not None and not msg.reply.done():
                msg.reply.set_result(result)

    def _keep_plug_alive(self) -> None:
        """A smart plug's off-timer is renewed from this loop, at least once a second: a
        controller that dies or hangs stops renewing and the plug switches off by itself."""
        keep_alive = getattr(self.hardware.relay, "keep_alive", None)
        if callable(keep_alive):
            try:
                keep_alive()
            except Exception:
                log.warning("the plug's off-timer could not be renewed", exc_info=True)

    def _clean_stop(self) -> None:
        """End the session with its own reason and true totals, while the relay stays latched
        off. If that cannot be written (disk full), restart recovery closes it instead."""
        try:
            if not isinstance(self.clock, SimulatedClock):
                self._step(Tick())  # what fell due meanwhile (a timeout) keeps its own reason
            now = self.clock.now()
            self._apply(station_stopped(self.state, now, self._context()), now, Tick())
            self._flush_samples(final=True)
        except Exception:
            log.exception("the clean stop could not record the end of the session")

    def _message(self, msg: _Message) -> Any:
        if msg.call is not None:
            return msg.call()
        if msg.advance_s is not None:
            return self._advance(msg.advance_s)
        assert msg.inp is not None
        return self._step(msg.inp).decision

    def _advance(self, seconds: float) -> dict[str, Any]:
        """Step a simulated clock to each due time (and, with sensors, every sensor step)."""
        return stepping.advance(self, seconds)

    def _polled_sensors(self) -> list[Any]:
        return [
            s
            for s in (self.hardware.power_meter, self.hardware.air_sensor)
            if s is not None and hasattr(s, "poll_once")
        ]

    def _poll_sensors(self) -> None:
        for sensor in self._polled_sensors():
            for reading in sensor.poll_once():
                if isinstance(reading, PowerReading):
                    self._step(PowerSample(reading))
                elif isinstance(reading, AirReading):
                    self._step(AirSample(reading))

    def _context(self) -> Context:
        return Context(
            self.config.machine,
            self._roster,
            self.new_id,
            self.metering,
            self.config.reader.verify_badges,
        )

    def _step(self, inp: Input) -> Outcome:
        if not isinstance(inp, Tick | PowerSample | AirSample):
            self._roster_check()
        now = self.clock.now()
        outcome = handle(self.state, inp, now, self._context())
        self._apply(outcome, now, inp)
        if isinstance(inp, PowerSample):
            self._sample_rows += [
                r.as_dict() for r in self._minutes.add_power(now.at, now.mono, inp.reading)
            ]
            self._flush_samples()
        elif isinstance(inp, AirSample):
            self._sample_rows += [r.as_dict() for r in self._minutes.add_air(now.at, inp.reading)]
            self._flush_samples()
        if isinstance(inp, Tap):
            with self._waiters_lock:
                waiters = self._tap_waiters.pop(inp.uid, [])
            for w in waiters:
                if not w.done():
                    w.set_result(outcome.decision)
        return outcome

    def _flush_samples(self, final: bool = False) -> None:
        if final:
            self._sample_rows += [r.as_dict() for r in self._minutes.flush()]
        if self._sample_rows and (final or len(self._sample_rows) >= SAMPLE_BATCH):
            assert self.store is not None
            self.store.write_samples(self._sample_rows)
            self._sample_rows = []

    def expect_tap(self, uid: str) -> Future[Any]:
        """A future resolved with the decision of the next tap of ``uid`` that gets handled.

        ``/sim/badge`` uses it when the tap comes through a reader driver rather than a post.
        """
        reply: Future[Any] = Future()
        with self._waiters_lock:
            self._tap_waiters.setdefault(uid, []).append(reply)
        return reply

    def forget_tap(self, uid: str, reply: Future[Any]) -> None:
        with self._waiters_lock:
            waiters = self._tap_waiters.get(uid, [])
            if reply in waiters:
                waiters.remove(reply)

    def _apply(self, outcome: Outcome, now: Now, inp: Input) -> None:
        relay = self.hardware.relay
        want_on = outcome.state.machine.relay_on
        if not want_on and relay.is_on:
            relay.off()
        assert self.store is not None
        stored = self.store.append(
            [(r.type, r.data) for r in outcome.events], now, self.clock.boot_id
        )
        self._count(stored)
        self.state = outcome.state
        if want_on and not relay.is_on:
            relay.on()
        for effect in outcome.effects:
            if isinstance(effect, Cue):
                self._play(effect.name)
        if any(e["type"] in ROSTER_EVENTS for e in stored):
            self._reload_roster()
        decision = outcome.decision
        if decision is None or "granted" not in decision:  # a tick or a command
            notice = kiosk_notice(stored)
            if notice is not None:
                decision = {**notice, "member_name": self._first_name(notice["member_id"] or "")}
        if decision is not None:
            # ``id`` and ``seq``: two decisions at one (simulated) instant are two for the kiosk.
            self._decision_seq += 1
            self._last_decision = {
                **decision,
                "at": now.iso(),
                "id": uuid.uuid4().hex,
                "seq": self._decision_seq,
            }
            if decision.get("reason") == "unknown_badge":
                self._last_unknown_uid = decision.get("uid")
        self._show(outcome.state)
        for event in stored:
            self.broadcaster.publish({"kind": "event", "event": event})
        # A roster growing too old is no event: when it passes, the kiosk hears it all the same.
        exp = self._roster.expires_mono
        expired = exp is not None and now.mono >= exp
        expiry_passed, self._roster_expired_told = expired != self._roster_expired_told, expired
        if stored or outcome.decision is not None or isinstance(inp, PowerSample | AirSample):
            self._publish_status()  # samples too: the kiosk shows live power
        elif expiry_passed:
            self._publish_status()

    def _play(self, cue: str) -> None:
        try:
            self.hardware.buzzer.play(cue)
        except Exception:
            log.warning("buzzer failed to play %s", cue, exc_info=True)

    def _show(self, state: State) -> None:
        """LEDs follow the state: green on in use, blinking while waiting; red when blocked."""
        green, red = self.hardware.green, self.hardware.red
        try:
            if state.machine.relay_on:
                green.on()
            elif state.waiting is not None:
                green.blink(0.25, 0.25)
            else:
                green.off()
            if state.machine in (
                MachineState.TO_CHECK,
                MachineState.OUT_OF_SERVICE,
                MachineState.FAULT,
            ):
                red.on()
            else:
                red.off()
        except Exception:
            log.warning("LED update failed", exc_info=True)

    def _reload_roster(self) -> None:
        assert self.store is not None
        roster = replace(self.store.roster(), expires_mono=self._roster_expiry())
        self._roster = roster
        self.roster_version = roster.version
        if self._status:  # after start-up: the kiosk and /api/status show the new version
            self._publish_status()

    def _roster_expiry(self) -> float | None:
        """With a central store, the roster expires ``roster_max_age_h`` after it was last known
        current — at once when that is unknown (station/roster_age.py). Without one, never."""
        if not self.config.central.url:
            return None
        assert self.store is not None
        now = self.clock.now()
        max_age_s = self.config.central.roster_max_age_h * 3600
        return roster_expiry(self.store.roster_anchor(), now, self.clock.boot_id, max_age_s)

    def _roster_check(self) -> None:
        """Before a decision: a roster another connection wrote (``station roster import``,
        the sync thread) applies now, not at the next restart. One indexed read per tap."""
        assert self.store is not None
        if self.store.roster_version() != self.roster_version:
            self._reload_roster()

    def reload_roster(self) -> None:
        """Pick up a roster written by another connection (``station roster import``, sync)."""
        self.run_in_loop(self._reload_roster)

    def record(
        self, type_: EventType, data: Mapping[str, Any], timeout: float = 5.0
    ) -> dict[str, Any]:
        """Append one event from outside the state machine (sync acks, enrolment) and publish it."""

        return self.run_in_loop(lambda: self.record_in_loop(type_, data), timeout)

    def record_in_loop(self, type_: EventType, data: Mapping[str, Any]) -> dict[str, Any]:
        """:meth:`record` for code already running on the controller thread (``run_in_loop``)."""
        assert self.store is not None and threading.current_thread() is self._thread
        (event,) = self.store.append([(type_, data)], self.clock.now(), self.clock.boot_id)
        self._count([event])
        if type_ in ROSTER_EVENTS:
            self._reload_roster()
        self.broadcaster.publish({"kind": "event", "event": event})
        self._publish_status()
        return event

    def set_roster_expiry(self, expires_mono: float | None) -> None:
        """After ``expires_mono`` (this clock's monotonic time) only staff are admitted."""

        def apply() -> None:
            self._roster = replace(self._roster, expires_mono=expires_mono)
            self._publish_status()

        self.run_in_loop(apply)

    def _count(self, stored: list[dict[str, Any]]) -> None:
        if stored:
            self._last_seq = max(self._last_seq, stored[-1]["seq"])

    def set_sync_status(self, sync: dict[str, Any]) -> None:
        """The sync client's view (acknowledged seq, last success, errors) for ``/api/status``."""
        acked = sync.get("acked_seq")
        if isinstance(acked, int) and not isinstance(acked, bool):
            self._acked_seq = acked
        self._sync = {"enabled": bool(self.config.central.url), **sync}

    # --- status (any thread) ------------------------------------------------------------------

    def _publish_status(self) -> None:
        status_view.publish(self)

    def _first_name(self, member_id: str) -> str | None:
        m = self._roster.member(member_id)
        return m.first_name if m else None

    def first_name(self, member_id: str) -> str | None:
        """A member's first name, from any thread: the roster is replaced on reload, never
        changed in place (what a page says after an enrolment, not a raw id)."""
        return self._first_name(member_id)

    def status(self) -> dict[str, Any]:
        """A fresh JSON-able snapshot; times that move (elapsed, remaining) computed now."""
        return status_view.snapshot(self)

    def health(self) -> dict[str, Any]:
        hw = self.hardware
        out: dict[str, Any] = {
            "controller": "running" if self.running else "stopped",
            "uptime_s": round(time.monotonic() - self._started_mono, 1),
            "relay": {"on": hw.relay.is_on},
            "reader": _safe_health(hw.reader.health),
            "queue": self._queue.qsize(),
        }
        plug_health = getattr(hw.relay, "health", None)
        if callable(plug_health):  # a smart plug: its broker, its answers, its last error
            out["relay"]["plug"] = _safe_health(plug_health)
        if hw.power_meter is not None:
            out["power_meter"] = _safe_health(hw.power_meter.health)
        if hw.air_sensor is not None:
            out["air_sensor"] = _safe_health(hw.air_sensor.health)
        if self.failure is not None:
            out["failure"] = self.failure_message()
        return out


def _safe_health(fn: Callable[[], dict[str, object]]) -> dict[str, object]:
    try:
        return fn()
    except Exception as e:
        return {"ok": False, "error": repr(e)}


STOPS_TO_TELL = frozenset({"timeout", "idle", "technician"})
"""Session ends nobody tapped for: the kiosk says what happened instead of going idle."""


def kiosk_notice(stored: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A decision-like notice for what time or staff did without a tap at the machine.

    A lapsed co-badge wait, a session stopped by its time limit, by idleness or by a
    technician: the kiosk shows what happened and what to do (kiosk.js).
    """
    for event in stored:
        data = event["data"]
        if event["type"] == "access_denied" and data.get("reason") == "needs_supervisor":
            if data.get("detail"):
                return {"action": "waiting_expired", "member_id": data.get("member_id")}
        if event["type"] == "session_ended" and data.get("end_reason") in STOPS_TO_TELL:
            if not data.get("finishing"):
                return {
                    "action": "session_stopped",
                    "end_reason": data["end_reason"],
                    "member_id": data.get("member_id"),
                }
    return None


def restart_records(
    open_session: dict[str, Any], needs_check: bool
) -> list[tuple[EventType, Mapping[str, Any]]]:
    """Close a session a crash left open, at its last heartbeat (the last instant known alive)."""
    started = datetime.fromisoformat(open_session["started_at"])
    last = datetime.fromisoformat(open_session["last_heartbeat_at"] or open_session["started_at"])
    duration = max(0.0, (last - started).total_seconds())
    target = "to_check" if needs_check else "available"
    changed: MachineStateChanged = {
        "from": "in_use",
        "to": target,
        "reason": "check_after_use" if needs_check else None,
        "why": "station_restart",
        "by": None,
    }
    return [
        (
            "session_ended",
            SessionEnded(
                {
                    "session_id": open_session["id"],
                    "member_id": open_session["member_id"],
                    "supervisor_id": open_session["supervisor_id"],
                    "end_reason": EndReason.STATION_RESTART.value,
                    "by": None,
                    "started_at": open_session["started_at"],
                    "ended_at": iso(last),
                    "duration_s": round(duration, 3),
                    "enabled_s": round(duration, 3),
                    "extensions": open_session.get("extensions") or 0,
                }
            ),
        ),
        ("machine_state_changed", changed),
    ]


__all__ = ["Command", "Controller", "ControllerStopped", "restart_records"]
