"""Compact JWS (RFC 7515) with EdDSA over Ed25519: the VC-JWT proof of Open Badges 3.0 (§8.2).

The header carries only ``alg``, ``kid`` and ``typ`` (OB 3.0 allows no other JOSE header);
``kid`` is a URL that answers the public key as a JWK. Verification here is the fablab's own
(the public page); tests check our output with an independent library (PyJWT via openbadgeslib).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG = "EdDSA"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url without padding: anything else is not a JWS part."""
    if not text or any(c not in _B64URL for c in text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def canonical_json(value: Any) -> bytes:
    """Compact UTF-8 JSON (French names stay readable in the token, not \\u-escaped)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode()


def sign(payload: dict[str, Any], key: Ed25519PrivateKey, kid: str) -> str:
    header = {"alg": ALG, "kid": kid, "typ": "JWT"}
    signing_input = f"{b64url(canonical_json(header))}.{b64url(canonical_json(payload))}"
    signature = key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url(signature)}"


@dataclass(frozen=True)
class Parsed:
    """A compact JWS split and decoded, not yet verified."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


class Malformed(ValueError):
    """Not a compact JWS whose header and payload are JSON objects."""


def parse(token: str) -> Parsed:
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise Malformed("a compact JWS has three parts separated by dots")
    try:
        header = json.loads(b64url_decode(parts[0]))
        payload = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError) as e:
        raise Malformed(f"a part is not base64url JSON: {e}") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise Malformed("the header and the payload must be JSON objects")
    return Parsed(header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature)


def signature_valid(parsed: Parsed, public_key: Ed25519PublicKey) -> bool:
    if parsed.header.get("alg") != ALG:
        return False  # the algorithm is pinned to the key: a header never chooses it
    try:
        public_key.verify(parsed.signature, parsed.signing_input)
    except InvalidSignature:
        return False
    return True
