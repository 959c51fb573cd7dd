"""A register-level MFRC522 behind a fake ``spidev.SpiDev``, with virtual MIFARE Classic cards.

Why: the RFID driver must be tested without a Pi, and a fake that only answers "UID = X" would
not catch the bugs that matter on real hardware (a wait loop that ignores the timer interrupt, a
missing cascade level, a card left in the wrong ISO 14443-3 state). So this emulates the chip the
way the datasheet (NXP MFRC522 rev. 3.9) describes it, as seen from the SPI bus:

- SPI framing: address byte ``(reg << 1) & 0x7E`` with bit 7 set for a read; one transfer may read
  several registers (``[a1|0x80, a2|0x80, ..., 0]``) or write several bytes to one register
  (``[a, d1, d2, ...]``, how the FIFO is filled in one go).
- the 64-byte FIFO and ``FIFOLevelReg`` (flush, overflow), ``ComIrqReg``/``DivIrqReg`` with the
  Set1/Set2 write convention, ``ErrorReg``, ``Status1Reg`` and ``Status2Reg`` (ModemState,
  MFCrypto1On), ``ControlReg.RxLastBits``, ``BitFramingReg`` (StartSend, TxLastBits);
- the commands Idle, CalcCRC (the CRC coprocessor with ``ModeReg`` presets), Transmit, Transceive,
  MFAuthent and SoftReset; the timer (prescaler and reload registers, ``TAuto``) that raises
  ``TimerIRq`` when no card answers; the antenna switch (cards lose power when it is off); the
  NRSTPD reset line and the IRQ pin (inverted / open-drain as configured);
- cards (:class:`VirtualCard`) with 4-, 7- or 10-byte UIDs and the ISO 14443-3 states (IDLE, READY,
  ACTIVE, HALT and their "*" twins): REQA/WUPA, anticollision and select at every cascade level,
  HLTA; MIFARE Classic 1K authentication with key A or B (checked against the sector trailer),
  block read and write under the access bits.

Not emulated: Crypto1 itself (the SPI side only ever sees plaintext, so the emulator keeps a flag
for "the link is encrypted" on both ends and a mismatch garbles the frame, as it would on the
air), several cards in the field at once (so no collisions), bit-oriented anticollision frames,
value blocks, the Mem/RandomID/Receive commands and the analogue registers (stored, not acted on).

Time: with ``clock=None`` the chip answers instantly (a card's answer or the timer's expiry is
visible on the next register read), which keeps transfer counts exact and tests free of sleeps.
With a clock, answers become visible after a realistic delay and the timer expires after the
period its registers give, so a driver's wait loop can be exercised against time.

Example::

    chip = Mfrc522Chip()
    chip.place(VirtualCard(bytes.fromhex("04A1B2C3")))
    spi = FakeSpiDev(chip)
    with stock_mfrc522(chip) as mfrc522:      # the unmodified PyPI package, on this chip
        print(mfrc522.SimpleMFRC522().read_id_no_block())
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from enum import Enum
from typing import Any

# --- registers (datasheet names) -------------------------------------------------------------
COMMAND_REG = 0x01
COM_IEN_REG = 0x02
DIV_IEN_REG = 0x03
COM_IRQ_REG = 0x04
DIV_IRQ_REG = 0x05
ERROR_REG = 0x06
STATUS1_REG = 0x07
STATUS2_REG = 0x08
FIFO_DATA_REG = 0x09
FIFO_LEVEL_REG = 0x0A
WATER_LEVEL_REG = 0x0B
CONTROL_REG = 0x0C
BIT_FRAMING_REG = 0x0D
COLL_REG = 0x0E
MODE_REG = 0x11
TX_MODE_REG = 0x12
RX_MODE_REG = 0x13
TX_CONTROL_REG = 0x14
TX_ASK_REG = 0x15
CRC_RESULT_REG_H = 0x21
CRC_RESULT_REG_L = 0x22
T_MODE_REG = 0x2A
T_PRESCALER_REG = 0x2B
T_RELOAD_REG_H = 0x2C
T_RELOAD_REG_L = 0x2D
T_COUNTER_VAL_REG_H = 0x2E
T_COUNTER_VAL_REG_L = 0x2F
VERSION_REG = 0x37

# --- commands (CommandReg bits 3:0) ------------------------------------------------------------
CMD_IDLE = 0x00
CMD_MEM = 0x01
CMD_GENERATE_RANDOM_ID = 0x02
CMD_CALC_CRC = 0x03
CMD_TRANSMIT = 0x04
CMD_NO_CMD_CHANGE = 0x07
CMD_RECEIVE = 0x08
CMD_TRANSCEIVE = 0x0C
CMD_MF_AUTHENT = 0x0E
CMD_SOFT_RESET = 0x0F

# --- interrupt and error bits -------------------------------------------------------------------
TX_IRQ = 0x40
RX_IRQ = 0x20
IDLE_IRQ = 0x10
HI_ALERT_IRQ = 0x08
LO_ALERT_IRQ = 0x04
ERR_IRQ = 0x02
TIMER_IRQ = 0x01
CRC_IRQ = 0x04  # DivIrqReg

ERR_WR = 0x80
ERR_TEMP = 0x40
ERR_BUFFER_OVFL = 0x10
ERR_COLL = 0x08
ERR_CRC = 0x04
ERR_PARITY = 0x02
ERR_PROTOCOL = 0x01

STATUS2_CRYPTO1_ON = 0x08

# --- PICC (card) commands -----------------------------------------------------------------------
PICC_REQA = 0x26
PICC_WUPA = 0x52
PICC_SEL = (0x93, 0x95, 0x97)  # cascade levels 1, 2, 3
PICC_CASCADE_TAG = 0x88
PICC_HLTA = 0x50
PICC_AUTH_A = 0x60
PICC_AUTH_B = 0x61
PICC_READ = 0x30
PICC_WRITE = 0xA0
MF_ACK = 0x0A
MF_NAK = 0x04

FIFO_SIZE = 64
CARRIER_HZ = 13.56e6
ANSWER_DELAY_S = 0.0005
"""With a clock: how long after StartSend a card's answer is complete (REQA + ATQA take ~0.3 ms)."""

