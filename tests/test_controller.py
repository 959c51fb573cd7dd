"""The controller on gpiozero's MockFactory: the real gpiozero code drives mock pins."""

from __future__ import annotations

import socket
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from station.clock import SimulatedClock
from station.config import Config
from station.controller import Controller, ControllerStopped
from station.machine import Command, Tap
from station.sdnotify import Notifier
from station.store import Store
from station.wiring import build_hardware
from tests.conftest import LEA, MOUSSA, SOFIANE, import_sample_roster, start_controller


def events(c: Controller) -> list[dict[str, Any]]:
    """The log, read on the controller thread (which owns the store's connection)."""
    assert c.store is not None
    store = c.store
    return c.run_in_loop(lambda: list(store.events()))


def relay_pin(c: Controller) -> Any:
    return c.hardware.relay.pin  # type: ignore[attr-defined]


def test_relay_is_off_at_start_and_follows_sessions(controller: Controller) -> None:
    pin = relay_pin(controller)
    assert pin.state == 0 and pin.changes == []
    controller.call(Tap(SOFIANE))
    assert pin.state == 1 and controller.status()["machine"]["relay_on"] is True
    controller.advance(5)  # past the repeat-tap guard
    controller.call(Tap(SOFIANE))
    assert pin.state == 0
    assert [v for _, v in pin.changes] == [1.0, 0.0]


def test_events_are_committed_before_the_relay_switches_on(controller: Controller) -> None:
    seen: list[list[str]] = []

    def on_change(_stamp: float, value: Any) -> None:
        if value:
            conn = sqlite3.connect(controller.config.db_path)  # another connection: committed only
            try:
                seen.append([r[0] for r in conn.execute("SELECT type FROM events ORDER BY seq")])
            finally:
                conn.close()

    relay_pin(controller).on_change = on_change
    controller.call(Tap(SOFIANE))
    assert len(seen) == 1 and "session_started" in seen[0]


def test_reader_taps_from_another_thread_are_handled(controller: Controller) -> None:
    reply = controller.expect_tap(SOFIANE)
    threading.Thread(target=controller.hardware.reader.tap, args=(SOFIANE,)).start()
    assert reply.result(timeout=5)["action"] == "session_started"
    assert relay_pin(controller).state == 1


def test_green_led_shows_the_session(controller: Controller) -> None:
    green = controller.hardware.green.pin  # type: ignore[attr-defined]
    controller.call(Tap(SOFIANE))
    assert green.state == 1
    controller.advance(5)  # past the repeat-tap guard
    controller.call(Tap(SOFIANE))
    assert green.state == 0


def test_an_exception_in_the_controller_switches_the_relay_off(
    config: Config, clock: SimulatedClock
) -> None:
    class FailingStore(Store):
        fail = False

        def append(self, records: Any, now: Any, boot_id: str) -> Any:
            if FailingStore.fail:
                raise OSError("disk full")
            return super().append(records, now, boot_id)

    import_sample_roster(config)
    c = Controller(
        config,
        build_hardware(config),
        clock,
        store_factory=lambda: FailingStore(config.db_path, "laser-1", "laser-1"),
    )
    c.start()
    try:
        c.call(Tap(SOFIANE))
        assert relay_pin(c).state == 1
        FailingStore.fail = True
        with pytest.raises(OSError, match="disk full"):
            c.advance(60)  # the heartbeat cannot be written
        assert c.wait_stopped(5)
        assert relay_pin(c).state == 0
        assert isinstance(c.failure, OSError) and not c.running
        with pytest.raises(ControllerStopped):
            c.call(Tap(SOFIANE))
    finally:
        c.stop()


def test_a_failed_commit_never_switches_the_relay_on(config: Config, clock: SimulatedClock) -> None:
    class FailingStore(Store):
        def append(self, records: Any, now: Any, boot_id: str) -> Any:
            if any(t == "session_started" for t, _ in records):
                raise sqlite3.OperationalError("database is locked")
            return super().append(records, now, boot_id)

    import_sample_roster(config)
    c = Controller(
        config,
        build_hardware(config),
        clock,
        store_factory=lambda: FailingStore(config.db_path, "laser-1", "laser-1"),
    )
    c.start()
    try:
        with pytest.raises(sqlite3.OperationalError):
            c.call(Tap(SOFIANE))
        assert relay_pin(c).changes == []  # never on, not even for an instant
    finally:
        c.stop()


