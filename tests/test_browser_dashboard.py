"""The central store's fleet dashboard in headless Chromium at a laptop's size: states in words,
local times, the air reading beside an air alarm, problems open or resolved, and the command log
and the fleet updated live (only what changed); axe-core finds no serious or critical problem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import test_browser_helpers as helpers
from tests.test_browser_helpers import axe_violations, screenshot
from tests.test_central_helpers import CentralServer, central_config, post_json

helpers.require_browser_tools()

from playwright.sync_api import expect  # noqa: E402 - only once the tools are known present

browser = helpers.browser  # fixture
PASSWORD = "a long passphrase"


def event(seq: int, type_: str, data: dict[str, Any], at: str) -> dict[str, Any]:
    return {
        "id": f"laser-{seq}",
        "station_id": "laser-1",
        "seq": seq,
        "type": type_,
        "at": at,
        "clock_synced": True,
        "boot_id": "boot-a",
        "mono": 1000.0 + seq,
        "data": data,
    }


def sync(central: CentralServer, token: str, station: str, events: list[Any], **status: Any) -> Any:
    body = {
        "protocol": 1,
        "station_id": station,
        "events": events,
        "roster_version": 0,
        "backlog": 0,
        "status": status,
    }
    code, reply = post_json(central.url + "/api/v1/sync", body, token)
    assert code == 200, reply
    return reply


@pytest.fixture
def central(tmp_path: Path) -> Iterator[CentralServer]:
    server = CentralServer(central_config(tmp_path))
    server.store.add_user("yanis", PASSWORD, "technician")
    try:
        yield server
    finally:
        server.stop()


def test_the_fleet_dashboard_tells_a_busy_technician_what_is_going_on(
    browser: Any, central: CentralServer
) -> None:
    laser = central.store.add_station("laser-1", name="Découpe laser", kind="laser")
    cnc = central.store.add_station("cnc-1", name="Fraiseuse", kind="cnc")
    sync(
        central,
        laser,
        "laser-1",
        [
            event(
                1,
                "problem_reported",
                {"problem": "lentille sale", "by": "lea"},
                "2026-12-01T08:00:00Z",
            ),
            event(
                2,
                "machine_state_changed",
                {"from": "available", "to": "to_check", "by": None},
                "2026-12-01T08:00:01Z",
            ),
            event(
                3,
                "machine_state_changed",
                {"from": "to_check", "to": "available", "by": "yanis"},
                "2026-12-01T09:00:00Z",
            ),
            event(
                4,
                "problem_reported",
                {"problem": "odeur de brûlé", "by": "noah"},
                "2026-12-01T10:00:00Z",
            ),
        ],
        machine={"state": "fault", "reason": "air_alarm", "relay_on": False, "kind": "laser"},
        air={"pm25": 80.0, "alarm": True, "threshold": 35},
    )
    laptop = browser.new_context(viewport={"width": 1366, "height": 768})
    page = laptop.new_page()
    try:
        page.goto(central.url + "/login")
        page.get_by_label("Identifiant").fill("yanis")
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.goto(central.url + "/dash/")
        row = page.locator('tr[data-station="laser-1"]')
        expect(row.locator('[data-field="state"]')).to_contain_text("Arrêt de sécurité")
        expect(row.locator('[data-field="state"]')).to_contain_text("Air : 80 µg/m³")
        problems = row.locator('[data-field="problems"]')
        expect(problems.locator(".open")).to_contain_text("odeur de brûlé")
        expect(problems.locator(".resolved")).to_contain_text("lentille sale")
        expect(problems.locator(".resolved")).to_contain_text("1 déc. 2026, 10:00 par yanis")
        expect(problems).not_to_contain_text("T08:00")
        # Live: a command sent elsewhere, then applied by the station, without a reload.
        command = central.store.add_command("laser-1", {"action": "clear_check"}, by="ines")
        log = page.locator("#commands tbody")
        expect(log).to_contain_text("Valider la vérification")
        expect(log).to_contain_text("En attente de la station")
        applied = {"command_id": command["id"], "action": "clear_check", "ok": True, "result": {}}
        sync(
            central,
            laser,
            "laser-1",
            [event(5, "command_applied", applied, "2026-12-01T11:30:00Z")],
        )
        expect(log).to_contain_text("Appliquée")
        cnc_row = page.locator('tr[data-station="cnc-1"]')
        sync(central, cnc, "cnc-1", [], machine={"state": "in_use", "relay_on": True})
        expect(cnc_row.locator('[data-field="state"]')).to_contain_text("En cours")
        expect(cnc_row.locator('[data-field="contact"]')).to_contain_text("en ligne")
        problems = axe_violations(page)
        assert not problems, problems
        screenshot(page, "central-dashboard")
    finally:
        laptop.close()
