"""The MFRC522 emulator on its own: registers over SPI, card states, MIFARE Classic, and its
fidelity as judged by the stock, unmodified PyPI ``mfrc522`` package."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mocks.mfrc522_chip import (
    COM_IEN_REG,
    COM_IRQ_REG,
    COMMAND_REG,
    CONTROL_REG,
    CRC_RESULT_REG_H,
    CRC_RESULT_REG_L,
    DIV_IRQ_REG,
    ERROR_REG,
    FIFO_DATA_REG,
    FIFO_LEVEL_REG,
    MODE_REG,
    STATUS1_REG,
    STATUS2_REG,
    T_MODE_REG,
    T_PRESCALER_REG,
    T_RELOAD_REG_L,
    TX_CONTROL_REG,
    VERSION_REG,
    WATER_LEVEL_REG,
    CardState,
    FakeSpiDev,
    Mfrc522Chip,
    VirtualCard,
    bcc,
    crc_a,
    fake_pi_modules,
    make_trailer,
    stock_mfrc522,
    with_crc,
)

UID4 = bytes.fromhex("04A1B2C3")
UID7 = bytes.fromhex("04112233445566")

# The stock package inverts bools with ``~``; Python 3.12+ warns about that.
stock = pytest.mark.filterwarnings("ignore:Bitwise inversion:DeprecationWarning")

uids = st.one_of(
    st.binary(min_size=4, max_size=4).filter(lambda u: u[0] != 0x88),
    st.binary(min_size=7, max_size=7).filter(lambda u: u[0] != 0x88),
)


class Spi:
    """Raw register access, written from the datasheet (not from the driver under test)."""

    def __init__(self, chip: Mfrc522Chip) -> None:
        self.spi = FakeSpiDev(chip)
        self.spi.open(0, 0)

    def write(self, reg: int, *values: int) -> None:
        self.spi.xfer2([reg << 1, *values])

    def read(self, *regs: int) -> list[int]:
        return self.spi.xfer2([0x80 | reg << 1 for reg in regs] + [0])[1:]

    def setup(self) -> None:
        self.write(T_MODE_REG, 0x8D)
        self.write(T_PRESCALER_REG, 0x3E)
        self.write(T_RELOAD_REG_L, 30)
        self.write(TX_CONTROL_REG, 0x83)

    def transceive(self, data: bytes, last_bits: int = 0) -> tuple[int, bytes, int]:
        """Returns (ComIrqReg, FIFO contents, RxLastBits)."""
        self.write(COMMAND_REG, 0x00)
        self.write(COM_IRQ_REG, 0x7F)
        self.write(FIFO_LEVEL_REG, 0x80)
        self.write(FIFO_DATA_REG, *data)
        self.write(COMMAND_REG, 0x0C)
        self.write(0x0D, 0x80 | last_bits)
        irq = self.read(COM_IRQ_REG)[0]
        level = self.read(FIFO_LEVEL_REG)[0]
        data_out = bytes(self.read(*[FIFO_DATA_REG] * level)) if level else b""
        return irq, data_out, self.read(CONTROL_REG)[0] & 0x07


@pytest.fixture
def chip() -> Mfrc522Chip:
    return Mfrc522Chip()


@pytest.fixture
def spi(chip: Mfrc522Chip) -> Spi:
    raw = Spi(chip)
    raw.setup()
    return raw


# --- registers -------------------------------------------------------------------------------
def test_register_round_trip_and_multi_read(spi: Spi) -> None:
    spi.write(WATER_LEVEL_REG, 0x11)
    assert spi.read(WATER_LEVEL_REG, VERSION_REG, WATER_LEVEL_REG) == [0x11, 0x92, 0x11]


def test_address_byte_with_bit0_set_is_rejected(chip: Mfrc522Chip) -> None:
    spi = FakeSpiDev(chip)
    with pytest.raises(OSError):
        spi.xfer2([0x80, 0])  # not opened yet
    spi.open(0, 0)
    with pytest.raises(ValueError, match="bit 0"):
        spi.xfer2([0x01, 0])


def test_transfers_are_counted(chip: Mfrc522Chip, spi: Spi) -> None:
    before = chip.spi_transfers
    spi.read(VERSION_REG, VERSION_REG)
    spi.write(FIFO_DATA_REG, 1, 2, 3)
    assert chip.spi_transfers == before + 2


def test_fifo_write_read_flush_and_overflow(spi: Spi) -> None:
    spi.write(FIFO_DATA_REG, 1, 2, 3)
    assert spi.read(FIFO_LEVEL_REG) == [3]
    assert spi.read(FIFO_DATA_REG, FIFO_DATA_REG) == [1, 2]
    spi.write(FIFO_LEVEL_REG, 0x80)
    assert spi.read(FIFO_LEVEL_REG) == [0]
    spi.write(FIFO_DATA_REG, *range(65))
    assert spi.read(FIFO_LEVEL_REG) == [64]
    assert spi.read(ERROR_REG)[0] & 0x10  # BufferOvfl
    assert spi.read(COM_IRQ_REG)[0] & 0x02  # ErrIRq
    spi.write(FIFO_LEVEL_REG, 0x80)
    assert spi.read(ERROR_REG)[0] & 0x10 == 0


def test_irq_register_set1_convention(spi: Spi) -> None:
    spi.write(COM_IRQ_REG, 0x7F)
    assert spi.read(COM_IRQ_REG)[0] & 0x61 == 0
    spi.write(COM_IRQ_REG, 0x80 | 0x21)  # Set1: set the marked bits
    assert spi.read(COM_IRQ_REG)[0] & 0x61 == 0x21
    spi.write(COM_IRQ_REG, 0x01)  # Set1 = 0: clear the marked bits
    assert spi.read(COM_IRQ_REG)[0] & 0x61 == 0x20


def test_status1_after_reset_is_21h(chip: Mfrc522Chip) -> None:
    """MFRC522 datasheet rev 3.9, 9.3.1.8 Status1Reg: reset value 21h (CRCReady, LoAlert).

    CRCOk (bit 6) says the CRC result is zero; after reset the result is FFFFh, so it is 0.
    """
    raw = Spi(chip)
    assert raw.read(STATUS1_REG) == [0x21]
    raw.write(COMMAND_REG, 0x0F)  # SoftReset
    assert raw.read(STATUS1_REG) == [0x21]


@pytest.mark.parametrize(("preset_bits", "preset"), [(0x01, 0x6363), (0x03, 0xFFFF)])
def test_crc_coprocessor(spi: Spi, preset_bits: int, preset: int) -> None:
    spi.write(MODE_REG, 0x3C | preset_bits)
    spi.write(FIFO_DATA_REG, 0x93, 0x70)
    spi.write(COMMAND_REG, 0x03)  # CalcCRC
    assert spi.read(DIV_IRQ_REG)[0] & 0x04
    high, low = spi.read(CRC_RESULT_REG_H, CRC_RESULT_REG_L)
    assert high << 8 | low == crc_a([0x93, 0x70], preset)
    assert spi.read(FIFO_LEVEL_REG) == [0]


def test_crc_a_known_values() -> None:
    assert crc_a(b"123456789") == 0xBF05  # the CRC-16/ISO-IEC-14443-3-A check value
    assert with_crc([0x50, 0x00]) == bytes.fromhex("500057CD")  # HLTA as on the air


def test_no_card_means_timer_irq_only(spi: Spi) -> None:
    irq, data, _ = spi.transceive(b"\x26", 7)
    assert irq & 0x01 and not irq & 0x20
    assert data == b""


def test_no_timer_without_tauto(spi: Spi) -> None:
    spi.write(T_MODE_REG, 0x0D)
    irq, _, _ = spi.transceive(b"\x26", 7)
    assert irq & 0x21 == 0


def test_timer_period_from_registers(chip: Mfrc522Chip, spi: Spi) -> None:
    assert chip.timer_period() == pytest.approx(0.0155, abs=1e-4)


def test_antenna_off_means_no_answer(chip: Mfrc522Chip, spi: Spi) -> None:
    chip.place(VirtualCard(UID4))
    spi.write(TX_CONTROL_REG, 0x80)
    irq, _, _ = spi.transceive(b"\x52", 7)
    assert not irq & 0x20


def test_soft_reset_restores_defaults_and_powers_cards_off(chip: Mfrc522Chip, spi: Spi) -> None:
    card = VirtualCard(UID4)
    chip.place(card)
    spi.transceive(b"\x52", 7)
    assert card.state is CardState.READY
    spi.write(COMMAND_REG, 0x0F)
    assert spi.read(T_MODE_REG, TX_CONTROL_REG) == [0x00, 0x80]
    assert card.state is CardState.IDLE


def test_reset_line_low_powers_down(chip: Mfrc522Chip, spi: Spi) -> None:
    chip.reset_line.off()
    assert spi.read(VERSION_REG) == [0]
    chip.reset_line.on()
    assert spi.read(VERSION_REG, T_MODE_REG) == [0x92, 0x00]


def test_irq_pin_follows_enabled_interrupts(chip: Mfrc522Chip, spi: Spi) -> None:
    levels: list[bool] = []
    chip.on_irq_pin = levels.append
    spi.write(COM_IEN_REG, 0x80 | 0x01)  # TimerIRq on the pin, active low
    spi.transceive(b"\x26", 7)
    assert chip.irq_pin is False
    spi.write(COM_IRQ_REG, 0x7F)
    assert chip.irq_pin is True
    assert levels == [False, True]


def test_clocked_chip_answers_after_the_timer(spi: Spi) -> None:
    now = [0.0]
    chip = Mfrc522Chip(clock=lambda: now[0])
    raw = Spi(chip)
    raw.setup()
    irq, _, _ = raw.transceive(b"\x26", 7)
    assert irq & 0x01 == 0  # the timer is still running
    now[0] += 0.016
    assert raw.read(COM_IRQ_REG)[0] & 0x01


# --- ISO 14443-3 through the chip -------------------------------------------------------------
def test_reqa_atqa_for_4_and_7_byte_uids(chip: Mfrc522Chip, spi: Spi) -> None:
    chip.place(VirtualCard(UID4))
    irq, data, last_bits = spi.transceive(b"\x26", 7)
    assert irq & 0x20 and data == b"\x04\x00" and last_bits == 0
    chip.place(VirtualCard(UID7))
    assert spi.transceive(b"\x26", 7)[1] == b"\x44\x00"


@given(uid=uids)
def test_random_uids_round_trip_through_anticollision_and_select(uid: bytes) -> None:
    chip = Mfrc522Chip()
    spi = Spi(chip)
    spi.setup()
    card = VirtualCard(uid)
    chip.place(card)
    assert spi.transceive(b"\x52", 7)[1]
    got = b""
    for sel in (0x93, 0x95):
        _, chunk, _ = spi.transceive(bytes([sel, 0x20]))
        assert len(chunk) == 5 and bcc(chunk[:4]) == chunk[4]
        _, sak, _ = spi.transceive(with_crc(bytes([sel, 0x70]) + chunk))
        assert with_crc(sak[:1]) == sak
        if not sak[0] & 0x04:
            got += chunk[:4]
            break
        assert chunk[0] == 0x88
        got += chunk[1:4]
    assert got == uid
    assert card.state is CardState.ACTIVE


def test_halt_then_only_wupa_wakes(chip: Mfrc522Chip, spi: Spi) -> None:
    card = VirtualCard(UID4)
    chip.place(card)
    spi.transceive(b"\x26", 7)
    _, chunk, _ = spi.transceive(b"\x93\x20")
    spi.transceive(with_crc(b"\x93\x70" + chunk))
    irq, _, _ = spi.transceive(with_crc(b"\x50\x00"))
    assert card.state is CardState.HALT and irq & 0x01  # HLTA gets no answer
    assert not spi.transceive(b"\x26", 7)[0] & 0x20
    assert spi.transceive(b"\x52", 7)[1] == b"\x04\x00"


def test_reqa_in_ready_state_is_not_answered(chip: Mfrc522Chip, spi: Spi) -> None:
    """The root of the stock package's every-other-read quirk."""
    chip.place(VirtualCard(UID4))
    answers = [bool(spi.transceive(b"\x26", 7)[0] & 0x20) for _ in range(4)]
    assert answers == [True, False, True, False]