def test_stop_switches_off_first(config: Config, clock: SimulatedClock) -> None:
    c = start_controller(config, clock)
    c.call(Tap(SOFIANE))
    pin = relay_pin(c)
    c.stop()
    assert pin.state == 0
    c.stop()  # twice is harmless


def test_restart_closes_the_open_session_at_its_last_heartbeat(
    config: Config, clock: SimulatedClock
) -> None:
    class CrashingStore(Store):
        crash = False

        def append(self, records: Any, now: Any, boot_id: str) -> Any:
            if CrashingStore.crash:
                raise OSError("the process dies here")
            return super().append(records, now, boot_id)

    import_sample_roster(config)
    c = Controller(
        config,
        build_hardware(config),
        clock,
        store_factory=lambda: CrashingStore(config.db_path, "laser-1", "laser-1"),
    )
    c.start()
    c.call(Tap(SOFIANE))
    c.advance(95)  # heartbeats at +30, +60, +90
    # A crash: nothing more gets written, not even the end of the session (a clean stop would
    # end it as station_stopped, see the next test).
    CrashingStore.crash = True
    with pytest.raises(OSError):
        c.advance(1)
    c.stop()
    c2 = Controller(config, build_hardware(config), clock)
    c2.start()
    try:
        assert relay_pin(c2).changes == []
        ended = [e for e in events(c2) if e["type"] == "session_ended"]
        assert len(ended) == 1
        assert ended[0]["data"]["end_reason"] == "station_restart"
        assert ended[0]["data"]["duration_s"] == 90
        assert c2.status()["machine"]["state"] == "available"
    finally:
        c2.stop()


def test_a_clean_stop_ends_the_session_as_station_stopped_with_its_true_totals(
    config: Config, clock: SimulatedClock
) -> None:
    c = start_controller(config, clock)
    decision = c.call(Tap(SOFIANE))
    c.advance(45)
    pin = relay_pin(c)
    c.stop()
    assert pin.state == 0
    c2 = start_controller(config, clock)
    try:
        log = events(c2)
        ended = [e for e in log if e["type"] == "session_ended"]
        assert len(ended) == 1
        data = ended[0]["data"]
        assert data["session_id"] == decision["session_id"]
        assert data["end_reason"] == "station_stopped"
        assert data["duration_s"] == 45
        # The restart had nothing left to close.
        after = [e["type"] for e in log[log.index(ended[0]) :]]
        assert after[:3] == ["session_ended", "machine_state_changed", "station_started"]
        assert "station_restart" not in {e["data"].get("why") for e in log}
        assert relay_pin(c2).changes == []
    finally:
        c2.stop()


def test_after_stop_nothing_switches_the_relay_on(config: Config, clock: SimulatedClock) -> None:
    c = start_controller(config, clock)
    c.call(Tap(SOFIANE))
    pin = relay_pin(c)
    c.stop()
    c.hardware.relay.on()  # what a late tick would do: refused, not even an error
    assert pin.state == 0 and [v for _, v in pin.changes] == [1.0, 0.0]


def test_a_roster_import_by_another_process_applies_before_the_next_decision(
    controller: Controller, config: Config
) -> None:
    from contextlib import closing

    from station.roster import parse_roster_csv
    from tests.conftest import sample_roster_text

    assert controller.call(Tap(SOFIANE))["action"] == "session_started"
    controller.advance(5)  # past the repeat-tap guard
    controller.call(Tap(SOFIANE))
    controller.advance(5)
    # What `station roster import` does: its own connection, Sofiane missing from the file.
    text = "\n".join(
        line for line in sample_roster_text().splitlines() if not line.startswith("sofiane,")
    )
    with closing(Store(config.db_path, "laser-1", "laser-1")) as store:
        store.import_roster(parse_roster_csv(text), replace_all=True)
    decision = controller.call(Tap(SOFIANE))
    assert decision["granted"] is False
    assert decision["reason"] in ("badge_inactive", "member_inactive")
    assert relay_pin(controller).state == 0


def test_a_grant_applies_at_once(controller: Controller) -> None:
    controller.call(Tap(LEA))
    controller.call(Tap(MOUSSA))
    for _ in range(2):  # the grant gesture: two separate taps, past the repeat-tap guard
        controller.advance(5)
        controller.call(Tap(MOUSSA))
    assert controller.call(Tap(LEA))["action"] == "qualification_granted"
    controller.call(Command("end_session", by="yanis"))
    controller.advance(5)  # past the repeat-tap guard
    # Léa is now autonomous on lasers: no supervisor needed any more.
    assert controller.call(Tap(LEA))["action"] == "session_started"


