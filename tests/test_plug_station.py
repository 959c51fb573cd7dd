"""A whole station on a smart plug: the real controller and state machine, the real plug driver,
an emulated Shelly or Tasmota on the real broker. Sessions, metering, idle, finishing and faults
behave as on the GPIO relay and the serial meter; every test runs on both plugs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station.clock import SimulatedClock
from station.config import Config, parse_config
from station.controller import Controller
from station.machine import Command, Tap
from tests.conftest import SOFIANE, start_controller
from tests.mqtt_helpers import broker_creds, clear_retained, raw_client, unique, wait_for


def plug_config(tmp_path: Path, relay: str, **machine: Any) -> Config:
    broker_creds()  # skip (or fail under CI) without a broker
    raw = {
        "station": {"id": unique("st-"), "data_dir": str(tmp_path / "data")},
        "machine": {"id": "laser-1", "name": "Découpe laser", "kind": "laser", **machine},
        "hardware": {"backend": "mock", "relay": relay},
        "reader": {"type": "fake"},
        "clock": {"simulated": True},
        "sensors": {"power_meter": "plug"},
        "web": {"port": 0},
        "plug": {"device": unique("plug-"), "off_after_s": 30, "ack_timeout_s": 1},
    }
    return parse_config(raw, tmp_path / "station.toml")


@pytest.fixture(params=["shelly-emulated", "tasmota-emulated"])
def relay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def run(tmp_path: Path, clock: SimulatedClock, relay: str, **machine: Any) -> Controller:
    c = start_controller(plug_config(tmp_path, relay, **machine), clock)
    wait_for(lambda: c.hardware.relay.settled, what="the start's off acknowledged")
    return c


def stop(c: Controller) -> None:
    c.stop()
    d, st = c.config.plug.device, c.config.station.id
    clear_retained(broker_creds(), f"{d}/online", f"tele/{d}/LWT", f"fabrique/{st}/availability")


@pytest.fixture
def station(tmp_path: Path, clock: SimulatedClock, relay: str) -> Iterator[Controller]:
    c = run(tmp_path, clock, relay, idle_off_min=15, idle_warn_min=2)
    yield c
    stop(c)


def plug(c: Controller) -> Any:
    return c.hardware.extras["plug_device"]


def events(c: Controller, type_: str) -> list[dict[str, Any]]:
    assert c.store is not None
    store = c.store
    return [e["data"] for e in c.run_in_loop(lambda: list(store.events())) if e["type"] == type_]


def machine_state(c: Controller) -> tuple[str, str | None]:
    m = c.status()["machine"]
    return m["state"], m.get("reason")


def test_a_session_switches_the_plug_and_meters_its_energy(station: Controller) -> None:
    plug(station).set_load(200.0)
    assert station.call(Tap(SOFIANE))["action"] == "session_started"
    wait_for(lambda: plug(station).model.output, what="the plug on")
    assert plug(station).model.timer_at is not None  # the fail-safe armed with the "on"
    station.advance(10 * 60)
    station.call(Tap(SOFIANE))
    wait_for(lambda: not plug(station).model.output, what="the plug off")
    ended = events(station, "session_ended")[-1]
    assert ended["end_reason"] == "badge_out"
    assert ended["energy_wh"] == pytest.approx(200 * 10 / 60, rel=0.05)
    assert ended["active_s"] == pytest.approx(600, abs=5)


def test_an_idle_machine_ends_its_session_and_the_plug_opens(station: Controller) -> None:
    plug(station).set_load(3.0)
    station.call(Tap(SOFIANE))
    wait_for(lambda: plug(station).model.output, what="the plug on")
    station.advance(16 * 60)
    assert events(station, "session_ended")[-1]["end_reason"] == "idle"
    wait_for(lambda: not plug(station).model.output, what="the plug off")


def test_a_print_finishes_on_the_plug_after_badge_out(
    tmp_path: Path, clock: SimulatedClock, relay: str
) -> None:
    c = run(tmp_path, clock, relay, keep_on_while_busy=True, finish_idle_s=60)
    try:
        plug(c).set_load(150.0)
        c.call(Tap(SOFIANE))
        c.advance(5 * 60)
        c.call(Tap(SOFIANE))
        assert machine_state(c)[0] == "finishing" and plug(c).model.output
        c.advance(5 * 60)
        plug(c).set_load(2.0)
        c.advance(70)
        assert machine_state(c)[0] == "available"
        wait_for(lambda: not plug(c).model.output, what="the plug off")
        assert events(c, "finishing_ended")[-1]["reason"] == "idle"
    finally:
        stop(c)


def test_the_plugs_button_is_power_without_permission(station: Controller) -> None:
    plug(station).press_button()
    wait_for(
        lambda: machine_state(station) == ("fault", "power_without_permission"),
        what=f"fault ({machine_state(station)})",
    )
    wait_for(lambda: not plug(station).model.output, what="the plug off again")
    fault = events(station, "power_without_permission")[-1]
    assert fault["source"] == "plug" and fault["machine_state"] == "available"
    assert station.call(Tap(SOFIANE))["granted"] is False  # no session during a fault
    station.call(Command("clear_check", by="yanis"))
    assert machine_state(station) == ("available", None)


def test_the_plugs_overpower_ends_the_session_as_a_fault(station: Controller) -> None:
    station.call(Tap(SOFIANE))
    wait_for(lambda: plug(station).model.output, what="the plug on")
    plug(station).trip("overpower")
    wait_for(lambda: machine_state(station) == ("fault", "plug_overpower"), what="fault")
    assert events(station, "session_ended")[-1]["end_reason"] == "fault"
    assert [e["kind"] for e in events(station, "plug_fault")] == ["overpower"]  # one incident
    assert not station.hardware.relay.is_on


def test_a_plug_that_does_not_answer_is_a_fault_not_a_silent_session(
    station: Controller,
) -> None:
    plug(station).silent = True
    station.call(Tap(SOFIANE))
    wait_for(lambda: machine_state(station) == ("fault", "plug_no_ack"), timeout=10, what="fault")
    assert events(station, "session_ended")[-1]["end_reason"] == "fault"
    health = station.health()["relay"]
    assert health["on"] is False


def test_a_clean_stop_switches_the_plug_off_and_says_offline(
    tmp_path: Path, clock: SimulatedClock, relay: str
) -> None:
    config = plug_config(tmp_path, relay)
    topic = f"fabrique/{config.station.id}/availability"
    with raw_client(broker_creds(), topic) as raw:
        c = start_controller(config, clock)
        raw.wait_text(topic, "online")
        emulator = plug(c)
        c.call(Tap(SOFIANE))
        wait_for(lambda: emulator.model.output, what="the plug on")
        c.stop()
        raw.wait_text(topic, "offline")
        assert emulator.model.switches[-1][1] is False
        assert events_after_stop(config)[-1]["end_reason"] == "station_stopped"
    stop(c)


def events_after_stop(config: Config) -> list[dict[str, Any]]:
    from station.store import Store

    store = Store(config.db_path, config.station.id, config.machine.id)
    try:
        return [e["data"] for e in store.events() if e["type"] == "session_ended"]
    finally:
        store.close()


def test_the_pi_backend_drives_a_plug_and_leaves_the_relay_pin_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hardware/backend.py on fake spidev and gpiozero mock pins, the plug on the real broker."""
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    from hardware.backend import build_hardware
    from hardware.shelly import ShellyPlug
    from mocks.mfrc522_chip import Mfrc522Chip, fake_pi_modules
    from mocks.shelly_plug import ShellyPlugEmulator

    creds = broker_creds()
    device = unique("shellyplusplugs-")
    emulator = ShellyPlugEmulator(creds, device)
    raw = {
        "station": {"id": unique("st-"), "data_dir": str(tmp_path / "data")},
        "machine": {"id": "laser-1", "name": "Découpe laser", "kind": "laser"},
        "hardware": {"backend": "pi", "relay": "shelly"},
        "reader": {"type": "mfrc522"},
        "sensors": {"power_meter": "plug"},
        "plug": {"device": device},
    }
    config = parse_config(raw, tmp_path / "station.toml")
    factory = MockFactory()
    monkeypatch.setattr(Device, "pin_factory", factory)
    try:
        with fake_pi_modules(Mfrc522Chip()):
            hw = build_hardware(config)
            try:
                assert isinstance(hw.relay, ShellyPlug) and hw.power_meter is not None
                claimed = {info.name for info in factory.pins}
                assert "GPIO25" in claimed  # the reader's reset pin: the mock pins are in use
                assert f"GPIO{config.hardware.pins.relay}" not in claimed  # GPIO17 never claimed
                hw.relay.on()
                wait_for(lambda: emulator.model.output, what="the plug on")
            finally:
                hw.close()
        wait_for(lambda: not emulator.model.output, what="off at close")
    finally:
        factory.close()
        factory.reset()
        emulator.close()
        clear_retained(creds, f"{device}/online", f"fabrique/{config.station.id}/availability")
