"""The station's Flask app: status API, event stream and (mock backend only) the simulator API.

Request threads never touch hardware: they read the controller's snapshot and post messages.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from flask import Flask, Response, abort, jsonify, redirect, request

from station.config import Config
from station.controller import Controller, ControllerStopped
from station.machine import Tap
from station.roster import normalise_uid
from web.common import csrf, errors, i18n, layout, limits, sessions
from web.common import format as fmt
from web.common.metrics import init_station_metrics
from web.station import kiosk, public, sim_panel, technician
from web.station.failures import is_storage_failure, not_running, storage_failed

log = logging.getLogger(__name__)

BADGE_EXAMPLE = '{"uid": "<the badge UID in hex>"}'
"""No real UID in examples: the sample roster's would be a staff badge of the demo."""
MAX_BODY_BYTES = 64 * 1024
"""The largest request the station takes: its forms and JSON bodies are a few hundred bytes."""


def server_options(config: Config) -> dict[str, Any]:
    """How waitress serves the station (``station run``; the tests serve it the same way)."""
    return {
        "threads": config.web.threads,
        "ident": "fabrique-station",
        # Refuse a big body before waitress buffers it (to the SD card); the app says 413 too.
        "max_request_body_size": MAX_BODY_BYTES + 1024,
        # Waitress drops Forwarded and X-Forwarded-* by default: the app must see them, since a
        # forwarded request is never the touchscreen (web/station/kiosk.py), even from loopback
        # (a proxy on the Pi). Nothing else reads them: remote_addr stays the socket's peer.
        "clear_untrusted_proxy_headers": False,
    }


def create_app(controller: Controller, *, simulator: bool | None = None) -> Flask:
    """Build the app around a running controller; the simulator API only on the mock backend."""
    app = Flask(__name__)
    app.extensions["controller"] = controller
    if simulator is None:
        simulator = controller.config.hardware.backend == "mock"
    # The pages: kiosk (public), technician (login), /sim panel (mock backend).
    sessions.init_app(
        app,
        controller.config.data_path,
        cookie_name=session_cookie_name(controller.config.station.id),
        secure=False,  # plain HTTP on the fablab's network (docs/security.md)
    )
    limits.init_app(
        app,
        MAX_BODY_BYTES,
        lambda: f"the request is larger than {MAX_BODY_BYTES // 1024} KiB: send less",
    )
    if simulator:  # before the CSRF check: from the LAN, /sim/ is a 403 whatever is sent
        app.before_request(_simulator_on_this_computer_only)
    csrf.init_app(
        app, exempt=lambda: simulator and request.path.startswith("/sim/"), exempt_json_only=True
    )
    errors.init_app(
        app,
        storage_failure=is_storage_failure,
        storage_failed=lambda e: storage_failed(e, controller),
        unexpected="the station hit an unexpected error: try again; if it persists, a "
        "technician reads the station's log (journalctl -u fabrique-station)",
    )
    layout.init_app(app)
    i18n.init_app(app, controller.config.station.language)
    fmt.init_app(app, controller.config.station.timezone, i18n.current_language)
    public.init_app(app, controller)
    kiosk.init_app(app, controller, simulator=simulator)
    technician.init_app(app)
    init_station_metrics(app, controller, controller.config.web.metrics_from)
    if simulator:
        app.register_blueprint(sim_panel.bp)

    @app.get("/")
    def index() -> Response:
        if request.accept_mimetypes.best == "text/html":
            return redirect("/kiosk/")  # type: ignore[return-value]
        links = {
            "status": "/api/status",
            "stream": "/api/events/stream",
            "kiosk": "/kiosk/",
            "technician": "/tech/",
        }
        if simulator and kiosk.from_loopback():  # the simulator answers only there
            links.update(
                badge=f"POST /sim/badge {BADGE_EXAMPLE}",
                advance='POST /sim/advance {"seconds": 600}',
                badges="GET /sim/badges",
                panel="/sim/",
            )
        return jsonify(station=controller.config.station.id, links=links)

    @app.get("/api/status")
    def status() -> Response:
        return jsonify(public.public_status(controller))

    @app.get("/api/events/stream")
    def stream() -> Response:
        # The touchscreen (this computer) may take the stream no LAN client can.
        return public.event_stream(
            controller, public.without_uids, privileged=kiosk.from_loopback()
        )

    if simulator:
        _simulator_routes(app, controller)
    return app


def _simulator_on_this_computer_only() -> None:
    """The simulator (mock backend) taps badges and lists the roster's UIDs: it answers only to
    the computer that runs it, as the demo does (everything on 127.0.0.1)."""
    if request.path.startswith("/sim/") and not kiosk.from_loopback():
        abort(
            403,
            "the simulator answers only on the computer that runs the station: open "
            "http://127.0.0.1:<port>/sim/ there",
        )


def session_cookie_name(station_id: str) -> str:
    """One session cookie per station: browsers keep cookies per host, not per port, so the
    demo's stations on 127.0.0.1 would otherwise log each other's technicians out (and
    replace each other's CSRF tokens)."""
    return f"station_session_{station_id}"


