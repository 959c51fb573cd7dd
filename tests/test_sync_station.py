"""A real station (controller on mocks) syncing with a real central store over loopback HTTP:
roster changes and revocations within one sync interval, commands, grants flowing to every
station, offline expiry, and kill -9 of a station in the middle of a push."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station.clock import SimulatedClock
from station.config import Config
from station.controller import Controller
from station.machine import Tap
from station.model import Level, Role
from station.roster import parse_roster_csv
from station.sync import SyncClient
from station.wiring import build_hardware
from tests.conftest import INES, LEA, MOUSSA, SOFIANE, sample_roster_text, start_controller
from tests.test_central_helpers import (
    REPO,
    CentralServer,
    FaultProxy,
    central_config,
    fill_events,
    station_config,
    station_events,
    wait_for,
)

INTERVAL_S = 1.0


@pytest.fixture
def central(tmp_path: Path) -> Iterator[CentralServer]:
    server = CentralServer(central_config(tmp_path))
    server.store.import_roster(parse_roster_csv(sample_roster_text()))
    try:
        yield server
    finally:
        server.stop()


class Station:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.clock = SimulatedClock(mono=1000.0)
        self.controller: Controller = start_controller(config, self.clock)
        self.sync = SyncClient(config, self.controller, max_backoff_s=1.0)
        self.sync.start()

    def tap(self, uid: str) -> dict[str, Any]:
        return self.controller.call(Tap(uid))  # type: ignore[no-any-return]

    def roster_version(self) -> int | None:
        """The central roster version this station has applied (and reloaded)."""
        return self.controller.status()["sync"].get("roster_version")  # type: ignore[no-any-return]

    def synced(self) -> bool:
        return self.controller.status()["sync"].get("state") == "ok"

    def stop(self) -> None:
        self.sync.stop()
        self.controller.stop()


@pytest.fixture
def stations(tmp_path: Path, central: CentralServer) -> Iterator[dict[str, Station]]:
    out: dict[str, Station] = {}

    def make(sid: str, url: str | None = None, **kw: Any) -> Station:
        token = central.store.add_station(sid, kind="laser")
        cfg = station_config(tmp_path, sid, url or central.url, token, interval=INTERVAL_S, **kw)
        out[sid] = Station(cfg)
        return out[sid]

    out_make: Any = make
    try:
        yield out_make
    finally:
        for s in out.values():
            s.stop()


def test_a_revocation_and_a_new_member_reach_the_station_within_one_sync_interval(
    central: CentralServer, stations: Any
) -> None:
    st: Station = stations("laser-1")
    wait_for(st.synced, 10, "a first sync")
    assert st.tap(LEA)["granted"] is False  # supervised: waits for a mentor (no session yet)
    st.controller.advance(5)  # past the repeat-tap guard
    changed_at = time.monotonic()
    central.store.set_badge_active(LEA, False)
    wait_for(lambda: st.roster_version() == central.store.roster_version(), 10, "the change")
    elapsed = time.monotonic() - changed_at
    # One interval, plus the request itself.
    assert elapsed < INTERVAL_S + 1.5, f"took {elapsed:.2f} s"
    assert st.tap(LEA)["reason"] == "badge_inactive"
    # A new trainee, badge and level: admitted within one interval too.
    changed_at = time.monotonic()
    central.store.upsert_member("zoe", "Zoé Leroy", Role.TRAINEE)
    central.store.add_badge("04AABBCC", "zoe")
    central.store.set_qualification("zoe", "laser", Level.AUTONOMOUS, by="ines")
    wait_for(lambda: st.roster_version() == central.store.roster_version(), 10, "the new one")
    assert time.monotonic() - changed_at < INTERVAL_S + 1.5
    decision = st.tap("04AABBCC")
    assert decision["granted"] and decision["member_name"] == "Zoé"


def test_commands_are_applied_and_acknowledged(central: CentralServer, stations: Any) -> None:
    st: Station = stations("laser-1")
    wait_for(st.synced, 10, "a first sync")
    assert st.tap(SOFIANE)["granted"]
    central.store.add_command("laser-1", {"action": "end_session", "reason": ""}, "yanis")
    lock = central.store.add_command("laser-1", {"action": "lock", "reason": "tube HS"}, "yanis")
    wait_for(
        lambda: all(c["status"] == "applied" for c in central.store.commands("laser-1")),
        10,
        "both commands acknowledged",
    )
    status = st.controller.status()
    assert status["machine"]["state"] == "out_of_service"
    assert status["machine"]["reason"] == "tube HS"
    assert status["session"] is None
    acks = [e for e in station_events(st.config) if e["type"] == "command_applied"]
    assert [a["data"]["action"] for a in acks] == ["end_session", "lock"]
    assert acks[1]["data"]["command_id"] == lock["id"]
    central.store.add_command("laser-1", {"action": "unlock", "reason": ""}, "yanis")
    wait_for(lambda: st.controller.status()["machine"]["state"] == "available", 10, "the unlock")
    # Applied once, even though replies may list a command until its ack is ingested.
    wait_for(lambda: all(c["status"] == "applied" for c in central.store.commands("laser-1")))
    acks = [e for e in station_events(st.config) if e["type"] == "command_applied"]
    assert len(acks) == 3


def test_a_grant_at_one_station_reaches_the_others(central: CentralServer, stations: Any) -> None:
    one: Station = stations("laser-1")
    two: Station = stations("laser-2")
    wait_for(lambda: one.synced() and two.synced(), 10, "first syncs")
    assert two.tap(LEA)["granted"] is False
    two.controller.advance(120)  # the co-badge window closes
    # Léa (supervised) and Moussa (mentor) at laser-1, then the grant gesture.
    one.tap(LEA)
    assert one.tap(MOUSSA)["granted"]
    for _ in range(2):  # two separate taps, past the repeat-tap guard
        one.controller.advance(5)
        one.tap(MOUSSA)
    assert one.tap(LEA)["action"] == "qualification_granted"

    def autonomous_at_central() -> bool:
        rows = central.store.roster_rows()["qualifications"]
        return any(
            r["member_id"] == "lea" and r["kind"] == "laser" and r["level"] == "autonomous"
            for r in rows
        )

    wait_for(autonomous_at_central, 10, "the grant at the central store")
    grant = next(
        r
        for r in central.store.roster_rows()["qualifications"]
        if r["member_id"] == "lea" and r["kind"] == "laser"
    )
    assert grant["granted_by"] == "moussa"
    wait_for(lambda: two.roster_version() == central.store.roster_version(), 10, "laser-2")
    decision = two.tap(LEA)
    assert decision["granted"] and decision["action"] == "session_started"


def test_without_contact_the_roster_expires_and_only_staff_get_in(
    tmp_path: Path, central: CentralServer, stations: Any
) -> None:
    proxy = FaultProxy(central.url)
    try:
        st: Station = stations("laser-1", proxy.url, max_age_h=0.1)  # 6 minutes
        wait_for(st.synced, 10, "a first sync")
        proxy.upstream = ""  # the central store is unreachable from now on
        wait_for(lambda: st.controller.status()["sync"].get("state") == "offline", 10, "offline")
        st.controller.advance(5 * 60)
        assert st.tap(SOFIANE)["granted"]  # still within the 6 minutes
        st.controller.advance(5)  # past the repeat-tap guard
        st.tap(SOFIANE)
        st.controller.advance(2 * 60)
        assert st.controller.status()["roster_expired"] is True
        assert st.tap(SOFIANE)["reason"] == "roster_expired"
        assert st.tap(INES)["granted"]  # staff
        st.controller.advance(5)  # past the repeat-tap guard
        st.tap(INES)
        proxy.upstream = central.url  # contact again: trainees are back
        wait_for(lambda: not st.controller.status()["roster_expired"], 10, "contact")
        assert st.tap(SOFIANE)["granted"]
    finally:
        proxy.stop()


# --- kill -9 of a station in the middle of a push ------------------------------------------------


def _write_station_toml(path: Path, sid: str, url: str, token: str) -> None:
    path.write_text(
        f"""
