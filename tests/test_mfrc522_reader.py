"""The MFRC522 driver on the emulated chip: transfer budget, UIDs, taps and debounce, recovery,
IRQ mode, MIFARE blocks and the Pi builder. Time is injected; nothing sleeps."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from gpiozero import DigitalInputDevice
from gpiozero.pins.mock import MockFactory
from hypothesis import given
from hypothesis import strategies as st

from hardware.mfrc522_reader import (
    TIMER_S,
    CardError,
    Mfrc522Reader,
    ReaderNotResponding,
    crc_a,
    open_pi_reader,
)
from mocks.mfrc522_chip import (
    FakeSpiDev,
    Mfrc522Chip,
    VirtualCard,
    build_emulated_reader,
    fake_pi_modules,
)

UID4 = "04A1B2C3"
UID7 = "04112233445566"


class FakeTime:
    """An injected clock; ``sleep`` only moves it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def card(uid: str, **kwargs: object) -> VirtualCard:
    return VirtualCard(bytes.fromhex(uid), **kwargs)  # type: ignore[arg-type]


def make_reader(
    chip: Mfrc522Chip | None = None, clock: FakeTime | None = None, **kwargs: object
) -> tuple[Mfrc522Reader, Mfrc522Chip, FakeTime, list[str]]:
    chip = chip or Mfrc522Chip()
    clock = clock or FakeTime()
    spi = FakeSpiDev(chip)
    spi.open(0, 0)
    reader = Mfrc522Reader(
        spi,
        reset=chip.reset_line,
        clock=clock,
        sleep=clock.sleep,
        threaded=False,
        **kwargs,  # type: ignore[arg-type]
    )
    taps: list[str] = []
    reader.start(taps.append)
    return reader, chip, clock, taps


def transfers(chip: Mfrc522Chip, reader: Mfrc522Reader) -> int:
    before = chip.spi_transfers
    reader.poll_once()
    return chip.spi_transfers - before


# --- transfer budget ----------------------------------------------------------------------------
def test_empty_poll_is_within_budget() -> None:
    reader, chip, _, _ = make_reader()
    reader.poll_once()  # initialises the chip
    assert transfers(chip, reader) <= 16
    assert transfers(chip, reader) == 7


def test_successful_reads_cost() -> None:
    reader, chip, _clock, _ = make_reader()
    reader.poll_once()
    chip.place(card(UID4))
    assert transfers(chip, reader) <= 40
    chip.place(card(UID7))
    assert transfers(chip, reader) <= 60


def test_clocked_chip_empty_poll_reads_irq_three_times() -> None:
    clock = FakeTime()
    chip = Mfrc522Chip(clock=clock)
    reader, _, _, taps = make_reader(chip, clock)
    reader.poll_once()
    clock.slept.clear()
    assert transfers(chip, reader) == 6 + 3
    assert sum(clock.slept) == pytest.approx(TIMER_S + 0.002)
    chip.place(card(UID4))
    reader.poll_once()
    assert taps == [UID4]


# --- UIDs -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("uid", [UID4, UID7, "08AABBCC", "04FFEEDDCCBBAA"])
def test_uid_is_real_bytes_in_upper_hex(uid: str) -> None:
    reader, chip, _, taps = make_reader()
    chip.place(card(uid))
    assert reader.poll_once() == uid
    assert taps == [uid]


@given(
    uid=st.one_of(st.binary(min_size=4, max_size=4), st.binary(min_size=7, max_size=7)).filter(
        lambda u: u[0] != 0x88
    )
)
def test_random_uids_round_trip(uid: bytes) -> None:
    reader, chip, _, taps = make_reader()
    chip.place(VirtualCard(uid))
    reader.poll_once()
    assert taps == [uid.hex().upper()]
    assert len(taps[0]) in (8, 14)


def test_crc_a_matches_the_emulator() -> None:
    assert crc_a(b"123456789") == bytes.fromhex("05BF")


# --- taps and debounce ---------------------------------------------------------------------------
def test_card_held_on_the_reader_is_one_tap() -> None:
    reader, chip, clock, taps = make_reader()
    chip.place(card(UID4))
    for _ in range(50):  # five seconds at 10 Hz
        reader.poll_once()
        clock.now += 0.1
    assert taps == [UID4]
    assert reader.health()["card_present"] is True


def test_lift_and_tap_again_is_a_second_tap() -> None:
    reader, chip, clock, taps = make_reader()
    badge = card(UID4)
    chip.place(badge)
    reader.poll_once()
    chip.remove()
    for _ in range(6):
        clock.now += 0.1
        reader.poll_once()
    chip.place(badge)
    clock.now += 0.1
    reader.poll_once()
    assert taps == [UID4, UID4]


