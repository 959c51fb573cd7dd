"""The station's Flask app: status API, event stream and (mock backend only) the simulator API.

Request threads never touch hardware: they read the controller's snapshot and post messages.
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, abort, jsonify, redirect, request

from station.controller import Controller, ControllerStopped
from station.machine import Tap
from station.roster import normalise_uid
from web import csrf, i18n, kiosk, sim_panel, technician

KEEPALIVE_S = 15.0


def create_app(controller: Controller, *, simulator: bool | None = None) -> Flask:
    """Build the app around a running controller; the simulator API only on the mock backend."""
    app = Flask(__name__)
    app.extensions["controller"] = controller
    if simulator is None:
        simulator = controller.config.hardware.backend == "mock"
    # The pages: kiosk (public), technician (login), /sim panel (mock backend). See web/csrf.py.
    app.secret_key = csrf.secret_key_from(controller.config.data_path)
    app.config["PERMANENT_SESSION_LIFETIME"] = 12 * 3600
    csrf.init_app(app, simulator=simulator)
    app.config["SESSION_COOKIE_NAME"] = session_cookie_name(controller.config.station.id)
    i18n.init_app(app, controller.config.station.language)
    app.register_blueprint(kiosk.bp)
    technician.init_app(app)
    if simulator:
        app.register_blueprint(sim_panel.bp)

    @app.errorhandler(400)
    @app.errorhandler(401)
    @app.errorhandler(404)
    @app.errorhandler(405)
    @app.errorhandler(503)
    def json_error(e: Any) -> tuple[Response, int]:
        return jsonify(error=e.description), e.code

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
        if simulator:
            links.update(
                badge='POST /sim/badge {"uid": "04A1B2C3"}',
                advance='POST /sim/advance {"seconds": 600}',
                badges="GET /sim/badges",
                panel="/sim/",
            )
        return jsonify(station=controller.config.station.id, links=links)

    @app.get("/api/status")
    def status() -> Response:
        return jsonify(controller.status())

    @app.get("/api/events/stream")
    def stream() -> Response:
        subscription = controller.broadcaster.subscribe()

        def generate() -> Iterator[str]:
            try:
                yield _sse("status", controller.status())
                while True:
                    try:
                        message = subscription.get(timeout=KEEPALIVE_S)
                    except queue.Empty:
                        yield ": keep-alive\n\n"
                        continue
                    if message["kind"] == "status":
                        yield _sse("status", message["status"])
                    else:
                        yield _sse("event", message["event"])
            finally:
                controller.broadcaster.unsubscribe(subscription)

        return Response(
            generate(),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    if simulator:
        _simulator_routes(app, controller)
    return app


def session_cookie_name(station_id: str) -> str:
    """One session cookie per station: browsers keep cookies per host, not per port, so the
    demo's stations on 127.0.0.1 would otherwise log each other's technicians out (and
    replace each other's CSRF tokens)."""
    return f"station_session_{station_id}"


def _simulator_routes(app: Flask, controller: Controller) -> None:
    @app.post("/sim/badge")
    def sim_badge() -> Response:
        body = _json_body()
        raw = body.get("uid")
        if not isinstance(raw, str):
            abort(400, 'send {"uid": "04A1B2C3"}: uid must be a string of hex digits')
        try:
            uid = normalise_uid(raw)
        except ValueError as e:
            abort(400, str(e))
        cloned = body.get("cloned", False)
        if not isinstance(cloned, bool):
            abort(400, 'cloned must be true or false: {"uid": "04A1B2C3", "cloned": true}')
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
            abort(503, f"the station is not running: {e}")
        except TimeoutError:
            abort(503, "the station did not handle the tap in time")
        return jsonify(decision)

    @app.post("/sim/advance")
    def sim_advance() -> Response:
        seconds = _json_body().get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            abort(400, 'send {"seconds": 600}: seconds must be a number')
        try:
            result = controller.advance(float(seconds))
        except ValueError as e:
            abort(400, str(e))
        except ControllerStopped as e:
            abort(503, f"the station is not running: {e}")
        return jsonify(result)

    @app.post("/sim/power")
    def sim_power() -> Response:
        sensors = _emulated_sensors(controller, "power_device", "power_meter")
        watts = _number(_json_body(), "watts", 0, 26_000, '{"watts": 850}')
        sensors.set_load(watts)
        return jsonify(_after_sensor_change(controller, "power"))

    @app.post("/sim/air")
    def sim_air() -> Response:
        sensors = _emulated_sensors(controller, "air_device", "air_sensor")
        body = _json_body()
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
    its sector), or with ``cloned`` a blank card carrying the same UID, as a cloner makes.
    """
    from mocks.mfrc522_chip import EmulatedBadges

    ready_in = getattr(controller.hardware.reader, "ready_in", None)
    if ready_in is not None:
        time.sleep(min(1.0, ready_in(uid)))
    reply = controller.expect_tap(uid)
    badges = controller.hardware.extras.get("badges")
    if not isinstance(badges, EmulatedBadges):
        badges = EmulatedBadges()
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
        abort(503, f"the station is not running: {e}")
    return {key: controller.status().get(key)}


def _number(
    body: dict[str, Any], key: str, low: float, high: float, example: str, *, required: bool = True
) -> Any:
    value = body.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        abort(400, f"send {example}: {key} must be a number")
    if not low <= value <= high:
        abort(400, f"{key} must be between {low} and {high}, got {value}")
    return float(value)


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "send a JSON object with Content-Type: application/json")
    return body


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
