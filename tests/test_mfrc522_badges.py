"""The driver's anti-clone check on the emulated chip: prepared cards pass, UID-only clones and
cards from another site fail, a card lifted mid-check is not reported; preparing cards
(``prepare_badge``) and checking them (``check_badge``). Time is injected; nothing sleeps."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.mfrc522_reader import DEFAULT_KEY, CardError, Mfrc522Reader
from mocks.mfrc522_chip import (
    EmulatedBadges,
    FakeSpiDev,
    Mfrc522Chip,
    VirtualCard,
    build_emulated_reader,
    prepared_card,
)
from station import badge_check

SECRET = bytes.fromhex("11" * 32)
OTHER_SITE = bytes.fromhex("22" * 32)
UID4 = "04A1B2C3"
UID7 = "0411223344AA80"


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


Taps = list[tuple[str, bool | None]]


def make_reader(
    secret: bytes | None = SECRET, sector: int = 1
) -> tuple[Mfrc522Reader, Mfrc522Chip, FakeTime, Taps]:
    chip = Mfrc522Chip()
    clock = FakeTime()
    spi = FakeSpiDev(chip)
    spi.open(0, 0)
    reader = Mfrc522Reader(
        spi,
        reset=chip.reset_line,
        clock=clock,
        sleep=clock.sleep,
        threaded=False,
        secret=secret,
        sector=sector,
    )
    taps: Taps = []
    reader.start(lambda uid, verified=None: taps.append((uid, verified)))
    return reader, chip, clock, taps


def blank(uid: str) -> VirtualCard:
    return VirtualCard(bytes.fromhex(uid))


def prepared(uid: str, secret: bytes = SECRET, sector: int = 1) -> VirtualCard:
    return prepared_card(bytes.fromhex(uid), secret, sector)


class CountingCard(VirtualCard):
    """Counts authentications; ``lift_on_auth`` takes the card away during MFAuthent, and
    ``fail_auths`` refuses that many first authentications (a frame lost at the field's edge)."""

    def __init__(self, uid: bytes, chip: Mfrc522Chip, **kwargs: object) -> None:
        super().__init__(uid, **kwargs)  # type: ignore[arg-type]
        self.chip = chip
        self.auths = 0
        self.lift_on_auth = False
        self.fail_auths = 0

    def authenticate(self, command: int, number: int, key: bytes, uid4: bytes) -> bool:
        self.auths += 1
        if self.lift_on_auth:
            self.chip.remove()
            return False
        if self.fail_auths:
            self.fail_auths -= 1
            self._fail()
            return False
        return super().authenticate(command, number, key, uid4)


def counting(uid: str, chip: Mfrc522Chip, secret: bytes = SECRET) -> CountingCard:
    raw = bytes.fromhex(uid)
    block = badge_check.value_block(1)
    return CountingCard(
        raw,
        chip,
        blocks={
            block: badge_check.card_value(secret, raw),
            block + 3: badge_check.card_trailer(secret, raw, 1),
        },
    )


@pytest.mark.parametrize("uid", [UID4, UID7])
def test_a_prepared_card_is_a_verified_tap(uid: str) -> None:
    reader, chip, clock, taps = make_reader()
    chip.place(prepared(uid))
    assert reader.poll_once() == uid
    assert taps == [(uid, True)]
    assert reader.health()["verified"] == 1
    assert clock.slept == []  # the instant chip: no waiting at all


@pytest.mark.parametrize("uid", [UID4, UID7])
def test_a_uid_only_clone_is_a_tap_that_failed(uid: str) -> None:
    reader, chip, _, taps = make_reader()
    chip.place(blank(uid))  # the same UID on a blank card: transport keys, no value
    assert reader.poll_once() == uid
    assert taps == [(uid, False)]
    health = reader.health()
    assert health["rejected"] == 1 and health["ok"] is True and health["card_errors"] == 0


def test_a_card_from_another_site_fails() -> None:
    reader, chip, _, taps = make_reader()
    chip.place(prepared(UID4, secret=OTHER_SITE))
    reader.poll_once()
    assert taps == [(UID4, False)]


def test_right_keys_wrong_value_fails() -> None:
    """Someone with the keys (say, from one dumped card) cannot mint a value for a new UID."""
    uid = bytes.fromhex(UID4)
    card = VirtualCard(
        uid,
        blocks={
            4: badge_check.card_value(SECRET, bytes.fromhex("04000001")),
            7: badge_check.card_trailer(SECRET, uid, 1),
        },
    )
    reader, chip, _, taps = make_reader()
    chip.place(card)
    reader.poll_once()
    assert taps == [(UID4, False)]


def test_the_value_in_another_sector_does_not_count() -> None:
    reader, chip, _, taps = make_reader(sector=2)
    chip.place(prepared(UID4, sector=1))
    reader.poll_once()
    assert taps == [(UID4, False)]


@settings(max_examples=25, deadline=None)
@given(uid=st.binary(min_size=7, max_size=7).filter(lambda u: u[0] != 0x88))
def test_any_prepared_seven_byte_card_verifies(uid: bytes) -> None:
    reader, chip, _, taps = make_reader()
    chip.place(prepared_card(uid, SECRET))
    reader.poll_once()
    assert taps == [(uid.hex().upper(), True)]


def test_a_held_card_is_checked_once() -> None:
    reader, chip, clock, taps = make_reader()
    card = counting(UID4, chip)
    chip.place(card)
    for _ in range(10):
        reader.poll_once()
        clock.now += 0.1
    assert taps == [(UID4, True)]
    assert card.auths == 1


def test_a_card_lifted_mid_check_is_not_reported_then_counts_when_back() -> None:
    reader, chip, clock, taps = make_reader()
    card = counting(UID4, chip)
    card.lift_on_auth = True
    chip.place(card)
    assert reader.poll_once() is None
    assert taps == []
    assert reader.health()["inconclusive"] == 1
    assert reader.health()["ok"] is True
    card.lift_on_auth = False
    clock.now += 0.1
    chip.place(card)
    assert reader.poll_once() == UID4  # not swallowed by the debounce
    assert taps == [(UID4, True)]


def test_one_lost_authentication_is_retried() -> None:
    reader, chip, _, taps = make_reader()
    card = counting(UID4, chip)
    card.fail_auths = 1
    chip.place(card)
    reader.poll_once()
    assert taps == [(UID4, True)]
    assert card.auths == 2


def test_a_card_refusing_twice_is_a_failed_check() -> None:
    reader, chip, _, taps = make_reader()
    card = counting(UID4, chip)
    card.fail_auths = 5
    chip.place(card)
    reader.poll_once()
    assert taps == [(UID4, False)]
    assert card.auths == 2


def test_without_a_secret_taps_are_reported_with_the_uid_only() -> None:
    reader, chip, _, taps = make_reader(secret=None)
    chip.place(prepared(UID4))
    reader.poll_once()
    assert taps == [(UID4, None)]
    assert reader.health()["verify_badges"] is False


def test_the_verified_card_is_left_halted_and_the_reader_usable() -> None:
    reader, chip, clock, taps = make_reader()
    chip.place(prepared(UID4))
    reader.poll_once()
    chip.place(blank(UID7))
    clock.now += 0.1
    reader.poll_once()
    chip.place(prepared(UID7))
    clock.now += 1.0
    reader.poll_once()
    assert taps == [(UID4, True), (UID7, False), (UID7, True)]


def test_a_bad_sector_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="1-15"):
        make_reader(sector=0)