def test_a_missed_read_within_debounce_is_the_same_tap() -> None:
    reader, chip, clock, taps = make_reader(debounce_s=0.5)
    badge = card(UID4)
    chip.place(badge)
    reader.poll_once()
    chip.remove()  # an RF glitch at the edge of the field
    clock.now += 0.1
    reader.poll_once()
    chip.place(badge)
    clock.now += 0.1
    reader.poll_once()
    assert taps == [UID4]


def test_another_badge_is_a_new_tap_at_once() -> None:
    reader, chip, clock, taps = make_reader()
    chip.place(card(UID4))
    reader.poll_once()
    chip.place(card(UID7))
    clock.now += 0.1
    reader.poll_once()
    assert taps == [UID4, UID7]


def test_a_failing_handler_does_not_stop_the_reader(caplog: pytest.LogCaptureFixture) -> None:
    reader, chip, clock, _ = make_reader()
    seen: list[str] = []

    def handler(uid: str) -> None:
        seen.append(uid)
        raise RuntimeError("queue full")

    reader.start(handler)
    chip.place(card(UID4))
    reader.poll_once()
    chip.place(card(UID7))
    clock.now += 0.1
    reader.poll_once()
    assert seen == [UID4, UID7]
    assert "tap handler failed" in caplog.text


# --- faults and recovery ------------------------------------------------------------------------
def test_absent_chip_is_reported_then_recovers() -> None:
    chip = Mfrc522Chip()
    chip.reset_line.off()
    spi = FakeSpiDev(chip)
    spi.open(0, 0)
    clock = FakeTime()
    reader = Mfrc522Reader(spi, clock=clock, sleep=clock.sleep, threaded=False)
    reader.start(lambda uid: None)
    reader.poll_once()
    health = reader.health()
    assert health["ok"] is False and health["errors"] == 1
    assert "VersionReg" in str(health["last_error"])
    chip.reset_line.on()
    chip.place(card(UID4))
    assert reader.poll_once() == UID4
    assert reader.health()["ok"] is True


def test_chip_reset_behind_our_back_is_detected_and_reinitialised() -> None:
    reader, chip, _clock, taps = make_reader()
    reader.poll_once()
    chip.reset_line.off()  # a brown-out: registers back to defaults, timer off, field off
    chip.reset_line.on()
    reader.poll_once()  # the timer never fires: the wait gives up, by the injected clock
    assert reader.health()["ok"] is False
    chip.place(card(UID4))
    reader.poll_once()
    assert taps == [UID4]
    assert reader.health()["ok"] is True


def test_wait_gives_up_on_a_silent_chip() -> None:
    chip = Mfrc522Chip()
    reader, _, clock, _ = make_reader(chip)
    reader.poll_once()
    with pytest.raises(ReaderNotResponding):
        chip.reset_line.off()
        chip.reset_line.on()
        reader.chip.transceive([0x52], last_bits=7)
    assert sum(clock.slept) < 0.2


# --- IRQ pin ------------------------------------------------------------------------------------
def test_irq_mode_waits_on_the_pin() -> None:
    factory = MockFactory()
    try:
        irq = DigitalInputDevice(24, pull_up=True, pin_factory=factory)
        chip = Mfrc522Chip()
        chip.attach_irq_pin(factory.pin(24))
        reader, _, clock, taps = make_reader(chip, irq=irq)
        reader.poll_once()
        assert transfers(chip, reader) == 7
        chip.place(card(UID7))
        reader.poll_once()
        assert taps == [UID7]
        assert clock.slept == []
        reader.close()
        assert irq.closed
    finally:
        factory.close()
        factory.reset()


# --- MIFARE Classic blocks ------------------------------------------------------------------------
def test_read_and_write_blocks_with_keys() -> None:
    key_a, key_b = bytes.fromhex("A0A1A2A3A4A5"), bytes.fromhex("B0B1B2B3B4B5")
    badge = card(UID7, keys={1: (key_a, key_b)}, blocks={4: b"member:M042".ljust(16)})
    reader, chip, _, _ = make_reader()
    chip.place(badge)
    assert reader.read_block(UID7, 4, key_a) == b"member:M042".ljust(16)
    reader.write_block(UID7, 5, b"level:mentor".ljust(16), key_a, "A")
    assert badge.block(5) == b"level:mentor".ljust(16)
    with pytest.raises(CardError, match="could not be read"):
        reader.read_block(UID7, 5, key_b, "B")  # transport access bits: key B is readable, unusable
    with pytest.raises(CardError, match="refused"):
        reader.read_block(UID7, 4, b"\xff" * 6)
    with pytest.raises(CardError, match="not on the reader"):
        reader.read_block(UID4, 4)
    assert reader.read_block(UID7, 4, key_a)  # a refused key leaves the reader usable


