"""Fuzzing the sync and admin APIs from their OpenAPI description (schemathesis): no 500, and
whatever a station managed to store, every page still works. Both backends.

The sync endpoint is called with a valid station token, the admin endpoints with an admin's
session and CSRF token, so the fuzzer reaches the code behind the checks. The description is
the central store's own (``web/central/openapi.py``, served at ``/api/v1/openapi.json``); the
station's web API has no OpenAPI description and is walked by tests/test_security_urlmap.py.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from central.ingest import parse_event
from station.roster import parse_roster_csv
from tests.conftest import CENTRAL_BACKENDS, open_central_store, open_pg_store, sample_roster_text
from tests.test_central_helpers import central_config
from web.central.app import create_central_app

PASSWORD = "a long passphrase"
STORED_BAD_STATUS = (
    '{"machine": "x", "session": [1], "health": {"reader": "broken", "controller": 5,'
    ' "air_sensor": {"ok": NaN, "error": 7}}, "roster_expired": "yes", "x": NaN}'
)
"""A status stored before ingest checked statuses (NaN is not even JSON): pages must work."""
ODD_EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("session_started", {"session_id": ["x"], "member_id": {"a": 1}, "kind": 7}),
    ("session_ended", {"session_id": "s-odd", "duration_s": "long", "energy_wh": -1e308}),
    ("power_without_permission", {"watts": "NaN", "seconds": [], "source": {"x": None}}),
    ("plug_fault", {"kind": None, "device": 5}),
    ("access_denied", {"uid": {"x": 1}, "member_id": 5, "reason": None}),
    ("qualification_granted", {"member_id": "lea", "kind": "laser", "level": ["mentor"]}),
    ("x_forged", {"anything": '=HYPERLINK("http://evil.example")'}),
]
"""Events a token can get stored as evidence (their data has not their type's shape)."""


def _app(tmp: Path, store: Any):  # type: ignore[no-untyped-def]
    store.import_roster(parse_roster_csv(sample_roster_text()))
    store.add_user("admin", PASSWORD, "admin")
    token = store.add_station("laser-1", kind="laser")
    store.add_station("cnc-1", kind="cnc")
    with store._transaction() as conn:
        conn.execute("UPDATE stations SET last_status = ? WHERE id = 'cnc-1'", (STORED_BAD_STATUS,))
    odd = [
        {"id": f"odd-{i}", "seq": i, "type": t, "at": "2026-03-02T10:00:00.000Z",
         "clock_synced": True, "boot_id": "b", "mono": float(i), "data": d}
        for i, (t, d) in enumerate(ODD_EVENTS, 1)
    ]  # fmt: skip
    store.ingest("cnc-1", [parse_event(e, 0, "cnc-1") for e in odd])
    app = create_central_app(store, central_config(tmp, max_batch=50))
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": csrf})
    html = client.get("/admin/").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    cookie = client.get_cookie("central_session")
    assert cookie is not None
    return app, token, csrf, cookie.value


@pytest.fixture(scope="module", params=CENTRAL_BACKENDS)
def fuzz_target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("fuzz")
    schema = None
    if request.param == "postgresql":
        import psycopg

        from tests.pg_server import with_schema

        database = request.getfixturevalue("pg_database")
        schema = f"fuzz_{secrets.token_hex(3)}"
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        store = open_pg_store(with_schema(database, schema))
    else:
        store = open_central_store(tmp / "central" / "central.sqlite")
    try:
        yield (*_app(tmp, store), store)
    finally:
        store.close()
        if schema:
            with psycopg.connect(database, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _schema():  # type: ignore[no-untyped-def]
    from web.central.openapi import spec

    return schemathesis.openapi.from_dict(spec())


schema = _schema()


@schema.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_ends_in_a_server_error(case, fuzz_target) -> None:  # type: ignore[no-untyped-def]
    app, token, csrf, session, _store = fuzz_target
    headers = {"X-CSRF-Token": csrf}
    if case.path in ("/api/v1/sync", "/api/v1/enrol"):
        headers["Authorization"] = f"Bearer {token}"
    case.call_and_validate(
        app=app,
        headers=headers,
        cookies={"central_session": session},
        checks=[not_a_server_error],
    )
    if case.path == "/api/v1/sync":
        pages_still_work(app, session)


def pages_still_work(app, session: str) -> None:  # type: ignore[no-untyped-def]
    """Stored-data check after each push: the dashboard still works and its live data is JSON a
    browser can parse (no NaN)."""
    client = app.test_client()
    client.set_cookie("central_session", session)
    assert client.get("/dash/").status_code == 200
    r = client.get("/dash/fleet.json")
    assert r.status_code == 200
    json.loads(r.get_data(as_text=True), parse_constant=_no_constant)


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} is not JSON: a browser's JSON.parse stops at it")


ARGUMENTS = {"station_id": "cnc-1", "member_id": "lea", "uid": "04B0B1B2", "kind": "laser"}


def pages(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Every page (GET, not a stream) with arguments that name what the stations stored."""
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint.endswith("stream"):
            continue
        if rule.endpoint == "static":
            continue

        def value(m: re.Match[str]) -> str:
            name = m.group(1).split(":")[-1]
            choices = re.match(r"any\(([^,)]+)", m.group(1))
            return choices.group(1).strip() if choices else ARGUMENTS.get(name, "x")

        yield re.sub(r"<([^>]+)>", value, rule.rule)


def test_a_stored_bad_status_and_odd_evidence_break_no_page(fuzz_target) -> None:  # type: ignore[no-untyped-def]
    """After the fuzzer's pushes, with a status stored before statuses were checked and events
    kept as evidence whatever their data: every page an admin opens answers without a 5xx,
    and each JSON answer is JSON a browser parses."""
    app, _token, _csrf, session, _store = fuzz_target
    client = app.test_client()
    client.set_cookie("central_session", session)
    seen = 0
    for url in pages(app):
        for query in ("", "?format=csv", "?station=cnc-1"):
            r = client.get(url + query)
            assert r.status_code < 500, (url + query, r.status_code)
            if r.is_json:
                json.loads(r.get_data(as_text=True), parse_constant=_no_constant)
            seen += 1
    assert seen > 60
    pages_still_work(app, session)


def test_the_description_is_served(fuzz_target) -> None:  # type: ignore[no-untyped-def]
    app = fuzz_target[0]
    spec = app.test_client().get("/api/v1/openapi.json").json
    assert "/api/v1/sync" in spec["paths"] and spec["openapi"].startswith("3.")
