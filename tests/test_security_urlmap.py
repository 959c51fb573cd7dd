"""Both apps' URL maps, walked: no route, present or future, can skip the guards (issue 10).

For every rule of the station (with and without the simulator) and of the central store:

- a state-changing request needs the session's CSRF token, except the bearer-token sync API and
  the mock backend's JSON-only simulator API;
- a page needs a login with the role its view declares (``required_roles``), unless it is listed
  below as public, with the reason;
- a body over the app's limit gets 413 with a short message, before any view reads it;
- malformed JSON (deep nesting, NaN, a syntax error) gets 400 with a JSON error on the JSON routes
  and never a 5xx anywhere;
- the kiosk's actions come only from the paired touchscreen.

A new route must either pass these checks or be added to a list here, in review.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from central.store import CentralStore
from station.controller import Controller
from station.roster import parse_roster_csv
from tests.conftest import open_central_store, open_pg_store, sample_roster_text
from tests.test_central_helpers import central_config
from tests.test_web_helpers import PASSWORD as TECH_PASSWORD
from tests.test_web_helpers import add_tech, make_app
from web.central.app import create_central_app
from web.common.login import LoginLimiter

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
CENTRAL_PASSWORD = "a long passphrase"
MALFORMED = [
    b"[" * 5000 + b"]" * 5000,
    b'{"uid": NaN, "seconds": NaN, "answer": "confirm"}',
    b'{"events": [',
]


@dataclass(frozen=True)
class Surface:
    """One app and what the walk needs to know about it."""

    name: str
    app: Flask
    public: dict[str, str]
    """Endpoints open without a login, and why."""
    csrf_exempt: dict[str, str]
    """Endpoints whose unsafe methods need no CSRF token, and why."""
    json_routes: tuple[str, ...]
    """Path prefixes whose POST bodies are JSON (malformed JSON: exactly 400)."""
    body_limit: int


STATION_PUBLIC = {
    "static": "CSS, JavaScript",
    "index": "links to the pages",
    "status": "the kiosk's public state, without badge UIDs",
    "stream": "the same, as server-sent events",
    "kiosk.page": "the touchscreen's page",
    "kiosk.token": "a CSRF token for the kiosk page",
    "kiosk.checklist": "the touchscreen only: loopback and a paired session (see kiosk tests)",
    "kiosk.problem": "the touchscreen only: loopback and a paired session (see kiosk tests)",
    "technician.login": "the login form",
    "technician.logout": "ends the session",
    "technician.language": "the language of the page",
    "metrics": "Prometheus: only from [web] metrics_from (loopback by default), else 403",
}
SIMULATOR_PUBLIC = {
    "sim_panel.panel": "mock backend only: the demo's panel",
    "sim_badge": "mock backend only: a simulated tap",
    "sim_advance": "mock backend only: moves the simulated clock",
    "sim_power": "mock backend only: the emulated energy meter",
    "sim_air": "mock backend only: the emulated air sensor",
    "sim_badges": "mock backend only: the sample badges to tap in the demo",
}
SIMULATOR_CSRF_EXEMPT = {
    name: "JSON bodies only: no cross-site form can send one (web/common/csrf.py)"
    for name in ("sim_badge", "sim_advance", "sim_power", "sim_air")
}
CENTRAL_PUBLIC = {
    "static": "CSS, JavaScript",
    "central_auth.home": "redirects to the login or the person's first page",
    "central_auth.login": "the login form",
    "central_auth.logout": "ends the session",
    "health": "the sync API's health check, no data",
    "metrics": "Prometheus: only from [server] metrics_from (loopback by default), else 403",
    "openapi": "the sync API's description",
    "sync": "a station's bearer token, checked by the view",
    "enrol": "a station's bearer token, checked by the view (badge enrolment)",
    "central_progress.own": "a trainee's own page, by a link the server signed (404 if forged)",
    "central_credentials.download_own": "a trainee's badge, by their signed link (404 if forged)",
    "central_credentials.issuer_profile": "the fablab's public issuer profile (Open Badges)",
    "central_credentials.jwks": "the public keys verifiers check badges with",
    "central_credentials.key": "one public key, where a badge's kid points",
    "central_credentials.revocation_list": "the signed revocation status list, no names",
    "central_credentials.achievement": "what a badge certifies, the same for every holder",
    "central_credentials.achievement_picture": "the badge's picture, no holder",
    "central_credentials.verify_page": "anyone checks a badge they were shown",
    "central_quiz.take": "a trainee's induction quiz, by their signed link (404 if forged)",
}
CENTRAL_CSRF_EXEMPT = {
    "sync": "a bearer token, never a cookie: no cross-site request has it",
    "enrol": "a bearer token, never a cookie: no cross-site request has it",
}
CENTRAL_ROLES = ("admin", "educator", "technician")


# --- the apps ------------------------------------------------------------------------------------


@pytest.fixture
def station(controller: Controller) -> Surface:
    add_tech(controller)
    app = make_app(controller, simulator=True)
    app.extensions["login_limiter"] = LoginLimiter(attempts=10_000)
    return Surface(
        "station",
        app,
        {**STATION_PUBLIC, **SIMULATOR_PUBLIC},
        SIMULATOR_CSRF_EXEMPT,
        ("/sim/", "/kiosk/"),
        app.config["MAX_CONTENT_LENGTH"],
    )


@pytest.fixture
def real_station(controller: Controller) -> Surface:
    add_tech(controller)
    app = make_app(controller, simulator=False)
    app.extensions["login_limiter"] = LoginLimiter(attempts=10_000)
    return Surface(
        "station", app, STATION_PUBLIC, {}, ("/kiosk/",), app.config["MAX_CONTENT_LENGTH"]
    )


@pytest.fixture
def central(tmp_path: Path, central_store: CentralStore) -> Surface:
    """The central app on each backend (SQLite, PostgreSQL)."""
    return central_surface(tmp_path, central_store)


def central_surface(tmp_path: Path, store: CentralStore) -> Surface:
    store.import_roster(parse_roster_csv(sample_roster_text()))
    for role in CENTRAL_ROLES:
        store.add_user(role, CENTRAL_PASSWORD, role)
    store.add_station("laser-1", kind="laser")
    app = create_central_app(store, central_config(tmp_path))
    app.config["TESTING"] = True
    app.extensions["login_limiter"] = LoginLimiter(attempts=10_000)
    return Surface(
        "central",
        app,
        CENTRAL_PUBLIC,
        CENTRAL_CSRF_EXEMPT,
        ("/api/",),
        app.config["MAX_CONTENT_LENGTH"],
    )


@pytest.fixture(params=["station", "real_station", "central-sqlite", "central-postgresql"])
def surface(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Surface]:
    """Each app; the central store's on both backends."""
    if not request.param.startswith("central-"):
        yield request.getfixturevalue(request.param)
        return
    if request.param == "central-postgresql":
        store = open_pg_store(request.getfixturevalue("pg_store_dsn"))
    else:
        store = open_central_store(tmp_path / "central" / "central.sqlite")
    try:
        yield central_surface(tmp_path, store)
    finally:
        store.close()


