"""Relay, LEDs, buzzer and button on gpiozero.

Wiring (BCM numbers, defaults in ``[hardware.pins]``): relay stage on GPIO17 (active-high, with a
pull-down so a floating or low pin means off), green LED GPIO22, red LED GPIO27, active buzzer
GPIO13, push button GPIO26 to ground. See docs/wiring.md.

gpiozero is imported when a device is built, never at import time, so this module imports on any
laptop. Pass ``pin_factory`` to run the same code on gpiozero's ``MockFactory``.

>>> from gpiozero.pins.mock import MockFactory
>>> relay = GpioRelay(17, pin_factory=MockFactory())
>>> relay.is_on
False
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from typing import Any

CUES: dict[str, tuple[float, float, int]] = {
    # name: (on_time, off_time, repeats)
    "ok": (0.08, 0.05, 1),
    "deny": (0.12, 0.08, 3),
    "warn": (0.4, 0.3, 2),
    "wait": (0.05, 0.15, 2),
    "grant": (0.06, 0.06, 5),
    "alarm": (0.5, 0.5, 10),
}


class GpioRelay:
    """The machine's power relay. Built off; switched off on close and at interpreter exit."""

    def __init__(self, pin: int, *, active_high: bool = True, pin_factory: Any = None) -> None:
        from gpiozero import OutputDevice

        self._device = OutputDevice(
            pin, active_high=active_high, initial_value=False, pin_factory=pin_factory
        )
        # Re-entrant: a signal handler may call off() while the main thread holds the lock.
        self._lock = threading.RLock()
        self._closed = False
        atexit.register(self.close)

    @property
    def pin(self) -> Any:
        return self._device.pin

    @property
    def is_on(self) -> bool:
        with self._lock:
            return not self._closed and bool(self._device.value)

    def on(self) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the relay is closed")
            self._device.on()

    def off(self) -> None:
        with self._lock:
            if not self._closed:
                self._device.off()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                self._device.off()
            finally:
                self._closed = True
                self._device.close()
        atexit.unregister(self.close)


class GpioLed:
    def __init__(self, pin: int, *, pin_factory: Any = None) -> None:
        from gpiozero import LED

        self._led = LED(pin, initial_value=False, pin_factory=pin_factory)
        self._blinking = False

    @property
    def pin(self) -> Any:
        return self._led.pin

    def on(self) -> None:
        self._blinking = False
        self._led.on()

    def off(self) -> None:
        self._blinking = False
        self._led.off()

    def blink(self, on_time: float = 0.5, off_time: float = 0.5) -> None:
        if not self._blinking:  # restarting a blink thread at every status change would flicker
            self._blinking = True
            self._led.blink(on_time=on_time, off_time=off_time)

    def close(self) -> None:
        self._led.close()


class GpioBuzzer:
    """An active buzzer playing short patterns in gpiozero's background thread."""

    def __init__(self, pin: int, *, pin_factory: Any = None, enabled: bool = True) -> None:
        from gpiozero import Buzzer

        self._buzzer = Buzzer(pin, initial_value=False, pin_factory=pin_factory)
        self.enabled = enabled
        self.played: list[str] = []

    def play(self, cue: str) -> None:
        on_time, off_time, n = CUES.get(cue, CUES["ok"])
        self.played.append(cue)
        del self.played[:-50]
        if self.enabled:
            self._buzzer.beep(on_time=on_time, off_time=off_time, n=n, background=True)

    def close(self) -> None:
        self._buzzer.close()


class GpioButton:
    """The extend/stop button: a release before ``hold_s`` is a press, a hold is a stop."""

    def __init__(self, pin: int, *, hold_s: float = 2.0, pin_factory: Any = None) -> None:
        from gpiozero import Button

        self._button = Button(
            pin, pull_up=True, bounce_time=None, hold_time=hold_s, pin_factory=pin_factory
        )
        self._held = False

    @property
    def pin(self) -> Any:
        return self._button.pin

    def start(self, on_press: Callable[[], None], on_hold: Callable[[], None]) -> None:
        def held() -> None:
            self._held = True
            on_hold()

        def released() -> None:
            if not self._held:
                on_press()
            self._held = False

        self._button.when_held = held
        self._button.when_released = released

    def close(self) -> None:
        self._button.close()


def reader_lines(reset_pin: int | None, irq_pin: int | None) -> tuple[Any, Any]:
    """The MFRC522's reset line (an output, held high: the chip runs) and its optional IRQ line
    (an input with pull-up), for :func:`hardware.mfrc522_reader.open_pi_reader`: gpiozero is
    imported here only, like the other pins."""
    from gpiozero import DigitalInputDevice, DigitalOutputDevice

    reset = DigitalOutputDevice(reset_pin, initial_value=True) if reset_pin is not None else None
    irq = DigitalInputDevice(irq_pin, pull_up=True) if irq_pin is not None else None
    return reset, irq
