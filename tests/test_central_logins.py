"""Central logins (issue 10, item 14): rate limits, constant time for unknown users, sessions
that end with logout, a new password or role, or a disabled account; no open redirect; Secure
cookies and HSTS behind TLS; the host allow-list; and the app's request limits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from central.config import parse_config
from central.sqlite import SqliteCentralStore
from tests.conftest import storage_section
from tests.test_central_web import PASSWORD, csrf_of, login
from web.central.app import create_central_app
from web.common.login import LoginLimiter


def make_app(tmp_path: Path, store: SqliteCentralStore, **server: Any) -> Flask:
    raw = {
        "server": {"host": "127.0.0.1", "port": 0, **server},
        "storage": {"data_dir": str(tmp_path / "central")},
    }
    app = create_central_app(store, parse_config(raw, tmp_path / "central.toml"))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def store(central_store: SqliteCentralStore) -> Iterator[SqliteCentralStore]:
    s = central_store
    for user, role in (("admin", "admin"), ("ines", "educator"), ("yanis", "technician")):
        s.add_user(user, PASSWORD, role)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def app(tmp_path: Path, store: SqliteCentralStore) -> Flask:
    return make_app(tmp_path, store)


def attempt(client: FlaskClient, user: str, password: str, **kwargs: Any) -> int:
    token = csrf_of(client)
    r = client.post(
        "/login", data={"username": user, "password": password, "csrf_token": token}, **kwargs
    )
    return r.status_code


# --- rate limit and timing ----------------------------------------------------------------------


def test_wrong_passwords_are_rate_limited_by_user_and_by_client(app: Flask) -> None:
    t = [0.0]
    app.extensions["login_limiter"] = LoginLimiter(clock=lambda: t[0])
    client = app.test_client()
    for _ in range(5):
        assert attempt(client, "ines", "not the password") == 401
    assert attempt(client, "ines", PASSWORD) == 429, "the right password waits too"
    other = {"environ_base": {"REMOTE_ADDR": "192.168.1.50"}}
    assert attempt(app.test_client(), "ines", PASSWORD, **other) == 429, "counted per user"
    assert attempt(client, "admin", PASSWORD) == 429, "and per client"
    t[0] += 301
    assert attempt(client, "ines", PASSWORD) == 302


def test_an_unknown_user_costs_a_password_check_too(
    store: SqliteCentralStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: 2 ms for an unknown user, 33 ms for a known one: usernames could be listed."""
    import station.accounts

    checks: list[str] = []
    real = station.accounts.check_password

    def counting(stored: str, password: str) -> bool:
        checks.append(password)
        return real(stored, password)

    monkeypatch.setattr(station.accounts, "check_password", counting)
    assert store.authenticate("nobody", "some password") is None
    assert checks == ["some password"]
    assert store.authenticate("ines", "wrong password") is None and len(checks) == 2


# --- sessions end ------------------------------------------------------------------------------


def cookie_of(client: FlaskClient) -> str:
    cookie = client.get_cookie("central_session")
    assert cookie is not None
    return cookie.value


def with_cookie(app: Flask, value: str) -> FlaskClient:
    client = app.test_client()
    client.set_cookie("central_session", value)
    return client


def test_logout_ends_a_copied_session(app: Flask) -> None:
    client = app.test_client()
    token = login(client, "ines")
    copied = cookie_of(client)
    client.post("/logout", data={"csrf_token": token})
    assert with_cookie(app, copied).get("/admin/").status_code == 302


def test_a_demoted_admin_loses_admin_at_once(app: Flask, store: SqliteCentralStore) -> None:
    client = app.test_client()
    login(client, "admin")
    assert client.get("/admin/stations").status_code == 200
    store.add_user("admin", PASSWORD, "technician", replace=True)
    r = client.get("/admin/stations")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    login(client, "admin")
    assert client.get("/admin/stations").status_code == 403, "a technician now"


def test_a_new_password_ends_the_old_sessions(app: Flask, store: SqliteCentralStore) -> None:
    client = app.test_client()
    login(client, "yanis")
    store.add_user("yanis", "another long passphrase", "technician", replace=True)
    assert client.get("/dash/").status_code == 302


