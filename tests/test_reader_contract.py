"""One contract for every BadgeReader: the fake reader, the MFRC522 driver on the emulated chip
and, with STATION_TEST_HARDWARE=1 on a Pi, the real reader.

Each implementation comes with a harness that knows how to put a badge on it, keep it there and
take it away; the tests only speak of badges and taps.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Protocol

import pytest

from mocks.mfrc522_chip import EmulatedBadges, build_emulated_reader
from mocks.reader import FakeBadgeReader
from station.ports import BadgeReader

UID4 = "04a1b2c3"
UID7 = "04112233445566"


class Harness(Protocol):
    reader: BadgeReader

    def present(self, uid: str) -> None:
        """A badge is laid on the reader and held there a while."""

    def lift(self) -> None:
        """The badge is taken away, long enough for a new tap to count."""


class FakeHarness:
    def __init__(self) -> None:
        self.fake = FakeBadgeReader()
        self.reader: BadgeReader = self.fake

    def present(self, uid: str) -> None:
        self.fake.tap(uid)

    def lift(self) -> None:
        pass


class EmulatedHarness:
    """The real driver on the emulated chip, polled by hand on a fake clock; with a secret, the
    driver runs the anti-clone check and the badges are prepared cards."""

    def __init__(self, secret: bytes | None = None) -> None:
        self.now = 0.0
        self.reader, self.chip = build_emulated_reader(
            poll_hz=10.0, clock=lambda: self.now, threaded=False, secret=secret
        )
        self.badges = EmulatedBadges(secret)

    def _polls(self, seconds: float) -> None:
        for _ in range(round(seconds * 10)):
            self.now += 0.1
            self.reader.poll_once()

    def present(self, uid: str) -> None:
        self.chip.place(self.badges.card(bytes.fromhex(uid)))
        self._polls(1.0)

    def lift(self) -> None:
        self.chip.remove()
        self._polls(1.0)


class HardwareHarness:
    """A Pi with a reader on SPI0; the tap tests need a person and are skipped."""

    def __init__(self) -> None:
        from hardware.mfrc522_reader import open_pi_reader

        self.reader: BadgeReader = open_pi_reader()

    def present(self, uid: str) -> None:
        pytest.skip("tapping a real badge needs a person")

    def lift(self) -> None:
        pass


HARDWARE = os.environ.get("STATION_TEST_HARDWARE") == "1"


@pytest.fixture(
    params=[
        "fake",
        "mfrc522-emulated",
        "mfrc522-emulated-verifying",
        pytest.param(
            "mfrc522-hardware",
            marks=pytest.mark.skipif(not HARDWARE, reason="STATION_TEST_HARDWARE=1 not set"),
        ),
    ]
)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    made: Harness
    if request.param == "fake":
        made = FakeHarness()
    elif request.param == "mfrc522-emulated":
        made = EmulatedHarness()
    elif request.param == "mfrc522-emulated-verifying":
        made = EmulatedHarness(secret=bytes(range(32)))
    else:
        made = HardwareHarness()
    yield made
    made.reader.close()


class Taps(list[str]):
    """The UIDs reported, in order; ``verified`` holds the flags of readers that give one."""

    def __init__(self) -> None:
        super().__init__()
        self.verified: list[object] = []

    def __call__(self, uid: str, *verified: object) -> None:
        self.append(uid)
        self.verified.extend(verified)


@pytest.fixture
def taps(harness: Harness) -> Taps:
    seen = Taps()
    harness.reader.start(seen)
    return seen


def test_is_a_badge_reader(harness: Harness) -> None:
    assert isinstance(harness.reader, BadgeReader)


def test_health_is_a_small_json_dict(harness: Harness, taps: Taps) -> None:
    health = harness.reader.health()
    assert isinstance(health["ok"], bool)
    assert isinstance(health["type"], str)
    json.dumps(health)


def test_a_badge_held_on_the_reader_is_one_tap(harness: Harness, taps: Taps) -> None:
    harness.present(UID4)
    assert taps == ["04A1B2C3"]


def test_seven_byte_uid_is_fourteen_hex_chars(harness: Harness, taps: Taps) -> None:
    harness.present(UID7)
    assert taps == ["04112233445566"]


def test_lifting_and_tapping_again_is_a_second_tap(harness: Harness, taps: Taps) -> None:
    harness.present(UID4)
    harness.lift()
    harness.present(UID4)
    assert taps == ["04A1B2C3", "04A1B2C3"]


def test_two_badges_are_two_taps_in_order(harness: Harness, taps: Taps) -> None:
    harness.present(UID7)
    harness.lift()
    harness.present(UID4)
    assert taps == ["04112233445566", "04A1B2C3"]


def test_close_twice_and_no_taps_after_close(harness: Harness, taps: Taps) -> None:
    harness.reader.close()
    harness.reader.close()
    harness.present(UID4)
    assert taps == []
    assert harness.reader.health()["ok"] is False


def test_a_verified_flag_when_given_is_a_bool_per_tap(harness: Harness, taps: Taps) -> None:
    """``on_tap(uid)`` or ``on_tap(uid, verified)`` (station.ports.TapHandler), never a mix."""
    harness.present(UID4)
    harness.lift()
    harness.present(UID7)
    assert taps == ["04A1B2C3", "04112233445566"]
    badges = getattr(harness, "badges", None)
    verifying = badges is not None and badges.verifying
    assert taps.verified == ([True, True] if verifying else [])