RESET_VALUES: dict[int, int] = {
    COMMAND_REG: 0x20,
    COM_IEN_REG: 0x80,
    COM_IRQ_REG: 0x14,
    WATER_LEVEL_REG: 0x08,
    CONTROL_REG: 0x10,
    COLL_REG: 0xA0,
    MODE_REG: 0x3F,
    TX_CONTROL_REG: 0x80,
    0x16: 0x10,  # TxSelReg
    0x17: 0x84,  # RxSelReg
    0x18: 0x84,  # RxThresholdReg
    0x19: 0x4D,  # DemodReg
    0x1C: 0x62,  # MfTxReg
    0x1F: 0xEB,  # SerialSpeedReg
    CRC_RESULT_REG_H: 0xFF,
    CRC_RESULT_REG_L: 0xFF,
    0x24: 0x26,  # ModWidthReg
    0x26: 0x48,  # RFCfgReg
    0x27: 0x88,  # GsNReg
    0x28: 0x20,  # CWGsPReg
    0x29: 0x20,  # ModGsPReg
}

CRC_PRESETS = (0x0000, 0x6363, 0xA671, 0xFFFF)


def crc_a(data: Sequence[int] | bytes, preset: int = 0x6363) -> int:
    """CRC_A of ISO 14443-3 (CRC-16/ISO-IEC-14443-3-A); send it low byte first."""
    crc = preset
    for byte in data:
        b = (byte ^ crc) & 0xFF
        b = (b ^ (b << 4)) & 0xFF
        crc = (crc >> 8) ^ (b << 8) ^ (b << 3) ^ (b >> 4)
    return crc & 0xFFFF


def with_crc(data: Sequence[int] | bytes) -> bytes:
    """``data`` followed by its CRC_A, low byte first."""
    crc = crc_a(data)
    return bytes(data) + bytes((crc & 0xFF, crc >> 8))


def bcc(data: Sequence[int] | bytes) -> int:
    """Block check character of an anticollision answer: XOR of the four bytes."""
    out = 0
    for byte in data:
        out ^= byte
    return out


# --- cards --------------------------------------------------------------------------------------
class CardState(Enum):
    """ISO 14443-3 type A states (AUTH is MIFARE Classic's authenticated ACTIVE state)."""

    IDLE = "idle"
    READY = "ready"
    ACTIVE = "active"
    AUTH = "auth"
    HALT = "halt"


DEFAULT_KEY = b"\xff" * 6
TRANSPORT_ACCESS = bytes.fromhex("FF078069")
"""Access bits and GPB of a new card: data blocks read/write with A or B, trailer as shipped."""

