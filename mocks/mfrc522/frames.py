"""ISO 14443-3 type A as both ends see it: the PICC commands, CRC_A and the BCC.

Why a file of its own: the card (:mod:`.card`) and the chip (:mod:`.chip`) both frame and check
these bytes, and neither should own the other's definitions.
"""

from __future__ import annotations

from collections.abc import Sequence

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
