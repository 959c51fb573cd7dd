"""Pure metering: energy from the register or the trapezoid, gaps, time split, minute rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station.metering import (
    MeteringConfig,
    MinuteAggregator,
    MinuteRow,
    Sample,
    SessionMeter,
    interval,
)
from station.ports import AirReading, PowerReading

CFG = MeteringConfig(busy_watts=50.0, stale_after_s=5.0)


def meter_over(
    samples: list[tuple[float, float, float | None]], end: float, cfg: MeteringConfig = CFG
) -> SessionMeter:
    meter = SessionMeter.begin(samples[0][0], cfg)
    for mono, watts, energy in samples:
        meter = meter.add(mono, PowerReading(watts=watts, energy_wh=energy))
    return meter.advance(end)


def test_trapezoid_without_a_register() -> None:
    samples = [(float(t), 100.0 + t, None) for t in range(0, 3601)]
    totals = meter_over(samples, 3600.0).totals(3600.0)
    assert totals.energy_wh == pytest.approx((100 + 3700) / 2, rel=1e-9)  # linear ramp: exact
    assert totals.active_s == 3600 and totals.idle_s == 0 and totals.unknown_s == 0
    assert totals.enabled_s == 3600


def test_register_increments_telescope() -> None:
    samples = [(0.0, 500.0, 1000.0), (1.0, 500.0, 1000.0), (2.0, 500.0, 1001.0), (9.0, 5.0, 1003.0)]
    totals = meter_over(samples, 9.0).totals(9.0)
    # The register counts the 7 s gap (2 Wh); over the fresh seconds it says 1 Wh where the
    # trapezoid says 0.28 Wh: within the register's resolution, so the finer figure is kept.
    assert totals.energy_wh == pytest.approx(2 + 2 * 500 / 3600)
    assert (totals.active_s, totals.idle_s, totals.unknown_s) == (7.0, 0.0, 2.0)


def test_the_register_wins_when_power_disagrees_beyond_its_resolution() -> None:
    # A clamp reading 10 % low for an hour: the register is right.
    samples = [(float(t), 900.0, 1000.0 + t // 4) for t in range(0, 3601)]
    totals = meter_over(samples, 3600.0).totals(3600.0)
    assert totals.energy_wh == 900.0


def test_register_reset_falls_back_to_power_for_that_interval() -> None:
    samples = [(0.0, 3600.0, 9_999_999.0), (1.0, 3600.0, 0.0), (2.0, 3600.0, 1.0)]
    totals = meter_over(samples, 2.0).totals(2.0)
    assert totals.register_resets == 1
    assert totals.energy_wh == pytest.approx(1.0 + 1.0)  # 1 Wh estimated + 1 Wh counted


def test_implausible_register_jump_is_not_energy() -> None:
    samples = [(0.0, 100.0, 10.0), (1.0, 100.0, 10_000.0)]  # a swapped meter
    totals = meter_over(samples, 1.0).totals(1.0)
    assert totals.register_resets == 1 and totals.energy_wh == pytest.approx(100 / 3600)


def test_a_gap_is_not_integrated_blindly() -> None:
    # 1 kW, then the meter goes quiet for 60 s; the next reading says 1 kW again.
    samples = [(0.0, 1000.0, None), (1.0, 1000.0, None), (61.0, 1000.0, None)]
    totals = meter_over(samples, 61.0).totals(61.0)
    assert totals.energy_wh == pytest.approx(1000 * (1 + 5) / 3600)  # held 5 s, then unknown
    assert totals.unknown_s == 55 and totals.active_s == 6


def test_the_tail_is_held_while_fresh_then_unknown() -> None:
    meter = meter_over([(0.0, 720.0, None)], 0.0)
    assert meter.totals(2.0).energy_wh == pytest.approx(0.4)
    late = meter.totals(100.0)
    assert late.energy_wh == pytest.approx(1.0) and late.unknown_s == 95 and late.active_s == 5


def test_enabled_time_follows_the_relay_not_the_meter() -> None:
    meter = SessionMeter.begin(10.0, CFG)
    meter = meter.set_enabled(70.0, False).set_enabled(100.0, True)
    totals = meter.totals(130.0)
    assert totals.enabled_s == 90 and totals.readings == 0 and totals.unknown_s == 120


def test_a_fresh_reading_before_the_start_sets_the_baseline() -> None:
    before = (9.5, PowerReading(watts=3600.0, energy_wh=50.0))
    meter = SessionMeter.begin(10.0, CFG, last=before)
    meter = meter.add(11.0, PowerReading(watts=3600.0, energy_wh=51.0))
    assert meter.totals(11.0).energy_wh == 1.0 and meter.totals(11.0).unknown_s == 0
    stale = SessionMeter.begin(10.0, CFG, last=(1.0, before[1]))
    assert stale.last is None


def test_idle_detection_for_the_state_machine() -> None:
    meter = meter_over([(0.0, 900.0, None), (1.0, 3.0, None), (2.0, 4.0, None)], 2.0)
    assert meter.quiet_for(3.0) == 2.0 and meter.current_watts(3.0) == 4.0
    assert meter.quiet_for(10.0) is None  # stale: unknown, not idle
    busy = meter.add(4.0, PowerReading(watts=60.0))
    assert busy.quiet_for(4.0) is None


def test_out_of_order_readings_are_ignored() -> None:
    meter = meter_over([(0.0, 100.0, None), (2.0, 100.0, None)], 2.0)
    assert meter.add(1.0, PowerReading(watts=1e6)) == meter


def test_event_data_is_rounded() -> None:
    data = meter_over([(0.0, 100.0, None), (1.0, 100.0, None)], 1.0).totals(1.0).as_event_data()
    assert data == {
        "energy_wh": 0.028,
        "active_s": 1.0,
        "idle_s": 0.0,
        "enabled_s": 1.0,
        "unknown_s": 0.0,
    }


readings = st.lists(
    st.tuples(
        st.floats(0.0, 30.0),  # seconds since the previous reading
        st.floats(0.0, 5000.0),
        st.none() | st.floats(0.0, 1e6),
    ),
    min_size=1,
    max_size=40,
)


@given(readings, st.floats(0.0, 30.0))
def test_time_always_adds_up_and_nothing_is_negative(
    steps: list[tuple[float, float, float | None]], tail: float
) -> None:
    t = 0.0
    meter = SessionMeter.begin(0.0, CFG)
    for dt, watts, energy in steps:
        t += dt
        meter = meter.add(t, PowerReading(watts=watts, energy_wh=energy))
    totals = meter.totals(t + tail)
    assert totals.active_s + totals.idle_s + totals.unknown_s == pytest.approx(t + tail)
    assert totals.enabled_s == pytest.approx(t + tail)
    assert min(totals.energy_wh, totals.active_s, totals.idle_s, totals.unknown_s) >= 0
    # Never more energy than the line could carry over the whole session.
    assert totals.energy_wh <= CFG.max_watts * (t + tail) / 3600 + totals.readings


@given(st.floats(0, 100), st.floats(0, 5000), st.floats(0, 5000))
def test_interval_never_negative(dt: float, a: float, b: float) -> None:
    part = interval(Sample(0.0, a), Sample(dt, b), CFG)
    assert part.energy_wh >= 0 and part.active_s + part.idle_s + part.unknown_s == pytest.approx(dt)


# -- minute rows -------------------------------------------------------------------------------

T0 = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)


def test_minute_rows_come_out_when_the_minute_is_over() -> None:
    agg = MinuteAggregator(CFG)
    rows: list[MinuteRow] = []
    for s in range(0, 150):  # 2.5 minutes at 1 Hz, 600 W, register counting
        at = T0 + timedelta(seconds=s)
        rows += agg.add_power(at, float(s), PowerReading(watts=600.0 + (s % 2) * 20))
        if s % 10 == 0:
            rows += agg.add_air(at, AirReading(pm25=float(s % 60), pm10=None))
    assert [r.minute for r in rows] == [T0, T0 + timedelta(minutes=1)]
    first = rows[0]
    assert first.power_samples == 60 and first.watts_min == 600 and first.watts_max == 620
    assert first.watts_mean == 610
    assert first.energy_wh == pytest.approx(59 * 610 / 3600)  # first reading has no predecessor
    assert rows[1].energy_wh == pytest.approx(60 * 610 / 3600)
    assert first.air_samples == 6 and first.pm25_max == 50 and first.pm25_mean == 25
    assert first.pm10_mean is None
    assert agg.flush(T0 + timedelta(seconds=170)) == []  # the third minute is still open
    (last,) = agg.flush(T0 + timedelta(minutes=3))
    assert last.power_samples == 30 and agg.flush() == []
    assert rows[0].as_dict()["minute"] == "2025-03-01T09:00:00Z"


def test_a_wall_clock_step_back_never_emits_a_minute_twice() -> None:
    agg = MinuteAggregator(CFG)
    agg.add_air(T0 + timedelta(minutes=5), AirReading(10.0, 20.0))
    assert agg.add_air(T0, AirReading(30.0, 40.0)) == []
    (row,) = agg.flush()
    assert row.minute == T0 + timedelta(minutes=5) and row.air_samples == 2
    assert (row.pm10_mean, row.pm10_max) == (30.0, 40.0)
