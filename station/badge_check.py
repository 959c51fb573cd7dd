"""The anti-clone check for MIFARE Classic badges: pure functions on the standard library.

A prepared card holds, in the first block of one sector (``[reader] badge_sector``), a value
derived from its UID and a site secret::

    value  = HMAC-SHA256(secret, "fabrique/badge-value/v1" || uid)[:16]
    key A  = HMAC-SHA256(secret, "fabrique/sector-key-a/v1" || sector || uid)[:6]
    key B  = HMAC-SHA256(secret, "fabrique/sector-key-b/v1" || sector || uid)[:6]

and that sector's trailer makes key A read-only and key B the writer (access bytes ``78 77 88``).
A reader that knows the secret authenticates with the card's own key A, reads the block and
compares it with :func:`hmac.compare_digest`. A card with a copied UID and nothing else (a blank
UID-changeable card, a phone emulating a UID) fails; a full copy of the card's sectors does not
(see docs/hardware.md, "Against cloned badges": this raises the cost, it is not security).

The secret is a file of 32 random bytes in hex, created 0600 by ``station badge secret``, the
same file on every station of a site. Nothing here touches hardware or the station's config
classes: callers pass bytes and paths.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any

from station.errors import ConfigError

SECRET_BYTES = 32
VALUE_BYTES = 16
KEY_BYTES = 6
SECRET_FILE_NAME = "badge_secret"

_VALUE_LABEL = b"fabrique/badge-value/v1\x00"
_KEY_LABELS = {"A": b"fabrique/sector-key-a/v1\x00", "B": b"fabrique/sector-key-b/v1\x00"}

# Access conditions (C1, C2, C3) of the prepared sector: data blocks readable with key A or B
# and writable with key B only; the trailer: keys and access bits writable with key B only,
# access bits readable with A or B, key B never readable (so key B is usable as a key).
DATA_BLOCK_ACCESS = (1, 0, 0)
TRAILER_ACCESS = (0, 1, 1)
GENERAL_PURPOSE_BYTE = 0x69


def _uid_bytes(uid: bytes | str) -> bytes:
    raw = bytes.fromhex(uid) if isinstance(uid, str) else bytes(uid)
    if len(raw) not in (4, 7, 10):
        raise ValueError(f"a UID is 4, 7 or 10 bytes, not {len(raw)}")
    return raw


def _check_secret(secret: bytes) -> None:
    if len(secret) < 16:
        raise ValueError("the badge secret must be at least 16 bytes")


def card_value(secret: bytes, uid: bytes | str) -> bytes:
    """The 16-byte value a prepared card with this UID holds (one MIFARE block)."""
    _check_secret(secret)
    mac = hmac.new(secret, _VALUE_LABEL + _uid_bytes(uid), hashlib.sha256)
    return mac.digest()[:VALUE_BYTES]


def sector_key(secret: bytes, uid: bytes | str, sector: int, key_type: str = "A") -> bytes:
    """The card's own (diversified) 6-byte key A or B for ``sector``."""
    _check_secret(secret)
    if not 0 <= sector <= 39:
        raise ValueError("a MIFARE Classic sector is 0-39")
    label = _KEY_LABELS[key_type]
    mac = hmac.new(secret, label + bytes([sector]) + _uid_bytes(uid), hashlib.sha256)
    return mac.digest()[:KEY_BYTES]


def access_bytes(
    data: tuple[int, int, int] = DATA_BLOCK_ACCESS,
    trailer_bits: tuple[int, int, int] = TRAILER_ACCESS,
    gpb: int = GENERAL_PURPOSE_BYTE,
) -> bytes:
    """Bytes 6-9 of a sector trailer for the same ``data`` conditions on blocks 0-2."""
    per_block = [data, data, data, trailer_bits]
    c1 = sum(bits[0] << i for i, bits in enumerate(per_block))
    c2 = sum(bits[1] << i for i, bits in enumerate(per_block))
    c3 = sum(bits[2] << i for i, bits in enumerate(per_block))
    b6 = ((~c2 & 0x0F) << 4) | (~c1 & 0x0F)
    b7 = (c1 << 4) | (~c3 & 0x0F)
    b8 = (c3 << 4) | c2
    return bytes((b6, b7, b8, gpb & 0xFF))


