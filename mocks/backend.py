"""The ``mock`` backend: the real gpiozero device code on MockFactory pins, a fake or emulated
badge reader and, when configured, emulated serial sensors on ptys. Built by name from config."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from station.badge_check import badge_settings
from station.clock import Clock, SimulatedClock
from station.config import Config
from station.ports import Hardware


def build_hardware(config: Config, clock: Clock | None = None) -> Hardware:
    from hardware.gpio import GpioButton, GpioBuzzer, GpioLed, GpioRelay
    from mocks.gpio import mock_pin_factory
    from mocks.reader import FakeBadgeReader

    pins = config.hardware.pins
    factory = mock_pin_factory()
    relay = GpioRelay(pins.relay, active_high=pins.relay_active_high, pin_factory=factory)
    hw = Hardware(
        reader=FakeBadgeReader(),
        relay=relay,
        green=GpioLed(pins.green_led, pin_factory=factory),
        red=GpioLed(pins.red_led, pin_factory=factory),
        buzzer=GpioBuzzer(pins.buzzer, pin_factory=factory),
        button=GpioButton(pins.button, pin_factory=factory) if pins.button >= 0 else None,
        extras={"pin_factory": factory},
    )
    try:
        # [reader] verify_badges: the site secret (a clear ConfigError if it is missing).
        settings = badge_settings(config)
        secret, sector = settings if settings is not None else (None, 1)
        if config.reader.type == "mfrc522-emulated":
            from mocks.mfrc522.badges import EmulatedBadges, build_emulated_reader

            # Debounce of two poll periods: /sim/badge waits that long between two taps.
            debounce = 2.0 / config.reader.poll_hz
            hw.reader, chip = build_emulated_reader(
                poll_hz=config.reader.poll_hz, debounce_s=debounce, secret=secret, sector=sector
            )
            hw.extras["chip"] = chip
            # /sim/badge takes its cards here: prepared ones when the check is on, or clones.
            hw.extras["badges"] = EmulatedBadges(secret, sector)
        _add_sensors(hw, config, clock)
        if config.hardware.relay != "gpio":
            _add_plug(hw, config, clock)
    except BaseException:
        hw.close()
        raise
    return hw


def _add_plug(hw: Hardware, config: Config, clock: Clock | None) -> None:
    """A smart plug instead of the GPIO relay; with ``-emulated``, its emulator on the broker
    first (``/sim/power`` sets the load plugged into it)."""
    from hardware.plugs import add_plug

    relay = config.hardware.relay
    emulator: Any = None
    if relay.endswith("-emulated"):
        from mocks.serial_devices import EmulatedSensors
        from station.config_plug import mqtt_credentials

        creds = mqtt_credentials(config.path, config.mqtt)
        # Energy follows the station's clock (simulated hours meter simulated energy); the
        # plug's off-timer runs in real time, as the station's renewals do.
        energy = (lambda: clock.now().mono) if clock is not None else None
        if relay.startswith("shelly"):
            from mocks.shelly_plug import ShellyPlugEmulator

            emulator = ShellyPlugEmulator(creds, config.plug.device, energy_clock=energy)
        else:
            from mocks.tasmota_plug import TasmotaPlugEmulator

            emulator = TasmotaPlugEmulator(creds, config.plug.device, energy_clock=energy)
    try:
        add_plug(hw, config)
    finally:
        if emulator is not None:  # after the plug's link: its last "off" reaches the emulator
            hw.extras["plug_device"] = emulator
    if emulator is not None and config.sensors.power_meter == "plug":
        sensors: Any = hw.extras.get("sensors") or EmulatedSensors()
        sensors.power_device = emulator  # /sim/power sets the load plugged into it
        hw.extras["sensors"] = sensors


def _add_sensors(hw: Hardware, config: Config, clock: Clock | None) -> None:
    s = config.sensors
    if s.power_meter == "none" and s.air_sensor == "none":
        return
    from hardware.line_sensor import LineSensor
    from hardware.pzem import Pzem004t
    from hardware.sds011 import Sds011
    from hardware.serial_link import SerialLink
    from mocks.serial_devices import (
        EmulatedSensors,
        LineSensorEmulator,
        PzemEmulator,
        Sds011Emulator,
    )

    mono: Callable[[], float] = time.monotonic
    if clock is not None:
        mono = lambda: clock.now().mono  # noqa: E731 - the devices take a plain callable
    stepped = isinstance(clock, SimulatedClock)
    sensors = EmulatedSensors()
    hw.extras["sensors"] = sensors
    stale = s.stale_after_s

    def link(port: str, timeout: float) -> SerialLink:
        # The reconnect back-off follows the same clock as the readings (simulated or not).
        return SerialLink(port, baudrate=9600, timeout=timeout, clock=mono)

    if s.power_meter == "pzem-emulated":
        pzem = PzemEmulator(clock=mono)
        sensors.power_device = pzem
        sensors.power_meter = Pzem004t(
            pzem.port, address=0xF8, clock=mono, stale_after_s=stale, link=link(pzem.port, 0.5)
        )
        hw.power_meter = sensors.power_meter
    elif s.power_meter == "line-emulated":
        line = LineSensorEmulator()
        sensors.power_device = line
        sensors.power_meter = LineSensor(
            line.port, clock=mono, stale_after_s=stale, link=link(line.port, 0.2)
        )
        hw.power_meter = (
            SteppedSensor(sensors.power_meter, line.emit) if stepped else (sensors.power_meter)
        )
        if not stepped:
            line.start_streaming(1.0)
    if s.air_sensor == "sds011-emulated":
        sds = Sds011Emulator()
        sensors.air_device = sds
        sensors.air_sensor = Sds011(
            sds.port, clock=mono, stale_after_s=stale, link=link(sds.port, 0.2)
        )
        hw.air_sensor = (
            SteppedSensor(sensors.air_sensor, sds.emit) if stepped else (sensors.air_sensor)
        )
        if not stepped:
            sds.start_streaming(1.0)


class SteppedSensor:
    """A streaming emulator stepped by the controller: each poll first makes the device send.

    Under a simulated clock the controller polls sensors as it advances time; a device that
    streamed on its own in real time would send one frame per real second, whatever the
    simulated clock did.
    """

    def __init__(self, driver: Any, emit: Callable[[], None]) -> None:
        self.driver = driver
        self._emit = emit

    def start(self, on_reading: Callable[[object], None]) -> None:
        self.driver.start(on_reading)

    def poll_once(self) -> list[object]:
        """Ask the device for one message and read it; a loaded machine may deliver it in parts,
        so read again (at most three times, each bounded by the port's timeout)."""
        self._emit()
        for _ in range(3):
            readings: list[object] = self.driver.poll_once()
            if readings:
                return readings
        return []

    def health(self) -> dict[str, object]:
        health: dict[str, object] = self.driver.health()
        return health

    def close(self) -> None:
        self.driver.close()
