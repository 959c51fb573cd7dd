"""Browser test (Chromium, axe-core) of the credentials at laptop size: an educator records
consent and issues from the progress page, downloads the badge; a visitor checks it on /verify
(genuine), then an edited image (damaged) and, once revoked, the same badge (revoked)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import test_browser_helpers as helpers
from tests.conftest import open_central_store
from tests.test_browser_helpers import axe_violations, screenshot
from tests.test_central_helpers import CentralServer
from tests.test_central_web import PASSWORD
from tests.test_credentials_web import credentials_config, fill

helpers.require_browser_tools()

from playwright.sync_api import expect  # noqa: E402 - only once the tools are known present

browser = helpers.browser
LAPTOP = {"width": 1366, "height": 768}


@pytest.fixture
def central(tmp_path: Path) -> Iterator[CentralServer]:
    config = credentials_config(tmp_path)
    store = open_central_store(config.db_path)
    fill(store)
    server = CentralServer(config, store)
    try:
        yield server
    finally:
        server.stop()


def _clean(p: Any) -> None:
    violations = axe_violations(p)
    assert not violations, violations


def test_issue_download_and_verify_a_badge(
    browser: Any, central: CentralServer, tmp_path: Path
) -> None:
    educator = browser.new_context(viewport=LAPTOP, locale="fr-FR", accept_downloads=True)
    visitor = browser.new_context(viewport=LAPTOP, locale="fr-FR")
    try:
        page = educator.new_page()
        page.goto(central.url + "/login")
        page.fill("#username", "ines")
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.goto(central.url + "/reports/progress/sofiane")
        section = page.locator("#credentials")
        expect(section).to_contain_text("Pas encore d'accord")
        section.get_by_label("Mineur").check()
        section.get_by_role("button", name="Enregistrer l'accord").click()
        expect(page.locator(".flash-error")).to_contain_text("écris le nom du parent")
        section.get_by_label("Nom du parent ou responsable qui a signé").fill("Nadia Kaci")
        section.get_by_role("button", name="Enregistrer l'accord").click()
        expect(page.locator(".flash-ok")).to_contain_text("Accord enregistré")
        expect(section).to_contain_text("Accord de Nadia Kaci")
        section.get_by_role("button", name="Délivrer « Découpe laser — autonome »").click()
        expect(page.locator(".flash-ok")).to_contain_text("délivré")
        _clean(page)
        with page.expect_download() as download:
            section.get_by_role("link", name="image PNG").click()
        badge = tmp_path / "badge.png"
        download.value.save_as(badge)

        check = visitor.new_page()
        check.goto(central.url + "/verify")
        _clean(check)
        check.get_by_label("Image du badge (PNG ou SVG)").set_input_files(str(badge))
        check.get_by_role("button", name="Vérifier").click()
        verdict = check.locator("#verdict")
        expect(verdict).to_contain_text("Badge authentique et valable")
        expect(verdict).to_contain_text("Sofiane K.")
        expect(verdict).to_contain_text("Découpe laser — autonome")
        _clean(check)
        screenshot(check, "central-verify")

        edited = bytearray(badge.read_bytes())
        at = edited.index(b"openbadgecredential") + 60
        edited[at] ^= 0x01
        bad = tmp_path / "edited.png"
        bad.write_bytes(bytes(edited))
        check.get_by_label("Image du badge (PNG ou SVG)").set_input_files(str(bad))
        check.get_by_role("button", name="Vérifier").click()
        expect(check.locator("#verdict")).to_contain_text("Image abîmée ou modifiée")

        section = page.locator("#credentials")
        section.get_by_role("button", name="Révoquer").click()
        expect(page.locator(".flash-ok")).to_contain_text("Badge révoqué")
        check.get_by_label("Image du badge (PNG ou SVG)").set_input_files(str(badge))
        check.get_by_role("button", name="Vérifier").click()
        expect(check.locator("#verdict")).to_contain_text("Badge révoqué")
        _clean(check)
    finally:
        educator.close()
        visitor.close()
