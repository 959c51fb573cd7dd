"""A virtual MIFARE Classic 1K card: its memory, sector keys and access bits, its ISO 14443-3
state, and the "Crypto1 is on" flag as far as the emulator models it (the cipher itself is not
emulated: the SPI side only ever sees plaintext).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from mocks.mfrc522.frames import (
    MF_ACK,
    MF_NAK,
    PICC_AUTH_A,
    PICC_AUTH_B,
    PICC_CASCADE_TAG,
    PICC_HLTA,
    PICC_READ,
    PICC_REQA,
    PICC_SEL,
    PICC_WRITE,
    PICC_WUPA,
    bcc,
    with_crc,
)


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
