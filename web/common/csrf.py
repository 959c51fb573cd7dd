"""CSRF protection for every state-changing request, and the 0600 key files, for both apps.

The check runs before *every* request (``before_request``), not per view, so a route added later
cannot forget it. A POST (PUT, PATCH, DELETE) must carry the session's token in a form field
``csrf_token`` or a header ``X-CSRF-Token``. Each app names its one exception: on the station the
simulator's JSON API (``/sim/...`` on the mock backend), which only accepts ``application/json``
bodies that a browser cannot send to another site without a CORS preflight this server never
grants; on the central store the stations' API, authenticated by a bearer token, never a cookie.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from flask import Flask, abort, current_app, request, session

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SECRET_FILE = "web-secret-key"
HEADER = "X-CSRF-Token"
FIELD = "csrf_token"


def secret_key_from(data_path: Path) -> bytes:
    """The app's secret key, kept in a 0600 file so that a restart does not log everyone out."""
    return private_key_file(data_path / SECRET_FILE, lambda: secrets.token_bytes(48))


def private_key_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """A secret kept in a 0600 file: made there (``make``) if missing or shorter than 32 bytes,
    its mode put back to 0600 if someone widened it. Both apps' keys and the kiosk key use it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        key = path.read_bytes()
        if len(key.strip()) >= 32:
            return key
        path.unlink()
        return private_key_file(path, make)
    key = make()
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


def csrf_token() -> str:
    """The session's token (made on first use); templates put it in forms and in the kiosk page."""
    token = session.get(FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[FIELD] = token
    return token


def init_app(app: Flask, *, exempt: Callable[[], bool], exempt_json_only: bool) -> None:
    """The check before every request. ``exempt`` tells the one API of the app that no cookie
    authenticates (the station's simulator, the central store's bearer-token API); with
    ``exempt_json_only`` it must still come as ``application/json``."""
    app.extensions["csrf_exempt"] = (exempt, exempt_json_only)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.before_request(check_csrf)


def check_csrf() -> None:
    if request.method not in UNSAFE_METHODS or request.url_rule is None:
        return  # no route: let the 404 or 405 through
    exempt, json_only = current_app.extensions["csrf_exempt"]
    if exempt():
        if json_only and not request.is_json:
            abort(400, "send a JSON object with Content-Type: application/json")
        return
    sent = request.headers.get(HEADER) or request.form.get(FIELD) or ""
    expected = session.get(FIELD)
    if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        abort(400, "missing or wrong CSRF token: reload the page and try again")
