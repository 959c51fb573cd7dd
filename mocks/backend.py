"""The ``mock`` backend: the real gpiozero device code on MockFactory pins, a fake or emulated
badge reader and, when configured, emulated serial sensors. Built by name from config."""

from __future__ import annotations

from station.config import Config
from station.ports import Hardware


def build_hardware(config: Config) -> Hardware:
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
    if config.reader.type == "mfrc522-emulated":
        from mocks.mfrc522_chip import build_emulated_reader

        hw.reader, chip = build_emulated_reader(poll_hz=config.reader.poll_hz)
        hw.extras["chip"] = chip
    return hw
