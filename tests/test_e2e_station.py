"""End to end: ``station run`` as a real subprocess on the mock backend, driven over HTTP.

Each test gets its own data directory, config (simulated clock, fake reader, 127.0.0.1, a free
port) and pin log (``FABRIQUE_PIN_LOG``: every output pin change as ``pid pin wall value``), so the
relay's history can be read even after the station was killed with SIGKILL.
"""

from __future__ import annotations

import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e_helpers import (
    RELAY_PIN,
    SAMPLE_ROSTER,
    SOFIANE,
    UNKNOWN,
    StationProcess,
    cli,
    prepare_station,
    read_pin_log,
)

pytestmark = pytest.mark.e2e

MAX_SESSION_S = 60 * 60  # max_session_min = 60 in the config `station init` writes


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Callable[[], StationProcess]]:
    """A factory of prepared (not started) stations; every process is killed in teardown."""
    made: list[StationProcess] = []

    def make() -> StationProcess:
        config = prepare_station(tmp_path / f"station{len(made)}")
        s = StationProcess(config, pin_log=config.parent / "pins.log")
        made.append(s)
        return s

    try:
        yield make
    finally:
        for s in made:
            s.close()


def relay_values(s: StationProcess, pid: int) -> list[float]:
    assert s.pin_log is not None
    return [c.value for c in read_pin_log(s.pin_log) if c.pid == pid and c.pin == RELAY_PIN]


def start_session(s: StationProcess) -> dict:
    decision = s.badge(SOFIANE)
    assert decision["granted"] is True, decision
    assert decision["action"] == "session_started", decision
    return decision


def test_tap_starts_a_session_and_switches_the_relay_on(station) -> None:
    s = station()
    ready = s.start_ready()
    assert ready["machine"]["state"] == "available"
    assert ready["machine"]["relay_on"] is False
    assert ready["session"] is None

    decision = start_session(s)

    status = s.status()
    assert status["machine"]["state"] == "in_use"
    assert status["machine"]["relay_on"] is True
    assert status["health"]["relay"]["on"] is True
    assert status["session"]["id"] == decision["session_id"]
    assert status["session"]["member_id"] == "sofiane"
    assert relay_values(s, s.pid) == [1.0]
    types = [e["type"] for e in s.events()]
    assert types[-2:] == ["session_started", "machine_state_changed"]


def test_unknown_badge_is_denied_and_the_relay_stays_off(station) -> None:
    s = station()
    s.start_ready()

    decision = s.badge(UNKNOWN)

    assert decision["granted"] is False
    assert decision["reason"] == "unknown_badge"
    status = s.status()
    assert status["machine"]["relay_on"] is False
    assert status["last_decision"]["reason"] == "unknown_badge"
    assert "last_unknown_uid" not in status, "a badge UID is for the technician page only"
    assert relay_values(s, s.pid) == []
    denied = [e for e in s.events() if e["type"] == "access_denied"]
    assert [e["data"]["reason"] for e in denied] == ["unknown_badge"]


def test_advance_through_the_max_session_ends_it_by_timeout(station) -> None:
    s = station()
    s.start_ready()
    decision = start_session(s)

    result = s.advance(MAX_SESSION_S + 60)

    assert result["state"] == "available"
    status = s.status()
    assert status["machine"]["relay_on"] is False
    assert status["session"] is None
    assert relay_values(s, s.pid) == [1.0, 0.0]
    events = s.events()
    started = next(e for e in events if e["type"] == "session_started")
    ended = [e for e in events if e["type"] == "session_ended"]
    assert len(ended) == 1
    data = ended[0]["data"]
    assert data["session_id"] == decision["session_id"]
    assert data["end_reason"] == "timeout"
    assert data["duration_s"] == MAX_SESSION_S
    assert _at(data["ended_at"]) == _at(started["at"]) + timedelta(seconds=MAX_SESSION_S)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_kill_9_during_a_session_then_restart_closes_it_at_the_last_heartbeat(station) -> None:
    s = station()
    s.start_ready()
    decision = start_session(s)
    s.advance(95)  # three heartbeats (every 30 s), the session still running
    assert s.status()["machine"]["relay_on"] is True
    before = s.events()
    heartbeats = [e for e in before if e["type"] == "heartbeat"]
    assert len(heartbeats) == 3
    assert {e["data"]["session_id"] for e in heartbeats} == {decision["session_id"]}
    old_pid = s.pid

    s.signal(signal.SIGKILL)
    assert s.wait_exit() == -signal.SIGKILL
    assert relay_values(s, old_pid)[-1] == 1.0  # killed with the relay on: no clean-up ran

    ready = s.start_ready()
    new_pid = s.pid
    assert new_pid != old_pid

    # Off from its first instant: the new process never switched the relay on.
    assert ready["machine"]["relay_on"] is False
    assert ready["health"]["relay"]["on"] is False
    assert ready["session"] is None
    assert ready["machine"]["state"] == "available"
    new_relay = relay_values(s, new_pid)
    assert 1.0 not in new_relay
    if new_relay:
        assert new_relay[0] == 0.0

    after = s.events()
    # Every event committed before the kill is still there, unchanged, at the same seq.
    assert after[: len(before)] == before
    assert [e["seq"] for e in after] == list(range(1, len(after) + 1))
    new = after[len(before) :]
    assert [e["type"] for e in new] == [
        "station_started",
        "session_ended",
        "machine_state_changed",
    ]
    ended = new[1]["data"]
    assert ended["session_id"] == decision["session_id"]
    assert ended["end_reason"] == "station_restart"
    assert ended["ended_at"] == heartbeats[-1]["at"]
    assert ended["duration_s"] == pytest.approx(90.0)
    assert new[2]["data"]["to"] == "available"
    assert new[2]["data"]["why"] == "station_restart"
    # The restarted station still works, and its relay changes do reach the pin log (so the
    # "never on" check above was not vacuous).
    start_session(s)
    assert relay_values(s, new_pid) == [1.0]


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["SIGTERM", "SIGINT", "SIGHUP"]
)
def test_signal_during_a_session_switches_the_relay_off_and_exits_0(station, signum) -> None:
    """SIGHUP: the terminal of a station run by hand closes; a clean stop all the same."""
    s = station()
    s.start_ready()
    start_session(s)
    assert s.status()["machine"]["relay_on"] is True
    pid = s.pid

    s.signal(signum)

    assert s.wait_exit() == 0, s.stderr()
    values = relay_values(s, pid)
    assert values == [1.0, 0.0]
    assert "Traceback" not in s.stderr()
    assert "relay on refused" not in s.stderr()  # a clean stop does not even ask
    ended = [e["data"] for e in s.events() if e["type"] == "session_ended"]
    assert [e["end_reason"] for e in ended] == ["station_stopped"]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