[station]
id = "{sid}"
data_dir = "{sid}-data"
[machine]
id = "{sid}"
name = "Imprimante"
kind = "printer3d"
[hardware]
backend = "mock"
[reader]
type = "fake"
[clock]
simulated = true
[web]
port = 0
[central]
url = "{url}"
token = "{token}"
sync_interval_s = 1
batch_size = 40
timeout_s = 2
""",
        encoding="utf-8",
    )


def _run_station(config_path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "station.cli", "run", "--config", str(config_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "ready" in line, line
    return proc


@pytest.mark.e2e
def test_kill_9_of_a_station_mid_push(tmp_path: Path, central: CentralServer) -> None:
    from station.config import load_config

    proxy = FaultProxy(central.url, delay=1.0, max_delay_s=0.05)  # slow pushes: easy to catch
    token = central.store.add_station("printer-1", kind="printer3d")
    path = tmp_path / "printer-1.toml"
    _write_station_toml(path, "printer-1", proxy.url, token)
    config = load_config(path)
    fill_events(config, 3000)
    proc = _run_station(path)
    try:
        wait_for(lambda: 0 < central.store.high_water("printer-1") < 2000, 30, "a push under way")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()
        assert central.store.high_water("printer-1") < 3000
        proc = _run_station(path)
        wait_for(lambda: central.store.high_water("printer-1") > 3000, 60, "the rest")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        if proc.stdout is not None:
            proc.stdout.close()
    # The central store holds a prefix of the log (a clean stop may leave its own last events
    # for the next run), each event once, with the same ids.
    local = [(e["seq"], e["id"]) for e in station_events(config)]
    held = [(e["seq"], e["id"]) for e in central.store.events("printer-1")]
    assert held == local[: len(held)]
    assert len(held) >= 3000 and central.store.station("printer-1")["held"] == len(held)
    proxy.stop()


def test_offline_the_status_shows_the_true_backlog_and_the_time_since_the_last_success(
    central: CentralServer, stations: Any
) -> None:
    from web.station.app import create_app
    from web.station.technician import health_rows

    proxy = FaultProxy(central.url)
    try:
        st: Station = stations("laser-1", proxy.url)
        wait_for(lambda: st.synced() and st.controller.status()["sync"]["backlog"] == 0, 10)
        proxy.upstream = ""  # offline from now on
        wait_for(lambda: st.controller.status()["sync"].get("state") == "offline", 10, "offline")
        before = st.controller.status()["sync"]
        st.tap(SOFIANE)
        st.controller.advance(600)  # heartbeats every 30 s
        sync = st.controller.status()["sync"]
        unsent = [e for e in station_events(st.config) if e["seq"] > before["acked_seq"]]
        assert len(unsent) > 20
        assert sync["backlog"] == len(unsent)
        assert sync["seconds_since_success"] >= 600
        with create_app(st.controller).test_request_context():
            rows = {r["label"]: r for r in health_rows(st.controller.status(), st.controller)}
        shown = rows["tech.health.sync"]["value"]
        # The technician page's wording since issue 11: sentences, durations as people say them.
        assert f"{len(unsent)} événements attendent d'être envoyés." in shown
        assert "Dernière synchro réussie il y a 10 min." in shown  # ten minutes and a little more
        assert rows["tech.health.sync"]["ok"] is False
    finally:
        proxy.stop()


def test_a_badge_revoked_offline_stays_refused_after_a_reboot_without_a_trusted_clock(
    tmp_path: Path, central: CentralServer
) -> None:
    """A Pi without RTC whose wall clock NTP never corrected: across a reboot only the boot id
    changes, so the roster's age is unknown and only staff get in until a sync succeeds."""
    proxy = FaultProxy(central.url)
    token = central.store.add_station("laser-1", kind="laser")
    cfg = station_config(tmp_path, "laser-1", proxy.url, token, interval=INTERVAL_S, max_age_h=1)
    running: list[tuple[Controller, SyncClient]] = []

    def boot(clock: SimulatedClock) -> Controller:
        c = Controller(cfg, build_hardware(cfg, clock), clock)
        c.start()
        sync = SyncClient(cfg, c, max_backoff_s=1.0)
        sync.start()
        running.append((c, sync))
        return c

    def shut_down() -> None:
        c, sync = running.pop()
        sync.stop()
        c.stop()

    try:
        from tests.conftest import import_sample_roster

        import_sample_roster(cfg)
        clock = SimulatedClock(mono=1000.0, synced=False, boot_id="boot-a")
        c = boot(clock)
        wait_for(lambda: c.status()["sync"].get("state") == "ok", 10, "a first sync")
        assert c.call(Tap(SOFIANE))["granted"]
        c.advance(5)  # past the repeat-tap guard
        c.call(Tap(SOFIANE))
        proxy.upstream = ""  # offline; meanwhile the central store revokes Sofiane's badge
        central.store.set_badge_active(SOFIANE, False)
        wait_for(lambda: c.status()["sync"].get("state") == "offline", 10, "offline")
        c.advance(2 * 3600)
        assert c.call(Tap(SOFIANE))["reason"] == "roster_expired"
        shut_down()

        # The reboot: a new boot id, the monotonic clock from zero, the wall clock where the
        # Pi left it (it has no RTC): nothing trusted says how long it was off.
        reboot = SimulatedClock(start=clock.now().at, mono=40.0, synced=False, boot_id="boot-b")
        c = boot(reboot)
        status = c.status()
        assert status["roster_expired"] is True and status["roster_age_unknown"] is True
        decision = c.call(Tap(SOFIANE))
        assert decision["granted"] is False and decision["reason"] == "roster_expired"
        assert c.call(Tap(INES))["granted"]  # staff
        c.advance(5)  # past the repeat-tap guard
        c.call(Tap(INES))
        assert relay_pin_changes(c) == [1.0, 0.0]  # only Inès's session

        # Contact: the revocation arrives, the age is known again. Wait on the roster the
        # controller has loaded, not by tapping: a tap between the contact and the roster's
        # application (deferred while Inès's session is not pushed yet) would start a session
        # and defer it again.
        loaded = c.status()["roster_version"]
        proxy.upstream = central.url
        wait_for(lambda: not c.status()["roster_age_unknown"], 10, "contact")
        wait_for(lambda: c.status()["roster_version"] != loaded, 10, "the new roster")
        assert c.call(Tap(SOFIANE))["reason"] == "badge_inactive"
        assert c.call(Tap(LEA))["granted"] is False  # supervised: waits, not roster_expired
    finally:
        while running:
            shut_down()
        proxy.stop()


