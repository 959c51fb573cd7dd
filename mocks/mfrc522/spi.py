"""The fake SPI bus: a ``spidev.SpiDev`` look-alike whose transfers reach an emulated chip."""

from __future__ import annotations

import types
from collections.abc import Sequence

from mocks.mfrc522.chip import Mfrc522Chip


class FakeSpiDev:
    """Stands in for ``spidev.SpiDev``: every ``xfer``/``xfer2`` is one transaction on ``chip``."""

    def __init__(self, chip: Mfrc522Chip | None = None) -> None:
        self.chip = chip
        self.max_speed_hz = 500_000
        self.mode = 0
        self.bits_per_word = 8
        self.bus: int | None = None
        self.device: int | None = None
        self.closed = True

    def open(self, bus: int, device: int) -> None:
        self.bus, self.device, self.closed = bus, device, False

    def close(self) -> None:
        self.closed = True

    def xfer2(self, values: Sequence[int], *_args: int) -> list[int]:
        if self.closed or self.chip is None:
            raise OSError(9, "Bad file descriptor")  # what spidev raises on a closed device
        return self.chip.transfer(list(values))

    xfer = xfer2
    xfer3 = xfer2

    def writebytes(self, values: Sequence[int]) -> None:
        self.xfer2(values)

    def __enter__(self) -> FakeSpiDev:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fake_spidev_module(chip: Mfrc522Chip) -> types.ModuleType:
    """A ``spidev`` module whose ``SpiDev()`` talks to ``chip``."""
    module = types.ModuleType("spidev")

    def spi_dev(*args: int) -> FakeSpiDev:
        spi = FakeSpiDev(chip)
        if args:
            spi.open(*args)
        return spi

    module.SpiDev = spi_dev  # type: ignore[attr-defined]
    return module
