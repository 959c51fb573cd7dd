"""Who issues: the fablab's name and the public addresses a verifier reaches without us.

Every URL a credential names is built here, so the pages that answer them
(``web/central_credentials.py``) and the credentials cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

VC2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB3_SCHEMA = (
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
)


@dataclass(frozen=True)
class Issuer:
    base_url: str  # the central store as the public reaches it, e.g. https://badges.fablab.fr
    name: str
    website: str = ""
    email: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    @property
    def id(self) -> str:
        return f"{self.base_url}/credentials/issuer"

    def kid_url(self, kid: str) -> str:
        """What a credential's ``kid`` says: this URL answers the public key as a JWK."""
        return f"{self.base_url}/credentials/keys/{kid}"

    def kid_of(self, url: str) -> str | None:
        """The key's own name from its URL (None: another issuer's key)."""
        prefix = self.kid_url("")
        return url[len(prefix) :] if url.startswith(prefix) and len(url) > len(prefix) else None

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/.well-known/jwks.json"

    @property
    def status_list_url(self) -> str:
        return f"{self.base_url}/credentials/status/revocation"

    def achievement_url(self, kind: str, level: str) -> str:
        return f"{self.base_url}/credentials/achievements/{kind}/{level}"

    @property
    def verify_url(self) -> str:
        return f"{self.base_url}/verify"

    def profile(self) -> dict[str, object]:
        """The issuer's OB 3.0 ``Profile`` (embedded in each credential and served at ``id``)."""
        p: dict[str, object] = {"id": self.id, "type": ["Profile"], "name": self.name}
        if self.website:
            p["url"] = self.website
        if self.email:
            p["email"] = self.email
        return p