def _simulator_routes(app: Flask, controller: Controller) -> None:
    @app.post("/sim/badge")
    def sim_badge() -> Response:
        body = _json_body(BADGE_EXAMPLE)
        raw = body.get("uid")
        if not isinstance(raw, str):
            abort(400, f"send {BADGE_EXAMPLE}: uid must be a string of hex digits")
        try:
            uid = normalise_uid(raw)
        except ValueError as e:
            abort(400, str(e))
        cloned = body.get("cloned", False)
        if not isinstance(cloned, bool):
            abort(400, 'cloned must be true or false: {"uid": "<hex>", "cloned": true}')
        chip = controller.hardware.extras.get("chip")
        try:
            if chip is not None:
                decision = _tap_on_emulated_reader(controller, chip, uid, cloned=cloned)
            elif controller.config.reader.verify_badges:
                # The fake reader has no card to check: the simulated check passes unless the
                # tap is a clone's.
                decision = controller.call(Tap(uid, verified=not cloned))
            else:
                decision = controller.call(Tap(uid))
        except ControllerStopped as e:
            abort(503, not_running(controller, e))
        except TimeoutError:
            abort(503, "the station did not handle the tap in time")
        return jsonify(decision)

    @app.post("/sim/advance")
    def sim_advance() -> Response:
        seconds = _json_body('{"seconds": 600}').get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            abort(400, 'send {"seconds": 600}: seconds must be a number')
        if not math.isfinite(seconds):
            abort(400, 'send {"seconds": 600}: seconds must be a finite number')
        try:
            result = controller.advance(float(seconds))
        except ValueError as e:
            abort(400, str(e))
        except ControllerStopped as e:
            abort(503, not_running(controller, e))
        return jsonify(result)

    @app.post("/sim/power")
    def sim_power() -> Response:
        watts = _number(_json_body('{"watts": 850}'), "watts", 0, 26_000, '{"watts": 850}')
        sensors = _emulated_sensors(controller, "power_device", "power_meter")
        sensors.set_load(watts)
        return jsonify(_after_sensor_change(controller, "power"))

    @app.post("/sim/air")
    def sim_air() -> Response:
        body = _json_body('{"pm25": 80}')
        sensors = _emulated_sensors(controller, "air_device", "air_sensor")
        pm25 = _number(body, "pm25", 0, 999.9, '{"pm25": 80}')
        pm10 = _number(body, "pm10", 0, 999.9, '{"pm25": 80, "pm10": 120}', required=False)
        sensors.set_pm(pm25, pm10)
        return jsonify(_after_sensor_change(controller, "air"))

    @app.get("/sim/badges")
    def sim_badges() -> Response:
        def read() -> list[dict[str, Any]]:
            assert controller.store is not None
            roster = controller.store.roster()
            out = []
            for b in sorted(roster.badges.values(), key=lambda b: b.member_id):
                m = roster.member(b.member_id)
                out.append(
                    {
                        "uid": b.uid,
                        "member_id": b.member_id,
                        "name": m.first_name if m else None,
                        "role": m.role.value if m else None,
                        "level": roster.level(b.member_id, controller.config.machine.kind).value,
                        "active": b.active and bool(m and m.active),
                    }
                )
            return out

        return jsonify(badges=controller.run_in_loop(read))


def _tap_on_emulated_reader(
    controller: Controller, chip: Any, uid: str, *, cloned: bool = False
) -> dict[str, Any]:
    """Place a card on the emulated MFRC522, wait for the controller's decision, lift the card.

    The real driver debounces a card that comes back within a few polls (a hand hesitating over
    the reader): like a person, wait that long before tapping the same card again. With
    ``[reader] verify_badges`` the card is a prepared one (the HMAC value and the card's keys in
    its sector), or with ``cloned`` a blank card carrying the same UID, as a cloner makes. The
    chip and its card maker come from the backend (``hardware.extras``): the web imports no mocks.
    """
    ready_in = getattr(controller.hardware.reader, "ready_in", None)
    if ready_in is not None:
        time.sleep(min(1.0, ready_in(uid)))
    reply = controller.expect_tap(uid)
    badges: Any = controller.hardware.extras["badges"]  # beside the chip (mocks/backend.py)
    chip.place(badges.card(bytes.fromhex(uid), cloned=cloned))
    try:
        return reply.result(timeout=5.0)
    except TimeoutError:
        controller.forget_tap(uid, reply)
        raise
    finally:
        chip.remove()


def _emulated_sensors(controller: Controller, device: str, sensor: str) -> Any:
    sensors = controller.hardware.extras.get("sensors")
    if sensors is None or getattr(sensors, device, None) is None:
        abort(
            404,
            f"this station has no emulated {sensor.replace('_', ' ')}: set [sensors] {sensor} "
            'to an "-emulated" type in its config',
        )
    return sensors


def _after_sensor_change(controller: Controller, key: str) -> Any:
    """On a simulated clock nothing reads the sensor until time moves: read it now."""
    try:
        for _ in range(3):  # a poll may time out on a loaded machine: bounded retries
            if not controller.config.clock.simulated:
                break
            controller.poll_sensors()
            value = controller.status().get(key) or {}
            if value.get("watts" if key == "power" else "pm25") is not None:
                break
    except ControllerStopped as e:
        abort(503, not_running(controller, e))
    return {key: controller.status().get(key)}


def _number(
    body: dict[str, Any], key: str, low: float, high: float, example: str, *, required: bool = True
) -> Any:
    value = body.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        abort(400, f"send {example}: {key} must be a number")
    if not low <= value <= high:
        abort(400, f"{key} must be between {low} and {high}, got {value}")
    return float(value)


def _json_body(example: str) -> dict[str, Any]:
    return limits.json_object(example)
