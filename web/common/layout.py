"""The templates both apps' pages share (``web/common/templates/``): the flashed messages, one
line each with its category (``ok``, ``error``, ``info``), read by screen readers as a status.

Each app's own ``templates/`` come first; these fill in what they include
(``{% include "flashes.html" %}``).
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("common", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
