"""French-first numbers, durations and local times (web/common/format.py); the time zone keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from central.config import load_config as load_central_config
from central.errors import CentralConfigError
from station.config import load_config
from station.errors import ConfigError
from web.common.format import duration, hours, kwh, local_date, local_time, number


def test_french_numbers_use_a_decimal_comma_and_a_narrow_space_for_thousands() -> None:
    assert number(1234.5, "fr", 1) == "1\u202f234,5"
    assert number(1234.5, "en", 1) == "1,234.5"
    assert number(None) == "—"
    assert kwh(100) == "0,10 kWh"  # the 42-minute print
    assert kwh(491.7 + 283.4) == "0,78 kWh"
    assert hours(5400) == "1,5 h"


def test_durations_read_as_a_person_says_them() -> None:
    assert duration(30) == "30 s"
    assert duration(42 * 60) == "42 min"
    assert duration(3900) == "1 h 05"
    assert duration(None) == "—"


def test_times_are_shown_in_the_fablabs_time_zone() -> None:
    winter, summer = "2026-12-01T18:47:00Z", "2026-07-01T18:47:00Z"
    assert local_time(winter) == "1 déc. 2026, 19:47"  # UTC+1
    assert local_time(summer, style="time") == "20:47"  # UTC+2
    assert local_time(winter, "en", "America/Montreal", style="time") == "13:47"
    assert local_date("2026-12-01T23:30:00Z") == "2 déc. 2026"  # already the next day in Paris
    assert local_time("not a time") == "not a time"


def test_a_time_zone_that_does_not_exist_is_a_clear_config_error(tmp_path: Path) -> None:
    from station.config_template import write_config

    path = tmp_path / "station.toml"
    write_config(path, station_id="laser-1", machine_name="Découpe laser", kind="laser")
    assert load_config(path).station.timezone == "Europe/Paris"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('timezone = "Europe/Paris"', 'timezone = "Paris"'), "utf-8")
    with pytest.raises(ConfigError, match=r"station\.timezone = 'Paris' is not a time zone"):
        load_config(path)
    central = tmp_path / "central.toml"
    central.write_text('[site]\ntimezone = "Mars/Olympus"\n', encoding="utf-8")
    with pytest.raises(CentralConfigError, match=r"site\.timezone .* is not a time zone"):
        load_central_config(central)
