"""The reports count in the fablab's calendar (issue #11, items 6 and 10): a session at 00:30
in Paris on 1 January (23:30 UTC on 31 December) is a session of 1 January, of January and of
2026, in every report and in the programme report's range, on both backends; days, months and
years follow the clock changes; a change of ``[site] timezone`` rebuilds the roll-ups."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from central import programme, reports
from central.config import load_config
from central.reports import Filters
from central.store import CentralStore
from central.wiring import open_store
from station.roster import parse_roster_csv
from tests.conftest import another_process, sample_roster_text, storage_section
from tests.test_central_reports import Log

PARIS = "Europe/Paris"


def _store(store: CentralStore) -> tuple[Log, Log]:
    store.import_roster(parse_roster_csv(sample_roster_text()))
    store.add_station("laser-1", kind="laser")
    store.add_station("printer-1", kind="printer3d")
    return Log(store, "laser-1", "laser"), Log(store, "printer-1", "printer3d")


def _new_year(laser: Log) -> None:
    """Léa at 00:30 in Paris on 1 January, granted at 00:40; Sofiane at 23:30 the same day."""
    laser.session("lea", "2025-12-31T23:30:00.000Z", "2025-12-31T23:40:00.000Z", 600, sup="moussa")
    laser.grant("lea", "moussa", "2025-12-31T23:40:00.000Z")
    laser.session("sofiane", "2026-01-01T22:30:00.000Z", "2026-01-01T23:00:00.000Z", 1800)


def _periods(store: CentralStore, period: str, **f: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in reports.hours(store, Filters(period=period, **f)):
        out[r["period"]] = out.get(r["period"], 0) + r["sessions"]
    return out


def test_a_session_after_midnight_in_paris_counts_on_the_paris_day(
    central_store: CentralStore,
) -> None:
    store = central_store
    laser, _ = _store(store)
    assert store.set_rollups_timezone(PARIS) == 0  # (an empty store: nothing to rebuild)
    _new_year(laser)
    assert _periods(store, "day") == {"2026-01-01": 2}
    assert _periods(store, "month") == {"2026-01": 2}
    assert _periods(store, "year") == {"2026": 2}
    assert _periods(store, "day", since="2026-01-01", until="2026-01-01") == {"2026-01-01": 2}
    assert _periods(store, "day", until="2025-12-31") == {}
    assert [m["period"] for m in reports.machines(store, Filters(period="year"))] == ["2026"]
    # The programme report of January has both sessions and Léa's level; December's nothing.
    january = programme.programme(store, Filters(since="2026-01-01", until="2026-01-31"))
    assert january["totals"]["sessions"] == 2 and january["totals"]["levels_gained"] == 1
    assert [r["period"] for r in january["monthly"]] == ["2026-01", "2026-01"]
    december = programme.programme(store, Filters(since="2025-12-01", until="2025-12-31"))
    assert december["totals"]["sessions"] == 0 and december["totals"]["levels_gained"] == 0
    assert [g["member_id"] for g in reports.grants(store, Filters(since="2026-01-01"))] == ["lea"]
    assert reports.grants(store, Filters(until="2025-12-31")) == []
    # Erasing Léa takes her roll-ups away and puts them back under her pseudonym, same day.
    store.erase_member("lea")
    assert _periods(store, "day") == {"2026-01-01": 2}
    assert sum(r["sessions"] for r in store.rollup_rows()) == 2


def test_a_change_of_zone_rebuilds_the_rollups(central_store: CentralStore) -> None:
    store = central_store
    laser, _ = _store(store)
    _new_year(laser)
    assert store.rollups_timezone() == "UTC"  # what the store held before a zone was set
    assert _periods(store, "day") == {"2025-12-31": 1, "2026-01-01": 1}
    assert store.set_rollups_timezone(PARIS) == 2
    assert _periods(store, "day") == {"2026-01-01": 2}
    assert store.set_rollups_timezone(PARIS) is None  # the same zone: nothing rebuilt
    other = another_process(store)
    try:
        assert other.rollups_timezone() == PARIS
        assert _periods(other, "year") == {"2026": 2}
    finally:
        other.close()
    # A rebuild keeps the zone; new sessions count in it.
    store.rebuild_rollups()
    laser.session("noah", "2026-01-31T23:15:00.000Z", "2026-01-31T23:45:00.000Z", 1800)
    assert _periods(store, "month") == {"2026-01": 2, "2026-02": 1}
    assert store.set_rollups_timezone("UTC") == 3
    assert _periods(store, "month") == {"2025-12": 1, "2026-01": 2}


def test_opening_the_store_counts_in_the_configured_zone(
    central_store: CentralStore, tmp_path: Path
) -> None:
    laser, _ = _store(central_store)
    _new_year(laser)
    path = tmp_path / "central.toml"
    for zone, days in (
        (PARIS, {"2026-01-01": 2}),
        ("Asia/Tokyo", {"2026-01-01": 1, "2026-01-02": 1}),
    ):
        path.write_text(
            storage_section(central_store, tmp_path / "central") + f'[site]\ntimezone = "{zone}"\n'
        )
        opened = open_store(load_config(path))
        try:
            assert opened.rollups_timezone() == zone
            assert _periods(opened, "day") == days
        finally:
            opened.close()


def test_the_clock_changes_of_march_and_october(central_store: CentralStore) -> None:
    store = central_store
    laser, printer = _store(store)
    store.set_rollups_timezone(PARIS)
    for start in (
        "2026-03-28T23:30:00.000Z",  # 00:30 CET on Sunday 29 March
        "2026-03-29T21:59:00.000Z",  # 23:59 CEST the same day (UTC+2 since 03:00)
        "2026-03-29T22:30:00.000Z",  # 00:30 CEST on 30 March
        "2026-10-24T22:30:00.000Z",  # 00:30 CEST on Sunday 25 October
        "2026-10-25T22:30:00.000Z",  # 23:30 CET the same day (UTC+1 since 03:00)
        "2026-10-25T23:00:00.000Z",  # midnight CET: 26 October
    ):
        laser.session("lea", start, start, 60)
    assert _periods(store, "day") == {
        "2026-03-29": 2,
        "2026-03-30": 1,
        "2026-10-25": 2,
        "2026-10-26": 1,
    }
    assert _periods(store, "day", since="2026-03-30", until="2026-10-25") == {
        "2026-03-30": 1,
        "2026-10-25": 2,
    }
    # A grant just after midnight on the days after the changes is in the next day's range.
    printer.grant("amina", "ines", "2026-03-29T22:10:00.000Z")  # 00:10 CEST on 30 March
    printer.grant("sofiane", "ines", "2026-10-25T23:10:00.000Z")  # 00:10 CET on 26 October
    assert [g["member_id"] for g in reports.grants(store, Filters(until="2026-03-29"))] == []
    assert [g["member_id"] for g in reports.grants(store, Filters(since="2026-10-26"))] == [
        "sofiane"
    ]
    # Occupancy: the machine's day of 29 March lasts 23 hours, 25 October 25 hours.
    printer.session("amina", "2026-03-29T08:00:00.000Z", "2026-03-29T09:00:00.000Z", 3600)
    printer.session("amina", "2026-10-25T08:00:00.000Z", "2026-10-25T09:00:00.000Z", 3600)
    occupancy = {
        m["period"]: m["occupancy_pct"]
        for m in reports.machines(store, Filters(period="day"))
        if m["station_id"] == "printer-1" and m["occupancy_pct"]  # not the grants' sessions
    }
    assert occupancy == {"2026-03-29": round(100 / 23, 2), "2026-10-25": round(100 / 25, 2)}


def test_today_is_the_fablabs_date() -> None:
    new_year = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
    assert reports.today(PARIS, new_year) == date(2026, 1, 1)
    assert reports.today("UTC", new_year) == date(2025, 12, 31)


@pytest.mark.parametrize(
    ("at", "day"),
    [
        ("2025-12-31T23:30:00.000Z", "2026-01-01"),
        ("2025-12-31T22:59:59.999Z", "2025-12-31"),
        ("2026-07-01T21:59:00Z", "2026-07-01"),
        ("2026-07-01T22:00:00+00:00", "2026-07-02"),
    ],
)
def test_local_day_on_sqlite_is_postgresqls(at: str, day: str, central_store: CentralStore) -> None:
    """The two backends' ``local_day`` (Python's zoneinfo, PostgreSQL's AT TIME ZONE) agree."""
    got = central_store._one("SELECT local_day(?, ?)", (at, PARIS))  # type: ignore[attr-defined]
    assert got == day
