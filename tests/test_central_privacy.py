"""Privacy: export of a member's data, erasure (events kept, pseudonymised), retention, and
stations that only ever cache first names and forget them after an erasure."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from central import reports
from central.privacy import apply_retention, erase_member, export_member, retention_candidates
from central.sqlite import SqliteCentralStore
from station.model import Role
from station.roster import parse_roster_csv
from station.store import Store
from station.sync import _write_roster
from tests.conftest import sample_roster_text
from tests.test_central_helpers import central_config
from tests.test_central_reports import Log
from tests.test_central_web import PASSWORD, login
from web.central.app import create_central_app


@pytest.fixture
def store(central_store: SqliteCentralStore) -> Iterator[SqliteCentralStore]:
    s = central_store
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
    # The roster change tells stations to forget: no name, inactive, levels gone. The badge is
    # gone from the central store (the station refuses the inactive member).
    changes = store.roster_changes(version)
    assert changes is not None
    assert changes["members"] == [
        {"id": "lea", "name": "(effacé)", "role": "trainee", "active": False}
    ]
    assert changes["badges"] == []
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
        assert roster.level("lea", "laser").value == "none"
        conn.execute("BEGIN")
        _write_roster(conn, store.roster_changes(0) or {})  # a station that starts again
        conn.execute("COMMIT")
        assert not station.roster().badges["04B0B1B2"].active
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


def test_erasure_cannot_be_undone_from_the_badge(store: SqliteCentralStore) -> None:
    """No badge UID stays to tie the pseudonymised history back to the card and its holder."""
    uid = "04B0B1B2"
    from central.ingest import parse_event

    taps = [
        {"id": f"tap-{seq}", "seq": seq, "type": "access_denied", "clock_synced": True,
         "at": "2026-03-04T10:00:00.000Z", "boot_id": "b", "mono": 1.0 + seq,
         "data": {"uid": who, "reason": "not_qualified", **({"member_id": m} if m else {})}}
        for seq, who, m in ((6, uid, "lea"), (7, uid, None), (8, "04C0C1C2", "sofiane"))
    ]  # fmt: skip
    store.ingest("laser-1", [parse_event(t, 0, "laser-1") for t in taps])
    store.add_command("laser-1", {"action": "revoke_badge", "reason": "", "uid": uid}, by="t")
    result = erase_member(store, "lea")
    assert result["badges"] == 1
    db = store.db.conn
    assert db.execute("SELECT COUNT(*) FROM badges WHERE uid = ?", (uid,)).fetchone()[0] == 0
    for table in ("events", "badge_taps", "alerts", "commands", "role_history"):
        dump = json.dumps(db.execute(f"SELECT * FROM {table}").fetchall(), ensure_ascii=False)
        assert uid not in dump and '"lea"' not in dump, table
    history = db.execute("SELECT COUNT(*) FROM qualification_history WHERE member_id = 'lea'")
    assert history.fetchone()[0] == 0
    assert "04C0C1C2" in json.dumps([e["data"] for e in store.events()])  # others keep theirs
    assert [e["data"].get("uid") for e in store.events() if e["seq"] >= 6] == [
        None,
        None,
        "04C0C1C2",
    ]


def test_a_badge_is_not_taken_from_its_holder_without_a_confirmation(
    tmp_path: Path, store: SqliteCentralStore
) -> None:
    from central.errors import BadgeHeld

    with pytest.raises(BadgeHeld, match="belongs to lea"):
        store.add_badge("04B0B1B2", "noah")
    assert export_member(store, "lea")["badges"] == [{"uid": "04B0B1B2", "active": 1}]
    store.add_badge("04B0B1B2", "lea")  # her own again: nothing to confirm
    store.add_user("ines", PASSWORD, "educator")
    client = create_central_app(store, central_config(tmp_path)).test_client()
    token = login(client, "ines")
    r = client.post(
        "/admin/members/noah/badges",
        data={"csrf_token": token, "uid": "04:b0:b1:b2"},
        follow_redirects=True,
    )
    assert "Le badge 04B0B1B2 est déjà à Léa Martin" in r.get_data(as_text=True)
    assert [b["uid"] for b in export_member(store, "noah")["badges"]] == ["04F0F1F2"]
    client.post(
        "/admin/members/noah/badges", data={"csrf_token": token, "uid": "04B0B1B2", "move": "1"}
    )
    assert [b["uid"] for b in export_member(store, "noah")["badges"]] == ["04B0B1B2", "04F0F1F2"]
    assert export_member(store, "lea")["badges"] == []


def test_each_retention_run_is_recorded(store: SqliteCentralStore) -> None:
    from central.privacy import retention_runs

    store.upsert_member("noah", "Noah Petit", Role.TRAINEE, active=False)
    later = datetime.now(UTC) + timedelta(days=400)
    assert apply_retention(store, 365, dry_run=True, now=later) == ["noah"]
    assert apply_retention(store, 365) == []
    assert apply_retention(store, 365, now=later) == ["noah"]
    runs = [(r["days"], r["erased"], r["dry_run"]) for r in retention_runs(store)]
    assert runs == [(365, 1, 0), (365, 0, 0), (365, 1, 1)]
    assert export_member(store, "noah")["member"]["name"] == "(effacé)"


def test_the_roster_page_shows_the_retention_runs(
    tmp_path: Path, store: SqliteCentralStore
) -> None:
    store.add_user("ines", PASSWORD, "educator")
    client = create_central_app(store, central_config(tmp_path)).test_client()
    login(client, "ines")
    assert "Pas encore lancé" in client.get("/admin/").get_data(as_text=True)
    apply_retention(store, 365)
    html = client.get("/admin/").get_data(as_text=True)
    assert (
        "0 membre effacé : sans activité depuis plus de 365 jours." in html
    )  # French: 0 is singular


def test_events_held_offline_are_scrubbed_when_they_arrive_after_the_erasure(
    store: SqliteCentralStore,
) -> None:
    from central.ingest import parse_event

    anon = erase_member(store, "lea")["pseudonym"]
    late = {"id": "late-1", "seq": 6, "type": "session_started", "clock_synced": True,
            "at": "2026-03-05T10:00:00.000Z", "boot_id": "b", "mono": 1.0,
            "data": {"session_id": "s-late", "member_id": "lea", "member_name": "Léa",
                     "uid": "04B0B1B2", "supervisor_id": "moussa", "kind": "laser"}}  # fmt: skip
    store.ingest("laser-1", [parse_event(late, 0, "laser-1")])
    (stored,) = [e for e in store.events("laser-1") if e["seq"] == 6]
    assert stored["data"]["member_id"] == anon and stored["data"]["member_name"] is None
    assert stored["data"]["uid"] is None and stored["data"]["supervisor_id"] == "moussa"
    session = store._rows("SELECT member_id FROM sessions WHERE id = 's-late'")
    assert session == [{"member_id": anon}]
    assert "04B0B1B2" not in json.dumps(store._rows("SELECT * FROM badge_taps"))


def every_row(store: SqliteCentralStore) -> str:
    """Every row of every table of the store, as one text (either backend)."""
    conn = store.db.conn
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    except Exception:  # PostgreSQL
        names = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            )
        ]
    return "\n".join(
        f"{name}: {json.dumps(conn.execute(f'SELECT * FROM {name}').fetchall(), default=str)}"
        for name in names
    )


def test_erasure_leaves_no_badge_uid_anywhere_in_the_database(
    store: SqliteCentralStore,
) -> None:
    """Léa's card, the card she lost before it (only in her events now), and the card a station
    enrolled for her: after the erasure none of the three UIDs is in any table — not in the
    events (applied or kept as evidence), alerts, taps, commands and their results, enrolments,
    nor a station's stored status — and one an offline station sends later is not stored
    again. Sofiane's card, in the same rows, stays."""
    from central.ingest import parse_event

    card, lost, enrolled, other = "04B0B1B2", "04B0B1B2B3B4B5", "04AABBCCDDEEFF", "04C0C1C2"
    store.add_station("laser-2", kind="laser")
    store.enrol_from_station("laser-1", enrolled, "yanis", member_id="lea")
    sent = store.add_command(
        "laser-1", {"action": "revoke_badge", "reason": "", "uid": card}, by="t"
    )

    def raw(seq: int, type_: str, at: str = "2026-03-04T10:00:00.000Z", **data: object) -> dict:
        return {"id": f"e-{seq}", "seq": seq, "type": type_, "clock_synced": True, "at": at,
                "boot_id": "b", "mono": 1.0 + seq, "data": data}  # fmt: skip

    batch = [
        raw(6, "badge_enrolled", uid=lost, member_id="lea", by="yanis", previous_member_id=None),
        raw(7, "access_denied", uid=card, member_id=None, reason="unknown_badge", kind="laser"),
        raw(8, "command_applied", command_id=sent["id"], action="revoke_badge", ok=True,
            result={"uid": card}),
        raw(9, "supervisor_awaited", uid=[card], member_id="lea", kind="laser"),  # evidence
        raw(10, "access_denied", uid=other, member_id="sofiane", reason="busy", kind="laser"),
    ]  # fmt: skip
    status = {"machine": {"state": "in_use"}, "last_decision": {"uid": card, "member_id": "lea"}}
    store.ingest("laser-1", [parse_event(e, 0, "laser-1") for e in batch], status=status)
    at_two = raw(1, "access_denied", at="2026-03-04T10:00:03.000Z", uid=card, member_id="lea",
                 reason="busy", kind="laser")  # fmt: skip
    store.ingest("laser-2", [parse_event(at_two, 0, "laser-2")])
    before = every_row(store)
    assert all(uid in before for uid in (card, lost, enrolled)), "the set-up holds them all"
    assert "badge_seen_at_two_stations" in before and "bad_data" in before

    erase_member(store, "lea")
    after = every_row(store)
    for uid in (card, lost, enrolled):
        assert uid not in after and uid.lower() not in after, uid
    assert other in after

    late = [raw(11, "access_denied", uid=card, member_id=None, reason="unknown_badge", kind="x")]
    store.ingest(
        "laser-1", [parse_event(e, 0, "laser-1") for e in late], status={"last_unknown_uid": card}
    )
    assert card not in every_row(store)
    store.add_badge(card, "noah")  # the card given to someone else: his taps are his
    again = [raw(12, "access_denied", uid=card, member_id="noah", reason="busy", kind="laser")]
    store.ingest("laser-1", [parse_event(e, 0, "laser-1") for e in again])
    assert [e["data"]["uid"] for e in store.events("laser-1") if e["seq"] == 12] == [card]


