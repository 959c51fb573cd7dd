"""Errors of the credentials, each with a ``code`` the pages translate (``c.cred.err.<code>``)."""

from __future__ import annotations

from typing import Any

from central.errors import CentralError


class CredentialError(CentralError, ValueError):
    """A credential cannot be issued, revoked or read; ``code`` and ``values`` let a page say
    why in its reader's language, ``str()`` says it in English for the CLI and the logs."""

    def __init__(self, code: str, message: str, **values: Any) -> None:
        super().__init__(message)
        self.code, self.values = code, values


class SigningKeyError(CredentialError):
    """The signing keys are missing, unreadable, expired or retired."""
