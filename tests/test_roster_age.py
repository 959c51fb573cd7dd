"""The roster's age across restarts (station/roster_age.py): known from the monotonic clock on
the same boot, from trusted wall clocks across boots, otherwise unknown (fail closed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station import clock as clock_module
from station.clock import Now
from station.roster_age import AGE_UNKNOWN, Anchor, age_s, roster_expiry, upgraded

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
DAY = 86400.0


def now(seconds: float, mono: float, synced: bool = True) -> Now:
    return Now(T0 + timedelta(seconds=seconds), mono, synced)


def test_same_boot_counts_monotonic_seconds_whatever_the_wall_clock_says() -> None:
    anchor = Anchor("a", 100.0, T0, synced=False)
    assert age_s(anchor, now(-9999, 700.0, synced=False), "a") == 600.0


def test_a_new_boot_needs_both_wall_times_trusted() -> None:
    trusted = Anchor("a", 100.0, T0, synced=True)
    assert age_s(trusted, now(3 * DAY, 5.0), "b") == 3 * DAY
    assert age_s(trusted, now(3 * DAY, 5.0, synced=False), "b") is None
    assert age_s(Anchor("a", 100.0, T0, synced=False), now(3 * DAY, 5.0), "b") is None
    assert age_s(trusted, now(-60, 5.0), "b") is None  # the clock went back: not trusted
    assert age_s(None, now(0, 5.0), "b") is None  # never known current


def test_an_unknown_age_is_expired_at_once_and_forever() -> None:
    assert roster_expiry(None, now(0, 5.0), "b", 72 * 3600) == AGE_UNKNOWN
    assert roster_expiry(Anchor("b", 5.0, T0, False), now(10, 15.0), "b", 3600) == 3605.0


def test_an_untrusted_anchor_becomes_trusted_when_ntp_answers_on_its_boot() -> None:
    anchor = Anchor("a", 100.0, T0 - timedelta(days=400), synced=False)  # a wrong wall clock
    assert upgraded(anchor, now(0, 700.0, synced=False), "a") is None
    assert upgraded(anchor, now(0, 700.0), "b") is None  # another boot: cannot tell
    better = upgraded(anchor, now(0, 700.0), "a")
    assert better == Anchor("a", 100.0, T0 - timedelta(seconds=600), True)
    assert age_s(better, now(3600, 9.0), "b") == 4200.0


@given(
    mono=st.floats(0, 1e7),
    at=st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
    synced=st.booleans(),
)
def test_an_anchor_survives_its_rows(mono: float, at: datetime, synced: bool) -> None:
    anchor = Anchor("boot", mono, at.replace(microsecond=at.microsecond // 1000 * 1000), synced)
    assert Anchor.from_rows(anchor.as_rows()) == anchor
    assert Anchor.from_rows({**anchor.as_rows(), "fresh_mono": "x"}) is None


# --- whether the wall clock is trusted (station/clock.py) ----------------------------------------


def test_a_clock_nobody_vouches_for_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Pi with chrony or ntpd instead of timesyncd, or a station started before timesyncd
    made its folder: no flag file. The wall clock restored at boot must not count as right."""
    monkeypatch.setattr(clock_module, "TIMESYNC_FLAG", tmp_path / "timesync" / "synchronized")
    monkeypatch.setattr(clock_module, "kernel_clock_synced", lambda: False, raising=False)
    assert clock_module.wall_clock_synced() is False
    assert clock_module.SystemClock().now().synced is False
    monkeypatch.setattr(clock_module, "kernel_clock_synced", lambda: True)  # chrony synced
    assert clock_module.wall_clock_synced() is True
    monkeypatch.setattr(clock_module, "kernel_clock_synced", lambda: False)
    (tmp_path / "timesync").mkdir()
    (tmp_path / "timesync" / "synchronized").touch()  # timesyncd synced
    assert clock_module.wall_clock_synced() is True


def test_the_kernels_answer_is_read_without_failing() -> None:
    assert clock_module.kernel_clock_synced() in (True, False)
