"""Several central processes, one database (issue 13): no state that only one process knows.

Failed logins count wherever they land (both backends, two apps on two stores of one database),
and two real ``station-central run`` processes on one PostgreSQL database behave as one:
pushes through either, the same batch through both at once, a login refused by the other.
"""

from __future__ import annotations

import gc
import http.cookiejar
import os
import re
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from central.sqlite import SqliteCentralStore
from central.store import CentralStore
from tests.conftest import another_process, open_pg_store, storage_section
from tests.test_central_helpers import post_json
from tests.test_central_logins import attempt, make_app
from tests.test_central_web import PASSWORD
from web.common.login import SharedLoginLimiter

REPO = Path(__file__).resolve().parent.parent


# --- failed logins are the database's, not a process's ------------------------------------------


@pytest.fixture
def two_apps(tmp_path: Path, central_store: CentralStore) -> Iterator[tuple[Flask, Flask, list]]:
    central_store.add_user("ines", PASSWORD, "educator")
    other = another_process(central_store)
    a, b = make_app(tmp_path / "a", central_store), make_app(tmp_path / "b", other)
    t = [1_000_000.0]
    for app in (a, b):
        store = app.extensions["central_store"]
        app.extensions["login_limiter"] = SharedLoginLimiter(store, clock=lambda: t[0])
    yield a, b, t
    other.close()


def test_failed_logins_on_one_process_block_the_other(two_apps: tuple[Flask, Flask, list]) -> None:
    a, b, t = two_apps
    for _ in range(5):
        assert attempt(a.test_client(), "ines", "not the password") == 401
    assert attempt(b.test_client(), "ines", PASSWORD) == 429, "the other process knows"
    t[0] += 301
    assert attempt(b.test_client(), "ines", PASSWORD) == 302, "the window passed"
    assert attempt(a.test_client(), "ines", PASSWORD) == 302


def test_a_good_login_clears_the_failures_for_every_process(
    two_apps: tuple[Flask, Flask, list],
) -> None:
    a, b, _t = two_apps
    for _ in range(4):
        assert attempt(a.test_client(), "ines", "not the password") == 401
    assert attempt(b.test_client(), "ines", PASSWORD) == 302
    for _ in range(4):
        assert attempt(a.test_client(), "ines", "not the password") == 401
    assert attempt(b.test_client(), "ines", PASSWORD) == 302, "counted anew after a success"


# --- two `station-central run` on one PostgreSQL database ----------------------------------------