def test_advance_handles_what_falls_due(controller: Controller) -> None:
    controller.call(Tap(SOFIANE))
    result = controller.advance(3600)
    assert result["state"] == "available"
    types = [e["type"] for e in events(controller)]
    assert types.count("session_warned") == 1 and types.count("session_ended") == 1
    assert types.count("heartbeat") == 119  # every 30 s; the 120th coincides with the end


def test_advance_needs_a_simulated_clock(controller: Controller) -> None:
    with pytest.raises(ValueError, match="between 0 and"):
        controller.advance(-1)


def test_advance_refuses_nan(controller: Controller) -> None:
    """NaN passed every comparison and hung the loop for 30 s with the relay on."""
    controller.call(Tap(SOFIANE))
    with pytest.raises(ValueError, match="between 0 and"):
        controller.advance(float("nan"), timeout=5)
    assert controller.running and controller.status()["machine"]["relay_on"] is True
    assert controller.advance(60)["state"] == "in_use"  # the loop was not stuck


def test_a_full_disk_while_running_fails_safe_and_says_what_to_do(
    config: Config, clock: SimulatedClock
) -> None:
    class FullDisk(Store):
        full = False

        def append(self, records: Any, now: Any, boot_id: str) -> Any:
            if FullDisk.full:
                raise sqlite3.OperationalError("database or disk is full")
            return super().append(records, now, boot_id)

    import_sample_roster(config)
    c = Controller(
        config,
        build_hardware(config),
        clock,
        store_factory=lambda: FullDisk(config.db_path, "laser-1", "laser-1"),
    )
    c.start()
    try:
        c.call(Tap(SOFIANE))
        FullDisk.full = True
        with pytest.raises(sqlite3.OperationalError):
            c.advance(60)
        assert c.wait_stopped(5) and relay_pin(c).state == 0
        failure = c.status()["health"]["failure"]
        assert "is full" in failure and "free some space" in failure
        assert "OperationalError" not in failure
    finally:
        c.stop()


def test_sd_notify_ready_and_watchdog(
    config: Config, clock: SimulatedClock, tmp_path: Path
) -> None:
    address = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(address)
    server.settimeout(5)
    import_sample_roster(config)
    c = Controller(config, build_hardware(config), clock, notifier=Notifier(address))
    try:
        c.start()
        assert server.recv(100) == b"READY=1"
        assert server.recv(100) == b"WATCHDOG=1"  # the loop pings while it runs
    finally:
        c.stop()
        server.close()


def test_status_has_the_documented_fields(controller: Controller) -> None:
    controller.call(Tap(SOFIANE))
    controller.advance(90)
    s = controller.status()
    assert {"station", "machine", "session", "last_decision", "health", "sync"} <= set(s)
    assert s["machine"]["state"] == "in_use" and s["machine"]["relay_on"] is True
    session = s["session"]
    for key in ("id", "member_id", "member_name", "supervisor_id", "started_at", "ends_at"):
        assert key in session
    assert session["elapsed_s"] == 90 and session["remaining_s"] == 3510
    assert s["last_decision"]["granted"] is True


def test_a_failed_call_comes_back_to_the_caller_and_the_controller_goes_on(
    controller: Controller,
) -> None:
    def broken() -> None:
        raise KeyError("nope")

    with pytest.raises(KeyError):
        controller.run_in_loop(broken)
    assert controller.running
    assert controller.call(Tap(SOFIANE))["action"] == "session_started"


def test_enrolled_badge_is_admitted_at_once(controller: Controller) -> None:
    from station.enrol import EnrolError, enrol_badge

    assert controller.call(Tap("CAFEF00D"))["reason"] == "unknown_badge"
    event = enrol_badge(controller, "cafef00d", "sofiane", by="yanis")
    assert event["type"] == "badge_enrolled" and event["data"]["uid"] == "CAFEF00D"
    assert controller.call(Tap("CAFEF00D"))["action"] == "session_started"
    with pytest.raises(EnrolError, match="already belongs"):
        enrol_badge(controller, "CAFEF00D", "lea", by="yanis")
    assert controller.running