def test_a_roster_import_does_not_take_a_badge_from_its_holder(
    tmp_path: Path, store: SqliteCentralStore
) -> None:
    """A spreadsheet that gives Léa's card to Noah (Léa not in the file) is refused whole, in
    both modes, on the page and in the store; a file that shows the card leaving Léa, or the
    card of a member who left, moves it."""
    from central.errors import BadgesHeldInImport

    header = "member_id,name,role,badge_uid,qualifications\n"
    noah = "noah,Noah Petit,trainee,04B0B1B2,\n"
    for replace_all in (False, True):
        with pytest.raises(BadgesHeldInImport, match="04B0B1B2 belongs to lea"):
            store.import_roster(parse_roster_csv(header + noah), replace_all=replace_all)
        assert [b["uid"] for b in export_member(store, "lea")["badges"]] == ["04B0B1B2"]
    store.add_user("ines", PASSWORD, "educator")
    client = create_central_app(store, central_config(tmp_path)).test_client()
    token = login(client, "ines")
    upload = {
        "csrf_token": token,
        "merge": "1",
        "csv": (io.BytesIO((header + noah).encode()), "r.csv"),
    }
    html = client.post("/admin/roster/import", data=upload, follow_redirects=True).get_data(
        as_text=True
    )
    assert (
        "1 badge du fichier est déjà à quelqu&#39;un d&#39;autre ; rien n&#39;a été importé" in html
    )
    assert "Le badge 04B0B1B2 est à Léa Martin, le fichier le donne à Noah Petit" in html
    assert [b["uid"] for b in export_member(store, "lea")["badges"]] == ["04B0B1B2"]
    # The file shows the card leaving Léa (her row gives her another one): it moves.
    lea = "lea,Léa Martin,trainee,04B9B9B9,laser:supervised\n"
    store.import_roster(parse_roster_csv(header + noah + lea), replace_all=False)
    assert [b["uid"] for b in export_member(store, "noah")["badges"]] == ["04B0B1B2", "04F0F1F2"]
    # A member who left: their card may be given again.
    store.upsert_member("amina", "Amina Traoré", Role.TRAINEE, active=False)
    store.import_roster(
        parse_roster_csv(header + "zoe,Zoé Leroy,trainee,04E0E1E2,\n"), replace_all=False
    )
    assert [b["uid"] for b in export_member(store, "zoe")["badges"]] == ["04E0E1E2"]