def relay_pin_changes(c: Controller) -> list[float]:
    return [v for _, v in c.hardware.relay.pin.changes]  # type: ignore[attr-defined]


def test_a_process_restart_on_the_same_boot_keeps_the_rosters_age(
    tmp_path: Path, central: CentralServer
) -> None:
    """Same boot: the monotonic clock keeps counting, so no trusted wall clock is needed."""
    proxy = FaultProxy(central.url)
    token = central.store.add_station("laser-1", kind="laser")
    cfg = station_config(tmp_path, "laser-1", proxy.url, token, interval=INTERVAL_S, max_age_h=1)
    try:
        clock = SimulatedClock(mono=1000.0, synced=False, boot_id="boot-a")
        c = start_controller(cfg, clock)
        sync = SyncClient(cfg, c, max_backoff_s=1.0)
        sync.start()
        wait_for(lambda: c.status()["sync"].get("state") == "ok", 10, "a first sync")
        proxy.upstream = ""
        wait_for(lambda: c.status()["sync"].get("state") == "offline", 10, "offline")
        sync.stop()
        c.stop()
        clock.advance(30 * 60)  # the process restarts half an hour later, same boot
        c = Controller(cfg, build_hardware(cfg, clock), clock)
        c.start()
        try:
            assert c.status()["roster_age_unknown"] is False
            assert c.call(Tap(SOFIANE))["granted"]  # 30 of the 60 minutes
            c.advance(5)  # past the repeat-tap guard
            c.call(Tap(SOFIANE))
            c.advance(31 * 60)
            assert c.call(Tap(SOFIANE))["reason"] == "roster_expired"
        finally:
            c.stop()
    finally:
        proxy.stop()