def test_wrong_select_sends_the_card_back_to_idle(chip: Mfrc522Chip, spi: Spi) -> None:
    card = VirtualCard(UID4)
    chip.place(card)
    spi.transceive(b"\x26", 7)
    irq, _, _ = spi.transceive(with_crc(b"\x93\x70\x01\x02\x03\x04\x04"))
    assert not irq & 0x20 and card.state is CardState.IDLE


# --- MIFARE Classic, on the card model ----------------------------------------------------------
def _activate(card: VirtualCard) -> None:
    card.power_off()
    assert card.receive(b"\x52", 7, False)
    for sel, chunk in zip((0x93, 0x95), card.levels, strict=False):
        card.receive(with_crc(bytes([sel, 0x70]) + chunk + bytes([bcc(chunk)])), 0, False)
    assert card.state is CardState.ACTIVE


def test_authentication_keys_a_and_b() -> None:
    key_a, key_b = bytes.fromhex("A0A1A2A3A4A5"), bytes.fromhex("B0B1B2B3B4B5")
    card = VirtualCard(UID7, keys={2: (key_a, key_b)})
    _activate(card)
    assert not card.authenticate(0x60, 8, b"\xff" * 6, card.auth_uid)
    assert card.state is CardState.IDLE  # a failed authentication ends the exchange
    _activate(card)
    assert card.authenticate(0x60, 8, key_a, card.auth_uid)
    _activate(card)
    assert card.authenticate(0x61, 9, key_b, card.auth_uid)
    _activate(card)
    assert not card.authenticate(0x61, 9, key_b, UID7[:4])  # 7-byte cards key on UID3..UID6