# --- preparing cards (station badge write) -------------------------------------------------------


def test_prepare_a_blank_card_then_it_verifies() -> None:
    reader, chip, _, _ = make_reader(secret=None)
    card = blank(UID7)
    chip.place(card)
    assert reader.wait_for_card(5.0) == UID7
    assert reader.prepare_badge(UID7, SECRET, 1) == "prepared"
    expected = prepared(UID7)
    assert card.block(4) == expected.block(4) == badge_check.card_value(SECRET, UID7)
    assert card.blocks[7] == expected.blocks[7]
    assert reader.check_badge(UID7, SECRET, 1) is True
    with pytest.raises(CardError):  # the transport key no longer opens the sector
        reader.read_block(UID7, 4, DEFAULT_KEY)
    assert card.block(5) == bytes(16)  # nothing else written


def test_prepare_again_rewrites_with_the_sites_key_b() -> None:
    reader, chip, _, _ = make_reader(secret=None)
    card = prepared(UID4)
    card.blocks[4][:] = bytes(16)  # a prepared card whose value got lost
    chip.place(card)
    assert reader.check_badge(UID4, SECRET, 1) is False
    assert reader.prepare_badge(UID4, SECRET, 1) == "rewritten"
    assert reader.check_badge(UID4, SECRET, 1) is True


def test_a_card_locked_by_another_site_is_refused() -> None:
    reader, chip, _, _ = make_reader(secret=None)
    card = prepared(UID4, secret=OTHER_SITE)
    before = [bytes(b) for b in card.blocks]
    chip.place(card)
    with pytest.raises(CardError, match="another secret"):
        reader.prepare_badge(UID4, SECRET, 1)
    assert [bytes(b) for b in card.blocks] == before


def test_wait_for_card_gives_up_on_the_injected_clock() -> None:
    reader, _, clock, _ = make_reader()
    with pytest.raises(CardError, match="no badge on the reader within 2 s"):
        reader.wait_for_card(2.0, interval_s=0.5)
    assert clock.slept == [0.5] * 4


def test_check_badge_of_an_absent_card() -> None:
    reader, chip, _, _ = make_reader()
    chip.place(prepared(UID4))
    with pytest.raises(CardError, match="not on the reader"):
        reader.check_badge(UID7, SECRET, 1)


# --- emulated badges for /sim/badge --------------------------------------------------------------


def test_emulated_badges_prepared_and_cloned() -> None:
    reader, chip = build_emulated_reader(threaded=False, secret=SECRET, clock=lambda: 0.0)
    taps: Taps = []
    reader.start(lambda uid, verified=None: taps.append((uid, verified)))
    badges = EmulatedBadges(SECRET, 1)
    assert badges.verifying
    chip.place(badges.card(bytes.fromhex(UID7)))
    reader.poll_once()
    chip.place(badges.card(bytes.fromhex(UID4), cloned=True))
    reader.poll_once()
    assert taps == [(UID7, True), (UID4, False)]
    assert not EmulatedBadges().verifying
    assert EmulatedBadges().card(bytes.fromhex(UID4)).block(4) == bytes(16)
    reader.close()


def test_open_pi_reader_passes_the_secret_to_the_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Pi builder (hardware/backend.py's path), on fake spidev and gpiozero mock pins."""
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    from hardware.mfrc522_reader import open_pi_reader
    from mocks.mfrc522_chip import fake_pi_modules

    chip = Mfrc522Chip()
    chip.place(prepared(UID7, sector=3))
    monkeypatch.setattr(Device, "pin_factory", MockFactory())
    try:
        with fake_pi_modules(chip):
            with pytest.raises(ValueError, match="1-15"):
                open_pi_reader(secret=SECRET, sector=16)
            reader = open_pi_reader(secret=SECRET, sector=3)  # not started: no thread
            assert reader.poll_once() == UID7
            assert reader.health()["verified"] == 1
            reader.close()
    finally:
        Device.pin_factory.close()  # type: ignore[union-attr]
        Device.pin_factory.reset()  # type: ignore[union-attr]
