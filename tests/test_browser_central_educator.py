"""Browser tests (Chromium, axe-core) of the educators' and funders' pages: the progression page
with its ladder, the personal link's own pages, the programme report (screen and print), the
roster import's errors and a bad report filter. No serious or critical axe violation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import test_browser_helpers as helpers
from tests.test_browser_helpers import axe_violations, screenshot
from tests.test_central_helpers import CentralServer, central_config
from tests.test_central_programme import store  # noqa: F401 - the fixture: sessions and levels
from tests.test_central_web import PASSWORD

helpers.require_browser_tools()

from playwright.sync_api import expect  # noqa: E402 - only once the tools are known present

browser = helpers.browser
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def central(tmp_path: Path, store: Any) -> Iterator[CentralServer]:  # noqa: F811
    server = CentralServer(central_config(tmp_path), store)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(browser: Any, central: CentralServer) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, locale="fr-FR")
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.goto(central.url + "/login")
    p.fill("#username", "ines")
    p.fill("#password", PASSWORD)
    p.get_by_role("button", name="Se connecter").click()
    try:
        yield p
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _clean(p: Any) -> None:
    violations = axe_violations(p)
    assert not violations, violations


def test_progression_page_ladder_and_link(page: Any, central: CentralServer, browser: Any) -> None:
    page.goto(central.url + "/reports/progress/lea")
    laser = page.locator("section.card", has=page.get_by_role("heading", name="laser"))
    expect(laser.locator("[aria-current=step]")).to_have_text("autonome")
    expect(laser).to_contain_text("Encore 20,0 h de pratique à ce niveau")
    expect(laser).to_contain_text("Tu as pratiqué avec : Moussa")
    expect(page.locator("#personal-link")).to_contain_text("Ce lien marche jusqu")
    _clean(page)
    screenshot(page, "central-progress")
    link = page.locator("#personal-link code").inner_text()
    trainee = browser.new_context(viewport={"width": 390, "height": 800}, locale="fr-FR")
    try:
        own = trainee.new_page()
        own.goto(link)
        expect(own.get_by_role("heading", level=1)).to_have_text("Progression de Léa")
        expect(own.locator("#personal-link")).to_have_count(0)
        _clean(own)
        screenshot(own, "central-progress-own")
        page.get_by_role("button", name="Couper tous les liens déjà donnés").click()
        expect(page.locator(".flash-ok")).to_contain_text("Les anciens liens ne marchent plus")
        own.goto(link)
        expect(own.get_by_role("heading", level=1)).to_have_text("Ce lien ne marche pas")
        expect(own.locator("main")).to_contain_text("Demande-leur ton nouveau lien")
        _clean(own)
        screenshot(own, "central-link-revoked")
    finally:
        trainee.close()


def test_programme_report_on_screen_and_in_print(page: Any, central: CentralServer) -> None:
    page.goto(central.url + "/reports/")
    page.get_by_role("link", name="Rapport du programme (pour les financeurs)").click()
    page.fill("input[name=since]", "2026-01-01")
    page.fill("input[name=until]", "2026-12-31")
    page.get_by_role("button", name="Afficher").click()
    figures = page.get_by_role("list", name="Chiffres clés")
    expect(figures).to_contain_text("10,5 h")
    expect(figures).to_contain_text("3,50 kWh")
    expect(page.locator(".method")).to_contain_text("1,5 h (14,3 %)")
    expect(page.locator(".charts svg")).to_have_count(4)
    _clean(page)
    screenshot(page, "central-programme")
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.locator("form.filters")).to_be_hidden()
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")


def test_import_errors_and_a_bad_filter(page: Any, central: CentralServer) -> None:
    page.goto(central.url + "/admin/")
    page.set_input_files(
        "input[name=csv]",
        files=[
            {
                "name": "roster.csv",
                "mimeType": "text/csv",
                "buffer": b"member_id,name,role,badge_uid,qualifications\n"
                b"x,,boss,,\ny,Y,trainee,ZZ,\n",
            }
        ],
    )
    page.get_by_role("button", name="Importer", exact=True).click()
    errors = page.locator(".flash-error")
    expect(errors.first).to_have_text(
        "2 lignes du fichier ont un problème ; rien n'a été importé. Corrige-les puis importe à "
        "nouveau :"
    )
    expect(errors).to_have_count(4)
    _clean(page)
    screenshot(page, "central-import-errors")
    page.goto(central.url + "/reports/hours?since=mars")
    expect(page.get_by_role("alert")).to_have_text(
        "La date « Du » doit être une date, par exemple 2026-03-01."
    )
    _clean(page)