def test_read_write_need_authentication_and_respect_access_bits() -> None:
    # Blocks 0-2: read A|B, write B only (100); trailer: keys written with B, B unreadable (011).
    read_only_b = bytes.fromhex("787788")
    trailer = make_trailer(b"\xaa" * 6, b"\xbb" * 6, read_only_b + b"\x69")
    card = VirtualCard(UID4, blocks={7: trailer})
    _activate(card)
    assert card.receive(with_crc(b"\x30\x04"), 0, False) == (b"\x04", 4)  # NAK: not authenticated
    _activate(card)
    assert card.authenticate(0x60, 4, b"\xaa" * 6, UID4)
    answer = card.receive(with_crc(b"\x30\x04"), 0, True)
    assert answer == (with_crc(bytes(16)), 0)
    assert card.receive(with_crc(b"\xa0\x04"), 0, True) == (b"\x04", 4)  # key A may not write
    _activate(card)
    assert card.authenticate(0x61, 4, b"\xbb" * 6, UID4)
    assert card.receive(with_crc(b"\xa0\x04"), 0, True) == (b"\x0a", 4)
    assert card.receive(with_crc(b"fablab fabrique!"), 0, True) == (b"\x0a", 4)
    assert card.block(4) == b"fablab fabrique!"
    trailer_read = card.receive(with_crc(b"\x30\x07"), 0, True)
    assert trailer_read is not None
    assert trailer_read[0][:6] == bytes(6)  # key A never reads back