class BlackHole:
    """A TCP listener on 127.0.0.1 that accepts connections and never replies: a central store
    that hangs. Counts what it accepted."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def set_central(config: Path, url: str, *, timeout_s: float) -> None:
    text = config.read_text(encoding="utf-8")
    text, n = re.subn(r'(?m)^url = ""$', f'url = "{url}"', text)
    assert n == 1, "the [central] url line of the sample config changed"
    text = re.sub(r'(?m)^token = ""$', 'token = "test-token"', text)
    text, n = re.subn(r"(?m)^timeout_s = \d+$", f"timeout_s = {timeout_s:g}", text)
    assert n == 1
    config.write_text(text, encoding="utf-8")


def test_sigterm_while_the_central_store_hangs_latches_the_relay_off_and_ends_the_session(
    tmp_path: Path,
) -> None:
    """Real clock (the controller ticks on its own), the sync thread stuck in a request: from
    the signal on the relay never switches on again, and the session ends as station_stopped."""
    hole = BlackHole()
    config = prepare_station(tmp_path / "station", simulated_clock=False)
    set_central(config, hole.url, timeout_s=8)
    s = StationProcess(config, pin_log=config.parent / "pins.log")
    try:
        s.start_ready()
        start_session(s)
        deadline = time.monotonic() + 10
        while not hole.accepted and time.monotonic() < deadline:  # a push is hanging
            time.sleep(0.02)
        assert hole.accepted, "the sync client never connected"
        pid = s.pid
        signalled = time.time()
        s.signal(signal.SIGTERM)
        assert s.wait_exit(20) == 0, s.stderr()
        exited = time.time()
        assert s.pin_log is not None
        relay = [c for c in read_pin_log(s.pin_log) if c.pid == pid and c.pin == RELAY_PIN]
        assert [c.value for c in relay if c.wall < signalled] == [1.0]
        after = [c.value for c in relay if c.wall >= signalled]
        assert after == [0.0], f"relay changes after SIGTERM: {after}"
        assert "relay on refused" not in s.stderr()  # nothing even asked for it
        events = s.events()
        ended = [e for e in events if e["type"] == "session_ended"]
        assert len(ended) == 1 and ended[0]["data"]["end_reason"] == "station_stopped"
        data = ended[0]["data"]
        started = _at(data["started_at"]).timestamp()
        stopped = _at(data["ended_at"]).timestamp()
        assert signalled - 0.5 <= stopped <= exited
        assert data["duration_s"] == pytest.approx(stopped - started, abs=0.01)
        # Restart recovery has nothing to close: the clean stop closed it.
        s.start_ready()
        assert "station_restart" not in {e["data"].get("end_reason") for e in s.events()}
    finally:
        s.close()
        hole.close()


def test_a_roster_import_on_a_running_station_applies_to_the_next_tap(station) -> None:
    s = station()
    s.start_ready()
    start_session(s)
    s.advance(5)  # past the repeat-tap guard
    s.badge(SOFIANE)  # badge out
    s.advance(5)
    csv = s.workdir / "without-sofiane.csv"
    lines = SAMPLE_ROSTER.read_text(encoding="utf-8").splitlines()
    csv.write_text("\n".join(x for x in lines if not x.startswith("sofiane,")) + "\n", "utf-8")
    cli("roster", "import", str(csv), "--config", str(s.config), cwd=s.workdir)
    decision = s.badge(SOFIANE)
    assert decision["granted"] is False, decision
    assert decision["reason"] in ("badge_inactive", "member_inactive")
    assert relay_values(s, s.pid) == [1.0, 0.0]
