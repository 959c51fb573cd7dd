"""The staff pages against real stations: ``station run`` processes syncing real events to a
central store (SQLite, then PostgreSQL), each page opened in Chromium at a laptop's size
(1366×768) and checked as a technician, an educator and a funder's programme officer read it.

Nothing here is written into the central store by hand except the roster, the accounts and the
stations' registration: sessions, the finishing phase of a print, the air alarm, the grant, the
problem report and the enrolment all happen at the stations and reach the central store through
the sync. The report's figures are checked against the stations' own events. axe-core finds no
serious or critical problem on any page.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from central.demo import set_toml
from central.store import CentralStore
from station.roster import parse_roster_csv
from tests import test_browser_helpers as helpers
from tests.conftest import sample_roster_text
from tests.e2e_helpers import LEA, MOUSSA, SOFIANE, UNKNOWN, StationProcess, http
from tests.test_browser_helpers import (
    KIOSK_VIEWPORT,
    TECH_PASSWORD,
    axe_violations,
    prepare,
    screenshot,
)
from tests.test_central_helpers import CentralServer, central_config, wait_for

helpers.require_browser_tools()

from playwright.sync_api import expect  # noqa: E402 - only once the tools are known present

browser = helpers.browser  # fixture
LAPTOP = {"width": 1366, "height": 768}
PASSWORD = "a long passphrase"
RANGE = "since=2026-01-01&until=2099-12-31"


@pytest.fixture
def central(tmp_path: Path, central_store: CentralStore) -> Iterator[CentralServer]:
    central_store.import_roster(parse_roster_csv(sample_roster_text()))
    central_store.add_user("admin", PASSWORD, "admin")
    server = CentralServer(central_config(tmp_path), central_store)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fleet(tmp_path: Path, central: CentralServer) -> Iterator[Callable[..., StationProcess]]:
    """Starts a station of the given kind that syncs with ``central`` every second."""
    made: list[StationProcess] = []

    def start(station_id: str, name: str, kind: str, **settings: dict[str, str]) -> StationProcess:
        token = central.store.add_station(station_id, name=name, machine_id=station_id, kind=kind)
        config = prepare(tmp_path / station_id)
        text = config.read_text(encoding="utf-8")
        values = {
            "station": {"id": f'"{station_id}"'},
            "machine": {"id": f'"{station_id}"', "name": f'"{name}"', "kind": f'"{kind}"'},
            "central": {
                "url": f'"{central.url}"',
                "token": f'"{token}"',
                "sync_interval_s": "1",
                "timeout_s": "2",
            },
        }
        for section, more in settings.items():
            values.setdefault(section, {}).update(more)
        for section, pairs in values.items():
            for key, value in pairs.items():
                text = set_toml(text, section, key, value)
        config.write_text(text, encoding="utf-8")
        station = StationProcess(config)
        made.append(station)
        station.start_ready()
        synced(station)
        return station

    try:
        yield start
    finally:
        for s in made:
            s.close()


def synced(station: StationProcess) -> dict[str, Any]:
    """Every event of the station is at the central store (and a roster came back)."""

    def done() -> Any:
        sync = station.status().get("sync") or {}
        return sync.get("last_success_at") and sync.get("backlog") == 0 and sync

    return wait_for(done, what=f"{station.base} to push everything")  # type: ignore[no-any-return]


def tap(station: StationProcess, uid: str) -> str:
    return str(station.badge(uid)["action"])


def laptop_page(browser: Any) -> Any:
    context = browser.new_context(viewport=LAPTOP, locale="fr-FR", timezone_id="Europe/Paris")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    return page


def central_login(page: Any, central: CentralServer) -> None:
    page.goto(central.url + "/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def clean(page: Any) -> None:
    problems = axe_violations(page)
    assert not problems, problems
    assert not page.errors, f"JavaScript errors on the page: {page.errors}"


def test_the_fleet_dashboard_with_real_stations(
    browser: Any, central: CentralServer, fleet: Callable[..., StationProcess]
) -> None:
    """An air alarm shows its reading; a problem reported on the kiosk is cleared by a command
    sent from the dashboard, and the page follows it live: the command applied (with when), the
    problem resolved (on a station whose simulated clock stands still: same instant)."""
    laser = fleet(
        "laser-1",
        "Découpe laser",
        "laser",
        machine={"pm25_alarm": "35"},
        sensors={"air_sensor": '"sds011-emulated"'},
    )
    printer = fleet("printer-1", "Imprimante 3D", "printer3d")
    kiosk = browser.new_context(viewport=KIOSK_VIEWPORT, locale="fr-FR").new_page()
    kiosk.goto(printer.base + "/kiosk/")
    kiosk.locator("#problem-button").click()
    kiosk.locator("#problem-dialog").get_by_role("button", name="J'ai cassé quelque chose").click()
    wait_for(lambda: printer.status()["machine"]["state"] == "to_check", what="to check")
    http("POST", laser.base + "/sim/air", {"pm25": 80})
    laser.advance(2)
    synced(laser)
    synced(printer)
    page = laptop_page(browser)
    central_login(page, central)
    page.goto(central.url + "/dash/")
    row = page.locator('tr[data-station="laser-1"]')
    expect(row.locator('[data-field="state"]')).to_contain_text(
        "Arrêt de sécurité — trop de particules dans l'air"
    )
    expect(row.locator('[data-field="state"]')).to_contain_text("Air : 80 µg/m³")
    row = page.locator('tr[data-station="printer-1"]')
    expect(row.locator('[data-field="state"]')).to_contain_text(
        "À vérifier — problème signalé : « J'ai cassé quelque chose »"
    )
    problem = row.locator('[data-field="problems"] .open')
    expect(problem).to_contain_text("J'ai cassé quelque chose")
    row.locator("select[name=action]").select_option("clear_check")
    row.get_by_role("button", name="Envoyer").click()
    expect(page.locator(".flash-ok")).to_contain_text(
        "Commande « Valider la vérification » envoyée à Imprimante 3D"
    )
    log = page.locator("#commands tbody")
    expect(log).to_contain_text("Imprimante 3D")
    # Live from here: the station applies the command at its next sync, the page follows.
    expect(log.locator("td.command-applied")).to_have_text("Appliquée", timeout=20_000)
    expect(log.locator("tr").first.locator("td").last).to_have_text(re.compile(r"\d{2}:\d{2}$"))
    resolved = page.locator('tr[data-station="printer-1"] [data-field="problems"] .resolved')
    expect(resolved).to_contain_text("J'ai cassé quelque chose", timeout=20_000)
    expect(resolved).to_contain_text("par admin")  # who sent the command
    expect(page.locator('tr[data-station="printer-1"] [data-field="state"]')).to_have_text("Libre")
    expect(page.locator("body")).not_to_contain_text("problem_reported")
    expect(page.locator("body")).not_to_contain_text("air_pm25")
    clean(page)
    screenshot(page, "central-dashboard-real-stations")
    page.context.close()


def test_an_unknown_badge_enrolled_on_the_technician_page_works_at_every_station(
    browser: Any, central: CentralServer, fleet: Callable[..., StationProcess]
) -> None:
    laser = fleet("laser-1", "Découpe laser", "laser")
    printer = fleet("printer-1", "Imprimante 3D", "printer3d")
    assert printer.badge(UNKNOWN)["reason"] == "unknown_badge"
    assert laser.badge(UNKNOWN)["reason"] == "unknown_badge"
    tech = laptop_page(browser)
    tech.goto(laser.base + "/tech/login")
    tech.get_by_label("Identifiant").fill("yanis")
    tech.get_by_label("Mot de passe").fill(TECH_PASSWORD)
    tech.get_by_role("button", name="Se connecter").click()
    expect(tech.get_by_text(f"Dernier badge inconnu présenté : {UNKNOWN}")).to_be_visible()
    tech.get_by_label("Ou un nouveau membre : prénom et nom").fill("Zoé Lambert")
    tech.get_by_role("button", name="Enregistrer le badge").click()
    expect(tech.locator(".flash-ok")).to_contain_text("enregistré pour Zoé Lambert")
    # The form is not offered again for the same badge, before or after the roster comes.
    expect(tech.locator("#enrol-form")).to_have_count(0)
    synced(printer)
    wait_for(
        lambda: printer.badge(UNKNOWN)["reason"] == "not_qualified",
        what="the badge known at the printer",
    )
    assert central.store.member_detail("zoe-lambert")["name"] == "Zoé Lambert"
    clean(tech)
    screenshot(tech, "technician-enrolled-at-central")
    tech.context.close()


def job_totals(station: StationProcess) -> dict[str, dict[str, float]]:
    """Each session of the station's own log as the whole job: its duration and energy with the
    finishing phase (a print that went on after badge-out), by member."""
    jobs: dict[str, dict[str, float]] = {}
    for e in station.events():
        d = e["data"]
        if e["type"] == "session_ended":
            jobs[d["session_id"]] = {
                "member": d["member_id"],
                "s": d["duration_s"],
                "wh": d.get("energy_wh") or 0.0,
            }
        elif e["type"] == "finishing_ended":
            jobs[d["session_id"]]["s"] += d["duration_s"]
            jobs[d["session_id"]]["wh"] += d.get("energy_wh") or 0.0
    return jobs


def test_reports_and_progression_match_what_happened_at_the_machines(
    browser: Any, central: CentralServer, fleet: Callable[..., StationProcess]
) -> None:
    """Léa learns the laser with Moussa, who makes her autonomous there; she prints for 30 min
    and the print goes on 10 min after badge-out; Sofiane cuts alone; Inès, an educator, makes
    Amina autonomous on the printer from the member page. The progression page, « Qui a formé
    qui » and the programme report (page, PDF, CSV) say it, figures from the stations' logs."""
    laser = fleet("laser-1", "Découpe laser", "laser")
    printer = fleet(
        "printer-1",
        "Imprimante 3D",
        "printer3d",
        machine={"keep_on_while_busy": "true", "finish_idle_s": "60"},
        sensors={"power_meter": '"pzem-emulated"'},
    )
    assert (tap(laser, LEA), tap(laser, MOUSSA)) == ("waiting_for_supervisor", "session_started")
    laser.advance(1200)
    assert tap(laser, MOUSSA) == "grant_confirm_supervisor"
    laser.advance(5)
    assert tap(laser, MOUSSA) == "grant_awaiting_trainee"
    assert tap(laser, LEA) == "qualification_granted"
    laser.advance(5)
    assert tap(laser, LEA) == "session_ended"
    assert tap(laser, SOFIANE) == "session_started"
    laser.advance(1800)
    assert tap(laser, SOFIANE) == "session_ended"
    assert tap(printer, LEA) == "session_started"
    http("POST", printer.base + "/sim/power", {"watts": 150})
    printer.advance(1800)
    assert tap(printer, LEA) == "session_ended"  # the print goes on: finishing
    printer.advance(600)
    http("POST", printer.base + "/sim/power", {"watts": 2})
    printer.advance(120)
    wait_for(lambda: printer.status()["machine"]["state"] == "available", what="print done")
    synced(laser)
    synced(printer)
    jobs = {**job_totals(laser), **job_totals(printer)}
    printed = next(j for j in job_totals(printer).values())
    assert printed["s"] > 2400 and printed["wh"] > 99, "the finishing phase is in the job"

    page = laptop_page(browser)
    central_login(page, central)
    page.goto(central.url + "/admin/members/amina")
    page.get_by_label("Machine").fill("printer3d")
    page.get_by_label("Niveau").select_option("autonomous")
    page.get_by_role("button", name="Enregistrer (accordé par vous)").click()
    expect(page.locator("main")).to_contain_text("Impression 3D : autonome")
    clean(page)

    # Léa's ladder: autonomous on the laser since the grant, hours counted from there.
    page.goto(central.url + "/reports/progress/lea")
    card = page.locator("section.card", has=page.get_by_role("heading", name="Découpe laser"))
    expect(card.locator("[aria-current=step]")).to_have_text("autonome")
    expect(card).to_contain_text("(accordé par Moussa)")
    expect(card).to_contain_text("0,0 h de pratique depuis ce niveau")
    expect(card).to_contain_text("Encore 20,0 h de pratique à ce niveau")
    expect(card).to_contain_text("Tu as pratiqué avec : Moussa")
    expect(page.locator("main")).not_to_contain_text("printer3d")
    clean(page)
    screenshot(page, "central-progress-real-stations")

    page.goto(central.url + f"/reports/mentors?{RANGE}")
    who = page.locator("table").last
    expect(who.locator("tr", has_text="Léa Martin")).to_contain_text("Moussa Diallo")
    expect(who.locator("tr", has_text="Léa Martin")).to_contain_text("supervisé → autonome")
    expect(who.locator("tr", has_text="Amina Traoré")).to_contain_text("Impression 3D")
    expect(who.locator("tr", has_text="Amina Traoré")).to_contain_text("par l'équipe éducative")
    clean(page)

    # The programme report's figures are the stations' sessions, finishing included.
    from central import programme
    from central.reports import Filters
    from web.common.format import number

    tot = programme.programme(central.store, Filters(since="2026-01-01", until="2099-12-31"))[
        "totals"
    ]
    hours = sum(j["s"] for j in jobs.values()) / 3600
    kwh = sum(j["wh"] for j in jobs.values()) / 1000
    assert tot["sessions"] == len(jobs) == 3
    assert tot["hours"] == pytest.approx(hours, abs=0.01)
    assert tot["energy_kwh"] == pytest.approx(kwh, abs=0.005)
    assert (tot["levels_gained"], tot["levels_by_peers"], tot["levels_by_educators"]) == (2, 1, 1)
    assert (tot["peer_teachers"], tot["peer_learners"]) == (1, 1)
    page.goto(central.url + f"/reports/programme/?{RANGE}")
    figures = page.get_by_role("list", name="Chiffres clés")
    expect(figures).to_contain_text(f"{number(tot['hours'], 'fr', 1)} h")
    expect(figures).to_contain_text(f"{number(tot['energy_kwh'], 'fr', 2)} kWh")
    expect(figures).to_contain_text("3 sessions")
    expect(page.locator(".method")).to_contain_text("Niveaux donnés par l'équipe éducative : 1")
    machines = page.locator("table", has=page.get_by_role("columnheader", name="Type de machine"))
    expect(machines).to_contain_text("Imprimante 3D")
    expect(machines).to_contain_text("Impression 3D")
    # The laser has no power meter: its energy is not measured, not « 0,00 ».
    expect(machines.locator("tr", has_text="Découpe laser")).to_contain_text("non mesurée")
    expect(figures).to_contain_text("consommés par les machines qui ont un compteur")
    expect(page.locator(".charts")).to_contain_text("Découpe laser")
    expect(page.locator("main")).not_to_contain_text("printer3d")
    clean(page)
    screenshot(page, "central-programme-real-stations")
    pdf = page.request.get(central.url + f"/reports/programme/?{RANGE}&format=pdf")
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    helpers.TEST_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (helpers.TEST_SCREENSHOTS / "central-programme-real-stations.pdf").write_bytes(pdf.body())
    csv_text = page.request.get(central.url + f"/reports/programme/?{RANGE}&format=csv").text()
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert sum(float(r["hours"]) for r in rows) == pytest.approx(hours, abs=0.05)
    page.goto(central.url + f"/reports/hours?{RANGE}")
    row = page.locator("table").last.locator("tr", has_text="Impression 3D")
    expect(row).to_contain_text(number(printed["s"] / 3600, "fr", 2))
    expect(row).to_contain_text(number(printed["wh"] / 1000, "fr", 2))
    clean(page)
    page.context.close()