def test_readable_key_b_cannot_be_used() -> None:
    card = VirtualCard(UID4)  # transport configuration: key B is readable with key A
    _activate(card)
    assert card.authenticate(0x61, 4, b"\xff" * 6, UID4)
    assert card.receive(with_crc(b"\x30\x04"), 0, True) == (b"\x04", 4)


def test_plaintext_to_an_authenticated_card_is_noise() -> None:
    card = VirtualCard(UID4)
    _activate(card)
    assert card.authenticate(0x60, 4, b"\xff" * 6, UID4)
    assert card.receive(with_crc(b"\x30\x04"), 0, False) is None
    assert card.state is CardState.IDLE


def _select_over_spi(spi: Spi, uid4: bytes) -> None:
    """REQA, anticollision and select of a 4-byte UID card, as raw frames."""
    spi.transceive(b"\x26", 7)
    spi.transceive(b"\x93\x20")
    spi.transceive(with_crc(b"\x93\x70" + uid4 + bytes([bcc(uid4)])))


def _mf_authent(spi: Spi, block: int, key: bytes, uid4: bytes) -> int:
    """Run MFAuthent with key A; return Status2Reg."""
    spi.write(COMMAND_REG, 0x00)
    spi.write(FIFO_LEVEL_REG, 0x80)
    spi.write(FIFO_DATA_REG, 0x60, block, *key, *uid4)
    spi.write(COMMAND_REG, 0x0E)
    return spi.read(STATUS2_REG)[0]


