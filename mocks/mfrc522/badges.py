"""Badges for the demo and the anti-clone check: prepared or cloned cards, and the real driver
on an emulated chip (``[reader] type = "mfrc522-emulated"``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mocks.mfrc522.card import VirtualCard
from mocks.mfrc522.chip import Mfrc522Chip
from mocks.mfrc522.spi import FakeSpiDev


def prepared_card(uid: bytes, secret: bytes, sector: int = 1) -> VirtualCard:
    """A card as ``station badge write`` leaves it: the HMAC value in the sector's first block
    and the trailer with the card's own keys (key A reads, key B writes)."""
    from station import badge_check

    block = badge_check.value_block(sector)
    return VirtualCard(
        uid,
        blocks={
            block: badge_check.card_value(secret, uid),
            block + 3: badge_check.card_trailer(secret, uid, sector),
        },
    )


class EmulatedBadges:
    """Makes the cards ``/sim/badge`` puts on the emulated chip.

    Without a secret (``verify_badges`` off) every card is blank. With one, a card is prepared
    (:func:`prepared_card`), and ``cloned=True`` gives what a cloner makes from a UID alone: a
    blank card with the same UID, its sector still on the transport keys.
    """

    def __init__(self, secret: bytes | None = None, sector: int = 1) -> None:
        self._secret = secret
        self.sector = sector

    @property
    def verifying(self) -> bool:
        return self._secret is not None

    def card(self, uid: bytes, *, cloned: bool = False) -> VirtualCard:
        if self._secret is None or cloned:
            return VirtualCard(uid)
        return prepared_card(uid, self._secret, self.sector)


def build_emulated_reader(
    poll_hz: float = 10.0,
    *,
    clock: Callable[[], float] | None = None,
    threaded: bool = True,
    debounce_s: float = 0.5,
    secret: bytes | None = None,
    sector: int = 1,
) -> tuple[Any, Mfrc522Chip]:
    """The real driver (:class:`hardware.mfrc522_reader.Mfrc522Reader`) on an emulated chip.

    For the mock backend (``[reader] type = "mfrc522-emulated"``): the demo then runs the same
    driver code as a Pi; badges are tapped with ``chip.place(VirtualCard(...))`` / ``remove()``.
    ``secret`` turns the driver's anti-clone check on (cards from :class:`EmulatedBadges`).
    """
    from hardware.mfrc522_reader import Mfrc522Reader

    chip = Mfrc522Chip()
    spi = FakeSpiDev(chip)
    spi.open(0, 0)
    reader = Mfrc522Reader(
        spi,
        poll_hz=poll_hz,
        reset=chip.reset_line,
        clock=clock or time.monotonic,
        debounce_s=debounce_s,
        threaded=threaded,
        secret=secret,
        sector=sector,
    )
    return reader, chip
