"""Revocation through a W3C Bitstring Status List: one bit per credential, set when revoked.

Each credential carries a ``BitstringStatusListEntry`` naming its index; the list itself is a
``BitstringStatusListCredential`` the central store signs afresh on each request (valid one day,
so an old copy replayed later is refused by verifiers), GZIP'd and base64url-encoded with the
multibase ``u`` prefix. At least 131,072 bits, as the spec asks, so a list says little about how
many credentials exist.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from central.credentials import jws
from central.credentials.issuer import VC2_CONTEXT, Issuer

MIN_BITS = 131_072
PURPOSE = "revocation"
LIST_VALID = timedelta(days=1)


def encode(revoked: Iterable[int], size: int = MIN_BITS) -> str:
    indices = list(revoked)
    bits = max(size, *(i + 1 for i in indices)) if indices else size
    bits = -(-bits // 8) * 8
    data = bytearray(bits // 8)
    for i in indices:
        data[i // 8] |= 0x80 >> (i % 8)  # index 0 is the first byte's high bit
    return "u" + jws.b64url(gzip.compress(bytes(data), mtime=0))


def decode(encoded: str) -> bytes:
    if not encoded.startswith("u"):
        raise ValueError("encodedList must start with the multibase prefix u")
    return gzip.decompress(jws.b64url_decode(encoded[1:]))


def is_set(bits: bytes, index: int) -> bool:
    return index // 8 < len(bits) and bool(bits[index // 8] & (0x80 >> (index % 8)))


def entry(issuer: Issuer, index: int) -> dict[str, Any]:
    """The ``credentialStatus`` of the credential at ``index``."""
    return {
        "id": f"{issuer.status_list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": PURPOSE,
        "statusListIndex": str(index),
        "statusListCredential": issuer.status_list_url,
    }


def list_credential(issuer: Issuer, revoked: Iterable[int], now: datetime) -> dict[str, Any]:
    """The status list as a VC-JWT payload (the credential, plus its JWT claims)."""
    start = now.replace(microsecond=0)
    until = start + LIST_VALID
    return {
        "@context": [VC2_CONTEXT],
        "id": issuer.status_list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer.id,
        "validFrom": _iso(start),
        "validUntil": _iso(until),
        "credentialSubject": {
            "id": f"{issuer.status_list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": PURPOSE,
            "encodedList": encode(revoked),
        },
        "iss": issuer.id,
        "jti": issuer.status_list_url,
        "nbf": int(start.timestamp()),
        "exp": int(until.timestamp()),
    }


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")