def test_failed_authentication_clears_crypto1on(chip: Mfrc522Chip, spi: Spi) -> None:
    """MFRC522 datasheet rev 3.9, 9.3.1.9 Status2Reg: MFCrypto1On "can only be set to logic 1
    by a successful execution of the MFAuthent command"; a failed authentication leaves the
    chip without Crypto1 (as 10.3.1.9 MFAuthent describes), so the bit reads 0 again."""
    chip.place(VirtualCard(UID4))
    _select_over_spi(spi, UID4)
    assert _mf_authent(spi, 4, b"\xff" * 6, UID4) & 0x08
    assert not _mf_authent(spi, 4, b"\x00" * 6, UID4) & 0x08


def test_card_rejects_bad_uids() -> None:
    with pytest.raises(ValueError):
        VirtualCard(b"\x01\x02\x03")
    with pytest.raises(ValueError):
        VirtualCard(b"\x88\x01\x02\x03")


# --- fidelity: the stock package on the emulator -------------------------------------------------
@stock
def test_stock_package_reads_uid_and_text() -> None:
    chip = Mfrc522Chip()
    text = b"Fabrique: laser OK".ljust(48)
    chip.place(VirtualCard(UID4, blocks={8: text[:16], 9: text[16:32], 10: text[32:]}))
    with stock_mfrc522(chip) as mfrc522:
        reader = mfrc522.SimpleMFRC522()
        card_id, read_text = reader.read_no_block()
    assert card_id == 0x04A1B2C3D4  # the stock id includes the BCC byte 0xD4
    assert read_text.rstrip() == "Fabrique: laser OK"


@stock
def test_stock_package_writes_text_we_read_back() -> None:
    chip = Mfrc522Chip()
    card = VirtualCard(UID4)
    chip.place(card)
    with stock_mfrc522(chip) as mfrc522:
        reader = mfrc522.SimpleMFRC522()
        card_id, _ = reader.write_no_block("hello")
    assert card_id is not None
    assert card.block(8) == b"hello".ljust(16)


@stock
def test_stock_package_quirks_are_reproduced() -> None:
    chip = Mfrc522Chip()
    chip.place(VirtualCard(UID4))
    with stock_mfrc522(chip) as mfrc522:
        reader = mfrc522.SimpleMFRC522()
        ids = [reader.read_id_no_block() for _ in range(4)]
        assert ids == [0x04A1B2C3D4, None, 0x04A1B2C3D4, None]
        chip.place(VirtualCard(UID7))
        seven = reader.read_id_no_block()
        chip.remove()
        before = chip.spi_transfers
        assert reader.read_id_no_block() is None
        empty_poll = chip.spi_transfers - before
    assert seven is not None and seven >> 32 == 0x88  # cascade tag + 3 bytes + BCC
    assert empty_poll > 2000  # the wait loop ignores TimerIRq


@stock
def test_stock_modules_are_restored() -> None:
    chip = Mfrc522Chip()
    saved = sys.modules.get("spidev")
    with fake_pi_modules(chip) as (spidev, gpio):
        assert sys.modules["spidev"] is spidev
        assert sys.modules["RPi.GPIO"] is gpio
    assert sys.modules.get("spidev") is saved
    assert "mfrc522" not in sys.modules
