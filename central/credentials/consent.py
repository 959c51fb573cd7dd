"""Consent before issuing: who agreed, and the name the credential will carry.

A credential leaves the fablab for good (a school or an employer keeps a copy), so an educator
records consent first: the trainee's own, or for a minor their parent's or guardian's (named,
from the signed paper form the page prints). The holder's name on the credential is the
trainee's choice: their first name and last initial by default, or a name they enter — the
least personal data that still lets a reader match the credential to the person in front of
them.
"""

from __future__ import annotations

import unicodedata

from central.credentials.errors import CredentialError

MAX_NAME = 40


def first_and_initial(full_name: str) -> str:
    """« Léa Martin » → « Léa M. »; one word stays as it is."""
    words = full_name.split()
    if not words:
        return ""
    if len(words) == 1:
        return words[0]
    return f"{words[0]} {words[-1][0].upper()}."


def check_display_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name:
        raise CredentialError(
            "display_name_empty", "display_name: give the name the credential will carry"
        )
    if len(name) > MAX_NAME:
        raise CredentialError(
            "display_name_long",
            f"display_name: at most {MAX_NAME} characters (got {len(name)})",
            max=MAX_NAME,
        )
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise CredentialError(
            "display_name_bad", "display_name: letters, spaces and punctuation only"
        )
    return name


def check_consent_by(minor: bool, consent_by: str) -> str:
    """For a minor, the parent or guardian who signed; otherwise the trainee (``''``)."""
    who = " ".join(consent_by.split())
    if minor and not who:
        raise CredentialError(
            "guardian_needed",
            "consent_by: a minor's credential needs a parent's or guardian's consent: write "
            "their name, as signed on the printed form",
        )
    if len(who) > 80:
        raise CredentialError("consent_by_long", "consent_by: at most 80 characters")
    return who