def test_a_number_that_is_not_finite_never_blocks_the_sync(
    central: CentralServer, stations: Any
) -> None:
    """The central store refuses NaN (strict JSON): one kept in an event, or one left in the log
    by an older version, would make every push a 400 and block the station's sync for good."""
    st: Station = stations("laser-1")
    wait_for(st.synced, 10, "a first sync")
    st.controller.record("problem_reported", {"problem": "strange_noise", "watts": float("nan")})
    # An event an older version stored with NaN in its text, straight into the log.
    last = st.controller.record("heartbeat", {})
    conn = sqlite3.connect(st.config.db_path)
    with conn:
        row = conn.execute("SELECT * FROM events WHERE seq = ?", (last["seq"],)).fetchone()
        names = [d[0] for d in conn.execute("SELECT * FROM events LIMIT 0").description]
        legacy = dict(zip(names, row, strict=True))
        legacy.update(id="legacy-nan", seq=last["seq"] + 1, data='{"watts":NaN,"kwh":Infinity}')
        conn.execute(
            f"INSERT INTO events ({','.join(legacy)}) VALUES ({','.join('?' * len(legacy))})",
            list(legacy.values()),
        )
    conn.close()
    last = {"seq": last["seq"] + 1}
    wait_for(lambda: central.store.high_water("laser-1") >= last["seq"], 10, "the push")
    stored = {e["type"]: e["data"] for e in central.store.events("laser-1")}
    assert stored["problem_reported"]["watts"] is None
    legacy_event = next(e for e in central.store.events("laser-1") if e["id"] == "legacy-nan")
    assert legacy_event["data"] == {"watts": None, "kwh": None}
