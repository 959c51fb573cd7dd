"""The SQLite store: settings, append-only log, gap-free seq, projections, roster import."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from station.clock import SimulatedClock
from station.controller import restart_records
from station.model import Level
from station.roster import parse_roster_csv
from station.store import Store
from tests.conftest import sample_roster_text


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "station.sqlite", "laser-1", "laser-1")
    yield s
    s.close()


def test_settings_on_every_connection(store: Store) -> None:
    conn = store.db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_migrations_are_applied_once(tmp_path: Path) -> None:
    for _ in range(2):
        Store(tmp_path / "s.sqlite", "laser-1", "laser-1").close()
    conn = sqlite3.connect(tmp_path / "s.sqlite")
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations")]
    finally:
        conn.close()
    assert names == [
        "m001_events",
        "m002_projections",
        "m003_roster",
        "m004_sensors",
        "m005_whole_job",
        "m006_inductions",
        "m007_site_induction",
    ]


def test_append_assigns_gap_free_seq_and_envelope(store: Store) -> None:
    clock = SimulatedClock()
    first = store.append([("a", {"x": 1}), ("b", {})], clock.now(), "boot-1")
    second = store.append([("c", {"é": "à"})], clock.now(), "boot-1")
    assert [e["seq"] for e in first + second] == [1, 2, 3]
    stored = list(store.events())
    assert [e["type"] for e in stored] == ["a", "b", "c"]
    e = stored[2]
    assert e["data"] == {"é": "à"} and e["station_id"] == "laser-1" and e["boot_id"] == "boot-1"
    assert e["at"].endswith("Z") and e["clock_synced"] is True and e["mono"] == clock.now().mono
    assert len({x["id"] for x in stored}) == 3
    assert [x["seq"] for x in store.events(after_seq=2)] == [3]


def test_events_are_append_only(store: Store) -> None:
    store.append([("a", {})], SimulatedClock().now(), "b")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.db.execute("UPDATE events SET type = 'x'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.db.execute("DELETE FROM events")


def test_a_failed_append_writes_nothing(store: Store) -> None:
    clock = SimulatedClock()
    with pytest.raises(KeyError):
        # session_ended without session_id fails in the projection: the event must go too.
        store.append([("note", {}), ("session_ended", {"end_reason": "x"})], clock.now(), "b")
    assert list(store.events()) == []


def test_session_projection_and_restart_recovery(store: Store) -> None:
    clock = SimulatedClock()
    store.append(
        [
            ("session_started", {"session_id": "s1", "member_id": "lea", "ends_at": "z"}),
            ("machine_state_changed", {"from": "available", "to": "in_use"}),
        ],
        clock.now(),
        "b",
    )
    clock.advance(30)
    store.append([("heartbeat", {"session_id": "s1"})], clock.now(), "b")
    hb_at = clock.now().iso()
    clock.advance(20)  # the crash happens 20 s after the last heartbeat
    open_session = store.open_session()
    assert open_session is not None and open_session["last_heartbeat_at"] == hb_at
    records = restart_records(open_session, needs_check=True)
    store.append(records, clock.now(), "b2")
    row = store.sessions()[0]
    assert row["end_reason"] == "station_restart" and row["ended_at"] == hb_at
    assert row["duration_s"] == 30
    assert store.open_session() is None
    assert store.machine_state()[0].value == "to_check"


def test_roster_import_and_grant_projection(store: Store) -> None:
    counts = store.import_roster(parse_roster_csv(sample_roster_text()))
    assert counts == {"members": 7, "badges": 7, "qualifications": 9}
    r = store.roster()
    assert r.level("lea", "laser") is Level.SUPERVISED and r.version == 1
    store.append(
        [
            (
                "qualification_granted",
                {
                    "member_id": "lea",
                    "kind": "laser",
                    "level": "autonomous",
                    "granted_by": "moussa",
                    "granted_at": "t",
                },
            )
        ],
        SimulatedClock().now(),
        "b",
    )
    q = store.roster().qualifications[("lea", "laser")]
    assert q.level is Level.AUTONOMOUS and q.granted_by == "moussa"


def test_reimport_deactivates_members_missing_from_the_file(store: Store) -> None:
    store.import_roster(parse_roster_csv(sample_roster_text()))
    smaller = "member_id,name,role,badge_uid,qualifications\nines,Inès Haddad,educator,04A1B2C3,\n"
    store.import_roster(parse_roster_csv(smaller))
    r = store.roster()
    assert r.members["ines"].active and not r.members["lea"].active
    assert not r.badges["04B0B1B2"].active and r.version == 2
    store.import_roster(parse_roster_csv(smaller), replace_all=True)
    store.import_roster(
        parse_roster_csv(sample_roster_text().replace("lea", "lea")), replace_all=False
    )
    assert store.roster().members["lea"].active