# (c1, c2, c3) -> (read, write) for data blocks; "A", "B", "AB" or "" (never).
_DATA_ACCESS: dict[tuple[int, int, int], tuple[str, str]] = {
    (0, 0, 0): ("AB", "AB"),
    (0, 1, 0): ("AB", ""),
    (1, 0, 0): ("AB", "B"),
    (1, 1, 0): ("AB", "B"),
    (0, 0, 1): ("AB", ""),
    (0, 1, 1): ("B", "B"),
    (1, 0, 1): ("B", ""),
    (1, 1, 1): ("", ""),
}
# (c1, c2, c3) -> (write key A, read access bits, write access bits, read key B, write key B)
_TRAILER_ACCESS: dict[tuple[int, int, int], tuple[str, str, str, str, str]] = {
    (0, 0, 0): ("A", "A", "", "A", "A"),
    (0, 1, 0): ("", "A", "", "A", ""),
    (1, 0, 0): ("B", "AB", "", "", "B"),
    (1, 1, 0): ("", "AB", "", "", ""),
    (0, 0, 1): ("A", "A", "A", "A", "A"),
    (0, 1, 1): ("B", "AB", "B", "", "B"),
    (1, 0, 1): ("", "AB", "B", "", ""),
    (1, 1, 1): ("", "AB", "", "", ""),
}


def access_bits(trailer: bytes, block_in_sector: int) -> tuple[int, int, int] | None:
    """The (C1, C2, C3) bits of one block from a sector trailer; ``None`` if they are corrupt."""
    b6, b7, b8 = trailer[6], trailer[7], trailer[8]
    c1, c2, c3 = b7 >> 4, b8 & 0x0F, b8 >> 4
    if (b6 & 0x0F) != (~c1 & 0x0F) or (b6 >> 4) != (~c2 & 0x0F) or (b7 & 0x0F) != (~c3 & 0x0F):
        return None
    i = block_in_sector
    return (c1 >> i) & 1, (c2 >> i) & 1, (c3 >> i) & 1


def make_trailer(
    key_a: bytes = DEFAULT_KEY, key_b: bytes = DEFAULT_KEY, access: bytes = TRANSPORT_ACCESS
) -> bytes:
    """A sector trailer: key A, access bits + general purpose byte, key B."""
    if len(key_a) != 6 or len(key_b) != 6 or len(access) != 4:
        raise ValueError("keys are 6 bytes and access bits 4 bytes")
    return bytes(key_a) + bytes(access) + bytes(key_b)


