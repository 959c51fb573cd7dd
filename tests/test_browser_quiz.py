"""Browser test (Chromium, axe-core) of the induction quiz: an educator's bad file shows its lines
at laptop size; a trainee takes the quiz on a phone by her personal link and passes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from central import quiz
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
PHONE = {"width": 390, "height": 800}


@pytest.fixture
def central(tmp_path: Path) -> Iterator[CentralServer]:
    config = credentials_config(tmp_path)
    store = open_central_store(config.db_path)
    fill(store)
    store.add_station("laser-1", kind="laser")
    server = CentralServer(config, store)
    try:
        yield server
    finally:
        server.stop()


def _clean(p: Any) -> None:
    violations = axe_violations(p)
    assert not violations, violations


def test_write_the_quiz_then_take_it_on_a_phone(browser: Any, central: CentralServer) -> None:
    educator = browser.new_context(viewport=LAPTOP, locale="fr-FR")
    phone = browser.new_context(viewport=PHONE, locale="fr-FR")
    try:
        page = educator.new_page()
        page.goto(central.url + "/login")
        page.fill("#username", "ines")
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.get_by_role("link", name="Quiz d'induction").click()
        page.get_by_role("link", name="Écrire le quiz").click()
        source = page.get_by_label("Le texte du quiz")
        source.fill(quiz.SAMPLE.replace("pass_mark: 3", "pass_mark: 7"))
        page.get_by_role("button", name="Enregistrer le quiz").click()
        problems = page.locator("#quiz-problems")
        expect(problems).to_contain_text("Ligne 4 : « pass_mark: 7 »")
        _clean(page)
        screenshot(page, "central-quiz-errors")
        source.fill(quiz.SAMPLE)
        page.get_by_role("button", name="Enregistrer le quiz").click()
        expect(page.locator(".flash-ok")).to_contain_text("Quiz de laser enregistré (version 1)")

        page.goto(central.url + "/reports/progress/noah")
        link = page.locator("#personal-link code").inner_text()
        own = phone.new_page()
        own.goto(link)
        own.get_by_role("link", name="Passer le quiz d'induction").click()
        expect(own.get_by_role("img", name="Extracteur d'air")).to_be_visible()
        _clean(own)
        screenshot(own, "central-quiz")
        questions = own.locator("fieldset.question")
        for i, answer in enumerate((0, 0, 0, 1)):
            questions.nth(i).locator("input[type=radio]").nth(answer).check()
        own.get_by_role("button", name="Valider mes réponses").click()
        result = own.locator("#quiz-result")
        expect(result).to_contain_text("Induction réussie")
        expect(result).to_contain_text("3 bonnes réponses sur 4")
        expect(result).to_contain_text("Prochaine étape")
        expect(result).to_contain_text(re.compile("la bonne réponse : Le PVC"))
        _clean(own)
        own.get_by_role("link", name="Retour à ma progression").click()
        expect(own.locator("#induction")).to_contain_text("réussie le")
    finally:
        educator.close()
        phone.close()
