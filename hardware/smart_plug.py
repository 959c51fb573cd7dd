"""What every smart plug driver shares: the relay and the power meter over one MQTT link.

A :class:`SmartPlug` is the station's :class:`~station.ports.Relay` (``on``/``off``/``is_on``)
and, through :class:`PlugMeter`, its power meter (:class:`~station.ports.Sensor`). Subclasses
(:mod:`hardware.shelly`, :mod:`hardware.tasmota`) only speak their device's topics and payloads;
the rules live here:

- ``is_on`` is what the station asked for. ``on()``/``off()`` publish and return at once; an
  answer that does not come within ``ack_timeout_s`` is a ``no_ack`` problem, and an ``off``
  nobody acknowledged is sent again until one is (the plug's own timer bounds it anyway).
- The fail-safe lives on the plug: every ``on`` arms the plug's off-timer (``off_after_s``) and
  :meth:`keep_alive`, called from the controller's loop, renews it every third of that time.
  A station that dies, hangs or loses the broker stops renewing: the plug switches off by
  itself at most ``off_after_s`` after the last renewal (docs/smart-plugs.md).
- A state the station did not ask for is a problem: on by itself (someone pressed the plug's
  button: it is switched off again at once), off during a session, or the plug's own
  overpower/overtemperature protection. Problems go to ``watch(on_problem)`` as
  :class:`~station.ports.PlugProblem`; the controller makes a fault of each.
- A payload that is not JSON, too big, or from another device is counted and said in
  ``health()``; it changes nothing.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from station.ports import PlugProblem, PowerReading

log = logging.getLogger(__name__)

MAX_PAYLOAD = 16 * 1024
"""Larger MQTT payloads are refused unread (a Shelly status is about 1 KiB)."""
TICK_S = 0.05
"""The driver's own thread checks acknowledgements and polls this often."""

ProblemHandler = Callable[[PlugProblem], None]


class Transport(Protocol):
    """What a plug driver needs of an MQTT connection (:class:`hardware.mqtt_link.MqttLink`)."""

    client_id: str

    @property
    def connected(self) -> bool: ...

    def subscribe(self, topic: str, handler: Callable[[str, bytes], None]) -> None: ...

    def publish(
        self, topic: str, payload: str | bytes, *, qos: int = 0, retain: bool = False
    ) -> bool: ...

    def health(self) -> dict[str, object]: ...

    def close(self, timeout: float = 2.0) -> None: ...


class PayloadError(ValueError):
    """An MQTT payload the driver cannot use; the message says which topic and why."""