class VirtualCard:
    """A MIFARE Classic 1K card (64 blocks of 16 bytes, 16 sectors) with a 4-, 7- or 10-byte UID.

    ``blocks`` overrides any block (trailers included); ``keys`` maps a sector to ``(key_a, key_b)``
    with the transport access bits. Block 0 is the read-only manufacturer block.
    """

    BLOCKS = 64

    def __init__(
        self,
        uid: bytes,
        *,
        blocks: Mapping[int, bytes] | None = None,
        keys: Mapping[int, tuple[bytes, bytes]] | None = None,
        sak: int = 0x08,
    ) -> None:
        uid = bytes(uid)
        if len(uid) not in (4, 7, 10):
            raise ValueError(f"a UID is 4, 7 or 10 bytes, not {len(uid)}")
        if uid[0] == PICC_CASCADE_TAG:
            raise ValueError("a UID may not start with the cascade tag 0x88")
        if len(uid) == 10 and uid[3] == PICC_CASCADE_TAG:
            raise ValueError("byte 3 of a 10-byte UID may not be the cascade tag 0x88")
        self.uid = uid
        self.sak = sak & ~0x04
        self.atqa = bytes(({4: 0x04, 7: 0x44, 10: 0x84}[len(uid)], 0x00))
        self.blocks: list[bytearray] = [bytearray(16) for _ in range(self.BLOCKS)]
        for sector in range(self.BLOCKS // 4):
            self.blocks[sector * 4 + 3][:] = make_trailer()
        maker = uid + bytes([bcc(uid)]) if len(uid) == 4 else uid
        self.blocks[0][:] = (maker + bytes([self.sak]) + self.atqa + b"fabrique-emu")[:16]
        for sector, (key_a, key_b) in (keys or {}).items():
            self.blocks[sector * 4 + 3][:] = make_trailer(key_a, key_b)
        for number, data in (blocks or {}).items():
            if len(data) != 16:
                raise ValueError(f"block {number} must be 16 bytes")
            self.blocks[number][:] = data
        self.state = CardState.IDLE
        self._from_halt = False
        self._level = 0
        self._auth: tuple[int, str] | None = None
        self._pending_write: int | None = None
        self.frames_received = 0

    def __repr__(self) -> str:
        return f"VirtualCard({self.uid.hex().upper()}, {self.state.value})"

    # -- what the reader sees --
    @property
    def levels(self) -> list[bytes]:
        """The 4-byte chunk answered at each cascade level (cascade tag first when incomplete)."""
        u = self.uid
        if len(u) == 4:
            return [u]
        if len(u) == 7:
            return [bytes([PICC_CASCADE_TAG]) + u[:3], u[3:]]
        return [bytes([PICC_CASCADE_TAG]) + u[:3], bytes([PICC_CASCADE_TAG]) + u[3:6], u[6:]]

    @property
    def auth_uid(self) -> bytes:
        """The four UID bytes Crypto1 is keyed with: the UID, or the last level's four bytes."""
        return self.uid[-4:]

    def block(self, number: int) -> bytes:
        return bytes(self.blocks[number])

    def power_off(self) -> None:
        """The field went away: the card forgets everything but its memory."""
        self.state = CardState.IDLE
        self._from_halt = False
        self._level = 0
        self._auth = None
        self._pending_write = None

    def _fail(self) -> None:
        """An unexpected frame: back to IDLE, or HALT if the card was woken from HALT."""
        self.state = CardState.HALT if self._from_halt else CardState.IDLE
        self._level = 0
        self._auth = None
        self._pending_write = None

    def receive(self, data: bytes, last_bits: int, encrypted: bool) -> tuple[bytes, int] | None:
        """Handle one frame from the reader; answer ``(bytes, valid bits in last byte)`` or None."""
        self.frames_received += 1
        state = self.state
        if encrypted != (state is CardState.AUTH):
            # One side encrypts and the other does not: the card hears noise.
            if state in (CardState.READY, CardState.ACTIVE, CardState.AUTH):
                self._fail()
            return None
        if last_bits == 7 and len(data) == 1:
            return self._short_frame(data[0] & 0x7F)
        if last_bits != 0:
            if state not in (CardState.IDLE, CardState.HALT):
                self._fail()
            return None
        if state is CardState.READY:
            return self._ready(data)
        if state in (CardState.ACTIVE, CardState.AUTH):
            return self._active(data)
        return None

    def _short_frame(self, command: int) -> tuple[bytes, int] | None:
        state = self.state
        woken = (state is CardState.IDLE and command in (PICC_REQA, PICC_WUPA)) or (
            state is CardState.HALT and command == PICC_WUPA
        )
        if woken:
            self._from_halt = state is CardState.HALT
            self.state = CardState.READY
            self._level = 0
            return self.atqa, 0
        if state not in (CardState.IDLE, CardState.HALT):
            self._fail()
        return None

    def _ready(self, data: bytes) -> tuple[bytes, int] | None:
        if not data or data[0] != PICC_SEL[self._level] or len(data) < 2:
            self._fail()
            return None
        chunk = self.levels[self._level]
        if len(data) == 2 and data[1] == 0x20:
            return chunk + bytes([bcc(chunk)]), 0
        if len(data) == 9 and data[1] == 0x70:
            if with_crc(data[:7]) != data or data[2:6] != chunk or data[6] != bcc(chunk):
                self._fail()
                return None
            if self._level < len(self.levels) - 1:
                self._level += 1
                return with_crc([0x04]), 0
            self.state = CardState.ACTIVE
            return with_crc([self.sak]), 0
        return None  # bit-oriented anticollision frame: not emulated, the card stays READY

    def _nak(self) -> tuple[bytes, int]:
        self._fail()
        return bytes([MF_NAK]), 4

    def _active(self, data: bytes) -> tuple[bytes, int] | None:
        if self._pending_write is not None:
            number, self._pending_write = self._pending_write, None
            if len(data) != 18 or with_crc(data[:16]) != data:
                return self._nak()
            self._store(number, data[:16])
            return bytes([MF_ACK]), 4
        if len(data) < 3 or with_crc(data[:-2]) != data:
            self._fail()
            return None
        command = data[0]
        if command == PICC_HLTA and len(data) == 4 and data[1] == 0:
            self.state = CardState.HALT
            self._level = 0
            self._auth = None
            self._from_halt = True
            return None
        if command in (PICC_READ, PICC_WRITE) and len(data) == 4:
            number = data[1]
            if self._auth is None or number >= self.BLOCKS or number // 4 != self._auth[0]:
                return self._nak()
            if command == PICC_READ:
                if not self._allowed(number, "read"):
                    return self._nak()
                return with_crc(self._read(number)), 0
            if number == 0 or not self._allowed(number, "write"):
                return self._nak()
            self._pending_write = number
            return bytes([MF_ACK]), 4
        self._fail()
        return None

    def authenticate(self, command: int, number: int, key: bytes, uid4: bytes) -> bool:
        """MFAuthent as the card sees it: right state, right UID, right key for the sector."""
        if self.state not in (CardState.ACTIVE, CardState.AUTH):
            if self.state is CardState.READY:
                self._fail()
            return False
        if command not in (PICC_AUTH_A, PICC_AUTH_B) or number >= self.BLOCKS:
            self._fail()
            return False
        trailer = self.blocks[number // 4 * 4 + 3]
        key_type = "A" if command == PICC_AUTH_A else "B"
        expected = trailer[0:6] if key_type == "A" else trailer[10:16]
        if uid4 != self.auth_uid or key != expected:
            self._fail()
            return False
        self.state = CardState.AUTH
        self._auth = (number // 4, key_type)
        self._pending_write = None
        return True

    def _allowed(self, number: int, operation: str) -> bool:
        assert self._auth is not None
        sector, key_type = self._auth
        trailer = bytes(self.blocks[sector * 4 + 3])
        trailer_bits = access_bits(trailer, 3)
        if trailer_bits is None:
            return False
        if key_type == "B" and "A" in _TRAILER_ACCESS[trailer_bits][3]:
            return False  # key B is readable, so it cannot be used as a key
        if number % 4 == 3:
            return True  # per-field rights are applied in _read / _store
        bits = access_bits(trailer, number % 4)
        if bits is None:
            return False
        read, write = _DATA_ACCESS[bits]
        return key_type in (read if operation == "read" else write)

    def _read(self, number: int) -> bytes:
        data = bytes(self.blocks[number])
        if number % 4 != 3:
            return data
        assert self._auth is not None
        key_type = self._auth[1]
        bits = access_bits(data, 3)
        rights = _TRAILER_ACCESS[bits] if bits else ("", "", "", "", "")
        access = data[6:10] if key_type in rights[1] else bytes(4)
        key_b = data[10:16] if key_type in rights[3] else bytes(6)
        return bytes(6) + access + key_b  # key A is never readable

    def _store(self, number: int, data: bytes) -> None:
        if number % 4 != 3:
            self.blocks[number][:] = data
            return
        assert self._auth is not None
        key_type = self._auth[1]
        bits = access_bits(bytes(self.blocks[number]), 3)
        rights = _TRAILER_ACCESS[bits] if bits else ("", "", "", "", "")
        block = self.blocks[number]
        if key_type in rights[0]:
            block[0:6] = data[0:6]
        if key_type in rights[2]:
            block[6:10] = data[6:10]
        if key_type in rights[4]:
            block[10:16] = data[10:16]


# --- the chip -----------------------------------------------------------------------------------
class ResetLine:
    """The chip's NRSTPD pin, shaped like a gpiozero ``DigitalOutputDevice`` (on = running)."""

    def __init__(self, chip: Mfrc522Chip) -> None:
        self._chip = chip

    @property
    def value(self) -> int:
        return int(self._chip.powered)

    def on(self) -> None:
        self._chip.set_reset_pin(True)

    def off(self) -> None:
        self._chip.set_reset_pin(False)

    def close(self) -> None:
        pass


class Mfrc522Chip:
    """One MFRC522 and the RF field in front of it (at most one card at a time).

    Thread-safe: a lock serialises SPI transfers and ``place``/``remove``, as the real bus would.
    """

    def __init__(self, *, clock: Callable[[], float] | None = None, version: int = 0x92) -> None:
        self._clock = clock
        self._version = version
        self._lock = threading.RLock()
        self.card: VirtualCard | None = None
        self.powered = True
        self.spi_transfers = 0
        self.spi_bytes = 0
        self.frames_sent = 0
        self.on_irq_pin: Callable[[bool], None] | None = None
        """Called with the IRQ pin's new level (True = high) whenever it changes."""
        self.reset_line = ResetLine(self)
        self._irq_level = True
        self._hard_reset()

    # -- test-facing controls --
    def place(self, card: VirtualCard) -> None:
        """Put ``card`` in the field (replacing any other); it powers up in IDLE."""
        with self._lock:
            card.power_off()
            self.card = card

    def remove(self) -> None:
        """Take the card out of the field."""
        with self._lock:
            if self.card is not None:
                self.card.power_off()
            self.card = None

    @property
    def field_on(self) -> bool:
        return self.powered and bool(self._regs[TX_CONTROL_REG] & 0x03)

    @property
    def irq_pin(self) -> bool:
        """The IRQ pin's level (True = high). Active low by default (ComIEnReg.IRqInv = 1)."""
        return self._irq_level

    def attach_irq_pin(self, pin: Any) -> None:
        """Drive a gpiozero ``MockPin`` (``drive_high``/``drive_low``) from the IRQ output."""

        def follow(level: bool) -> None:
            if level:
                pin.drive_high()
            else:
                pin.drive_low()

        self.on_irq_pin = follow
        follow(self._irq_level)

    def set_reset_pin(self, high: bool) -> None:
        """NRSTPD: low powers the chip down (field off); a rising edge is a hard reset."""
        with self._lock:
            if high and not self.powered:
                self.powered = True
                self._hard_reset()
            elif not high and self.powered:
                self.powered = False
                self._pending.clear()
                self._field_changed()

    def tick(self) -> None:
        """Let due events (a card's answer, the timer) happen without an SPI transfer."""
        with self._lock:
            self._advance()

    # -- SPI --
    def transfer(self, data: Sequence[int]) -> list[int]:
        """One SPI transaction (chip select held for the whole list)."""
        with self._lock:
            self.spi_transfers += 1
            self.spi_bytes += len(data)
            out = [0] * len(data)
            if not self.powered or not data:
                return out
            self._advance()
            first = data[0]
            if first & 0x01:
                raise ValueError(f"SPI address byte {first:#04x}: bit 0 must be 0")
            if first & 0x80:
                for i, byte in enumerate(data[:-1]):
                    if not byte & 0x80 or byte & 0x01:
                        raise ValueError(f"byte {i} of a read transfer is not a read address")
                    out[i + 1] = self._read(byte >> 1 & 0x3F)
            else:
                reg = first >> 1 & 0x3F
                for value in data[1:]:
                    self._write(reg, value & 0xFF)
            return out

    # -- registers --
    def _hard_reset(self) -> None:
        self._regs = [0] * 64
        for reg, value in RESET_VALUES.items():
            self._regs[reg] = value
        self._fifo: list[int] = []
        self._pending: list[tuple[float, Callable[[], None]]] = []
        self._crypto1 = False
        self._crc: int | None = None
        self._timer_running = False
        self._modem = 0
        if self.card is not None:
            self.card.power_off()
        self._update_irq()

    @property
    def _command(self) -> int:
        return self._regs[COMMAND_REG] & 0x0F

    def _read(self, reg: int) -> int:
        regs = self._regs
        if reg == FIFO_DATA_REG:
            value = self._fifo.pop(0) if self._fifo else 0
            self._fifo_changed()
            return value
        if reg == FIFO_LEVEL_REG:
            return len(self._fifo)
        if reg in (COM_IRQ_REG, DIV_IRQ_REG):
            return regs[reg] & 0x7F
        if reg == STATUS1_REG:
            water = regs[WATER_LEVEL_REG] & 0x3F
            crc_ready = self._crc is not None or self._command != CMD_CALC_CRC
            value = 0x20 if crc_ready else 0  # CRCReady
            # CRCOk: the CRC result is zero (datasheet 9.3.1.8), so not after reset (FFFFh).
            crc_zero = regs[CRC_RESULT_REG_H] == 0 and regs[CRC_RESULT_REG_L] == 0
            value |= 0x40 if crc_ready and crc_zero else 0
            value |= 0x10 if self._irq_active() else 0
            value |= 0x08 if self._timer_running else 0
            value |= 0x02 if FIFO_SIZE - len(self._fifo) <= water else 0
            value |= 0x01 if len(self._fifo) <= water else 0
            return value
        if reg == STATUS2_REG:
            return (regs[reg] & 0xC0) | (STATUS2_CRYPTO1_ON if self._crypto1 else 0) | self._modem
        if reg == CONTROL_REG:
            return regs[reg] & 0x17
        if reg == VERSION_REG:
            return self._version
        if reg in (T_COUNTER_VAL_REG_H, T_COUNTER_VAL_REG_L):
            return 0
        return regs[reg]

    def _write(self, reg: int, value: int) -> None:
        regs = self._regs
        if reg == FIFO_DATA_REG:
            if self._command == CMD_CALC_CRC:
                self._fifo.append(value)
                self._run_crc()
            elif len(self._fifo) >= FIFO_SIZE:
                self._set_error(ERR_BUFFER_OVFL)
            else:
                self._fifo.append(value)
                self._fifo_changed()
        elif reg == FIFO_LEVEL_REG:
            if value & 0x80:
                self._fifo.clear()
                regs[ERROR_REG] &= ~ERR_BUFFER_OVFL
                self._fifo_changed()
        elif reg in (COM_IRQ_REG, DIV_IRQ_REG):
            if value & 0x80:
                regs[reg] |= value & 0x7F
            else:
                regs[reg] &= ~value & 0x7F
            self._update_irq()
        elif reg in (COM_IEN_REG, DIV_IEN_REG):
            regs[reg] = value
            self._update_irq()
        elif reg == STATUS2_REG:
            regs[reg] = value & 0xC0
            if not value & STATUS2_CRYPTO1_ON:
                self._crypto1 = False
        elif reg == COMMAND_REG:
            regs[reg] = (regs[reg] & 0x0F) | (value & 0x30)
            if (value & 0x0F) != CMD_NO_CMD_CHANGE:
                self._start_command(value & 0x0F)
        elif reg == BIT_FRAMING_REG:
            regs[reg] = value & 0x77
            if value & 0x80 and self._command == CMD_TRANSCEIVE:
                self._transmit(expect_answer=True)
        elif reg == CONTROL_REG:
            if value & 0x80:  # TStopNow
                self._timer_running = False
                self._pending = [(t, f) for t, f in self._pending if f != self._timer_expired]
            if value & 0x40:  # TStartNow
                self._start_timer()
        elif reg == TX_CONTROL_REG:
            regs[reg] = value
            self._field_changed()
        elif reg in (ERROR_REG, STATUS1_REG, VERSION_REG):
            pass  # read-only
        else:
            regs[reg] = value

    def _fifo_changed(self) -> None:
        water = self._regs[WATER_LEVEL_REG] & 0x3F
        level = len(self._fifo)
        if level <= water:
            self._regs[COM_IRQ_REG] |= LO_ALERT_IRQ
        if FIFO_SIZE - level <= water:
            self._regs[COM_IRQ_REG] |= HI_ALERT_IRQ
        self._update_irq()

    def _set_irq(self, bits: int) -> None:
        self._regs[COM_IRQ_REG] |= bits
        self._update_irq()

    def _set_error(self, bits: int) -> None:
        self._regs[ERROR_REG] |= bits
        self._set_irq(ERR_IRQ)

    def _irq_active(self) -> bool:
        regs = self._regs
        com = regs[COM_IRQ_REG] & regs[COM_IEN_REG] & 0x7F
        div = regs[DIV_IRQ_REG] & regs[DIV_IEN_REG] & 0x14
        return bool(com or div)

    def _update_irq(self) -> None:
        inverted = bool(self._regs[COM_IEN_REG] & 0x80)
        level = self._irq_active() != inverted
        if level != self._irq_level:
            self._irq_level = level
            if self.on_irq_pin is not None:
                self.on_irq_pin(level)

    def _field_changed(self) -> None:
        if not self.field_on and self.card is not None:
            self.card.power_off()

    # -- time --
    def _now(self) -> float:
        return self._clock() if self._clock is not None else 0.0

    def _later(self, delay: float, action: Callable[[], None]) -> None:
        if self._clock is None:
            action()
        else:
            self._pending.append((self._clock() + delay, action))
            self._pending.sort(key=lambda item: item[0])
            if self.on_irq_pin is not None:
                # Someone listens to the IRQ pin: make the event happen without an SPI transfer.
                timer = threading.Timer(delay, self.tick)
                timer.daemon = True
                timer.start()

    def _advance(self) -> None:
        if self._clock is None:
            return
        now = self._clock()
        while self._pending and self._pending[0][0] <= now:
            _, action = self._pending.pop(0)
            action()

    def timer_period(self) -> float:
        """Seconds from timer start to TimerIRq, from TModeReg, TPrescalerReg and TReloadReg."""
        regs = self._regs
        prescaler = (regs[T_MODE_REG] & 0x0F) << 8 | regs[T_PRESCALER_REG]
        reload = regs[T_RELOAD_REG_H] << 8 | regs[T_RELOAD_REG_L]
        return (2 * prescaler + 1) * (reload + 1) / CARRIER_HZ

    def _start_timer(self) -> None:
        self._timer_running = True
        self._pending = [(t, f) for t, f in self._pending if f != self._timer_expired]
        self._later(self.timer_period(), self._timer_expired)

    def _timer_expired(self) -> None:
        self._timer_running = False
        self._set_irq(TIMER_IRQ)

    # -- commands --
    def _start_command(self, command: int) -> None:
        regs = self._regs
        self._pending.clear()
        self._timer_running = False
        self._crc = None
        self._modem = 0
        regs[COMMAND_REG] = (regs[COMMAND_REG] & 0x30) | CMD_IDLE
        if command == CMD_SOFT_RESET:
            self._hard_reset()
            return
        if command == CMD_IDLE:
            return
        regs[COMMAND_REG] = (regs[COMMAND_REG] & 0x30) | command
        regs[ERROR_REG] &= ERR_BUFFER_OVFL | ERR_TEMP
        if command == CMD_CALC_CRC:
            self._crc = CRC_PRESETS[regs[MODE_REG] & 0x03]
            self._run_crc()
        elif command == CMD_TRANSMIT:
            self._transmit(expect_answer=False)
        elif command == CMD_TRANSCEIVE:
            self._modem = 0x01  # waiting for StartSend
        elif command == CMD_MF_AUTHENT:
            self._authenticate()
        elif command == CMD_RECEIVE:
            self._modem = 0x04 if self._regs[T_MODE_REG] & 0x80 else self._modem
        else:
            self._finish()  # Mem, GenerateRandomID and unknown commands: done at once

    def _finish(self) -> None:
        """The command terminated by itself: back to Idle with IdleIRq."""
        self._regs[COMMAND_REG] &= 0x30
        self._modem = 0
        self._set_irq(IDLE_IRQ)

    def _run_crc(self) -> None:
        assert self._crc is not None
        self._crc = crc_a(self._fifo, self._crc)
        self._fifo.clear()
        self._fifo_changed()
        self._regs[CRC_RESULT_REG_H] = self._crc >> 8
        self._regs[CRC_RESULT_REG_L] = self._crc & 0xFF
        self._regs[DIV_IRQ_REG] |= CRC_IRQ
        self._update_irq()

    def _transmit(self, *, expect_answer: bool) -> None:
        regs = self._regs
        data = bytes(self._fifo)
        self._fifo.clear()
        self._fifo_changed()
        last_bits = regs[BIT_FRAMING_REG] & 0x07
        if regs[TX_MODE_REG] & 0x80 and last_bits == 0:
            data = with_crc(data)
        self.frames_sent += 1
        answer = None
        if self.field_on and self.card is not None and data:
            answer = self.card.receive(data, last_bits, self._crypto1)
        self._set_irq(TX_IRQ)
        if not expect_answer:
            self._finish()
            return
        self._modem = 0x04  # waiting for the card
        if answer is None:
            if regs[T_MODE_REG] & 0x80:  # TAuto: the timer starts at the end of transmission
                self._start_timer()
            return
        self._later(ANSWER_DELAY_S, lambda: self._receive(*answer))

    def _receive(self, data: bytes, last_bits: int) -> None:
        regs = self._regs
        if regs[RX_MODE_REG] & 0x80 and last_bits == 0:
            if len(data) < 3 or with_crc(data[:-2]) != data:
                regs[ERROR_REG] |= ERR_CRC
                self._regs[COM_IRQ_REG] |= ERR_IRQ
            data = data[:-2]
        for byte in data:
            if len(self._fifo) >= FIFO_SIZE:
                regs[ERROR_REG] |= ERR_BUFFER_OVFL
                self._regs[COM_IRQ_REG] |= ERR_IRQ
                break
            self._fifo.append(byte)
        regs[CONTROL_REG] = (regs[CONTROL_REG] & ~0x07) | last_bits
        self._modem = 0x01  # Transceive waits for the next StartSend
        self._fifo_changed()
        self._set_irq(RX_IRQ)

    def _authenticate(self) -> None:
        data = bytes(self._fifo)
        self._fifo.clear()
        self._fifo_changed()
        if len(data) != 12:
            self._crypto1 = False
            self._set_error(ERR_PROTOCOL)
            self._finish()
            return
        ok = (
            self.field_on
            and self.card is not None
            and self.card.authenticate(data[0], data[1], data[2:8], data[8:12])
        )
        if ok:

            def done() -> None:
                self._crypto1 = True
                self._finish()

            self._later(ANSWER_DELAY_S, done)
            return
        self._crypto1 = False  # a failed authentication switches Crypto1 off (datasheet 9.3.1.9)
        if self._regs[T_MODE_REG] & 0x80:
            self._start_timer()  # MFAuthent does not end by itself when the card is silent


# --- fake spidev and RPi.GPIO ---------------------------------------------------------------------
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


# --- badges for the anti-clone check -------------------------------------------------------------
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
