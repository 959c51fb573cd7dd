"""The kiosk when only staff get in because the roster's age is unknown (a reboot without a
trusted clock, station/roster_age.py): it says so before anyone taps, and on a trainee's tap."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from tests import test_browser_helpers as helpers
from tests.e2e_helpers import INES, SOFIANE, StationProcess, free_port, prepare_station
from tests.test_browser_helpers import axe_violations, screenshot

helpers.require_browser_tools()

from playwright.sync_api import expect  # noqa: E402 - only once the tools are known present

browser, page = helpers.browser, helpers.page  # fixtures

UNKNOWN_AGE = "ne sait pas si sa liste de badges est à jour"


def unknown_age_station(workdir: Path) -> Path:
    """A station synced with a central store that does not answer (a closed port), whose
    roster was last known current on another boot without a trusted wall time."""
    config = prepare_station(workdir)
    text = config.read_text(encoding="utf-8")
    text, n = re.subn(r'(?m)^url = ""$', f'url = "http://127.0.0.1:{free_port()}"', text)
    text, m = re.subn(r'(?m)^token = ""$', 'token = "t"', text)
    assert n == m == 1
    config.write_text(text, encoding="utf-8")
    db = sqlite3.connect(workdir / "data" / "station.sqlite")
    try:
        with db:
            db.execute("UPDATE roster_meta SET value = 'another-boot' WHERE key = 'fresh_boot_id'")
            db.execute("UPDATE roster_meta SET value = '0' WHERE key = 'fresh_synced'")
    finally:
        db.close()
    return config


def test_the_kiosk_says_only_staff_get_in_while_the_rosters_age_is_unknown(
    page: Any, tmp_path: Path
) -> None:
    s = StationProcess(unknown_age_station(tmp_path / "station"))
    try:
        ready = s.start_ready()
        assert ready["roster_age_unknown"] is True and ready["roster_expired"] is True
        page.goto(s.base + "/kiosk/")
        # Only staff get in: the title says so, not « Badge ta carte » (issue 11, item 3).
        expect(page.locator("#title")).to_have_text("Pour l'instant, seule l'équipe peut badger")
        expect(page.locator("main#screen")).to_contain_text(UNKNOWN_AGE)
        expect(page.locator("main#screen")).to_contain_text("Demande à l'équipe éducative.")
        screenshot(page, "kiosk-staff-only")
        assert axe_violations(page) == []
        assert s.badge(SOFIANE)["reason"] == "roster_expired"
        expect(page.locator("main#screen")).to_have_attribute("data-reason", "roster_expired")
        expect(page.locator("#title")).to_have_text("La station n'a pas pu se mettre à jour")
        expect(page.locator("main#screen")).to_contain_text(UNKNOWN_AGE)
        # The denial says what to do too, not only why.
        expect(page.locator("main#screen")).to_contain_text("Demande à l'équipe éducative.")
        screenshot(page, "kiosk-roster-age-unknown")
        assert axe_violations(page) == []
        assert s.badge(INES)["granted"] is True  # staff
    finally:
        s.close()


def test_the_idle_screen_says_only_staff_get_in_once_the_roster_is_too_old(
    page: Any, tmp_path: Path
) -> None:
    """The roster's age is known (same boot) but past ``roster_max_age_h``: the idle screen says
    only staff get in, and whom to ask, before anyone badges (issue 11, item 3)."""
    config = prepare_station(tmp_path / "station")
    text = config.read_text(encoding="utf-8")
    text, n = re.subn(r'(?m)^url = ""$', f'url = "http://127.0.0.1:{free_port()}"', text)
    text, m = re.subn(r'(?m)^token = ""$', 'token = "t"', text)
    assert n == m == 1
    config.write_text(text, encoding="utf-8")
    s = StationProcess(config)
    try:
        assert s.start_ready()["roster_expired"] is False
        page.goto(s.base + "/kiosk/")
        expect(page.locator("#title")).to_have_text("Badge ta carte pour commencer")
        s.advance(73 * 3600)  # roster_max_age_h is 72
        assert s.status()["roster_expired"] is True
        expect(page.locator("#title")).to_have_text("Pour l'instant, seule l'équipe peut badger")
        expect(page.locator("main#screen")).to_contain_text(
            "La station n'a pas pu joindre le serveur du fablab depuis trop longtemps"
        )
        expect(page.locator("main#screen")).to_contain_text("Demande à l'équipe éducative.")
        screenshot(page, "kiosk-staff-only-roster-old")
        assert axe_violations(page) == []
        assert s.badge(SOFIANE)["reason"] == "roster_expired"
        assert s.badge(INES)["granted"] is True  # staff
    finally:
        s.close()
