"""Browser test (Chromium, axe-core) of a network's pages at laptop size: the dashboard's
« Fablab » filter and a report for one site, as a network admin sees them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import test_browser_helpers as helpers
from tests.test_browser_helpers import axe_violations, screenshot
from tests.test_central_helpers import CentralServer, central_config
from tests.test_central_rollups import logs
from tests.test_security_sites import PASSWORD
from tests.test_security_sites import store as sites_store  # noqa: F401 - two sites, accounts

helpers.require_browser_tools()

from playwright.sync_api import expect  # noqa: E402 - only once the tools are known present

browser = helpers.browser
LAPTOP = {"width": 1366, "height": 768}


@pytest.fixture
def central(tmp_path: Path, sites_store: Any) -> Iterator[CentralServer]:  # noqa: F811
    for station_id, log in logs(
        [
            {"station": "laser-a", "member": "lea", "supervisor": "moussa", "day": 2,
             "seconds": 5400.0, "wh": 600.0, "finishing": None, "ended": True},
            {"station": "laser-b", "member": "amina", "supervisor": None, "day": 3,
             "seconds": 7200.0, "wh": 900.0, "finishing": (900.0, 120.0), "ended": True},
        ],
        kinds={"laser-a": "laser", "laser-b": "laser"},
    ).items():  # fmt: skip
        sites_store.ingest(station_id, log)
    server = CentralServer(central_config(tmp_path), sites_store)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(browser: Any, central: CentralServer) -> Iterator[Any]:
    context = browser.new_context(viewport=LAPTOP, locale="fr-FR")
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.goto(central.url + "/login")
    p.fill("#username", "network")
    p.fill("#password", PASSWORD)
    p.get_by_role("button", name="Se connecter").click()
    try:
        yield p
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_the_dashboard_filters_by_site(page: Any, central: CentralServer) -> None:
    page.goto(central.url + "/dash/")
    fleet = page.locator("#fleet tbody")
    expect(fleet.locator("tr")).to_have_count(2)
    page.get_by_label("Fablab").select_option(label="Fablab de Sarcelles")
    page.get_by_role("button", name="Afficher").click()
    expect(fleet.locator("tr")).to_have_count(1)
    expect(fleet).to_contain_text("laser-b")
    expect(fleet).not_to_contain_text("laser-a")
    assert not axe_violations(page)
    screenshot(page, "central-dashboard-site")


def test_a_report_for_one_site(page: Any, central: CentralServer) -> None:
    page.goto(central.url + "/reports/hours?period=month")
    table = page.locator("table").last
    expect(table).to_contain_text("Léa")
    expect(table).to_contain_text("Amina")
    page.get_by_label("Fablab").select_option(label="Fabrique de Gonesse")
    page.locator("form.filters button[type=submit]").click()
    table = page.locator("table").last
    expect(table).to_contain_text("Léa")
    expect(table).not_to_contain_text("Amina")
    assert "site=site-a" in page.url
    assert not axe_violations(page)
    screenshot(page, "central-report-site")