def trailer(key_a: bytes, key_b: bytes) -> bytes:
    """A sector trailer: key A reads the data blocks, key B writes them and the trailer."""
    if len(key_a) != KEY_BYTES or len(key_b) != KEY_BYTES:
        raise ValueError("keys are 6 bytes")
    return bytes(key_a) + access_bytes() + bytes(key_b)


def card_trailer(secret: bytes, uid: bytes | str, sector: int) -> bytes:
    """The trailer a prepared card with this UID has in ``sector``."""
    return trailer(sector_key(secret, uid, sector, "A"), sector_key(secret, uid, sector, "B"))


def value_block(sector: int) -> int:
    """The block (MIFARE Classic 1K numbering) that holds the value: the sector's first."""
    if not 1 <= sector <= 15:
        raise ValueError("the badge sector is 1-15 (sector 0 holds the manufacturer block)")
    return sector * 4


def trailer_block(sector: int) -> int:
    return value_block(sector) + 3


def verify(secret: bytes, uid: bytes | str, block: bytes) -> bool:
    """Whether ``block`` (as read from the card) is this UID's value; constant-time compare."""
    return hmac.compare_digest(bytes(block), card_value(secret, uid))


# --- the secret file --------------------------------------------------------------------------


def secret_path(badge_secret_file: str, data_path: Path, config_path: Path) -> Path:
    """Where the secret lives: ``badge_secret_file`` (relative to the config file's folder) or
    ``badge_secret`` in the data directory."""
    if not badge_secret_file:
        return data_path / SECRET_FILE_NAME
    p = Path(badge_secret_file).expanduser()
    return p if p.is_absolute() else config_path.parent / p


def create_secret(path: Path) -> bool:
    """Create ``path`` with 32 random bytes in hex, mode 0600; False if it exists already."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(SECRET_BYTES) + "\n")
    return True


def load_secret(path: Path, config_path: Path | None = None) -> bytes:
    """Read the secret; a :class:`ConfigError` that names the file and what to do otherwise."""
    where = f"{config_path}: " if config_path is not None else ""
    fix = (
        f"create it with `station badge secret --config {config_path}` on the first station "
        "and copy the same file (mode 0600) to every station that verifies badges"
        if config_path is not None
        else "create it with `station badge secret --config FILE`"
    )
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise ConfigError(
            f"{where}reader.verify_badges = true but the badge secret {path} does not exist: {fix}."
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"{where}reader.verify_badges = true but the badge secret {path} cannot be read "
            f"({e}): check its owner and mode (0600, owned by the station's user)."
        ) from None
    try:
        secret = bytes.fromhex(text.strip())
    except ValueError:
        secret = b""
    if len(secret) != SECRET_BYTES:
        raise ConfigError(
            f"{where}the badge secret {path} must hold {SECRET_BYTES} bytes as "
            f"{2 * SECRET_BYTES} hex digits; restore the site's file (every prepared card "
            "depends on it)."
        )
    return secret


def badge_settings(config: Any) -> tuple[bytes, int] | None:
    """``(secret, sector)`` when ``[reader] verify_badges`` is on, else None.

    ``config`` is a :class:`station.config.Config` (duck-typed: this module stays free of the
    config classes). Raises :class:`ConfigError` naming the file when the secret is missing or
    unreadable, or the sector does not exist on a MIFARE Classic 1K card.
    """
    reader = config.reader
    if not reader.verify_badges:
        return None
    path = secret_path(reader.badge_secret_file, config.data_path, config.path)
    return load_secret(path, config.path), reader.badge_sector
