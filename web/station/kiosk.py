"""The kiosk: the public screen at the machine (800×480 touchscreen, Chromium in kiosk mode).

No login. The page is rendered once and then lives on the event stream: ``static/kiosk.js`` draws
every screen from the status snapshot and the last decision (without badge UIDs: public.py).

Only the touchscreen acts as the kiosk. Its actions (the safety checklist, which closes the relay,
and "report a problem", which can take the machine out of use) are POSTs that need, besides the
CSRF token issued with the page:

- a request from this computer (loopback) that no proxy forwarded: waitress serves the station
  directly, so ``remote_addr`` is the real peer; a forwarding header means "not the kiosk";
- a session *paired* with the kiosk key, a secret in ``<data_dir>/kiosk-secret`` (0600) that the
  installer writes for the station and for the kiosk's desktop user. The kiosk launcher
  (``deploy/fabrique-kiosk``) opens ``/kiosk/?pair=<key>`` from a local start page; no request
  ever gets the key back. On the mock backend (demo, tests: no real relay) a page requested from
  loopback is paired without the key.

Every POST route of this blueprint is checked in ``before_request``, so a new kiosk action
cannot skip it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    session,
)

from station.controller import Controller, ControllerStopped
from station.machine import Command
from web.common.csrf import UNSAFE_METHODS, csrf_token, private_key_file
from web.common.i18n import translator
from web.common.limits import json_object
from web.station.failures import not_running
from web.station.public import public_status

log = logging.getLogger(__name__)

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")

PROBLEMS: dict[str, bool] = {
    "broken": True,
    "strange_noise": True,
    "missing_material": False,
}
"""Blame-free problem choices, and whether each puts the machine ``to_check``."""

DISPLAY_S = {"denied": 8.0, "waiting_expired": 10.0, "session_stopped": 30.0, "default": 6.0}
"""How long a decision stays on screen before the kiosk returns to the state's screen.

A session stopped by time, idleness or staff stays longer: its trainee may be away from the
machine and must still read what happened when she comes back."""

KIOSK_SECRET_FILE = "kiosk-secret"
PAIR_PARAM = "pair"
SESSION_KEY = "kiosk"
FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP", "X-Forwarded-Host")


def _controller() -> Controller:
    c: Controller = current_app.extensions["controller"]
    return c


def kiosk_secret_from(data_path: Path) -> str:
    """The kiosk key: read from its 0600 file, made there if the installer did not write one."""
    key = private_key_file(
        data_path / KIOSK_SECRET_FILE, lambda: (secrets.token_urlsafe(32) + "\n").encode()
    )
    return key.decode("ascii", errors="replace").strip()


def init_app(app: Any, controller: Controller, *, simulator: bool) -> None:
    secret = kiosk_secret_from(controller.config.data_path)
    app.extensions["kiosk_secret"] = secret
    app.extensions["kiosk_marker"] = hmac.new(
        secret.encode(), b"fabrique-kiosk-session", hashlib.sha256
    ).hexdigest()
    app.extensions["kiosk_pairs_on_loopback"] = simulator
    app.register_blueprint(bp)


def from_loopback() -> bool:
    """The request came from this computer, straight (no proxy said it forwarded it)."""
    if any(h in request.headers for h in FORWARDING_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 on a dual-stack socket
    return address.is_loopback


def is_paired() -> bool:
    sent = session.get(SESSION_KEY)
    marker: str = current_app.extensions["kiosk_marker"]
    return isinstance(sent, str) and hmac.compare_digest(sent, marker)


def _pair() -> None:
    """Pair this session with the kiosk when the request proves it comes from the touchscreen."""
    if not from_loopback():
        if PAIR_PARAM in request.args:
            log.warning(
                "kiosk pairing refused: the request from %s%s is not the touchscreen's",
                request.remote_addr,
                " (forwarded)" if any(h in request.headers for h in FORWARDING_HEADERS) else "",
            )
        return
    offered = request.args.get(PAIR_PARAM)
    secret: str = current_app.extensions["kiosk_secret"]
    if offered is not None and not hmac.compare_digest(offered.encode(), secret.encode()):
        log.warning("kiosk pairing refused: wrong kiosk key (run the installer again)")
        return
    if offered is not None or current_app.extensions["kiosk_pairs_on_loopback"]:
        session[SESSION_KEY] = current_app.extensions["kiosk_marker"]


def is_touchscreen() -> bool:
    """This request comes from the station's own touchscreen: loopback, a paired session."""
    return from_loopback() and is_paired()


NOT_THE_TOUCHSCREEN = (
    "only the station's own touchscreen can do this: use the screen at the machine "
    "(if this is the screen, restart it: the kiosk key did not match)"
)


@bp.before_request
def only_the_touchscreen() -> None:
    """Every kiosk action, and its token: from loopback, in a paired session (see the module's
    docstring). Anyone may watch the page; only the touchscreen gets what acts."""
    if request.method not in UNSAFE_METHODS and request.endpoint != "kiosk.token":
        return
    if not is_touchscreen():
        abort(403, NOT_THE_TOUCHSCREEN)


@bp.get("/")
def page() -> str:
    t = translator()
    controller = _controller()
    _pair()
    boot = {
        "status": public_status(controller),
        "paired": is_paired(),
        "catalogs": t.for_script(),
        "language": t.default,
        # Only the touchscreen gets a token for the kiosk's actions; a watcher's page has none.
        "csrf": csrf_token() if is_touchscreen() else "",
        "problems": PROBLEMS,
        "display_s": DISPLAY_S,
        "urls": {
            "stream": "/api/events/stream",
            "checklist": "/kiosk/checklist",
            "problem": "/kiosk/problem",
            "token": "/kiosk/token",
        },
    }
    return render_template("kiosk.html", boot=boot, lang=t.default)


@bp.get("/token")
def token() -> Response:
    """A fresh token for the touchscreen whose token went stale (403 for anyone else)."""
    resp = jsonify(csrf=csrf_token())
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/checklist")
def checklist() -> tuple[Response, int] | Response:
    answer = json_object('{"answer": "confirm"}').get("answer")
    if answer not in ("confirm", "cancel"):
        abort(400, 'send {"answer": "confirm"} or {"answer": "cancel"}')
    return _command(Command(f"{answer}_checklist", by="kiosk"))


@bp.post("/problem")
def problem() -> tuple[Response, int] | Response:
    code = json_object('{"problem": "broken"}').get("problem")
    if code not in PROBLEMS:
        abort(400, f"problem must be one of {sorted(PROBLEMS)}")
    return _command(Command("report_problem", by="kiosk", reason=code, to_check=PROBLEMS[code]))


def _command(cmd: Command) -> tuple[Response, int] | Response:
    try:
        result = _controller().call(cmd)
    except ControllerStopped as e:
        abort(503, not_running(_controller(), e))
    except TimeoutError:
        abort(503, "the station did not answer in time")
    if result.get("ok") is False:  # a refusal; a confirmed checklist answers with the decision
        return jsonify(result), 409
    return jsonify(result)
