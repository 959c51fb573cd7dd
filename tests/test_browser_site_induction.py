"""The kiosk's denial for a fablab's own induction (issue 13), in headless Chromium at 800×480:
French first, who to ask, English second, everything on the screen, no serious axe problem."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

from tests import test_browser_helpers as helpers
from tests.e2e_helpers import INES, SOFIANE, StationProcess
from tests.test_browser_helpers import axe_violations, screenshot

helpers.require_browser_tools()

from playwright.sync_api import expect  # noqa: E402 - only once the tools are known present

from tests.test_browser_kiosk import assert_fits, open_kiosk, screen  # noqa: E402

browser, page = helpers.browser, helpers.page  # fixtures


def station_asking_its_induction(tmp_path: Path) -> StationProcess:
    """A laser station whose site asks for its own induction on lasers, nobody has had it (the
    reply its central store would send, applied as the sync applies it)."""
    from station.config import load_config
    from station.store import Store
    from station.sync import _write_roster

    config_path = helpers.prepare(tmp_path / "station")
    config = load_config(config_path)
    store = Store(config.db_path, config.station.id, config.machine.id)
    with closing(store), store.db.conn:
        _write_roster(store.db.conn, {"site_induction": {"required": ["laser"], "inducted": []}})
    station = StationProcess(config_path)
    station.start_ready()
    return station


def test_the_fablabs_own_induction_is_asked_for_in_french_then_english(
    page: Any, tmp_path: Path
) -> None:
    station = station_asking_its_induction(tmp_path)
    try:
        open_kiosk(page, station)
        assert station.badge(SOFIANE)["reason"] == "site_induction_needed"  # autonomous elsewhere
        expect(screen(page)).to_have_attribute("data-reason", "site_induction_needed")
        expect(page.locator("#title")).to_have_text("Ici, il faut d'abord l'induction de ce fablab")
        expect(page.locator("main p.lead").first).to_have_text(
            "Cette machine demande l'induction de ce fablab : demande à Inès de l'équipe "
            "éducative de la faire avec toi."
        )
        assert_fits(page, "site induction, French")
        assert not axe_violations(page)
        screenshot(page, "kiosk-site-induction-fr")
        page.locator("#lang-toggle").click()
        expect(page.locator("#title")).to_have_text("This fablab's own induction comes first")
        expect(page.locator("main p.lead").first).to_contain_text("ask Inès from the youth workers")
        assert_fits(page, "site induction, English")
        page.locator("#lang-toggle").click()
        station.advance(5)
        assert station.badge(INES)["action"] == "session_started"  # staff are not asked
    finally:
        station.close()
