"""The /sim panel (mock backend only): tap the sample badges, set the power and air values, move
the clock, and watch the kiosk react — so that a newcomer can play with a station in a browser.

The panel is a page over the simulator's JSON API (``POST /sim/badge``, ``/sim/advance``, and
``/sim/power`` and ``/sim/air`` when the backend has them); it shows only the controls whose route
exists in this app and, for the sensors, only those this station emulates.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("sim_panel", __name__, url_prefix="/sim")

ADVANCE_MINUTES = (1, 5, 30)


@bp.get("/")
def panel() -> str:
    rules = {r.rule for r in current_app.url_map.iter_rules() if "POST" in (r.methods or ())}
    controls = {name: f"/sim/{name}" in rules for name in ("badge", "advance", "power", "air")}
    for name, present in emulated_sensors().items():
        controls[name] = controls[name] and present
    return render_template("sim.html", controls=controls, advance_minutes=ADVANCE_MINUTES)


def emulated_sensors() -> dict[str, bool]:
    """The routes for power and air exist on every simulated station, but only a station with
    that sensor emulated can take a value: offer only those (the demo's laser has air only)."""
    sensors = current_app.extensions["controller"].hardware.extras.get("sensors")
    return {
        "power": getattr(sensors, "power_device", None) is not None,
        "air": getattr(sensors, "air_device", None) is not None,
    }
