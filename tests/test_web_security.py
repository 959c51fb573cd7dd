"""Every state-changing route needs a CSRF token, and every one but a few public ones a login.

The routes are enumerated from the app's URL map, so a route added later is checked without
anyone remembering to add it here. The exceptions are listed explicitly below.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from station.controller import Controller
from tests.test_web_helpers import add_tech, csrf, login, make_app
from web.common.csrf import SECRET_FILE, secret_key_from

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

CSRF_EXEMPT = {"/sim/badge", "/sim/advance", "/sim/power", "/sim/air"}
"""The simulator's JSON API on the mock backend: JSON bodies only (see web/csrf.py)."""

PUBLIC_WITH_CSRF = {
    "/kiosk/checklist",
    "/kiosk/problem",
    "/tech/login",
    "/tech/logout",
    "/tech/language",
}
"""No login needed, but a CSRF token still is."""


@pytest.fixture
def app(controller: Controller) -> Flask:
    add_tech(controller)
    return make_app(controller, simulator=True)


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as c:
        yield c


def unsafe_rules(app: Flask) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        methods = sorted((rule.methods or set()) & UNSAFE)
        assert not (methods and rule.arguments), f"{rule.rule}: give this test sample arguments"
        for method in methods:
            out.append((method, rule.rule))
    return out


def test_the_url_map_has_the_routes_we_think(app: Flask) -> None:
    rules = {rule for _, rule in unsafe_rules(app)}
    assert {"/kiosk/problem", "/tech/machine/out-of-service", "/tech/enrol", "/sim/badge"} <= rules
    assert (CSRF_EXEMPT - rules) <= {"/sim/power", "/sim/air"}, "exceptions that do not exist"


@pytest.mark.parametrize("as_json", [False, True])
def test_every_unsafe_route_rejects_a_request_without_csrf_token(
    app: Flask, client: FlaskClient, as_json: bool
) -> None:
    assert login(client) == 302
    for method, rule in unsafe_rules(app):
        if rule in CSRF_EXEMPT and as_json:
            continue
        kwargs = {"json": {}} if as_json else {"data": {"reason": "x"}}
        r = client.open(rule, method=method, **kwargs)
        assert r.status_code == 400, f"{method} {rule} without a CSRF token: {r.status_code}"
        r = client.open(rule, method=method, headers={"X-CSRF-Token": "forged"}, **kwargs)
        assert r.status_code == 400, f"{method} {rule} with a wrong CSRF token: {r.status_code}"


def test_every_unsafe_route_but_the_public_ones_needs_a_login(
    app: Flask, client: FlaskClient, controller: Controller
) -> None:
    token = csrf(client)
    for method, rule in unsafe_rules(app):
        if rule in CSRF_EXEMPT or rule in PUBLIC_WITH_CSRF:
            continue
        r = client.open(rule, method=method, data={"reason": "x", "csrf_token": token})
        assert r.status_code == 401, f"{method} {rule} without a login: {r.status_code}"
    assert controller.status()["machine"]["state"] == "available", "nothing happened"


def test_exempt_sim_routes_take_json_only(client: FlaskClient) -> None:
    """A cross-site form cannot send JSON: the exemption covers JSON bodies only."""
    r = client.post("/sim/badge", data={"uid": "04C0C1C2"})
    assert r.status_code == 400
    r = client.post("/sim/badge", data='{"uid": "04C0C1C2"}', content_type="text/plain")
    assert r.status_code == 400
    assert client.post("/sim/badge", json={"uid": "04C0C1C2"}).status_code == 200


def test_no_exemption_without_the_simulator(controller: Controller) -> None:
    app = make_app(controller, simulator=False)
    rules = {rule for _, rule in unsafe_rules(app)}
    assert not any(r.startswith("/sim") for r in rules)
    with app.test_client() as client:
        assert client.get("/sim/").status_code == 404


def test_session_cookie_flags(client: FlaskClient) -> None:
    cookie = client.get("/kiosk/").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie


def test_secret_key_file_is_private_and_stable(controller: Controller) -> None:
    data = controller.config.data_path
    key = make_app(controller).secret_key
    path = data / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert make_app(controller).secret_key == key, "a restart keeps everyone logged in"
    path.chmod(0o644)
    assert secret_key_from(data) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_bytes(b"short")
    assert len(secret_key_from(data)) == 48


def test_a_login_survives_a_restart(controller: Controller) -> None:
    add_tech(controller)
    with make_app(controller).test_client() as client:
        assert login(client) == 302
        cookie = client.get_cookie("station_session_laser-1")
        assert cookie is not None
    with make_app(controller).test_client() as client:
        client.set_cookie("station_session_laser-1", cookie.value)
        assert client.get("/tech/").status_code == 200