def test_changing_a_sector_key_through_the_trailer() -> None:
    badge = card(UID4)
    reader, chip, _, _ = make_reader()
    chip.place(badge)
    new_key = bytes.fromhex("112233445566")
    reader.write_block(UID4, 7, new_key + bytes.fromhex("FF078069") + b"\xff" * 6)
    with pytest.raises(CardError):
        reader.read_block(UID4, 4)
    assert reader.read_block(UID4, 4, new_key) == bytes(16)


def test_block_access_does_not_make_a_second_tap() -> None:
    reader, chip, clock, taps = make_reader()
    chip.place(card(UID4))
    reader.poll_once()
    reader.read_block(UID4, 1)
    clock.now += 0.1
    reader.poll_once()
    assert taps == [UID4]


# --- lifecycle and builders -----------------------------------------------------------------------
def test_close_twice_switches_field_off_and_releases_spi() -> None:
    reader, chip, _, taps = make_reader()
    reader.poll_once()
    assert chip.field_on
    reader.close()
    reader.close()
    assert not chip.powered  # held in reset
    assert reader.poll_once() is None
    assert taps == []
    assert reader.health()["ok"] is False


def test_threaded_reader_reports_a_tap_and_stops() -> None:
    reader, chip = build_emulated_reader(poll_hz=200.0)
    tapped = threading.Event()
    taps: list[str] = []

    def on_tap(uid: str) -> None:
        taps.append(uid)
        tapped.set()

    chip.place(card(UID4))
    reader.start(on_tap)
    assert tapped.wait(timeout=5.0)  # waits for the event, not for time
    reader.close()
    assert taps == [UID4]
    assert not any(t.name == "mfrc522-poll" for t in threading.enumerate())


def test_emulated_builder_without_thread() -> None:
    reader, chip = build_emulated_reader(threaded=False)
    taps: list[str] = []
    reader.start(taps.append)
    chip.place(card(UID7))
    reader.poll_once()
    assert taps == [UID7]
    assert all(t.name != "mfrc522-poll" for t in threading.enumerate())
    reader.close()


def test_importing_the_driver_imports_no_vendor_library() -> None:
    code = (
        "import sys, hardware.mfrc522_reader, mocks.mfrc522_chip; "
        "print(sorted(m for m in ('spidev', 'RPi', 'mfrc522', 'lgpio') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_open_pi_reader_uses_spidev_and_gpiozero_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from gpiozero import Device

    chip = Mfrc522Chip()
    chip.place(card(UID4))
    monkeypatch.setattr(Device, "pin_factory", MockFactory())
    try:
        with fake_pi_modules(chip):
            reader = open_pi_reader(bus=0, device=0, reset_pin=25, poll_hz=5.0)
            assert sys.modules["RPi.GPIO"].state["mode"] is None  # type: ignore[attr-defined]
            assert Device.pin_factory.pin(25).state == 1  # type: ignore[union-attr]
            assert reader.poll_once() == UID4
            reader.close()
    finally:
        Device.pin_factory.close()  # type: ignore[union-attr]
        Device.pin_factory.reset()  # type: ignore[union-attr]


class GarbledCard(VirtualCard):
    """Answers anticollision with a bad BCC while ``garbled`` (a card at the edge of the field)."""

    garbled = True

    def _ready(self, data: bytes) -> tuple[bytes, int] | None:
        answer = super()._ready(data)
        if self.garbled and answer is not None and len(answer[0]) == 5:
            return answer[0][:4] + bytes([answer[0][4] ^ 0xFF]), 0
        return answer


def test_a_garbled_card_answer_is_counted_not_a_reader_fault() -> None:
    reader, chip, clock, taps = make_reader()
    badge = GarbledCard(bytes.fromhex(UID4))
    chip.place(badge)
    assert reader.poll_once() is None
    health = reader.health()
    assert health["card_errors"] == 1 and health["ok"] is True
    badge.garbled = False
    for _ in range(2):  # the card was left READY: the next WUPA puts it back to IDLE
        clock.now += 0.1
        reader.poll_once()
    assert taps == [UID4]
