"""The /sim panel (mock backend only): tap the sample badges, set the power and air values, move
the clock, and watch the kiosk react — so that a newcomer can play with a station in a browser.

The panel is a page over the simulator's JSON API (``POST /sim/badge``, ``/sim/advance``, and
``/sim/power`` and ``/sim/air`` when the backend has them); it shows only the controls whose route
exists in this app.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("sim_panel", __name__, url_prefix="/sim")

ADVANCE_MINUTES = (1, 5, 30)


@bp.get("/")
def panel() -> str:
    rules = {r.rule for r in current_app.url_map.iter_rules() if "POST" in (r.methods or ())}
    controls = {name: f"/sim/{name}" in rules for name in ("badge", "advance", "power", "air")}
    return render_template("sim.html", controls=controls, advance_minutes=ADVANCE_MINUTES)
