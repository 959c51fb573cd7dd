"""The kiosk: the public screen at the machine (800×480 touchscreen, Chromium in kiosk mode).

No login. The page is rendered once and then lives on the event stream: ``static/kiosk.js`` draws
every screen from the status snapshot and the last decision. Its two actions (the safety
checklist and "report a problem") are POSTs that carry the CSRF token issued with the page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from station.controller import Controller, ControllerStopped
from station.machine import Command
from web.csrf import csrf_token
from web.i18n import translator

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")

PROBLEMS: dict[str, bool] = {
    "broken": True,
    "strange_noise": True,
    "missing_material": False,
}
"""Blame-free problem choices, and whether each puts the machine ``to_check``."""

DISPLAY_S = {"denied": 8.0, "default": 6.0}
"""How long a decision stays on screen before the kiosk returns to the state's screen."""


def _controller() -> Controller:
    c: Controller = current_app.extensions["controller"]
    return c


@bp.get("/")
def page() -> str:
    t = translator()
    controller = _controller()
    boot = {
        "status": controller.status(),
        "catalogs": t.catalogs,
        "language": t.default,
        "csrf": csrf_token(),
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
    """A fresh token for a kiosk whose session was lost (a new data directory, a new key)."""
    resp = jsonify(csrf=csrf_token())
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/checklist")
def checklist() -> tuple[Response, int] | Response:
    answer = _body().get("answer")
    if answer not in ("confirm", "cancel"):
        abort(400, 'send {"answer": "confirm"} or {"answer": "cancel"}')
    return _command(Command(f"{answer}_checklist", by="kiosk"))


@bp.post("/problem")
def problem() -> tuple[Response, int] | Response:
    code = _body().get("problem")
    if code not in PROBLEMS:
        abort(400, f"problem must be one of {sorted(PROBLEMS)}")
    return _command(Command("report_problem", by="kiosk", reason=code, to_check=PROBLEMS[code]))


def _command(cmd: Command) -> tuple[Response, int] | Response:
    try:
        result = _controller().call(cmd)
    except ControllerStopped as e:
        abort(503, f"the station is not running: {e}")
    except TimeoutError:
        abort(503, "the station did not answer in time")
    if result.get("ok") is False:  # a refusal; a confirmed checklist answers with the decision
        return jsonify(result), 409
    return jsonify(result)


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "send a JSON object with Content-Type: application/json")
    return body