def test_user_disable_ends_sessions_and_logins(
    app: Flask, store: SqliteCentralStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from central.cli import main

    config = tmp_path / "central.toml"
    config.write_text(storage_section(store, tmp_path / "central"))
    client = app.test_client()
    login(client, "yanis")
    assert main(["user", "disable", "yanis", "--config", str(config)]) == 0
    assert "yanis disabled" in capsys.readouterr().out
    assert client.get("/dash/").status_code == 302
    assert attempt(app.test_client(), "yanis", PASSWORD) == 401
    assert main(["user", "enable", "yanis", "--config", str(config)]) == 0
    assert attempt(app.test_client(), "yanis", PASSWORD) == 302
    assert main(["user", "disable", "nobody", "--config", str(config)]) == 2
    assert "no account 'nobody'" in capsys.readouterr().err


# --- redirects, TLS, hosts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example",
        "/\t/evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "/\n/evil.example",
        "javascript:alert(1)",
    ],
)
def test_no_open_redirect_after_login(app: Flask, target: str) -> None:
    client = app.test_client()
    token = csrf_of(client)
    raw = target if "%" in target else quote(target, safe="/:")  # as a browser sends it
    r = client.post(
        f"/login?next={raw}", data={"username": "ines", "password": PASSWORD, "csrf_token": token}
    )
    assert r.status_code == 302
    assert r.headers["Location"] == "/", f"next={target!r} led to {r.headers['Location']!r}"


def test_a_next_on_this_site_is_kept(app: Flask) -> None:
    client = app.test_client()
    token = csrf_of(client)
    r = client.post(
        "/login?next=/admin/members/zoe",
        data={"username": "ines", "password": PASSWORD, "csrf_token": token},
    )
    assert r.headers["Location"] == "/admin/members/zoe"


def test_secure_cookies_and_hsts_behind_tls(tmp_path: Path, store: SqliteCentralStore) -> None:
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.168.1.7"}
    app = make_app(tmp_path, store, behind_tls=True)
    r = app.test_client().get("/login", headers=https)
    assert "Secure" in r.headers["Set-Cookie"]
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000"
    plain = make_app(tmp_path, store)
    r = plain.test_client().get("/login", headers=https)
    assert "Secure" not in r.headers["Set-Cookie"], "plain HTTP: a Secure cookie never returns"
    assert "Strict-Transport-Security" not in r.headers, "no proxy: the header is anyone's"


def test_behind_tls_the_limiter_counts_the_real_client(
    tmp_path: Path, store: SqliteCentralStore
) -> None:
    app = make_app(tmp_path, store, behind_tls=True)
    client = app.test_client()
    for _ in range(5):
        headers = {"X-Forwarded-For": "192.168.1.66"}
        assert attempt(client, "nobody", "wrong password", headers=headers) == 401
    assert attempt(client, "ines", PASSWORD, headers={"X-Forwarded-For": "192.168.1.66"}) == 429
    fresh = app.test_client()
    assert attempt(fresh, "ines", PASSWORD, headers={"X-Forwarded-For": "192.168.1.8"}) == 302


