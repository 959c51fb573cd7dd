"""The fablab's signing keys: Ed25519 key files under the central data dir, one active.

Rotation makes a new key active; the old ones stay published (in the JWKS and at their ``kid``
URL) so the credentials they signed keep verifying, until an administrator retires one (a key
that leaked) or its own end date passes. Private keys are PKCS#8 PEM files with mode 0600 in
``<data_dir>/credential-keys/``: never in the database, so never in its dump, and never printed.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from central.credentials import jws
from central.credentials.errors import SigningKeyError

KEYS_DIR = "credential-keys"
INDEX = "keyring.json"


@dataclass(frozen=True)
class KeyInfo:
    """What is known about one key besides its secret (``keyring.json``)."""

    kid: str
    created_at: str
    expires_at: str | None = None  # after it, the key no longer verifies (nor signs)
    retired_at: str | None = None  # withdrawn by hand: what it signed no longer verifies
    retired_reason: str = ""

    def usable(self, now: datetime) -> bool:
        return self.retired_at is None and not self.expired(now)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now.isoformat() >= self.expires_at


def _write_private(path: Path, data: bytes) -> None:
    """A new file made 0600 before a byte is written (never world-readable, even for an
    instant); the rename makes it appear whole."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def public_jwk(key: Ed25519PublicKey, kid: str) -> dict[str, str]:
    """RFC 8037 OKP key: never a ``d`` member (that would be the private key)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": jws.b64url(raw),
        "kid": kid,
        "alg": jws.ALG,
        "use": "sig",
    }


class KeyRing:
    """The keys in one folder. Cheap to open; every method reads the folder again, so the
    web app and the CLI (two processes) always agree."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def in_data_dir(cls, data_path: Path) -> KeyRing:
        return cls(data_path / KEYS_DIR)

    # --- reading ---------------------------------------------------------------------------

    def infos(self) -> list[KeyInfo]:
        """Every key ever made, oldest first; the last usable one signs."""
        path = self.directory / INDEX
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as e:
            raise SigningKeyError(
                "keyring_unreadable", f"{path}: cannot be read ({e}); restore it from a backup"
            ) from None
        try:
            return [KeyInfo(**k) for k in raw["keys"]]
        except (KeyError, TypeError) as e:
            raise SigningKeyError(
                "keyring_unreadable", f"{path}: not a key list ({e}); restore it from a backup"
            ) from None

    def info(self, kid: str) -> KeyInfo | None:
        return next((k for k in self.infos() if k.kid == kid), None)

    def active(self, now: datetime) -> KeyInfo:
        usable = [k for k in self.infos() if k.usable(now)]
        if not usable:
            raise SigningKeyError(
                "no_active_key",
                "no usable signing key (none made yet, or all retired or expired): run "
                "`station-central credentials rotate-key`",
            )
        return usable[-1]

    def _private(self, kid: str) -> Ed25519PrivateKey:
        path = self.directory / f"{kid}.pem"
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as e:
            raise SigningKeyError(
                "key_unreadable", f"{path}: the signing key cannot be read ({e})", kid=kid
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError("key_unreadable", f"{path}: not an Ed25519 key", kid=kid)
        return key

    def public_key(self, kid: str, now: datetime) -> Ed25519PublicKey:
        """The key that verifies ``kid``'s signatures; SigningKeyError says why there is none
        (unknown, retired or expired: each is its own ``code``)."""
        info = self.info(kid)
        if info is None:
            raise SigningKeyError("unknown_key", f"no key {kid!r} was ever made here", kid=kid)
        if info.retired_at is not None:
            raise SigningKeyError(
                "retired_key",
                f"key {kid} was retired on {info.retired_at}",
                kid=kid,
                at=info.retired_at,
            )
        if info.expired(now):
            raise SigningKeyError(
                "expired_key",
                f"key {kid} expired on {info.expires_at}",
                kid=kid,
                at=info.expires_at,
            )
        return self._private(kid).public_key()

    def jwks(self, now: datetime, kid_url: Any = None) -> dict[str, Any]:
        """Every key that still verifies (retired and expired ones left out), as a JWKS;
        ``kid_url`` turns a key's name into the URL its ``kid`` says."""
        name = kid_url or (lambda k: k)
        return {
            "keys": [
                public_jwk(self._private(k.kid).public_key(), name(k.kid))
                for k in self.infos()
                if k.usable(now)
            ]
        }

    # --- signing and changing ---------------------------------------------------------------

    def sign(self, payload: dict[str, Any], now: datetime, kid_url: Any) -> tuple[str, str]:
        """The compact JWS of ``payload`` by the active key, and that key's name."""
        info = self.active(now)
        return jws.sign(payload, self._private(info.kid), kid_url(info.kid)), info.kid

    def rotate(self, now: datetime, *, valid_days: int = 0) -> KeyInfo:
        """A new key becomes the one that signs; the others keep verifying."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.directory.chmod(0o700)
        kid = f"{now:%Y%m%d}-{secrets.token_hex(4)}"
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(self.directory / f"{kid}.pem", pem)
        expires = None
        if valid_days:
            from datetime import timedelta

            expires = (now + timedelta(days=valid_days)).isoformat()
        info = KeyInfo(kid=kid, created_at=now.isoformat(), expires_at=expires)
        self._save([*self.infos(), info])
        return info

    def retire(self, kid: str, now: datetime, reason: str = "") -> KeyInfo:
        """Withdraw a key (it leaked): what it signed stops verifying — reissue those."""
        infos = self.infos()
        found = next((k for k in infos if k.kid == kid), None)
        if found is None:
            raise SigningKeyError("unknown_key", f"no key {kid!r} here", kid=kid)
        if found.retired_at is not None:
            return found
        retired = replace(found, retired_at=now.isoformat(), retired_reason=reason)
        self._save([retired if k.kid == kid else k for k in infos])
        return retired

    def ensure(self, now: datetime) -> KeyInfo:
        """The active key, made on first use (a new central store signs without a step)."""
        try:
            return self.active(now)
        except SigningKeyError as e:
            if e.code != "no_active_key" or self.infos():
                raise
            return self.rotate(now)

    def _save(self, infos: list[KeyInfo]) -> None:
        data = json.dumps({"keys": [asdict(k) for k in infos]}, indent=2).encode()
        _write_private(self.directory / INDEX, data)
