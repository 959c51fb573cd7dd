"""Helpers for the browser tests (no tests here): headless Chromium through Playwright, a station
subprocess, axe-core, and screenshots for docs/screenshots/.

The browser tests skip, saying why, when /usr/bin/chromium, Playwright or node_modules/axe-core
is missing, unless the environment variable CI is "true": in CI they must run (CI installs
Debian's chromium, `pip install playwright` and `npm ci`).
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e_helpers import REPO, StationProcess, prepare_station

CHROMIUM = Path("/usr/bin/chromium")
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
# Every run saves the screens under tests/screenshots/ (not committed); with
# FABRIQUE_UPDATE_SCREENSHOTS=1 it refreshes the ones the README shows, in docs/screenshots/.
UPDATING_DOCS = os.environ.get("FABRIQUE_UPDATE_SCREENSHOTS") == "1"
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"
TEST_SCREENSHOTS = REPO / "tests" / "screenshots"
KIOSK_VIEWPORT = {"width": 800, "height": 480}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TECH_PASSWORD = "browser test password"


def missing_tools() -> list[str]:
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install -y chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package (pip install playwright)")
    if not AXE.exists():
        missing.append(f"{AXE.relative_to(REPO)} (npm ci)")
    return missing


def require_browser_tools() -> None:
    """Call at the top of a browser test module, before importing Playwright."""
    missing = missing_tools()
    if not missing:
        return
    message = "browser tests need " + ", ".join(missing)
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: they must run in CI)", pytrace=False)
    pytest.skip(message, allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=KIOSK_VIEWPORT, locale="fr-FR")
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield p
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def prepare(workdir: Path, *, checklist: list[str] | None = None, pm25_alarm: float = 0) -> Path:
    """A station directory: config (simulated clock, fake reader), sample roster, a technician;
    with ``pm25_alarm``, an emulated SDS011 air sensor and that alarm threshold."""
    config = prepare_station(workdir)
    text = config.read_text(encoding="utf-8")
    if checklist:
        items = ", ".join(f'"{i}"' for i in checklist)
        text, n = re.subn(r"(?m)^checklist = \[\]$", f"checklist = [{items}]", text)
        assert n == 1
    if pm25_alarm:
        text, n = re.subn(r"(?m)^pm25_alarm = 0$", f"pm25_alarm = {pm25_alarm}", text)
        text, m = re.subn(r'(?m)^air_sensor = "none"$', 'air_sensor = "sds011-emulated"', text)
        assert n == m == 1
    config.write_text(text, encoding="utf-8")
    from station.accounts import add_technician, open_accounts
    from station.config import load_config

    db = open_accounts(load_config(config).db_path)
    try:
        add_technician(db, "yanis", TECH_PASSWORD)
    finally:
        db.close()
    return config


@pytest.fixture
def station_factory(tmp_path: Path) -> Iterator[Callable[..., StationProcess]]:
    made: list[StationProcess] = []

    def make(**kwargs: Any) -> StationProcess:
        s = StationProcess(prepare(tmp_path / f"station{len(made)}", **kwargs))
        made.append(s)
        s.start_ready()
        return s

    try:
        yield make
    finally:
        for s in made:
            s.close()


@pytest.fixture
def station(station_factory: Callable[..., StationProcess]) -> StationProcess:
    return station_factory()


def documented_screenshots() -> set[str]:
    """The names of the pictures README.md and docs/*.md show (docs/screenshots/<name>.png)."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    text = "".join(page.read_text("utf-8") for page in pages)
    return set(re.findall(r"screenshots/([\w-]+)\.png", text))


def screenshot(page: Any, name: str) -> None:
    """Saved under tests/screenshots/. With FABRIQUE_UPDATE_SCREENSHOTS=1, a picture the docs
    show goes to docs/screenshots/ as a small palette PNG, except the ones taken from the
    running demo (tests/demo_screenshots.py owns those)."""
    from tests.demo_screenshots import DEMO_SHOTS, optimise

    docs = UPDATING_DOCS and name in documented_screenshots() - DEMO_SHOTS
    folder = DOCS_SCREENSHOTS if docs else TEST_SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    if docs:
        optimise(path)


def axe_violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """Run axe-core in the page; return the serious and critical violations, described."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:5])
        for v in result["violations"]
        if v["impact"] in impacts
    ]