def test_behind_a_tls_proxy_over_real_http(tmp_path: Path, store: SqliteCentralStore) -> None:
    """The real server (waitress), as a TLS proxy on this machine reaches it: HSTS, and the
    limiter counts each client by the proxy's X-Forwarded-For. waitress 3 dropped those headers
    before the app saw them: no HSTS, and one client's wrong passwords locked everyone out."""
    import http.client
    import re

    from tests.test_central_helpers import CentralServer

    raw = {
        "server": {"host": "127.0.0.1", "port": 0, "behind_tls": True},
        "storage": {"data_dir": str(tmp_path / "central")},
    }
    server = CentralServer(parse_config(raw, tmp_path / "central.toml"), store)

    def call(method: str, path: str, client: str, **kw: Any) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": client, **kw.pop("headers", {})}
        conn.request(method, path, headers=headers, **kw)
        r = conn.getresponse()
        r.read()
        conn.close()
        return r

    def login_as(client: str, password: str, user: str = "ines") -> int:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": client}
        conn.request("GET", "/login", headers=https)
        page = conn.getresponse()
        cookie = page.getheader("Set-Cookie", "").split(";")[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode())
        assert token and cookie
        form = f"username={user}&password={quote(password)}&csrf_token={token.group(1)}"
        headers = {**https, "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
        conn.request("POST", "/login", body=form, headers=headers)
        r = conn.getresponse()
        r.read()
        conn.close()
        return r.status

    try:
        r = call("GET", "/login", "192.168.1.66")
        assert r.getheader("Strict-Transport-Security") == "max-age=31536000"
        assert "Secure" in r.getheader("Set-Cookie", "")
        for i in range(5):
            assert login_as("192.168.1.66", "wrong password", f"nobody{i}") == 401
        assert login_as("192.168.1.66", PASSWORD) == 429
        assert login_as("192.168.1.8", PASSWORD) == 302, "another client is not locked out"
    finally:
        server.stop()


def test_forwarded_headers_count_only_from_the_local_proxy(
    tmp_path: Path, store: SqliteCentralStore
) -> None:
    """A LAN client that reaches the port directly cannot choose its address or its scheme."""
    app = make_app(tmp_path, store, behind_tls=True)
    lan = app.test_client()
    lan.environ_base["REMOTE_ADDR"] = "192.168.1.50"
    forged = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.9.9.9"}
    r = lan.get("/login", headers=forged)
    assert "Strict-Transport-Security" not in r.headers
    for i in range(5):
        headers = {"X-Forwarded-For": f"10.0.0.{i}"}
        assert attempt(lan, f"nobody{i}", "wrong password", headers=headers) == 401
    assert attempt(lan, "ines", PASSWORD, headers={"X-Forwarded-For": "10.0.0.99"}) == 429


def test_host_allow_list(tmp_path: Path, store: SqliteCentralStore) -> None:
    app = make_app(tmp_path, store, allowed_hosts=["central.fablab.lan", ".ateliers.lan"])
    client = app.test_client()
    for host in ("localhost", "127.0.0.1:8000", "central.fablab.lan", "salle2.ateliers.lan"):
        assert client.get("/login", headers={"Host": host}).status_code == 200, host
    r = client.get("/login", headers={"Host": "evil.example"})
    assert r.status_code == 400 and "allowed_hosts" in r.get_json()["error"]
    # The stations' API (bearer token, no cookie) answers to any name it was configured with.
    assert client.get("/api/v1/health", headers={"Host": "10.0.0.5:8000"}).status_code == 200


# --- request limits -----------------------------------------------------------------------------


def test_sync_refuses_big_deep_and_nan_bodies(app: Flask, store: SqliteCentralStore) -> None:
    token = store.add_station("laser-1", kind="laser")
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    client = app.test_client()
    r = client.post("/api/v1/sync", data=b"x" * (20 * 1024 * 1024), headers=auth)
    assert r.status_code == 413 and "KiB" in r.get_json()["error"]
    r = client.post("/api/v1/sync", data=b"[" * 50_000 + b"]" * 50_000, headers=auth)
    assert r.status_code == 400 and "nests deeper" in r.get_json()["error"]
    r = client.post("/api/v1/sync", data=b'{"protocol": NaN, "events": []}', headers=auth)
    assert r.status_code == 400 and "finite number" in r.get_json()["error"]


def test_open_dashboards_cannot_starve_the_pages(app: Flask) -> None:
    """Each dashboard stream holds a server thread: past the cap, 503 and Retry-After."""
    from web.common.limits import StreamLimiter

    app.extensions["stream_limiter"] = StreamLimiter(2)
    client = app.test_client()
    login(client, "yanis")
    open_streams = [client.get("/dash/stream", buffered=False) for _ in range(2)]
    assert all(r.status_code == 200 for r in open_streams)
    extra = client.get("/dash/stream")
    assert extra.status_code == 503 and int(extra.headers["Retry-After"]) > 0
    assert "close a tab" in extra.get_json()["error"]
    open_streams[1].close()  # last opened, first closed: one thread of the test client
    again = client.get("/dash/stream", buffered=False)
    assert again.status_code == 200, "a closed stream frees its place"
    for r in (again, open_streams[0]):
        r.close()


def test_an_open_dashboard_stream_ends_with_the_session(
    app: Flask, store: SqliteCentralStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import web.central.pages

    monkeypatch.setattr(web.central.pages, "FLEET_POLL_S", 0.0)  # no waiting between polls
    monkeypatch.setattr(web.central.pages, "KEEPALIVE_S", 0.0)  # a stream that goes on says so
    client = app.test_client()
    login(client, "yanis")
    r = client.get("/dash/stream", buffered=False)
    chunks = iter(r.response)
    assert b"event: fleet" in next(chunks)
    store.set_user_active("yanis", False)
    assert list(zip(range(1000), chunks, strict=False)) == [], "the stream ended"
    r.close()


def test_a_broken_database_is_a_503_with_what_to_do(
    app: Flask, store: SqliteCentralStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app.test_client()
    login(client, "yanis")

    def corrupt(*args: object, **kwargs: object) -> None:
        # the backend's own driver error (sqlite3.DatabaseError, psycopg.Error)
        raise store.database_errors[-1]("database disk image is malformed")

    monkeypatch.setattr(store, "stations", corrupt)
    r = client.get("/dash/")
    assert r.status_code == 503 and r.is_json
    message = r.get_json()["error"]
    assert "malformed" in message and "admin" in message and "Traceback" not in message
