"""What the public verification page answers: valid, revoked, tampered, unknown key…

The fablab's own check of a pasted credential or an uploaded badge image, done the way an
outside verifier does it (the JWS against the published key named by ``kid``, the registered
claims against the credential, the bit in the status list), so the page and a school's tool
agree. Each outcome is a ``verdict`` word the page translates; ``details`` carries what a
reader may see (the achievement, the holder's chosen name, the date, the evidence).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from central.credentials import baking, jws, openbadge
from central.credentials.errors import SigningKeyError
from central.credentials.issuer import Issuer
from central.credentials.keys import KeyRing

VERDICTS = (
    "valid",
    "revoked",
    "tampered",
    "unknown_key",
    "retired_key",
    "expired_key",
    "not_ours",
    "malformed",
    "no_credential",
    "damaged_image",
)


@dataclass(frozen=True)
class Verdict:
    verdict: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.verdict == "valid"


def _details(payload: dict[str, Any], kid: str) -> dict[str, Any]:
    subject = payload.get("credentialSubject") or {}
    achievement = subject.get("achievement") or {} if isinstance(subject, dict) else {}
    return {
        "id": payload.get("id"),
        "name": achievement.get("name") if isinstance(achievement, dict) else None,
        "holder": openbadge.holder_name(payload),
        "valid_from": payload.get("validFrom"),
        "issuer": (payload.get("issuer") or {}).get("name")
        if isinstance(payload.get("issuer"), dict)
        else None,
        "evidence": [
            {"name": e.get("name"), "narrative": e.get("narrative")}
            for e in payload.get("evidence") or []
            if isinstance(e, dict)
        ],
        "kid": kid,
    }


def _claims_agree(payload: dict[str, Any], issuer: Issuer) -> bool:
    """OB 3.0 §8.2: ``iss`` = issuer.id, ``jti`` = id, ``sub`` = credentialSubject.id,
    ``nbf`` = validFrom; and the issuer is this fablab."""
    subject = payload.get("credentialSubject")
    issuer_obj = payload.get("issuer")
    try:
        valid_from = datetime.fromisoformat(str(payload.get("validFrom")).replace("Z", "+00:00"))
    except ValueError:
        return False
    return (
        payload.get("iss") == issuer.id
        and isinstance(issuer_obj, dict)
        and issuer_obj.get("id") == issuer.id
        and payload.get("jti") == payload.get("id")
        and isinstance(subject, dict)
        and payload.get("sub") == subject.get("id")
        and payload.get("nbf") == int(valid_from.timestamp())
        and "OpenBadgeCredential" in (payload.get("type") or [])
    )


def verify_token(
    token: str,
    *,
    issuer: Issuer,
    keys: KeyRing,
    now: datetime,
    revoked: Callable[[int], dict[str, Any] | None],
) -> Verdict:
    """``revoked(index)`` answers the revocation of the credential at that index (None: not
    revoked)."""
    try:
        parsed = jws.parse(token)
    except jws.Malformed:
        return Verdict("malformed")
    kid_url = parsed.header.get("kid")
    kid = issuer.kid_of(kid_url) if isinstance(kid_url, str) else None
    if kid is None:
        return Verdict("not_ours", {"kid": kid_url if isinstance(kid_url, str) else None})
    details = _details(parsed.payload, kid)
    try:
        public = keys.public_key(kid, now)
    except SigningKeyError as e:
        return Verdict(e.code if e.code in VERDICTS else "unknown_key", {**details, **e.values})
    if not jws.signature_valid(parsed, public):
        return Verdict("tampered", {"kid": kid})
    if not _claims_agree(parsed.payload, issuer):
        return Verdict("malformed", details)
    status = parsed.payload.get("credentialStatus") or {}
    try:
        index = int(str(status.get("statusListIndex")))
    except (TypeError, ValueError, AttributeError):
        return Verdict("malformed", details)
    revocation = revoked(index)
    if revocation is not None:
        return Verdict("revoked", {**details, "revoked_at": revocation.get("revoked_at")})
    return Verdict("valid", details)


def verify_upload(
    data: bytes,
    *,
    issuer: Issuer,
    keys: KeyRing,
    now: datetime,
    revoked: Callable[[int], dict[str, Any] | None],
) -> Verdict:
    """A badge image (PNG or SVG), or a text file holding the token."""
    text = data.strip()
    if (
        text.count(b".") == 2
        and b"<" not in text[:64]
        and not text.startswith(baking.PNG_SIGNATURE)
    ):
        return verify_token(
            text.decode("ascii", "replace"), issuer=issuer, keys=keys, now=now, revoked=revoked
        )
    try:
        token = baking.extract(data)
    except baking.BadImage as e:
        return Verdict(
            "no_credential" if e.code == "no_credential" else "damaged_image", {"problem": e.code}
        )
    return verify_token(token, issuer=issuer, keys=keys, now=now, revoked=revoked)
