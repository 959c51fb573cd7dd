"""The demo's stations in headless Chromium: a simulated clock that does not move must not
freeze the kiosk's screens. The browser's own clock is Playwright's, moved by the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from central.demo import set_toml
from tests import test_browser_helpers as helpers
from tests.e2e_helpers import StationProcess, http, prepare_station

helpers.require_browser_tools()

from playwright.sync_api import expect  # noqa: E402 - only once the tools are known present

browser, page = helpers.browser, helpers.page  # fixtures

NOAH = "04F0F1F2"  # no laser training: a denial, shown 8 s
SOFIANE = "04C0C1C2"  # autonomous on the laser


@pytest.fixture
def station(tmp_path: Path) -> Iterator[StationProcess]:
    """A simulated station with an emulated power meter, as the demo's printer."""
    config = prepare_station(tmp_path / "station")
    text = set_toml(config.read_text(encoding="utf-8"), "sensors", "power_meter", '"pzem-emulated"')
    config.write_text(text, encoding="utf-8")
    s = StationProcess(config)
    s.start_ready()
    try:
        yield s
    finally:
        s.close()


def screen(page: Any) -> Any:
    return page.locator("main#screen")


def test_a_decision_screen_times_out_while_the_simulated_clock_stands_still(
    page: Any, station: StationProcess
) -> None:
    page.clock.install()
    page.goto(station.base + "/kiosk/")
    expect(page.locator("#title")).to_have_text("Badge ta carte pour commencer")
    pause_now(page)  # from now on only run_for moves the browser's clock
    page.clock.run_for(20_000)  # the kiosk waits 20 s at one simulated instant
    assert station.badge(NOAH)["reason"] == "not_qualified"
    expect(screen(page)).to_have_attribute("data-screen", "decision")
    page.clock.run_for(5000)
    expect(screen(page)).to_have_attribute("data-screen", "decision")
    now = station.status()["now"]
    # A reading publishes the status again at the same simulated instant (in the demo the sync
    # does so every 2 s): the denial is still 5 s old, not new.
    http("POST", station.base + "/sim/power", {"watts": 0})
    page.wait_for_function(
        "() => window.kiosk.status.power && window.kiosk.status.power.watts === 0"
    )
    assert station.status()["now"] == now, "the clock did not move"
    page.clock.run_for(4000)  # 9 s in all: past the denial's 8 s
    expect(screen(page)).to_have_attribute("data-screen", "idle")
    # The same badge again, at the same simulated instant: a new denial, shown again.
    assert station.badge(NOAH)["reason"] == "not_qualified"
    expect(screen(page)).to_have_attribute("data-screen", "decision")


def test_the_session_clock_runs_on_while_the_simulated_clock_stands_still(
    page: Any, station: StationProcess
) -> None:
    page.clock.install()
    page.goto(station.base + "/kiosk/")
    pause_now(page)
    assert station.badge(SOFIANE)["action"] == "session_started"
    expect(page.locator("#elapsed")).to_have_text("0:00")
    page.clock.run_for(6000)
    http("POST", station.base + "/sim/power", {"watts": 0})  # the same instant, published again
    page.wait_for_function(
        "() => window.kiosk.status.power && window.kiosk.status.power.watts === 0"
    )
    page.clock.run_for(4000)
    expect(page.locator("#elapsed")).to_have_text("0:10")  # not back to 0:04


def test_a_technician_stays_logged_in_while_another_station_is_open(
    page: Any, tmp_path: Path
) -> None:
    """The demo's stations share one host (127.0.0.1): a kiosk or a login on one station must
    not replace the other's session cookie (browsers keep cookies per host, not per port)."""
    stations = []
    for sid in ("laser-1", "cnc-1"):
        config = helpers.prepare(tmp_path / sid)
        text = set_toml(config.read_text(encoding="utf-8"), "station", "id", f'"{sid}"')
        config.write_text(text, encoding="utf-8")
        stations.append(StationProcess(config))
    try:
        for s in stations:
            s.start_ready()
        laser, cnc = stations
        page.goto(laser.base + "/tech/")
        page.get_by_label("Identifiant").fill("yanis")
        page.get_by_label("Mot de passe").fill(helpers.TECH_PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        expect(page).to_have_url(laser.base + "/tech/")
        page.goto(cnc.base + "/kiosk/")
        expect(page.locator("#title")).to_have_text("Badge ta carte pour commencer")
        page.goto(laser.base + "/tech/")
        expect(page).to_have_url(laser.base + "/tech/")  # not sent back to the login page
    finally:
        for s in stations:
            s.close()


def pause_now(page: Any, attempts: int = 5) -> None:
    """Pause the page's fake clock where it stands. ``pause_at`` refuses a moment the page's
    clock has already passed, which a loaded machine can make of "now + 10 ms": read it again."""
    for attempt in range(attempts):
        try:
            page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 0.01)
            return
        except Exception as e:
            if "past" not in str(e) or attempt == attempts - 1:
                raise
