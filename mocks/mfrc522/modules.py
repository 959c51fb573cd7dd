"""Fake ``spidev`` and ``RPi.GPIO`` modules in ``sys.modules``, so the unmodified PyPI
``mfrc522`` package runs on an emulated chip (it imports both at import time)."""

from __future__ import annotations

import contextlib
import logging
import sys
import types
from collections.abc import Iterator
from typing import Any

from mocks.mfrc522.chip import Mfrc522Chip
from mocks.mfrc522.spi import fake_spidev_module


def fake_gpio_module(chip: Mfrc522Chip | None = None) -> types.ModuleType:
    """An ``RPi.GPIO`` module; ``output(pin, level)`` on any pin set up as output drives the
    chip's reset line (the stock package only ever touches its reset pin)."""
    gpio = types.ModuleType("RPi.GPIO")
    state: dict[str, Any] = {"mode": None, "outputs": {}}
    constants: dict[str, object] = {"BOARD": 10, "BCM": 11, "OUT": 0, "IN": 1, "HIGH": 1}
    constants.update({"LOW": 0, "PUD_OFF": 20, "PUD_DOWN": 21, "PUD_UP": 22, "RPI_INFO": {}})
    for name, value in constants.items():
        setattr(gpio, name, value)

    def output(pin: int, value: int) -> None:
        state["outputs"][pin] = int(value)
        if chip is not None:
            chip.set_reset_pin(bool(value))

    def setup(pin: int, direction: int, **_kwargs: Any) -> None:
        if direction == 0:
            state["outputs"].setdefault(pin, 0)

    def setmode(mode: int) -> None:
        state["mode"] = mode

    def cleanup(*_args: Any) -> None:
        state["outputs"].clear()
        state["mode"] = None

    gpio.getmode = lambda: state["mode"]  # type: ignore[attr-defined]
    gpio.setmode = setmode  # type: ignore[attr-defined]
    gpio.setup = setup  # type: ignore[attr-defined]
    gpio.output = output  # type: ignore[attr-defined]
    gpio.input = lambda pin: state["outputs"].get(pin, 0)  # type: ignore[attr-defined]
    gpio.setwarnings = lambda flag: None  # type: ignore[attr-defined]
    gpio.cleanup = cleanup  # type: ignore[attr-defined]
    gpio.state = state  # type: ignore[attr-defined]
    return gpio


_STOCK_MODULES = (
    "spidev",
    "RPi",
    "RPi.GPIO",
    "mfrc522",
    "mfrc522.MFRC522",
    "mfrc522.SimpleMFRC522",
)


@contextlib.contextmanager
def fake_pi_modules(chip: Mfrc522Chip) -> Iterator[tuple[types.ModuleType, types.ModuleType]]:
    """Put fake ``spidev`` and ``RPi.GPIO`` bound to ``chip`` in ``sys.modules``; restore on exit.

    Any ``mfrc522`` module imported inside is dropped on exit too, since it holds the fakes.
    """
    saved = {name: sys.modules.get(name) for name in _STOCK_MODULES}
    spidev = fake_spidev_module(chip)
    gpio = fake_gpio_module(chip)
    rpi = types.ModuleType("RPi")
    rpi.GPIO = gpio  # type: ignore[attr-defined]
    for name in _STOCK_MODULES:
        sys.modules.pop(name, None)
    sys.modules.update({"spidev": spidev, "RPi": rpi, "RPi.GPIO": gpio})
    try:
        yield spidev, gpio
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


@contextlib.contextmanager
def stock_mfrc522(chip: Mfrc522Chip) -> Iterator[types.ModuleType]:
    """Import the unmodified PyPI ``mfrc522`` package wired to ``chip``; undo it all on exit.

    The stock class adds a log handler per instance; those are removed again on exit.
    """
    logger = logging.getLogger("mfrc522Logger")
    handlers = list(logger.handlers)
    with fake_pi_modules(chip):
        try:
            import mfrc522  # after the fakes are in place, so it binds to them
        except ModuleNotFoundError as exc:
            raise ModuleNotFoundError(
                "the stock mfrc522 package is not installed: pip install -e '.[dev]' "
                "(it pins mfrc522==0.0.7)"
            ) from exc

        try:
            yield mfrc522
        finally:
            for handler in logger.handlers[:]:
                if handler not in handlers:
                    logger.removeHandler(handler)
