"""Privacy: export of a member's data, erasure (events kept, pseudonymised), retention, and
stations that only ever cache first names and forget them after an erasure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from central import reports
from central.privacy import apply_retention, erase_member, export_member, retention_candidates
from central.store import SqliteCentralStore
from station.model import Role
from station.roster import parse_roster_csv
from station.store import Store
from station.sync import _write_roster
from tests.conftest import sample_roster_text
from tests.test_central_helpers import central_config
from tests.test_central_reports import Log
from tests.test_central_web import PASSWORD, login
from web.central_app import create_central_app


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteCentralStore]:
    s = SqliteCentralStore(tmp_path / "central" / "central.sqlite")
    s.import_roster(parse_roster_csv(sample_roster_text()))
    s.add_station("laser-1", kind="laser")
    log = Log(s, "laser-1", "laser")
    log.session("lea", "2026-03-02T10:00:00.000Z", "2026-03-02T11:00:00.000Z", 3600, sup="moussa")
    log.grant("lea", "moussa", "2026-03-02T11:00:00.000Z")
    log.session("moussa", "2026-03-03T10:00:00.000Z", "2026-03-03T10:30:00.000Z", 1800)
    try:
        yield s
    finally:
        s.close()


def test_export_holds_everything_about_the_member(store: SqliteCentralStore) -> None:
    data = export_member(store, "lea")
    assert data["member"]["name"] == "Léa Martin"
    assert [b["uid"] for b in data["badges"]] == ["04B0B1B2"]
    assert len(data["sessions"]) == 1 and len(data["grants"]) == 1
    assert {e["type"] for e in data["events"]} == {
        "session_started",
        "session_ended",
        "qualification_granted",
    }
    json.dumps(data)  # JSON all the way


def test_erasure_pseudonymises_and_keeps_the_counts(store: SqliteCentralStore) -> None:
    before = reports.hours(store, reports.Filters())
    version = store.roster_version()
    result = erase_member(store, "lea")
    anon = result["pseudonym"]
    assert anon.startswith("anon-") and result["events"] == 3
    everything = json.dumps(list(store.events()), ensure_ascii=False)
    assert '"lea"' not in everything and "Léa" not in everything
    assert anon in everything
    after = reports.hours(store, reports.Filters())
    assert sum(r["hours"] for r in after) == sum(r["hours"] for r in before)
    assert any(r["member_id"] == anon for r in after)
    mentors = {r["member_id"]: r for r in reports.mentors(store, reports.Filters())}
    assert mentors["moussa"]["grants_given"] == 1  # the mentor keeps the credit
    # The roster change tells stations to forget: no name, inactive, badge off, levels gone.
    changes = store.roster_changes(version)
    assert changes is not None
    assert changes["members"] == [
        {"id": "lea", "name": "(effacé)", "role": "trainee", "active": False}
    ]
    assert changes["badges"][0]["active"] is False
    assert {q["level"] for q in changes["qualifications"]} == {"none"}
    assert erase_member(store, "lea")["pseudonym"] == anon  # idempotent


def test_a_station_forgets_the_name(tmp_path: Path, store: SqliteCentralStore) -> None:
    station = Store(tmp_path / "st.sqlite", "laser-1", "laser-1")
    try:
        full = store.roster_changes(0)
        assert full is not None
        conn = station.db.conn
        conn.execute("BEGIN")
        _write_roster(conn, full)
        conn.execute("COMMIT")
        names = {m.id: m.name for m in station.roster().members.values()}
        assert names["lea"] == "Léa"  # first names only, ever
        version = store.roster_version()
        erase_member(store, "lea")
        conn.execute("BEGIN")
        _write_roster(conn, store.roster_changes(version) or {})
        conn.execute("COMMIT")
        roster = station.roster()
        assert roster.members["lea"].name == "(effacé)" and not roster.members["lea"].active
        assert not roster.badges["04B0B1B2"].active
        assert roster.level("lea", "laser").value == "none"
    finally:
        station.close()


def test_retention_erases_long_inactive_members(store: SqliteCentralStore) -> None:
    store.upsert_member("noah", "Noah Petit", Role.TRAINEE, active=False)
    later = datetime.now(UTC) + timedelta(days=400)
    assert retention_candidates(store, 365, later) == ["noah"]
    assert retention_candidates(store, 365) == []  # not long enough yet
    assert apply_retention(store, 0) == []


def test_erase_from_the_member_page(tmp_path: Path, store: SqliteCentralStore) -> None:
    store.add_user("ines", PASSWORD, "educator")
    app: Flask = create_central_app(store, central_config(tmp_path))
    client = app.test_client()
    token = login(client, "ines")
    exported = client.get("/admin/members/lea/export.json")
    assert exported.mimetype == "application/json" and exported.json["member"]["id"] == "lea"
    r = client.post("/admin/members/lea/erase", data={"csrf_token": token, "confirm": "le"})
    assert r.status_code == 302 and export_member(store, "lea")["member"]["name"] == "Léa Martin"
    client.post("/admin/members/lea/erase", data={"csrf_token": token, "confirm": "lea"})
    lea = next(m for m in store.roster_rows()["members"] if m["id"] == "lea")
    assert lea["name"] == "(effacé)" and lea["erased_at"]
