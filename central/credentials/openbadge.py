"""The Open Badges 3.0 ``OpenBadgeCredential`` of a trainee's level on a kind of machine.

A W3C Verifiable Credential (data model 2.0) whose subject is an ``AchievementSubject``: the
achievement (« Découpe laser — autonome »), the fablab as issuer ``Profile``, ``validFrom`` and
the evidence the programme stands on — hours, supervised sessions, who validated the level and,
for a mentor, how many peers they trained (learning by teaching is the method; it belongs in the
proof). Secured as a VC-JWT (OB 3.0 §8.2): the JWT payload *is* the credential, with the
registered claims ``iss``, ``jti``, ``sub`` and ``nbf`` beside it.

The holder is named only by what they chose (``holder_name``: a first name and last initial, or
a name they entered) and a random ``urn:uuid`` that is theirs at this issuer: no member id, no
badge, no birth date. Words come from the gettext catalogs (``c.cred.*``) through ``words``, in
French: the credential is a French document (``inLanguage``), its description says it in English
too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from babel.dates import format_date
from babel.numbers import format_decimal

from central.credentials import status_list
from central.credentials.issuer import OB3_CONTEXT, OB3_SCHEMA, VC2_CONTEXT, Issuer

LANG = "fr"
LEVELS = ("autonomous", "mentor")
"""The levels a credential can say: below them, nobody uses the machine alone."""
GRANTERS = ("peer", "educator", "staff", "import")
"""Who raised the level: a peer mentor at the machine, an educator (at the machine or on the
pages), other staff (a technician at the machine), or a roster import (nobody trained anybody
there: the evidence says « par l'équipe éducative »)."""


class Words(Protocol):
    """A catalog bound to the credential's language (web.i18n.Translator does it)."""

    def gettext(self, lang: str, key: str, **values: Any) -> str: ...
    def ngettext(self, lang: str, key: str, count: float, /, **values: Any) -> str: ...


@dataclass(frozen=True)
class Evidence:
    hours: float
    sessions: int
    supervised_sessions: int
    granted_by: str  # one of GRANTERS
    granted_at: str | None  # ISO date-time the level was reached
    peers_trained: int = 0  # levels this member raised at the machine (mentors)


@dataclass(frozen=True)
class Award:
    credential_id: str  # urn:uuid:…
    subject_id: str  # urn:uuid:… (the holder at this issuer)
    holder_name: str
    kind: str
    level: str
    valid_from: datetime
    status_index: int
    evidence: Evidence


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def kind_name(words: Words, kind: str) -> str:
    name = words.gettext(LANG, f"c.cred.kind.{kind}")
    return kind.capitalize() if name == f"c.cred.kind.{kind}" else name


def achievement_name(words: Words, kind: str, level: str) -> str:
    level_word = words.gettext(LANG, f"c.cred.level.{level}")
    return words.gettext(
        LANG, "c.cred.achievement.name", kind=kind_name(words, kind), level=level_word
    )


def achievement(issuer: Issuer, words: Words, kind: str, level: str) -> dict[str, Any]:
    """The OB 3.0 ``Achievement``: the same for every holder of this level on this kind."""
    machine = kind_name(words, kind)
    return {
        "id": issuer.achievement_url(kind, level),
        "type": ["Achievement"],
        "achievementType": "Competency",
        "name": achievement_name(words, kind, level),
        "description": words.gettext(
            LANG, f"c.cred.achievement.description.{level}", kind=machine, issuer=issuer.name
        ),
        "criteria": {"narrative": words.gettext(LANG, f"c.cred.criteria.{level}", kind=machine)},
        "image": {"id": f"{issuer.achievement_url(kind, level)}.svg", "type": "Image"},
        "inLanguage": LANG,
        "tag": [kind, level],
    }


def _evidence(words: Words, award: Award, machine: str) -> list[dict[str, Any]]:
    e = award.evidence
    hours = format_decimal(round(e.hours, 1), locale=LANG)
    practice = (
        words.ngettext(LANG, "c.cred.evidence.practice", e.sessions, hours=hours, kind=machine)
        + " "
        + words.ngettext(LANG, "c.cred.evidence.supervised", e.supervised_sessions)
        if e.sessions
        else words.gettext(LANG, "c.cred.evidence.practice_none", kind=machine)
    )
    when = (
        format_date(datetime.fromisoformat(e.granted_at).date(), "d MMMM y", locale=LANG)
        if e.granted_at
        else ""
    )
    granted = words.gettext(
        LANG,
        f"c.cred.evidence.granted.{e.granted_by}",
        level=words.gettext(LANG, f"c.cred.level.{award.level}"),
    ) + (" " + words.gettext(LANG, "c.cred.evidence.on", date=when) if when else "")
    out = [
        {
            "id": f"{award.credential_id}#practice",
            "type": ["Evidence"],
            "name": words.gettext(LANG, "c.cred.evidence.practice.name"),
            "narrative": practice,
        },
        {
            "id": f"{award.credential_id}#validation",
            "type": ["Evidence"],
            "name": words.gettext(LANG, "c.cred.evidence.granted.name"),
            "narrative": granted,
        },
    ]
    if award.level == "mentor" or e.peers_trained:
        out.append(
            {
                "id": f"{award.credential_id}#teaching",
                "type": ["Evidence"],
                "name": words.gettext(LANG, "c.cred.evidence.teaching.name"),
                "narrative": words.ngettext(
                    LANG, "c.cred.evidence.teaching", e.peers_trained, kind=machine
                ),
            }
        )
    return out


def credential(award: Award, issuer: Issuer, words: Words) -> dict[str, Any]:
    """The VC-JWT payload: the credential and its registered claims (``nbf`` = ``validFrom``
    to the second, as OB 3.0 requires)."""
    if award.level not in LEVELS:
        raise ValueError(f"no credential for level {award.level!r}")
    if award.evidence.granted_by not in GRANTERS:
        raise ValueError(f"granted_by must be one of {GRANTERS}")
    valid_from = award.valid_from.astimezone(UTC).replace(microsecond=0)
    machine = kind_name(words, award.kind)
    name = achievement_name(words, award.kind, award.level)
    body: dict[str, Any] = {
        "@context": [VC2_CONTEXT, OB3_CONTEXT],
        "id": award.credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": name,
        "issuer": issuer.profile(),
        "validFrom": iso(valid_from),
        "credentialSubject": {
            "id": award.subject_id,
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityType": "name",
                    "hashed": False,
                    "identityHash": award.holder_name,
                }
            ],
            "achievement": achievement(issuer, words, award.kind, award.level),
        },
        "evidence": _evidence(words, award, machine),
        "credentialStatus": status_list.entry(issuer, award.status_index),
        "credentialSchema": [{"id": OB3_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
    }
    return {
        **body,
        "iss": issuer.id,
        "jti": award.credential_id,
        "sub": award.subject_id,
        "nbf": int(valid_from.timestamp()),
        "iat": int(valid_from.timestamp()),
    }


def holder_name(payload: dict[str, Any]) -> str:
    """The name the holder chose, as the credential carries it ('' if none)."""
    subject = payload.get("credentialSubject")
    for ident in (subject or {}).get("identifier", []) if isinstance(subject, dict) else []:
        if isinstance(ident, dict) and ident.get("identityType") == "name":
            return str(ident.get("identityHash", ""))
    return ""