# --- helpers -------------------------------------------------------------------------------------


def _sample(m: re.Match[str]) -> str:
    choices = re.match(r"any\(([^,)]+)", m.group(1))
    return choices.group(1).strip() if choices else "x"


def routes(app: Flask) -> Iterator[tuple[str, str, str]]:
    """(endpoint, method, url with sample arguments) for every rule and method."""
    for rule in app.url_map.iter_rules():
        url = re.sub(r"<([^>]+)>", _sample, rule.rule)
        if rule.endpoint == "static":
            url = "/static/x.css"
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url


def token_of(client: FlaskClient, surface: Surface) -> str:
    """A CSRF token for this client's session, paired with the kiosk as the touchscreen is."""
    if surface.name == "station":
        client.get("/kiosk/", query_string={"pair": surface.app.extensions["kiosk_secret"]})
        token: str = client.get("/kiosk/token").get_json()["csrf"]
        return token
    html = client.get("/login").get_data(as_text=True)
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m
    return m.group(1)


def logged_in(surface: Surface, role: str = "admin") -> tuple[FlaskClient, str]:
    client = surface.app.test_client()
    token = token_of(client, surface)
    if surface.name == "station":
        data = {"username": "yanis", "password": TECH_PASSWORD, "csrf_token": token}
        assert client.post("/tech/login", data=data).status_code == 302
    else:
        data = {"username": role, "password": CENTRAL_PASSWORD, "csrf_token": token}
        assert client.post("/login", data=data).status_code == 302
    return client, token_of(client, surface)


def required_roles(app: Flask, endpoint: str) -> tuple[str, ...] | None:
    return getattr(app.view_functions[endpoint], "required_roles", None)


def is_stream(endpoint: str) -> bool:
    return endpoint.endswith("stream")


# --- the walks -----------------------------------------------------------------------------------


def test_every_route_is_guarded_or_listed_as_public(surface: Surface) -> None:
    for endpoint, _, _ in routes(surface.app):
        roles = required_roles(surface.app, endpoint)
        assert roles or endpoint in surface.public, (
            f"{surface.name} {endpoint}: give it a login decorator with its roles, or list it "
            "as public in tests/test_security_urlmap.py with the reason"
        )
        assert not (roles and endpoint in surface.public), f"{endpoint}: both guarded and public"
    for name in (*surface.public, *surface.csrf_exempt):
        assert name in surface.app.view_functions or name.startswith("sim_"), (
            f"{name} is listed but is not a route any more: remove it from the list"
        )


