"""The ``pi`` backend: gpiozero on the Pi's own pin factory and the MFRC522 on SPI0."""

from __future__ import annotations

from station.badge_check import badge_settings
from station.clock import Clock
from station.config import Config
from station.ports import Hardware, Relay


def build_hardware(config: Config, clock: Clock | None = None) -> Hardware:
    from hardware.gpio import GpioButton, GpioBuzzer, GpioLed, GpioRelay

    pins = config.hardware.pins
    relay: Relay
    if config.hardware.relay == "gpio":
        relay = GpioRelay(pins.relay, active_high=pins.relay_active_high)
    else:  # a smart plug (added last, below): the relay pin stays free
        from hardware.plugs import PlugPending

        relay = PlugPending()
    try:
        from hardware.mfrc522_reader import open_pi_reader

        # [reader] verify_badges: the site secret (a clear ConfigError if it is missing).
        settings = badge_settings(config)
        secret, sector = settings if settings is not None else (None, 1)
        reader = open_pi_reader(
            bus=config.reader.spi_bus,
            device=config.reader.spi_device,
            reset_pin=config.reader.reset_pin,
            poll_hz=config.reader.poll_hz,
            secret=secret,
            sector=sector,
        )
        hw = Hardware(
            reader=reader,
            relay=relay,
            green=GpioLed(pins.green_led),
            red=GpioLed(pins.red_led),
            buzzer=GpioBuzzer(pins.buzzer),
            button=GpioButton(pins.button) if pins.button >= 0 else None,
        )
        s = config.sensors
        if s.power_meter == "pzem":
            from hardware.pzem import Pzem004t

            hw.power_meter = Pzem004t(
                s.power_port, address=s.power_address, stale_after_s=s.stale_after_s
            )
        elif s.power_meter == "line":
            from hardware.line_sensor import LineSensor

            hw.power_meter = LineSensor(s.power_port, stale_after_s=s.stale_after_s)
        if s.air_sensor == "sds011":
            from hardware.sds011 import Sds011

            hw.air_sensor = Sds011(s.air_port, stale_after_s=s.stale_after_s)
        if config.hardware.relay != "gpio":
            from hardware.plugs import add_plug

            add_plug(hw, config)
        return hw
    except BaseException:
        relay.close()
        raise
