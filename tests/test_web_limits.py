"""Bad requests get a clear 4xx, never a 500 or a hang (issue 10, item 11): the station's side.

Body size, strict JSON (deep nesting, NaN and Infinity), the login limiter's memory, open event
streams that would starve the server's threads, and a broken store: each answers with a sentence
that says what to do.
"""

from __future__ import annotations

import http.client
import socket
import sqlite3
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from station.controller import Controller
from tests.conftest import SOFIANE
from tests.test_central_helpers import serving
from tests.test_web_helpers import add_tech, csrf, make_app
from web.common.limits import strict_loads
from web.common.login import LoginLimiter
from web.station import public

BIG = b"x" * (20 * 1024 * 1024)
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture
def app(controller: Controller) -> Flask:
    add_tech(controller)
    return make_app(controller, simulator=True)


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as c:
        yield c


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("POST", "/sim/badge"),
        ("POST", "/kiosk/problem"),
        ("POST", "/tech/login"),
        ("GET", "/api/status"),
        ("POST", "/no/such/route"),
    ],
)
def test_a_20_mb_body_is_refused_with_413(client: FlaskClient, method: str, url: str) -> None:
    headers = {"X-CSRF-Token": csrf(client), "Content-Type": "application/json"}
    r = client.open(url, method=method, data=BIG, headers=headers)
    assert r.status_code == 413, f"{method} {url}: {r.status_code}"
    assert "KiB" in r.get_json()["error"] and len(r.data) < 1000, "not echoed back"


@pytest.mark.parametrize(
    "url", ["/sim/badge", "/sim/advance", "/kiosk/problem", "/kiosk/checklist"]
)
def test_deeply_nested_json_is_a_400(client: FlaskClient, url: str) -> None:
    headers = {"X-CSRF-Token": csrf(client), "Content-Type": "application/json"}
    body = b'{"uid": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    r = client.post(url, data=body, headers=headers)
    assert r.status_code == 400, f"{url}: {r.status_code}"
    assert "nests deeper" in r.get_json()["error"]


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/sim/advance", b'{"seconds": NaN}'),
        ("/sim/advance", b'{"seconds": Infinity}'),
        ("/sim/badge", b'{"uid": -Infinity}'),
        ("/sim/badge", b'{"uid": "04C0C1C2", "cloned": NaN}'),
    ],
)
def test_nan_and_infinity_are_refused(client: FlaskClient, url: str, body: bytes) -> None:
    r = client.post(url, data=body, content_type="application/json")
    assert r.status_code == 400, f"{url} {body!r}: {r.status_code}"
    assert "finite number" in r.get_json()["error"]


def test_nan_never_reaches_the_clock(client: FlaskClient, controller: Controller) -> None:
    """Before: NaN passed the range check and held the controller for 30 s, relay on."""
    assert client.post("/sim/badge", json={"uid": SOFIANE}).get_json()["granted"] is True
    r = client.post("/sim/advance", data=b'{"seconds": NaN}', content_type="application/json")
    assert r.status_code == 400
    assert client.post("/sim/advance", json={"seconds": 1}).status_code == 200


def test_huge_usernames_cost_the_limiter_no_memory(client: FlaskClient) -> None:
    """Before: every failed login kept its username as a key (10 MB names: +230 MB)."""
    token = csrf(client)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for i in range(40):
            name = f"{i:02d}" + "u" * 60_000
            r = client.post(
                "/tech/login",
                data={"username": name, "password": "x", "csrf_token": token},
                environ_base={"REMOTE_ADDR": f"192.168.1.{i + 10}"},  # 40 clients of the LAN
            )
            assert r.status_code == 401
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    # What the web code itself keeps (the test client keeps its own copies of each request).
    # (the project's web/ only: a checkout in a folder named web must not count its .venv)
    ours = [tracemalloc.Filter(True, str(Path(__file__).resolve().parent.parent / "web" / "*"))]
    grown = sum(
        d.size_diff
        for d in after.filter_traces(ours).compare_to(before.filter_traces(ours), "filename")
    )
    assert grown < 500_000, f"the limiter kept {grown} bytes for 40 failed logins"


def test_the_limiter_tracks_a_bounded_number_of_keys() -> None:
    t = [0.0]
    limiter = LoginLimiter(attempts=3, window_s=60, clock=lambda: t[0], max_keys=100)
    for i in range(1000):
        limiter.failed(f"ip:10.0.{i // 250}.{i % 250}", f"user:u{i}")
    assert limiter.tracked == 100
    for _ in range(10_000):
        limiter.failed("ip:10.9.9.9")
    assert limiter.blocked("ip:10.9.9.9") and limiter.tracked == 100


def test_a_store_failure_is_a_json_503_with_what_to_do(
    client: FlaskClient, controller: Controller, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    assert controller.store is not None
    monkeypatch.setattr(controller.store, "append", full)
    r = client.post("/sim/badge", json={"uid": SOFIANE})
    assert r.status_code == 503 and r.is_json
    message = r.get_json()["error"]
    assert "is full" in message and "free some space" in message and "Traceback" not in message
    assert controller.hardware.relay.is_on is False
    r = client.post("/sim/badge", json={"uid": SOFIANE})
    assert r.status_code == 503 and "is full" in r.get_json()["error"]


# --- open event streams cannot starve the server --------------------------------------------


def test_open_streams_cannot_starve_the_status_api(
    controller: Controller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(public, "KEEPALIVE_S", 0.2)  # streams notice closed clients quickly
    app = make_app(controller, simulator=True)
    threads = controller.config.web.threads
    streams: list[http.client.HTTPConnection] = []
    with serving(app, threads=threads) as port:
        try:
            codes = []
            for _ in range(threads + 2):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/api/events/stream")
                r = c.getresponse()
                codes.append(r.status)
                if r.status == 503:
                    assert int(r.getheader("Retry-After", "0")) > 0
                    assert "event streams" in r.read().decode()
                streams.append(c)
            assert 200 in codes and 503 in codes, codes
            for url in ("/api/status", "/tech/login", "/sim/"):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", url)
                assert c.getresponse().status == 200, f"{url} with {threads + 2} streams open"
                c.close()
        finally:
            for c in streams:
                c.close()


def test_station_run_refuses_a_big_body_before_reading_it(tmp_path: Path) -> None:
    """`station run`: waitress answers 413 on the headers alone, so a 1 GB upload is never
    buffered to the SD card (before: it was, then the app refused it)."""
    from tests.e2e_helpers import StationProcess, prepare_station

    station = StationProcess(prepare_station(tmp_path / "station"))
    try:
        station.start_ready()
        with socket.create_connection(("127.0.0.1", station.port), timeout=10) as s:
            s.sendall(
                b"POST /sim/badge HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n"
            )
            reply = s.recv(200)  # nothing of the body was sent: only a refusal can come back
        assert reply.startswith(b"HTTP/1.1 413"), reply
    finally:
        station.close()


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("1e999", "too large a number"),
        ('{"seconds": -1E400}', "too large a number"),
        ('{"seq": ' + "9" * 5000 + "}", "5000 digits"),
    ],
)
def test_numbers_python_would_read_as_infinity_or_refuse_oddly_are_400(
    text: str, said: str
) -> None:
    """``1e999`` is valid JSON that Python reads as infinity; 5000 digits made Python's own
    error tell the client to call ``sys.set_int_max_str_digits()``."""
    with pytest.raises(ValueError, match=said) as refused:
        strict_loads(text)
    assert "sys." not in str(refused.value)
