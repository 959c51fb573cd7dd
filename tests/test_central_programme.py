"""The programme report for funders: every figure checked against sessions and levels made here."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from central import programme
from central.reports import Filters
from central.sqlite import SqliteCentralStore
from station.model import Level
from station.roster import parse_roster_csv
from tests.conftest import sample_roster_text
from tests.test_central_helpers import central_config
from tests.test_central_reports import Log
from tests.test_central_web import PASSWORD, login
from web.central.app import create_central_app

ALL = Filters(since="2026-01-01", until="2099-12-31")
"""The whole range (an educator's level is recorded at today's date)."""


@pytest.fixture
def store(central_store: SqliteCentralStore) -> Iterator[SqliteCentralStore]:
    """Moussa (a trainee, mentor on the laser) supervises Léa and grants her a level; Inès (an
    educator) supervises Amina and then sets her level on the pages; Sofiane works alone."""
    s = central_store
    s.import_roster(parse_roster_csv(sample_roster_text()))
    s.add_user("ines", PASSWORD, "educator")
    s.add_station("laser-1", kind="laser")
    s.add_station("printer-1", kind="printer3d")
    laser, printer = Log(s, "laser-1", "laser"), Log(s, "printer-1", "printer3d")
    laser.session(
        "lea", "2026-03-02T10:00:00.000Z", "2026-03-02T11:00:00.000Z", 3600, sup="moussa", wh=800
    )
    laser.session("moussa", "2026-03-05T10:00:00.000Z", "2026-03-05T11:00:00.000Z", 3600, wh=200)
    laser.session(
        "lea", "2026-03-09T10:00:00.000Z", "2026-03-09T10:30:00.000Z", 1800, sup="moussa", wh=400
    )
    laser.grant("lea", "moussa", "2026-03-09T10:30:00.000Z")
    laser.session("sofiane", "2026-04-01T14:00:00.000Z", "2026-04-01T16:00:00.000Z", 7200, wh=1500)
    printer.session(
        "amina", "2026-04-02T09:00:00.000Z", "2026-04-02T15:00:00.000Z", 21600, sup="ines", wh=600
    )
    s.set_qualification("amina", "printer3d", Level.AUTONOMOUS, by="ines")
    try:
        yield s
    finally:
        s.close()


def test_figures_match_the_sessions_and_levels(store: SqliteCentralStore) -> None:
    d = programme.programme(store, ALL)
    tot = d["totals"]
    assert tot["active_trainees"] == 4 and tot["sessions"] == 5
    assert tot["hours"] == 10.5 and tot["machine_hours"] == 10.5
    assert tot["energy_kwh"] == 3.5
    assert (tot["levels_gained"], tot["levels_by_peers"], tot["levels_by_educators"]) == (2, 1, 1)
    assert tot["levels_at_machine"] == 1
    assert (tot["peer_teachers"], tot["peer_learners"]) == (1, 1)
    assert tot["peer_sessions"] == 2 and tot["peer_hours"] == 1.5
    assert tot["peer_share_pct"] == round(100 * 1.5 / 10.5, 1)
    rows = {r["member_id"]: r for r in d["trainees"]}
    assert rows["moussa"]["hours_supervised"] == 1.5 and rows["moussa"]["levels_granted"] == 1
    assert rows["moussa"]["sessions"] == 1 and rows["moussa"]["energy_kwh"] == 0.2
    assert rows["lea"]["peer_hours_received"] == 1.5 and rows["lea"]["levels_gained"] == 1
    assert rows["lea"]["energy_kwh"] == 1.2
    assert rows["amina"]["peer_hours_received"] == 0, "an educator is not a peer"
    assert rows["amina"]["levels_gained"] == 1
    machines = {m["machine_id"]: m for m in d["machines"]}
    assert machines["laser-1"]["energy_kwh"] == 2.9 and machines["laser-1"]["sessions"] == 4
    assert machines["printer-1"]["hours"] == 6.0


def test_the_range_and_kind_filter_every_figure(store: SqliteCentralStore) -> None:
    march = programme.programme(store, Filters(since="2026-03-01", until="2026-03-31"))["totals"]
    assert (march["active_trainees"], march["sessions"], march["hours"]) == (2, 3, 2.5)
    assert march["energy_kwh"] == 1.4 and march["levels_gained"] == 1
    assert march["peer_share_pct"] == 60.0
    printers = programme.programme(
        store, Filters(since="2026-01-01", until="2099-12-31", kind="printer3d")
    )
    assert printers["totals"]["hours"] == 6.0 and printers["totals"]["levels_by_educators"] == 1
    assert printers["totals"]["levels_by_peers"] == 0


@pytest.fixture
def app(tmp_path: Path, store: SqliteCentralStore) -> Flask:
    app = create_central_app(store, central_config(tmp_path))
    app.config["TESTING"] = True
    return app


RANGE = "since=2026-01-01&until=2099-12-31"


def test_the_page_shows_the_figures_in_french_without_names(app: Flask) -> None:
    client = app.test_client()
    login(client, "ines")
    assert "/reports/programme/" in client.get("/reports/").get_data(as_text=True)
    html = client.get(f"/reports/programme/?{RANGE}").get_data(as_text=True)
    assert html.count("<svg") == 4
    for figure in ("10,5 h", "3,50 kWh", "1,5 h (14,3 %)", "Apprendre en transmettant"):
        assert figure in html, figure
    # One mentor: « 1 jeune a formé », never « 1 jeunes ont formé »; 4 trainees: plural.
    assert "jeune a formé d&#39;autres jeunes" in html and "jeunes ont pratiqué" in html
    assert "Jeune 1" in html and "Léa" not in html and "Moussa" not in html
    named = client.get(f"/reports/programme/?{RANGE}&names=1").get_data(as_text=True)
    assert "Léa Martin" in named and "Moussa Diallo" in named
    css = (
        Path(__file__).resolve().parent.parent / "web" / "central" / "static" / "central_style.css"
    )
    assert "@page { size: A4" in css.read_text("utf-8")


def test_csv_exports(app: Flask) -> None:
    client = app.test_client()
    login(client, "ines")
    text = client.get(f"/reports/programme/?{RANGE}&format=csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["name"] for r in rows][:1] == ["Jeune 1"] and {r["member_id"] for r in rows} == {""}
    assert sum(float(r["hours"]) for r in rows) == 10.5
    named = list(
        csv.DictReader(
            io.StringIO(
                client.get(f"/reports/programme/?{RANGE}&format=csv&names=1").get_data(as_text=True)
            )
        )
    )
    moussa = next(r for r in named if r["member_id"] == "moussa")
    assert (moussa["hours_supervised"], moussa["levels_granted"]) == ("1.5", "1")
    machines = client.get(f"/reports/programme/?{RANGE}&format=csv&table=machines")
    assert "laser-1,laser,4,4.5,2.9" in machines.get_data(as_text=True)
    empty = client.get("/reports/programme/?since=2030-01-01&until=2030-12-31&format=csv")
    assert empty.get_data(as_text=True) == ",".join(programme.TRAINEE_COLUMNS) + "\n"


def test_a_bad_range_gets_a_page(app: Flask) -> None:
    client = app.test_client()
    login(client, "ines")
    r = client.get("/reports/programme/?since=2026-05-01&until=2026-04-01")
    assert r.status_code == 400 and "doit venir avant" in r.get_data(as_text=True)
    assert client.get("/reports/programme/?since=mai").status_code == 400


def test_the_pdf_is_one_report_on_a4(app: Flask, tmp_path: Path) -> None:
    client = app.test_client()
    login(client, "ines")
    r = client.get(f"/reports/programme/?{RANGE}&format=pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    pdf = r.get_data()
    assert pdf.startswith(b"%PDF") and b"/MediaBox [0 0 595.28 841.89]" in pdf
    if shutil.which("pdftotext"):
        path = tmp_path / "programme.pdf"
        path.write_bytes(pdf)
        text = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout
        for figure in ("Rapport du programme", "10,5 h", "3,50 kWh", "Apprendre en transmettant"):
            assert figure in text, figure
        assert "jeune a formé" in text and "jeunes ont formé" not in text
        assert "Léa" not in text


def visible(html_text: str) -> str:
    """The page's text as a person reads it (no tags, no attribute values)."""
    import html as html_lib
    import re

    body = re.sub(r"(?s)<(script|style|title)\b.*?</\1>", " ", html_text)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", body))


