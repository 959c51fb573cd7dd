"""A station with its serial sensors on ptys: the real drivers read emulated devices while the
controller advances a simulated clock (each step polls the sensors, as the meter would at 1 Hz)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from station.clock import SimulatedClock
from station.config import Config
from station.controller import Controller
from station.machine import Tap
from tests.conftest import SOFIANE, make_config, start_controller
from web.station.app import create_app

SENSORS = {"power_meter": "pzem-emulated", "air_sensor": "sds011-emulated"}


def events(c: Controller, type_: str) -> list[dict[str, Any]]:
    assert c.store is not None
    store = c.store
    return [e["data"] for e in c.run_in_loop(lambda: list(store.events())) if e["type"] == type_]


def relay_on(c: Controller) -> bool:
    return bool(c.hardware.relay.pin.state)  # type: ignore[attr-defined]


@pytest.fixture
def printer(tmp_path: Path, clock: SimulatedClock) -> Iterator[Controller]:
    config = make_config(
        tmp_path, sensors=SENSORS, keep_on_while_busy=True, finish_idle_s=120, idle_off_min=15
    )
    c = start_controller(config, clock)
    try:
        yield c
    finally:
        c.stop()


def sensors(c: Controller) -> Any:
    return c.hardware.extras["sensors"]


def test_a_long_print_runs_on_after_badge_out_and_stops_when_idle(printer: Controller) -> None:
    sensors(printer).set_load(200.0)
    printer.advance(4)
    printer.call(Tap(SOFIANE))
    printer.advance(10 * 60)
    printer.call(Tap(SOFIANE))  # the trainee leaves; the print goes on
    assert printer.status()["machine"]["state"] == "finishing" and relay_on(printer)
    printer.advance(30 * 60)
    assert printer.status()["machine"]["state"] == "finishing" and relay_on(printer)
    sensors(printer).set_load(2.0)  # the print is done: the printer idles
    printer.advance(100)
    assert relay_on(printer)
    printer.advance(30)
    assert printer.status()["machine"]["state"] == "available" and not relay_on(printer)
    ended = events(printer, "session_ended")[-1]
    assert ended["energy_wh"] == pytest.approx(200 * 10 / 60, abs=1.5)
    finished = events(printer, "finishing_ended")[-1]
    assert finished["reason"] == "idle"
    assert finished["energy_wh"] == pytest.approx(200 * 30 / 60, rel=0.03)
    row = printer.run_in_loop(lambda: printer.store.sessions()[0])  # type: ignore[union-attr]
    assert row["energy_wh"] == pytest.approx(ended["energy_wh"] + finished["energy_wh"])
    assert row["finishing_s"] == pytest.approx(
        30 * 60 + 2 + 120, abs=3
    )  # idle from 1st low reading


def test_the_meter_unplugged_and_replugged_loses_neither_session_nor_energy(
    printer: Controller,
) -> None:
    s = sensors(printer)
    s.set_load(500.0)
    printer.advance(4)
    printer.call(Tap(SOFIANE))
    printer.advance(5 * 60)
    s.power_device.unplug()
    printer.advance(60)
    assert printer.status()["power"]["watts"] is None  # unknown, not zero
    assert printer.status()["session"] is not None and relay_on(printer)
    s.power_device.replug()
    printer.advance(5 * 60)
    health = printer.status()["health"]["power_meter"]
    assert health["connected"] is True and health["reconnects"] >= 1
    s.set_load(0.0)
    printer.advance(4)
    printer.call(Tap(SOFIANE))
    ended = events(printer, "session_ended")[-1]
    # The PZEM's own energy register kept counting while unplugged from us: nothing is lost.
    assert ended["energy_wh"] == pytest.approx(500 * 11 / 60, rel=0.02)
    assert ended["unknown_s"] > 0


def test_idle_auto_off_with_the_real_meter(printer: Controller) -> None:
    sensors(printer).set_load(1.0)
    printer.call(Tap(SOFIANE))
    printer.advance(13 * 60 + 10)
    assert events(printer, "session_idle_warned")
    printer.advance(2 * 60)
    assert events(printer, "session_ended")[-1]["end_reason"] == "idle"
    assert not relay_on(printer)


def test_samples_are_written_per_minute(printer: Controller) -> None:
    sensors(printer).set_load(300.0)
    printer.call(Tap(SOFIANE))
    printer.advance(11 * 60)
    rows = printer.run_in_loop(lambda: printer.store.samples(100))  # type: ignore[union-attr]
    assert 5 <= len(rows) <= 11  # written in batches, never sample by sample
    full = [r for r in rows if r["power_samples"] >= 25]
    assert full and all(r["watts_mean"] == pytest.approx(300, abs=1) for r in full)


@pytest.fixture
def laser_config(tmp_path: Path) -> Config:
    return make_config(tmp_path, sensors=SENSORS, pm25_alarm=50.0)


def test_air_alarm_over_the_sds011(laser_config: Config, clock: SimulatedClock) -> None:
    c = start_controller(laser_config, clock)
    try:
        c.advance(4)
        c.call(Tap(SOFIANE))
        sensors(c).set_pm(85.0)
        c.advance(4)
        assert c.status()["air"]["alarm"] == "pm25" and relay_on(c)  # not configured to cut
        c.call(Tap(SOFIANE))
        assert c.status()["machine"]["state"] == "fault"
        c.advance(4)  # past the repeat-tap guard
        assert c.call(Tap(SOFIANE))["reason"] == "fault"
        sensors(c).set_pm(6.0)
        c.advance(4)
        assert c.status()["machine"]["state"] == "available"
    finally:
        c.stop()


def test_air_alarm_cuts_power(tmp_path: Path, clock: SimulatedClock) -> None:
    config = make_config(tmp_path, sensors=SENSORS, pm25_alarm=50.0, air_alarm_cuts_power=True)
    c = start_controller(config, clock)
    try:
        c.advance(4)
        c.call(Tap(SOFIANE))
        sensors(c).set_pm(150.0)
        c.advance(2)
        assert events(c, "session_ended")[-1]["end_reason"] == "fault"
        assert not relay_on(c) and c.status()["machine"]["state"] == "fault"
    finally:
        c.stop()


def test_garbage_on_the_air_line_is_counted_not_fatal(
    laser_config: Config, clock: SimulatedClock
) -> None:
    c = start_controller(laser_config, clock)
    try:
        sensors(c).air_device.garbage = True
        sensors(c).set_pm(12.0)
        c.advance(20)
        status = c.status()
        assert status["air"]["pm25"] == pytest.approx(12.0, abs=0.2)
        assert status["health"]["air_sensor"]["errors"].get("garbage_bytes", 0) > 0
        assert status["machine"]["state"] == "available"
    finally:
        c.stop()


def test_sim_power_and_air_routes(laser_config: Config, clock: SimulatedClock) -> None:
    c = start_controller(laser_config, clock)
    try:
        app = create_app(c)
        client: FlaskClient = app.test_client()
        r = client.post("/sim/power", json={"watts": 850})
        assert r.status_code == 200 and r.get_json()["power"]["watts"] == pytest.approx(850, 1)
        r = client.post("/sim/air", json={"pm25": 80})
        assert r.status_code == 200 and r.get_json()["air"]["alarm"] == "pm25"
        assert client.post("/sim/power", json={"watts": -1}).status_code == 400
        assert client.post("/sim/air", json={"pm25": "a lot"}).status_code == 400
    finally:
        c.stop()


def test_sim_routes_say_when_there_is_no_sensor(controller: Controller) -> None:
    client = create_app(controller).test_client()
    r = client.post("/sim/power", json={"watts": 100})
    assert r.status_code == 404 and "no emulated power meter" in r.get_json()["error"]