class Central:
    """``station-central run`` as a subprocess on a given config."""

    def __init__(self, config: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "central.cli", "run", "--config", str(config)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        m = re.search(r"ready on (http://\S+)", line)
        if not m:
            self.stop()
            raise AssertionError(f"the central store did not start: {line!r} {self.stderr}")
        self.url = m.group(1)
        self.stderr = ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.stderr = self.proc.stderr.read() if self.proc.stderr else ""
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()


def heartbeat(seq: int) -> dict[str, Any]:
    return {"id": f"id-{seq}", "station_id": "laser-1", "seq": seq, "type": "heartbeat",
            "at": "2026-03-02T10:00:00.000Z", "clock_synced": True, "boot_id": "b",
            "mono": float(seq), "data": {}}  # fmt: skip


def push(url: str, token: str, first: int, last: int) -> dict[str, Any]:
    body = {"protocol": 1, "station_id": "laser-1", "roster_version": 0,
            "events": [heartbeat(s) for s in range(first, last + 1)]}  # fmt: skip
    status, reply = post_json(url + "/api/v1/sync", body, token)
    assert status == 200, reply
    return reply  # type: ignore[no-any-return]


def login_status(url: str, user: str, password: str) -> int:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(url + "/login", timeout=10) as r:
        token = re.search(r'name="csrf_token" value="([^"]+)"', r.read().decode())
    assert token
    data = urllib.parse.urlencode(
        {"username": user, "password": password, "csrf_token": token.group(1)}
    ).encode()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    opener.add_handler(NoRedirect())
    try:
        with opener.open(url + "/login", data=data, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        e.close()
        return int(e.code)


@pytest.fixture
def two_processes(tmp_path: Path, pg_store_dsn: str) -> Iterator[tuple[Central, Central, str]]:
    store = open_pg_store(pg_store_dsn)
    try:
        token = store.add_station("laser-1", kind="laser")
        store.add_user("yanis", PASSWORD, "technician")
    finally:
        store.close()
    config = tmp_path / "central.toml"
    config.write_text(
        f'[server]\nport = 0\nthreads = 8\n[storage]\nbackend = "postgresql"\n'
        f'dsn = "{pg_store_dsn}"\npool_size = 4\ndata_dir = "{tmp_path / "data"}"\n',
        encoding="utf-8",
    )
    a = Central(config)
    try:
        b = Central(config)
    except BaseException:
        a.stop()
        raise
    yield a, b, token
    a.stop()
    b.stop()


def test_two_central_processes_on_one_database_behave_as_one(
    two_processes: tuple[Central, Central, str], pg_store_dsn: str
) -> None:
    a, b, token = two_processes
    assert push(a.url, token, 1, 300)["acked_seq"] == 300
    assert push(b.url, token, 301, 600)["acked_seq"] == 600, "B knows what A stored"
    replies: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda u=u: replies.append(push(u, token, 601, 900)))
        for u in (a.url, b.url)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [r["acked_seq"] for r in replies] == [900, 900]
    store = open_pg_store(pg_store_dsn)
    try:
        assert store.count_events("laser-1") == 900, "the batch pushed through both: once"
        assert store.station("laser-1")["held"] == 900
    finally:
        store.close()
    for _ in range(5):
        assert login_status(a.url, "yanis", "not the password") == 401
    assert login_status(b.url, "yanis", PASSWORD) == 429, "B refuses what A counted"


# --- the dashboard's live stream wakes on a write through any process ---------------------------


def test_a_write_wakes_the_waiters_of_the_same_store(central_store: CentralStore) -> None:
    import time

    seen = central_store.changes_seen()
    woke: list[float] = []

    def wait() -> None:
        started = time.monotonic()
        central_store.wait_for_change(seen, 30.0)
        woke.append(time.monotonic() - started)

    waiter = threading.Thread(target=wait)
    waiter.start()
    central_store.add_station("laser-1", kind="laser")
    waiter.join(30)
    assert woke and woke[0] < 10.0, "woken by the write, not by the timeout"
    assert central_store.wait_for_change(seen, 0.0) != seen


def test_a_push_through_another_process_wakes_the_stream_here(pg_store_dsn: str) -> None:
    """LISTEN/NOTIFY: what would be a second central process's write wakes this one's waiters."""
    import time

    here, there = open_pg_store(pg_store_dsn), open_pg_store(pg_store_dsn)
    try:
        seen = here.changes_seen()
        # the listener bumps once when it is listening: from then on, only NOTIFY moves it
        seen = here.wait_for_change(seen, 10.0)
        started = time.monotonic()
        moved: list[int] = []
        waiter = threading.Thread(target=lambda: moved.append(here.wait_for_change(seen, 30.0)))
        waiter.start()
        there.add_station("printer-1", kind="printer3d")
        waiter.join(30)
        assert moved and moved[0] != seen
        assert time.monotonic() - started < 10.0, "woken by NOTIFY, not by the timeout"
    finally:
        here.close()
        there.close()


def test_a_login_through_one_process_is_valid_through_another(
    tmp_path: Path, pg_store_dsn: str
) -> None:
    """Processes on two machines (two data directories): the session key is the store's."""
    a_store, b_store = open_pg_store(pg_store_dsn), open_pg_store(pg_store_dsn)
    try:
        a_store.add_user("yanis", PASSWORD, "technician")
        a, b = make_app(tmp_path / "a", a_store), make_app(tmp_path / "b", b_store)
        client = a.test_client()
        assert attempt(client, "yanis", PASSWORD) == 302
        cookie = client.get_cookie("central_session")
        assert cookie is not None
        other = b.test_client()
        assert other.get("/dash/").status_code == 302, "no cookie: the login page"
        other.set_cookie("central_session", cookie.value)
        assert other.get("/dash/").status_code == 200, "the session made through A"
    finally:
        a_store.close()
        b_store.close()


# --- the tests' own "other process" is on the same database --------------------------------------


def test_another_process_of_a_sqlite_store_is_on_its_file_where_a_postgresql_store_was(
    tmp_path: Path, pg_store_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CPython gives a new object the address (``id()``) of a freed one, now and then. The
    helpers once kept the DSN of each PostgreSQL store by ``id()``: a SQLite store opened where a
    closed PostgreSQL store had been passed for it, and its "other process" was a PostgreSQL
    store on another test's data (``NotFound('no station printer-1')`` in whole runs only).
    Here the SQLite store gets the freed store's ``id()`` every time, as the helpers see it."""
    pg = open_pg_store(pg_store_dsn)
    freed = id(pg)
    pg.close()
    del pg
    gc.collect()
    store = SqliteCentralStore(tmp_path / "central.sqlite")
    real_id = id
    helpers = another_process.__globals__  # tests/conftest.py's, storage_section's too
    monkeypatch.setitem(helpers, "id", lambda o: freed if o is store else real_id(o))
    try:
        other = another_process(store)
        try:
            assert isinstance(other, SqliteCentralStore)
            assert other.path == store.path
        finally:
            other.close()
        assert "postgresql" not in storage_section(store, tmp_path)
    finally:
        store.close()