class SmartPlug:
    """Relay over MQTT with an off-timer on the device; see the module docstring."""

    model = "plug"

    def __init__(
        self,
        link: Transport,
        device: str,
        *,
        off_after_s: float = 60.0,
        ack_timeout_s: float = 3.0,
        poll_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        own_link: bool = True,
    ) -> None:
        self.link = link
        self.device = device
        self.off_after_s = off_after_s
        self.renew_s = off_after_s / 3
        self.ack_timeout_s = ack_timeout_s
        self.poll_s = poll_s
        self.clock = clock
        self._own_link = own_link
        self._lock = threading.RLock()
        self._wanted = False
        self._pending: tuple[bool, float, float] | None = None
        """The command awaiting its answer: (on, sent at, deadline)."""
        self._last_sent = -math.inf
        self._last_poll = -math.inf
        self.reported: bool | None = None
        """The output the plug last reported (None: not heard yet)."""
        self._reported_problems: set[str] = set()
        self._on_problem: ProblemHandler | None = None
        self._on_reading: Callable[[object], None] | None = None
        self._readings: list[PowerReading] = []
        self._new_reading = threading.Condition(self._lock)
        self.errors = 0
        self.last_error: str | None = None
        self.last_status_mono: float | None = None
        self.acks: list[float] = []
        """Seconds from each command to its acknowledgement (the benchmark reads them)."""
        self.device_online: bool | None = None
        self._closed = False
        self._stop = threading.Event()
        self._subscribe()
        self._thread = threading.Thread(target=self._run, name=f"plug-{device}", daemon=True)
        self._thread.start()

    # --- the Relay port ---------------------------------------------------------------------

    @property
    def is_on(self) -> bool:
        return self._wanted

    @property
    def settled(self) -> bool:
        """No command is waiting for its acknowledgement."""
        return self._pending is None

    def on(self) -> None:
        with self._lock:
            self._wanted = True
            self._reported_problems.clear()
            self._command(True)

    def off(self) -> None:
        with self._lock:
            self._wanted = False
            self._command(False)

    def close(self) -> None:
        """Off first (published before the link closes), then stop. Safe twice."""
        if self._closed:
            return
        with self._lock:
            self._wanted = False
            self._command(False)
            self._closed = True
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(2.0)
        if self._own_link:
            self.link.close()

    def keep_alive(self) -> None:
        """Renew the plug's off-timer while on (the controller's loop calls this at least once
        a second: a controller that stops calling lets the plug switch off by itself)."""
        with self._lock:
            if self._wanted and self.clock() - self._last_sent >= self.renew_s:
                self._command(True)

    def watch(self, on_problem: ProblemHandler) -> None:
        self._on_problem = on_problem

    # --- the power meter --------------------------------------------------------------------

    def start_meter(self, on_reading: Callable[[object], None]) -> None:
        """Real time: the driver's thread asks for the status every ``poll_s``."""
        self._on_reading = on_reading

    def poll_once(self) -> list[object]:
        """Simulated time: ask now, wait for the answer (at most ``ack_timeout_s``)."""
        with self._lock:
            self._readings.clear()
            self._request_status()
            deadline = time.monotonic() + self.ack_timeout_s
            while not self._readings and time.monotonic() < deadline:
                self._new_reading.wait(deadline - time.monotonic())
            out: list[object] = list(self._readings)
            self._readings.clear()
        return out

    def health(self) -> dict[str, object]:
        link = self.link.health()
        with self._lock:
            age = None if self.last_status_mono is None else self.clock() - self.last_status_mono
            out: dict[str, object] = {
                "ok": bool(link.get("ok")) and self._pending_late() is None,
                "model": self.model,
                "device": self.device,
                "broker": link,
                "asked_on": self._wanted,
                "reported_on": self.reported,
                "device_online": self.device_online,
                "last_status_age_s": None if age is None else round(age, 1),
                "off_after_s": self.off_after_s,
                "errors": self.errors,
            }
            late = self._pending_late()
            if late is not None:
                out["error"] = late
            elif self.last_error:
                out["last_error"] = self.last_error
            elif "error" in link:
                out["error"] = link["error"]
        return out

    # --- for subclasses ---------------------------------------------------------------------

    def _subscribe(self) -> None:
        raise NotImplementedError

    def _send_switch(self, on: bool, renew: bool) -> bool:
        raise NotImplementedError

    def _request_status(self) -> None:
        raise NotImplementedError

    def _request_state(self) -> None:
        """Ask for the output's state (after an acknowledgement: what happened meanwhile)."""
        self._request_status()

    def _acked(self, on: bool) -> None:
        """The plug confirmed it switched to ``on``."""
        with self._lock:
            p = self._pending
            if p is not None and p[0] == on:
                self.acks.append(self.clock() - p[1])
                del self.acks[:-1000]
                self._pending = None
                self._reported_problems.discard("no_ack")
                # A button pressed while the command was on its way was not judged: ask again.
                self._request_state()
            self.reported = on

    def _status(
        self,
        output: bool | None,
        reading: PowerReading | None = None,
        errors: tuple[str, ...] = (),
        source: str | None = None,
    ) -> None:
        """A status from the plug: a reading for the meter, and any state nobody asked for."""
        problems: list[PlugProblem] = []
        with self._lock:
            self.last_status_mono = self.clock()
            if reading is not None:
                self._readings.append(reading)
                self._new_reading.notify_all()
            for err in errors:
                if err in ("overpower", "overtemp"):
                    problems += self._once(err, {"errors": list(errors), "device": self.device})
            if output is not None:
                self.reported = output
                if self._pending is None and output != self._wanted:
                    kind = "unasked_on" if output else "unasked_off"
                    detail: dict[str, object] = {"device": self.device}
                    if source:
                        detail["cause"] = source
                    if errors:
                        detail["errors"] = list(errors)
                    if output:  # the station did not decide it: off again, now
                        self._command(False)
                    tripped = {"overpower", "overtemp"} & self._reported_problems
                    if not (kind == "unasked_off" and (errors or tripped)):
                        problems += self._once(kind, detail)  # (a trip said it already)
        if reading is not None and self._on_reading is not None:
            self._on_reading(reading)
        for problem in problems:
            self._report(problem)

    def _bad_payload(self, topic: str, why: str) -> None:
        with self._lock:
            self.errors += 1
            self.last_error = f"{topic}: {why}"
        log.warning("plug %s: ignored a message on %s: %s", self.device, topic, why)

    # --- inside -----------------------------------------------------------------------------

    def _command(self, on: bool) -> None:
        now = self.clock()
        renew = on and self._pending is None and self.reported is True
        self._send_switch(on, renew)
        self._last_sent = now
        if self._pending is None or self._pending[0] != on:
            self._pending = (on, now, now + self.ack_timeout_s)

    def _once(self, kind: str, detail: dict[str, object]) -> list[PlugProblem]:
        if kind in self._reported_problems or self._on_problem is None:
            return []  # (before watch(): said at the first check after it)
        self._reported_problems.add(kind)
        return [PlugProblem(kind, detail)]

    def _report(self, problem: PlugProblem) -> None:
        log.warning("plug %s: %s %s", self.device, problem.kind, problem.detail)
        handler = self._on_problem
        if handler is not None:
            try:
                handler(problem)
            except Exception:
                log.exception("the plug's problem handler failed")

    def _pending_late(self) -> str | None:
        p = self._pending
        if p is None or self.clock() < p[2]:
            return None
        what = "on" if p[0] else "off"
        why = "" if self.link.connected else " (not connected to the broker)"
        within = f"{self.ack_timeout_s:g} s"
        return f"the plug {self.device} did not acknowledge {what} within {within}{why}"

    def _check(self) -> None:
        problems: list[PlugProblem] = []
        with self._lock:
            late = self._pending_late()
            if late is not None and self._pending is not None:
                on = self._pending[0]
                problems += self._once("no_ack", {"asked": "on" if on else "off", "why": late})
                if not on:  # an off nobody confirmed: send it again
                    self._send_switch(False, False)
                    now = self.clock()
                    self._last_sent = now
                    self._pending = (False, self._pending[1], now + self.ack_timeout_s)
            poll = self._on_reading is not None and self.clock() - self._last_poll >= self.poll_s
            if poll:
                self._last_poll = self.clock()
                self._request_status()
        for problem in problems:
            self._report(problem)

    def _run(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                self._check()
            except Exception:
                log.exception("plug %s: check failed", self.device)


class PlugMeter:
    """The plug as the station's power meter (:class:`~station.ports.Sensor`)."""

    def __init__(self, plug: SmartPlug) -> None:
        self.plug = plug

    def start(self, on_reading: Callable[[object], None]) -> None:
        self.plug.start_meter(on_reading)

    def poll_once(self) -> list[object]:
        return self.plug.poll_once()

    def health(self) -> dict[str, object]:
        return self.plug.health()

    def close(self) -> None:
        """The relay side closes the plug (off first)."""


def parse_json_object(topic: str, payload: bytes) -> dict[str, Any]:
    """A JSON object, or :class:`PayloadError` saying why not."""
    import json

    if len(payload) > MAX_PAYLOAD:
        raise PayloadError(f"{len(payload)} bytes, more than {MAX_PAYLOAD}")
    try:
        value = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise PayloadError(f"not JSON ({e})") from None
    if not isinstance(value, dict):
        raise PayloadError(f"a JSON {type(value).__name__}, expected an object")
    return value


def number(value: object) -> float | None:
    """A finite number from a payload field, else None (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    f = float(value)
    return f if math.isfinite(f) else None
