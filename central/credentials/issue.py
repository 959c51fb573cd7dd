"""Issuing and revoking: the rules between an educator's click and a signed credential.

An educator issues; the member must hold ``autonomous`` or ``mentor`` on the kind *now* (a level
lowered since is refused), consent must be recorded, a signing key usable; then one transaction
stores the signed credential (``storage.add_credential``), so nothing is half-issued and nothing
issued twice. Revoking sets the credential's bit in the status list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from central.credentials import baking, openbadge
from central.credentials.errors import CredentialError
from central.credentials.issuer import Issuer
from central.credentials.keys import KeyRing
from central.credentials.openbadge import Award, Evidence, Words
from station.model import Level

IMPORT = "import"


@dataclass(frozen=True)
class Issuing:
    """Everything issuing needs, built once by the composition root (the app, the CLI)."""

    store: Any  # CentralStore with the Credentials concern
    keys: KeyRing
    issuer: Issuer
    words: Words


def _member(store: Any, member_id: str) -> dict[str, Any]:
    return store.member_detail(member_id)  # type: ignore[no-any-return]


def _granter(store: Any, granted_by: str | None) -> str:
    """Who raised the level, in the words the evidence uses (a role, never a name)."""
    if not granted_by or granted_by == IMPORT:
        return "import"
    try:
        role = _member(store, granted_by)["role"]
    except LookupError:
        return "educator"  # an educator's account on the pages
    return {"trainee": "peer", "educator": "educator"}.get(role, "staff")


def eligible_level(member: dict[str, Any], kind: str) -> str | None:
    """The level a credential can say for this kind now (None: below autonomous)."""
    for q in member["qualifications"]:
        if q["kind"] == kind and q["level"] in openbadge.LEVELS:
            return str(q["level"])
    return None


def issue(ctx: Issuing, member_id: str, kind: str, *, by: str, now: datetime) -> dict[str, Any]:
    member = _member(ctx.store, member_id)
    if member.get("erased_at"):
        raise CredentialError("erased", f"{member_id} was erased: nothing can be issued to them")
    level = eligible_level(member, kind)
    if level is None:
        current = next((q["level"] for q in member["qualifications"] if q["kind"] == kind), "none")
        raise CredentialError(
            "level_too_low",
            f"{member_id} is {current} on {kind}: a credential says autonomous or mentor (if the "
            "level was lowered since, raise it again first)",
            kind=kind,
            level=current,
        )
    consent = ctx.store.consent(member_id)
    if consent is None:
        raise CredentialError(
            "no_consent",
            f"record {member_id}'s consent first (a parent's for a minor) and the name the "
            "credential will carry",
        )
    ctx.keys.ensure(now)  # the first key is made here; a clear error before anything is written
    q = next(q for q in member["qualifications"] if q["kind"] == kind)
    figures = ctx.store.credential_figures(member_id, kind)
    evidence = Evidence(
        hours=figures["hours"],
        sessions=figures["sessions"],
        supervised_sessions=figures["supervised_sessions"],
        granted_by=_granter(ctx.store, q.get("granted_by")),
        granted_at=q.get("granted_at"),
        peers_trained=figures["peers_trained"] if Level(level) is Level.MENTOR else 0,
    )

    def sign(credential_id: str, subject_id: str, index: int) -> tuple[str, str]:
        award = Award(
            credential_id=credential_id,
            subject_id=subject_id,
            holder_name=consent["display_name"],
            kind=kind,
            level=level,
            valid_from=now,
            status_index=index,
            evidence=evidence,
        )
        payload = openbadge.credential(award, ctx.issuer, ctx.words)
        return ctx.keys.sign(payload, now, ctx.issuer.kid_url)

    return ctx.store.add_credential(  # type: ignore[no-any-return]
        member_id, kind, level, by=by, at=now.isoformat(), sign=sign
    )


def revoke(
    ctx: Issuing, credential_id: str, *, by: str, now: datetime, reason: str = ""
) -> dict[str, Any]:
    return ctx.store.revoke_credential(  # type: ignore[no-any-return]
        credential_id, by=by, at=now.isoformat(), reason=reason
    )


def downloadable(ctx: Issuing, credential_id: str) -> dict[str, Any]:
    """The credential row, if it can still be downloaded (not revoked, not erased)."""
    row = ctx.store.credential(credential_id)
    if row is None:
        raise CredentialError("unknown_credential", f"no credential {credential_id} here")
    if row["revoked_at"] or not row["token"]:
        raise CredentialError(
            "revoked", f"credential {credential_id} was revoked on {row['revoked_at']}"
        )
    return row  # type: ignore[no-any-return]


def picture_words(ctx: Issuing, kind: str, level: str) -> tuple[str, str]:
    return (
        openbadge.kind_name(ctx.words, kind),
        ctx.words.gettext(openbadge.LANG, f"c.cred.level.{level}"),
    )


def badge_svg(ctx: Issuing, row: dict[str, Any]) -> bytes:
    title, level_word = picture_words(ctx, row["kind"], row["level"])
    return baking.svg(title, level_word, ctx.issuer.name, row["level"], token=row["token"])


def badge_png(ctx: Issuing, row: dict[str, Any]) -> bytes:
    title, level_word = picture_words(ctx, row["kind"], row["level"])
    return baking.bake_png(
        baking.png(title, level_word, ctx.issuer.name, row["level"]), row["token"]
    )
