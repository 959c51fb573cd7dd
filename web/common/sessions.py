"""The session cookie and the secret key, the same way in both apps.

A session lives 12 hours, in an HttpOnly, ``SameSite=Strict`` cookie signed with a key kept in
a 0600 file of the data directory (a restart logs nobody out). Each app names its cookie: the
demo's stations and the central store all run on 127.0.0.1, and browsers keep cookies per host,
not per port. A login starts a fresh session (a new CSRF token) that keeps only what the page
needs across it: the language, and on the station's touchscreen its kiosk pairing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from flask import Flask, session

from web.common.csrf import secret_key_from

LIFETIME_S = 12 * 3600
"""A working day: a technician or educator logs in once."""
LANGUAGE = "lang"
"""The session key of the language chosen on a page (web/common/i18n.py reads it)."""


def init_app(
    app: Flask, data_path: Path, *, cookie_name: str, secure: bool, secret: bytes | None = None
) -> None:
    """The secret key and the cookie's settings. ``secure``: only behind TLS (a station serves
    plain HTTP on the fablab's network, where a Secure cookie would never come back). ``secret``:
    a key the store shares between processes on several machines, instead of the file."""
    app.secret_key = secret if secret is not None else secret_key_from(data_path)
    app.config.update(
        SESSION_COOKIE_NAME=cookie_name,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=LIFETIME_S,
    )


def fresh_session(keep: Iterable[str] = ()) -> None:
    """Clear the session (a login, a logout, an account that changed) but keep the language and
    the keys named in ``keep``."""
    kept = {k: session[k] for k in (LANGUAGE, *keep) if k in session}
    session.clear()
    session.update(kept)
