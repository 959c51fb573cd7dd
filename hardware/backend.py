"""The ``pi`` backend: gpiozero on the Pi's own pin factory and the MFRC522 on SPI0."""

from __future__ import annotations

from station.config import Config
from station.ports import Hardware


def build_hardware(config: Config) -> Hardware:
    from hardware.gpio import GpioButton, GpioBuzzer, GpioLed, GpioRelay

    pins = config.hardware.pins
    relay = GpioRelay(pins.relay, active_high=pins.relay_active_high)
    try:
        from hardware.mfrc522_reader import open_pi_reader

        reader = open_pi_reader(
            bus=config.reader.spi_bus,
            device=config.reader.spi_device,
            reset_pin=config.reader.reset_pin,
            poll_hz=config.reader.poll_hz,
        )
        return Hardware(
            reader=reader,
            relay=relay,
            green=GpioLed(pins.green_led),
            red=GpioLed(pins.red_led),
            buzzer=GpioBuzzer(pins.buzzer),
            button=GpioButton(pins.button) if pins.button >= 0 else None,
        )
    except BaseException:
        relay.close()
        raise
