"""Fuzzing the sync and admin APIs from their OpenAPI description (schemathesis): no 500.

The sync endpoint is called with a valid station token, the admin endpoints with an admin's
session and CSRF token, so the fuzzer reaches the code behind the checks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from station.roster import parse_roster_csv  # noqa: E402
from tests.conftest import open_central_store, sample_roster_text  # noqa: E402
from tests.test_central_helpers import central_config  # noqa: E402
from web.central.app import create_central_app  # noqa: E402

PASSWORD = "a long passphrase"
STORED_BAD_STATUS = (
    '{"machine": "x", "session": [1], "health": {"reader": "broken", "controller": 5,'
    ' "air_sensor": {"ok": NaN, "error": 7}}, "roster_expired": "yes", "x": NaN}'
)


def _app(tmp: Path):  # type: ignore[no-untyped-def]
    store = open_central_store(tmp / "central" / "central.sqlite")
    store.import_roster(parse_roster_csv(sample_roster_text()))
    store.add_user("admin", PASSWORD, "admin")
    token = store.add_station("laser-1", kind="laser")
    store.add_station("cnc-1", kind="cnc")
    # A status stored before ingest checked statuses: the pages must still work.
    store.db.conn.execute(
        "UPDATE stations SET last_status = ? WHERE id = 'cnc-1'", (STORED_BAD_STATUS,)
    )
    store.db.conn.commit()
    app = create_central_app(store, central_config(tmp, max_batch=50))
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": csrf})
    html = client.get("/admin/").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    cookie = client.get_cookie("central_session")
    assert cookie is not None
    return app, store, token, csrf, cookie.value


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    app, store, token, csrf, session = _app(tmp_path_factory.mktemp("fuzz"))
    yield app, token, csrf, session
    store.close()


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
    app, token, csrf, session = fuzz_target
    headers = {"X-CSRF-Token": csrf}
    if case.path == "/api/v1/sync":
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
    """Stored-data check: whatever a station managed to store, the dashboard still works and its
    live data is JSON a browser can parse (no NaN)."""
    client = app.test_client()
    client.set_cookie("central_session", session)
    assert client.get("/dash/").status_code == 200
    r = client.get("/dash/fleet.json")
    assert r.status_code == 200
    json.loads(r.get_data(as_text=True), parse_constant=_no_constant)


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} is not JSON: a browser's JSON.parse stops at it")


def test_a_stored_bad_status_does_not_break_a_page(fuzz_target) -> None:  # type: ignore[no-untyped-def]
    app, _token, _csrf, session = fuzz_target
    pages_still_work(app, session)


def test_the_description_is_served(fuzz_target) -> None:  # type: ignore[no-untyped-def]
    app = fuzz_target[0]
    spec = app.test_client().get("/api/v1/openapi.json").json
    assert "/api/v1/sync" in spec["paths"] and spec["openapi"].startswith("3.")
