"""hardware.gpio on gpiozero's MockFactory: the real gpiozero device code runs on mock pins."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from hardware.gpio import GpioButton, GpioBuzzer, GpioLed, GpioRelay
from mocks.gpio import RecordingMockPin


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory(pin_class=RecordingMockPin)
    yield f
    f.close()
    f.reset()


def test_relay_is_off_by_construction_and_on_close(factory: MockFactory) -> None:
    relay = GpioRelay(17, pin_factory=factory)
    pin = factory.pin(17)
    assert relay.is_on is False and pin.state == 0
    relay.on()
    assert relay.is_on and pin.state == 1
    relay.close()
    assert pin.state == 0 and relay.is_on is False
    relay.close()  # twice is harmless
    relay.off()  # and off after close too
    with pytest.raises(RuntimeError, match="closed"):
        relay.on()


def test_active_low_relay_is_high_when_off(factory: MockFactory) -> None:
    relay = GpioRelay(17, active_high=False, pin_factory=factory)
    pin = factory.pin(17)
    assert pin.state == 1 and not relay.is_on
    relay.on()
    assert pin.state == 0 and relay.is_on
    relay.off()
    assert pin.state == 1
    relay.close()
    # Closed, the pin is released as an input: an active-low board's own pull-up keeps it off,
    # but nothing here can prove that: docs/wiring.md says why we prefer active-high stages.
    assert not relay.is_on


def test_led_blink_is_not_restarted_by_each_update(factory: MockFactory) -> None:
    led = GpioLed(22, pin_factory=factory)
    led.blink(0.01, 0.01)
    first = led._led._blink_thread
    led.blink(0.01, 0.01)
    assert led._led._blink_thread is first
    led.on()
    assert factory.pin(22).state == 1
    led.close()


def test_buzzer_plays_cues(factory: MockFactory) -> None:
    buzzer = GpioBuzzer(13, pin_factory=factory)
    pin = factory.pin(13)
    done = threading.Event()
    pin.on_change = lambda _t, v: done.set() if v else None
    buzzer.play("deny")
    assert done.wait(2) and buzzer.played == ["deny"]
    buzzer.close()


def test_button_press_and_hold(factory: MockFactory) -> None:
    button = GpioButton(26, hold_s=0.05, pin_factory=factory)
    pin = factory.pin(26)
    pressed, held = threading.Event(), threading.Event()
    button.start(pressed.set, held.set)
    pin.drive_low()
    pin.drive_high()  # released at once: a press
    assert pressed.is_set() and not held.is_set()
    pressed.clear()
    pin.drive_low()
    assert held.wait(2)  # held past hold_s (gpiozero's own hold thread)
    pin.drive_high()
    assert not pressed.is_set()  # a hold is not also a press
    button.close()


def test_a_latched_relay_stays_off_whatever_asks_for_on(factory: MockFactory) -> None:
    from station.latch import LatchingRelay

    relay = LatchingRelay(GpioRelay(17, pin_factory=factory))
    pin = factory.pin(17)
    relay.on()
    assert pin.state == 1 and relay.is_on
    relay.latch_off()
    assert pin.state == 0 and relay.latched
    relay.on()  # a controller tick that runs late: refused, logged
    relay.on()
    assert pin.state == 0 and not relay.is_on and relay.refused == 2
    assert [v for _, v in pin.changes] == [1.0, 0.0]
    relay.latch_off()  # twice is harmless
    relay.close()
    assert pin.state == 0


def test_latching_from_another_thread_during_on_leaves_the_relay_off(
    factory: MockFactory,
) -> None:
    from station.latch import LatchingRelay

    relay = LatchingRelay(GpioRelay(17, pin_factory=factory))
    pin = factory.pin(17)
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            for _ in range(2000):
                relay.on()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=hammer)
    t.start()
    relay.latch_off()
    t.join(10)
    assert not errors and pin.state == 0 and not relay.is_on
    relay.close()