def test_every_unsafe_method_needs_the_csrf_token(surface: Surface) -> None:
    client, _ = logged_in(surface)
    for endpoint, method, url in routes(surface.app):
        if method not in UNSAFE or endpoint in surface.csrf_exempt:
            continue
        for headers in ({}, {"X-CSRF-Token": "forged"}):
            r = client.open(url, method=method, data={"csrf_token": "forged"}, headers=headers)
            assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True), (
                f"{surface.name} {method} {url} without a valid CSRF token: {r.status_code}"
            )


def test_every_guarded_route_refuses_anonymous_requests(surface: Surface) -> None:
    client = surface.app.test_client()
    token = token_of(client, surface)
    for endpoint, method, url in routes(surface.app):
        if not required_roles(surface.app, endpoint):
            continue
        if method == "GET":
            r = client.get(url)
            assert r.status_code == 302 and "login" in r.headers["Location"], (method, url)
        else:
            r = client.open(url, method=method, data={"csrf_token": token})
            assert r.status_code == 401, (surface.name, method, url, r.status_code)


def test_every_page_follows_the_role_matrix(central: Surface) -> None:
    for role in CENTRAL_ROLES:
        client, _ = logged_in(central, role)
        for endpoint, method, url in routes(central.app):
            roles = required_roles(central.app, endpoint)
            if method != "GET" or not roles or is_stream(endpoint):
                continue
            r = client.get(url)
            allowed = role == "admin" or role in roles
            if allowed:
                assert r.status_code not in (302, 401, 403), (role, url, r.status_code)
            else:
                assert r.status_code == 403, (role, url, r.status_code)


def test_every_action_refuses_a_role_it_does_not_name(central: Surface) -> None:
    """POST and the other unsafe methods, with a valid CSRF token, as each role the route does
    not name: 403, whatever the body (a role that may read a page may not act on it)."""
    for role in ("educator", "technician"):
        client, token = logged_in(central, role)
        for endpoint, method, url in routes(central.app):
            roles = required_roles(central.app, endpoint)
            if method not in UNSAFE or not roles or role in roles or endpoint.endswith("logout"):
                continue
            r = client.open(url, method=method, data={"csrf_token": token},
                            headers={"X-CSRF-Token": token})  # fmt: skip
            assert r.status_code == 403, (role, method, url, r.status_code)


def test_every_route_refuses_a_body_over_the_limit(surface: Surface) -> None:
    client, token = logged_in(surface)
    big = b"x" * (surface.body_limit + 1)
    for endpoint, method, url in routes(surface.app):
        if endpoint.endswith("logout"):
            continue
        headers = {"X-CSRF-Token": token, "Content-Type": "application/json"}
        r = client.open(url, method=method, data=big, headers=headers, buffered=False)
        assert r.status_code == 413, f"{surface.name} {method} {url}: {r.status_code}"
        assert len(r.get_data()) < 2000, "the body is not echoed back"
        r.close()


def test_malformed_json_is_a_400_never_a_500(surface: Surface) -> None:
    client, token = logged_in(surface)
    sync_token = None
    if surface.name == "central":
        store: Any = surface.app.extensions["central_store"]
        sync_token = store.rotate_token("laser-1")
    for endpoint, method, url in routes(surface.app):
        if method not in UNSAFE or endpoint.endswith("logout"):
            continue
        headers = {"X-CSRF-Token": token, "Content-Type": "application/json"}
        if sync_token and endpoint in ("sync", "enrol"):
            headers["Authorization"] = f"Bearer {sync_token}"
        for body in MALFORMED:
            r = client.open(url, method=method, data=body, headers=headers)
            where = f"{surface.name} {method} {url} with {body[:30]!r}"
            assert r.status_code < 500, f"{where}: {r.status_code}"
            if url.startswith(surface.json_routes):
                assert r.status_code == 400 and r.is_json, f"{where}: {r.status_code}"
                assert r.get_json()["error"], where


def test_unknown_routes_answer_404_json(surface: Surface) -> None:
    r = surface.app.test_client().get("/no/such/page")
    assert r.status_code == 404 and r.is_json and r.get_json()["error"]


def test_kiosk_actions_refuse_the_lan(surface: Surface) -> None:
    if surface.name != "station":
        pytest.skip("the central store has no kiosk")
    for _ in (1,):
        lan = {"REMOTE_ADDR": "192.168.1.20"}
        client = surface.app.test_client()
        client.get("/kiosk/", environ_base=lan)
        assert client.get("/kiosk/token", environ_base=lan).status_code == 403, "no kiosk token"
        m = re.search(
            r'name="csrf_token" value="([^"]+)"',
            client.get("/tech/login", environ_base=lan).get_data(as_text=True),
        )
        assert m
        token = m.group(1)  # a valid token of the session: the refusal is not the CSRF check
        for endpoint, method, url in routes(surface.app):
            if endpoint.startswith("kiosk.") and method in UNSAFE:
                r = client.open(
                    url,
                    method=method,
                    json={"answer": "confirm", "problem": "broken"},
                    headers={"X-CSRF-Token": token},
                    environ_base=lan,
                )
                assert r.status_code == 403, (method, url, r.status_code)