def test_the_staff_pages_say_codes_in_words(app: Flask) -> None:
    """Kinds, levels, roles, periods and report columns in French, numbers the French way:
    before, the tables were headed ``member_id``, ``supervised_sessions``, and showed
    ``printer3d : supervised`` and ``2026-03``."""
    client = app.test_client()
    login(client, "ines")
    codes = ("printer3d", "member_id", "supervised_sessions", "occupancy_pct", "autonomous")
    pages = {
        "hours": f"/reports/hours?{RANGE}",
        "mentors": f"/reports/mentors?{RANGE}",
        "machines": f"/reports/machines?{RANGE}",
        "programme": f"/reports/programme/?{RANGE}",
        "member": "/admin/members/amina",
        "members": "/admin/",
        "progress": "/reports/progress/lea",
    }
    text = {name: visible(client.get(url).get_data(as_text=True)) for name, url in pages.items()}
    text["members"] = text["members"].replace("member_id,name,role", "")  # the CSV's header
    for name, page in text.items():
        assert not [c for c in codes if c in page], name
    assert "Période" in text["hours"] and "mars 2026" in text["hours"]
    assert "Sessions accompagnées" in text["hours"] and "1,50" in text["hours"]
    assert "Heures d'accompagnement" in text["mentors"] and "Impression 3D" in text["mentors"]
    assert "Occupation" in text["machines"] and "avril 2026" in text["machines"]
    assert "Impression 3D" in text["programme"] and "avril 2026" in text["programme"]
    assert "Impression 3D : autonome" in text["member"] and "jeune" in text["member"]
    assert "Découpe laser" in text["progress"] and "Impression 3D" in text["progress"]
    # The kind filter is a choice of the stations' kinds, in words.
    html = client.get(f"/reports/hours?{RANGE}").get_data(as_text=True)
    assert '<option value="printer3d" >Impression 3D</option>' in html
