"""The kiosk pairing in real Chromium: the launcher's start page pairs the touchscreen, whose
actions then work; the same page opened without the key cannot act (issue 10, item 10).

Not the mock backend: here a loopback page alone is not enough. The station app runs on waitress
in this process, on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import waitress

from station.clock import SimulatedClock
from station.controller import Controller
from station.machine import Tap
from tests import test_browser_helpers as helpers
from tests.conftest import SOFIANE, make_config, start_controller
from tests.test_central_helpers import stop_waitress
from tests.test_deploy import run_kiosk_launcher
from tests.test_station_surface_http import lan_address
from tests.test_web_helpers import make_app

helpers.require_browser_tools()

browser, page = helpers.browser, helpers.page  # fixtures

REPORT = """async () => {
  const r = await fetch("/kiosk/problem", {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": window.kiosk.csrf},
    body: JSON.stringify({problem: "missing_material"}),
    credentials: "same-origin",
  });
  return r.status;
}"""


@pytest.fixture
def base(controller: Controller) -> Iterator[str]:
    app = make_app(controller, simulator=False)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}/"  # type: ignore[union-attr]
    finally:
        # From the server's own loop thread: closing its sockets from here races its select()
        # (EBADF in the loop thread, seen under CI load).
        stop_waitress(server, thread)


def test_the_launchers_start_page_pairs_the_touchscreen(
    page: Any, base: str, controller: Controller, tmp_path: Path
) -> None:
    secret = (controller.config.data_path / "kiosk-secret").read_text().strip()
    args, _, _ = run_kiosk_launcher(tmp_path, secret, base)
    start = args.split()[-1]
    assert start.startswith("file://") and secret not in args
    page.goto(start)
    page.wait_for_url("**/kiosk/?pair=*")
    page.wait_for_function("window.kiosk && window.kiosk.csrf")
    assert page.evaluate(REPORT) == 200, "the paired touchscreen reports a problem"


def test_the_kiosk_page_without_the_key_cannot_act(page: Any, base: str) -> None:
    page.goto(base + "kiosk/")
    page.wait_for_function("window.kiosk")
    assert page.evaluate("() => window.kiosk.csrf") == "", "no token for a page without the key"
    assert page.evaluate("async () => (await fetch('/kiosk/token')).status") == 403
    assert page.evaluate(REPORT) == 400  # no token: refused before anything else


@pytest.fixture
def checklist_station(tmp_path: Path, clock: SimulatedClock) -> Iterator[tuple[Controller, int]]:
    """A station waiting for Sofiane's checklist, on waitress on every address (as a station
    open to the LAN), not the mock backend's loopback pairing."""
    controller = start_controller(
        make_config(tmp_path, checklist=["Lunettes", "Aspiration allumée"]), clock
    )
    server = waitress.create_server(
        make_app(controller, simulator=False), host="0.0.0.0", port=0, threads=8
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        controller.call(Tap(SOFIANE))
        assert controller.status()["checklist"] is not None
        yield controller, server.effective_port  # type: ignore[union-attr]
    finally:
        stop_waitress(server, thread)
        controller.stop()


@pytest.mark.parametrize("where", ["lan", "unpaired"])
def test_a_kiosk_page_that_cannot_act_shows_no_action_button(
    browser: Any, checklist_station: tuple[Controller, int], where: str
) -> None:
    """Another computer of the fablab, or a page on the Pi without the key: a live read-only
    view that says where to act, with no button that would fail when pressed. The paired
    touchscreen, side by side, has its buttons."""
    controller, port = checklist_station
    host = lan_address() if where == "lan" else "127.0.0.1"
    if host is None:
        pytest.skip("this host has no network address besides loopback")
    key = (controller.config.data_path / "kiosk-secret").read_text().strip()
    pages = {}
    contexts = []
    try:
        for name, query in ((where, ""), ("touchscreen", f"?pair={key}")):
            context = browser.new_context(viewport=helpers.KIOSK_VIEWPORT, locale="fr-FR")
            contexts.append(context)
            p = context.new_page()
            errors: list[str] = []
            p.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            origin = host if name == where else "127.0.0.1"
            p.goto(f"http://{origin}:{port}/kiosk/{query}")
            p.wait_for_selector("[data-screen=checklist]")
            pages[name] = (p, errors)
        watcher, errors = pages[where]
        assert watcher.evaluate("() => window.kiosk.csrf") == ""
        assert watcher.locator("button").all_inner_texts() == ["Son", "English"], (
            "only the page's own sound and language buttons"
        )
        assert watcher.locator("input[type=checkbox], dialog").count() == 0
        note = watcher.locator("#watch-only")
        assert note.is_visible()
        assert note.inner_text() == (
            "Cet écran montre la machine. Pour agir, utilise l'écran tactile de la station."
        )
        assert watcher.get_by_text("Lunettes").is_visible(), "the checklist, to read"
        helpers.screenshot(watcher, f"kiosk-watch-only-{where}")
        assert helpers.axe_violations(watcher) == []
        touchscreen, touch_errors = pages["touchscreen"]
        assert touchscreen.locator("#checklist-confirm").is_visible()
        assert touchscreen.locator("#problem-button").is_visible()
        assert touchscreen.locator("#watch-only").count() == 0
        # Still live: Sofiane cancels on the touchscreen, the watching page follows.
        touchscreen.locator("#checklist-cancel").click()
        watcher.wait_for_function("document.querySelector('main').dataset.screen !== 'checklist'")
        assert controller.status()["checklist"] is None
        watcher.locator("#lang-toggle").click()
        assert note.inner_text() == (
            "This screen shows the machine. To do something, use the station's touchscreen."
        )
        assert not errors, f"JavaScript errors on the page: {errors}"
        assert not touch_errors, f"JavaScript errors on the touchscreen: {touch_errors}"
    finally:
        for context in contexts:
            context.close()
