"""The station's network surface over real HTTP (issue 10, items 9, 10 and 11).

The station's app is served by waitress as ``station run`` serves it
(``web.station.app.server_options``), on every address, as a fablab that opens its technician
page to its network does. A client on 127.0.0.1 is the Pi itself (the touchscreen's browser);
a client that connects to this host's network address arrives with that address, as any other
computer of the fablab would (no header, no test hook: the socket's peer). Tests that need such
an address skip on a host that has none.
"""

from __future__ import annotations

import http.client
import json
import re
import resource
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from central.config import load_config
from central.wiring import open_store
from station.controller import Controller
from station.machine import Tap
from tests.conftest import AMINA, LEA, SOFIANE, UNKNOWN
from tests.e2e_helpers import (
    RELAY_PIN,
    HttpError,
    StationProcess,
    prepare_station,
    read_pin_log,
    rss_kib,
)
from tests.test_central_helpers import CentralProcess, serving
from tests.test_web_helpers import PASSWORD, add_tech, make_app
from web.common.login import LoginLimiter
from web.station import public
from web.station.app import server_options

ROSTER_UIDS = ("04A1B2C3", "04D4E5F6", "0411223344AA80", "04B0B1B2", "04C0C1C2", "04E0E1E2")
"""Every badge of the sample roster, and the unknown badge tapped below."""
SECRETS = (*ROSTER_UIDS, UNKNOWN)
MALFORMED = {
    "deep": b'{"uid": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",  # 60 KB: under the limit
    "NaN": b'{"uid": NaN, "seconds": NaN, "answer": NaN, "problem": NaN, "watts": NaN}',
    "Infinity": b'{"seconds": Infinity, "watts": -Infinity, "pm25": Infinity}',
    "1e999": b'{"seconds": 1e999, "watts": 1e999, "pm25": -1e999, "uid": 1e999}',
    "huge int": b'{"seconds": ' + b"9" * 5000 + b"}",
    "truncated": b'{"uid": ',
}


# --- serving the app, and clients from two places -----------------------------------------------


def lan_address() -> str | None:
    """An address of this host other than loopback, that a socket can connect from and to."""
    candidates: set[str] = set()
    try:
        candidates.update(
            str(info[4][0])
            for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        )
    except OSError:
        pass
    for probe in ("192.0.2.1", "10.255.255.255", "8.8.8.8"):  # no packet is sent (UDP connect)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.connect((probe, 9))
                candidates.add(s.getsockname()[0])
            except OSError:
                continue
    for address in sorted(candidates):
        if address.startswith("127.") or address == "0.0.0.0":
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((address, 0))
            except OSError:
                continue
        return str(address)
    return None


@pytest.fixture(scope="module")
def lan() -> str:
    address = lan_address()
    if address is None:
        pytest.skip("this host has no network address besides loopback")
    return address


def on_lan(app: Flask, controller: Controller) -> AbstractContextManager[int]:
    """The app served as `station run` serves it, on every address (a station open to the LAN)."""
    return serving(app, "0.0.0.0", **server_options(controller.config))


@dataclass
class Client:
    """One browser: its address (127.0.0.1, or the LAN's) and its session cookie."""

    host: str
    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        c = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
        finally:
            c.close()
        for value in r.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return r.status, dict(r.headers), data

    def get(self, path: str, **headers: str) -> tuple[int, bytes]:
        status, _, data = self.request("GET", path, headers=headers)
        return status, data

    def post_json(self, path: str, body: Any, token: str, **headers: str) -> tuple[int, Any]:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        h = {"Content-Type": "application/json", "X-CSRF-Token": token, **headers}
        status, _, data = self.request("POST", path, raw, h)
        return status, json.loads(data) if data.startswith(b"{") else data

    def login_token(self) -> str:
        """The session's CSRF token, from the login form anyone can open."""
        _, html = self.get("/tech/login")
        m = re.search(rb'name="csrf_token" value="([^"]+)"', html)
        assert m, "no CSRF token in the login form"
        return m.group(1).decode()

    def log_in(self) -> None:
        token = self.login_token()
        form = f"username=yanis&password={PASSWORD.replace(' ', '+')}&csrf_token={token}"
        status, headers, _ = self.request(
            "POST",
            "/tech/login",
            form.encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 302 and "/tech" in headers["Location"], status

    def kiosk_boot(self, query: str = "", **headers: str) -> dict[str, Any]:
        status, html = self.get("/kiosk/" + query, **headers)
        assert status == 200
        m = re.search(rb'<script id="boot" type="application/json">(.*?)</script>', html, re.S)
        assert m
        boot: dict[str, Any] = json.loads(m.group(1))
        return boot


def assert_no_uid(data: bytes | str, where: str) -> None:
    text = (data.decode(errors="replace") if isinstance(data, bytes) else data).upper()
    shown = [uid for uid in SECRETS if uid in text]
    assert not shown, f"{where} shows the badge UIDs {shown}"


def tap_everyone(controller: Controller) -> None:
    """A co-badge wait, a session, a refusal and an unknown badge: every kind of decision."""
    for uid in (LEA, SOFIANE, AMINA, UNKNOWN):
        controller.call(Tap(uid))


def routes(app: Flask) -> Iterator[tuple[str, str, str]]:
    for rule in app.url_map.iter_rules():
        url = re.sub(r"<[^>]+>", "x", rule.rule)
        if rule.endpoint == "static":
            url = "/static/kiosk.js"
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url


def read_events(port: int, host: str, until: bytes, limit: int = 200) -> bytes:
    """Read one event stream until ``until`` appears (bounded: fails, never hangs)."""
    c = http.client.HTTPConnection(host, port, timeout=10)
    try:
        c.request("GET", "/api/events/stream")
        r = c.getresponse()
        assert r.status == 200
        seen = b""
        for _ in range(limit):
            line = r.fp.readline()
            seen += line
            if until in seen:
                return seen
        raise AssertionError(f"{until!r} not in the stream: {seen[-500:]!r}")
    finally:
        c.close()


@pytest.fixture
def sim_app(controller: Controller) -> Flask:
    add_tech(controller)
    app = make_app(controller, simulator=True)
    app.extensions["login_limiter"] = LoginLimiter(attempts=10_000)
    return app


# --- item 9: no badge UID without a login ---------------------------------------------------------


def test_no_badge_uid_reaches_a_client_without_a_login(
    sim_app: Flask, controller: Controller, lan: str
) -> None:
    """Every GET route, every error page, the event stream: from the LAN and from the Pi itself
    (except the simulator's own listing there: it is the demo's panel, answering only on its
    computer). Before: /api/status, the stream and the kiosk page showed each tapped UID."""
    with on_lan(sim_app, controller) as port:
        streamed: dict[str, bytes] = {}

        def listen(host: str) -> None:
            streamed[host] = read_events(port, host, b'"unknown_badge"')

        listeners = [threading.Thread(target=listen, args=(h,)) for h in (lan, "127.0.0.1")]
        for t in listeners:
            t.start()
        deadline = time.monotonic() + 30
        while controller.broadcaster.subscribers < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # both streams subscribed: then every tap reaches them
        tap_everyone(controller)
        for t in listeners:
            t.join(30)
        for host, data in streamed.items():
            assert b"event: event" in data
            assert_no_uid(data, f"/api/events/stream from {host}")

        for host in (lan, "127.0.0.1"):
            client = Client(host, port)
            for endpoint, method, url in routes(sim_app):
                if endpoint.endswith("stream") or (host == "127.0.0.1" and url == "/sim/badges"):
                    continue
                for accept in ("text/html", "application/json"):
                    status, _, data = client.request(method, url, b"{", {"Accept": accept})
                    where = f"{method} {url} from {host} ({accept}): {status}"
                    assert status < 500, where
                    assert_no_uid(data, where)
                    if url.startswith("/sim/") and host == lan:
                        assert status == 403, where
            for url in ("/no/such/page", "/kiosk/no-such-action", "/tech/../sim/badges"):
                status, data = client.get(url)
                assert_no_uid(data, f"{url} from {host}: {status}")


def test_the_technician_sees_the_unknown_badge_after_login(
    sim_app: Flask, controller: Controller, lan: str
) -> None:
    """What the public pages hide, the technician page shows after login, from the LAN too:
    the unknown badge's UID to enrol it, and who is at the machine."""
    tap_everyone(controller)
    with on_lan(sim_app, controller) as port:
        tech = Client(lan, port)
        status, _ = tech.get("/tech/")
        assert status == 302, "a login first"
        tech.log_in()
        status, page = tech.get("/tech/")
        assert status == 200
        assert UNKNOWN.encode() in page and b"Sofiane" in page


# --- item 10: only the touchscreen acts as the kiosk ----------------------------------------------


def test_only_the_paired_touchscreen_acts_as_the_kiosk(
    checklist_controller: Controller, lan: str
) -> None:
    """Not on the mock backend (a real relay): a LAN client, a forged forwarding header, the key
    sent from the LAN, a program on the Pi without the key and the kiosk's own cookie replayed
    from another computer: none can confirm the checklist (the relay closes), report the
    machine broken or get the kiosk's token. Before: any of them could."""
    controller = checklist_controller
    add_tech(controller)
    app = make_app(controller, simulator=False)
    key = (controller.config.data_path / "kiosk-secret").read_text().strip()
    controller.call(Tap(SOFIANE))
    assert controller.status()["checklist"] is not None, "the checklist waits for Sofiane"
    actions = (
        ("/kiosk/checklist", {"answer": "confirm"}),
        ("/kiosk/problem", {"problem": "broken"}),
    )

    def refused(client: Client, where: str, **headers: str) -> None:
        assert client.get("/kiosk/token", **headers)[0] == 403, f"{where} got a kiosk token"
        token = client.login_token()  # a valid token of the session: the refusal is not CSRF
        for url, body in actions:
            status, reply = client.post_json(url, body, token, **headers)
            assert status == 403, f"{where}: {url} answered {status}"
            assert "touchscreen" in reply["error"]

    with on_lan(app, controller) as port:
        laptop = Client(lan, port)
        boot = laptop.kiosk_boot()
        assert boot["paired"] is False and boot["csrf"] == "", "a watcher gets no kiosk token"
        refused(laptop, "a LAN client")
        assert laptop.kiosk_boot(f"?pair={key}")["paired"] is False, "the key from the LAN"
        refused(laptop, "a LAN client with the key")
        refused(laptop, "a LAN client saying it is local", **{"X-Forwarded-For": "127.0.0.1"})

        program = Client("127.0.0.1", port)
        assert program.kiosk_boot()["paired"] is False
        refused(program, "a program on the Pi without the key")
        proxied = Client("127.0.0.1", port)
        forwarded = {"X-Forwarded-For": lan, "Forwarded": f"for={lan}"}
        assert proxied.kiosk_boot(f"?pair={key}", **forwarded)["paired"] is False
        refused(proxied, "a request a local proxy forwarded", **forwarded)

        touchscreen = Client("127.0.0.1", port)
        boot = touchscreen.kiosk_boot(f"?pair={key}")
        assert boot["paired"] is True and boot["csrf"]
        status, raw = touchscreen.get("/kiosk/token")
        assert status == 200 and json.loads(raw)["csrf"]
        thief = Client(lan, port, cookies=dict(touchscreen.cookies))
        for url, body in actions:
            status, reply = thief.post_json(url, body, boot["csrf"])
            assert status == 403, f"the kiosk's cookie from another computer: {url} {status}"
        assert thief.get("/kiosk/token")[0] == 403

        status_now = controller.status()
        assert status_now["machine"]["relay_on"] is False and status_now["check_requested"] is None
        assert status_now["checklist"] is not None, "still waiting for the touchscreen"
        store = controller.store
        assert store is not None
        reported = controller.run_in_loop(
            lambda: [e for e in store.events() if e["type"] == "problem_reported"]
        )
        assert reported == [], "no problem was reported"

        status, reply = touchscreen.post_json(
            "/kiosk/checklist", {"answer": "confirm"}, boot["csrf"]
        )
        assert status == 200, reply
        assert controller.status()["machine"]["relay_on"] is True, "the touchscreen can"


# --- item 11: bad requests get a clear 4xx, never a 500 or a hang ---------------------------------


def send_big_body(port: int, method: str, url: str, size: int, *, chunked: bool = False) -> bytes:
    """Send ``size`` bytes of body the way a client that does not wait does, and return what
    the server answered (it may close before the client has sent everything)."""
    head = f"{method} {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {size}\r\n"
    chunk = b"x" * 65536
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
    reply = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head.encode() + b"\r\n")
        sent = 0
        while sent < size:
            readable, writable, _ = select.select([s], [s], [], 30)
            if readable:
                break
            if writable:
                try:
                    s.sendall(framed)
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += len(chunk)
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    break
                reply += data
        except ConnectionResetError:
            pass
    return reply


@pytest.mark.parametrize("chunked", [False, True])
def test_a_20_mb_body_is_refused_with_413_and_not_echoed(
    sim_app: Flask, controller: Controller, chunked: bool
) -> None:
    with on_lan(sim_app, controller) as port:
        for method, url in (
            ("POST", "/sim/badge"),
            ("POST", "/kiosk/problem"),
            ("POST", "/tech/login"),
            ("GET", "/api/status"),
            ("POST", "/no/such/route"),
        ):
            reply = send_big_body(port, method, url, 20 * 1024 * 1024, chunked=chunked)
            assert reply.startswith(b"HTTP/1.1 413"), f"{method} {url}: {reply[:100]!r}"
            assert len(reply) < 2000 and b"xxxx" not in reply, "the body is not echoed back"
        assert Client("127.0.0.1", port).get("/api/status")[0] == 200


def test_malformed_json_is_a_400_on_every_json_route(
    sim_app: Flask, controller: Controller
) -> None:
    """Deep nesting, NaN, Infinity, numbers too large: 400 with a sentence on the JSON routes,
    never a 5xx on any route. Before: deep JSON was a RecursionError (500)."""
    with on_lan(sim_app, controller) as port:
        kiosk = Client("127.0.0.1", port)
        kiosk_token = kiosk.kiosk_boot()["csrf"]
        tech = Client("127.0.0.1", port)
        tech.log_in()
        tech_token = tech.login_token()
        for endpoint, method, url in routes(sim_app):
            if method != "POST" or endpoint.endswith("logout"):
                continue
            client, token = (tech, tech_token) if url.startswith("/tech/") else (kiosk, kiosk_token)
            for name, body in MALFORMED.items():
                status, reply = client.post_json(url, body, token)
                where = f"{url} with {name}: {status} {str(reply)[:200]}"
                assert status < 500, where
                if url.startswith(("/sim/", "/kiosk/")):
                    assert status == 400 and reply["error"], where
        assert controller.status()["machine"]["state"] == "available", "nothing happened"


def test_nan_seconds_do_not_hold_the_controller(sim_app: Flask, controller: Controller) -> None:
    """Before: {"seconds": NaN} held the controller for 30 s with the relay on."""
    with on_lan(sim_app, controller) as port:
        kiosk = Client("127.0.0.1", port)
        token = kiosk.kiosk_boot()["csrf"]
        assert kiosk.post_json("/sim/badge", {"uid": SOFIANE}, token)[1]["granted"] is True
        before = controller.clock.now().mono
        for body in (b'{"seconds": NaN}', b'{"seconds": Infinity}', b'{"seconds": 1e999}'):
            status, reply = kiosk.post_json("/sim/advance", body, token)
            assert status == 400 and "finite" in reply["error"], reply
        status, reply = kiosk.post_json("/sim/advance", {"seconds": 1}, token)
        assert status == 200 and controller.clock.now().mono == before + 1


def test_open_streams_cannot_starve_the_pages_or_the_touchscreen(
    sim_app: Flask, controller: Controller, lan: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: 8 open streams took every server thread. Now streams from the LAN stop below the
    cap, the touchscreen still gets its own, and the pages and the kiosk's actions answer."""
    monkeypatch.setattr(public, "KEEPALIVE_S", 0.2)  # streams notice closed clients quickly
    threads = controller.config.web.threads
    held: list[http.client.HTTPConnection] = []

    def open_stream(host: str) -> int:
        c = http.client.HTTPConnection(host, port, timeout=10)
        c.request("GET", "/api/events/stream")
        r = c.getresponse()
        if r.status == 503:
            assert int(r.getheader("Retry-After", "0")) > 0
            assert "event streams" in json.loads(r.read())["error"]
            c.close()
        else:
            held.append(c)
        return r.status

    with on_lan(sim_app, controller) as port:
        try:
            codes = [open_stream(lan) for _ in range(threads + 2)]
            assert codes.count(200) == threads - 4 and 503 in codes, codes
            assert open_stream("127.0.0.1") == 200, "the touchscreen's stream"
            assert open_stream("127.0.0.1") == 503, "then the cap"
            tech = Client(lan, port)
            tech.log_in()
            kiosk = Client("127.0.0.1", port)
            token = kiosk.kiosk_boot()["csrf"]
            for client, url in (
                (tech, "/api/status"),
                (tech, "/tech/"),
                (tech, "/kiosk/"),
                (kiosk, "/sim/"),
                (kiosk, "/api/status"),
            ):
                assert client.get(url)[0] == 200, f"{url} with every stream open"
            status, _ = kiosk.post_json("/kiosk/problem", {"problem": "missing_material"}, token)
            assert status == 200, "the touchscreen's actions with every stream open"
        finally:
            for c in held:
                c.close()


@pytest.mark.e2e
def test_a_disk_that_refuses_writes_fails_safe_in_one_sentence(tmp_path: Path) -> None:
    """`station run` whose writes start failing (the kernel refuses to grow its files: EFBIG, as
    a full or dying SD card refuses them): the tap that could not be recorded gets a JSON 503
    saying what to do, the relay is off, and the process ends with that sentence, no
    traceback. Before: a traceback in the journal and ``OperationalError('disk I/O error')``."""
    config = prepare_station(tmp_path / "station")
    station = StationProcess(config, pin_log=tmp_path / "pins.log")
    try:
        station.start_ready()
        assert station.badge(SOFIANE)["granted"] is True
        station.advance(5)
        # The next event grows the write-ahead log: no file of the process may grow any more
        # (the logs and the pin record are smaller; they may still be written).
        wal = config.parent / "data" / "station.sqlite-wal"
        size = wal.stat().st_size
        assert size > (tmp_path / "pins.log").stat().st_size
        resource.prlimit(station.pid, resource.RLIMIT_FSIZE, (size, size))
        with pytest.raises(HttpError) as refused:
            station.badge(SOFIANE)  # badge-out: an event to write
        assert refused.value.status == 503
        message = json.loads(refused.value.body)["error"]
        assert "disk I/O error" in message and "free some space" in message, message
        assert station.wait_exit() == 1
        stderr = station.stderr()
        assert "Traceback" not in stderr, stderr
        assert "free some space" in stderr.splitlines()[-1], stderr
        assert station.pin_log is not None
        relay = [c.value for c in read_pin_log(station.pin_log) if c.pin == RELAY_PIN]
        assert relay and relay[-1] == 0, relay
    finally:
        station.close()


@pytest.mark.e2e
def test_the_central_store_refuses_big_bodies_and_bad_json_over_http(tmp_path: Path) -> None:
    """The other app, as `station-central run` serves it: the same limits (web/common)."""
    central = CentralProcess(tmp_path)
    store = open_store(load_config(central.config_path))
    token = store.add_station("laser-1", kind="laser")
    store.close()
    url = central.start()
    port = int(url.rsplit(":", 1)[1].strip("/"))
    try:
        for method, path in (
            ("POST", "/api/v1/sync"),
            ("POST", "/login"),
            ("GET", "/api/v1/health"),
        ):
            reply = send_big_body(port, method, path, 20 * 1024 * 1024)
            assert reply.startswith(b"HTTP/1.1 413"), f"{method} {path}: {reply[:100]!r}"
            assert len(reply) < 2000 and b"xxxx" not in reply, "the body is not echoed back"
        station = Client("127.0.0.1", port)
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for path in ("/api/v1/sync", "/api/v1/enrol"):
            for name, body in MALFORMED.items():
                status, _, data = station.request("POST", path, body, auth)
                assert status == 400, f"{path} with {name}: {status} {data[:200]!r}"
                assert json.loads(data)["error"], name
        assert station.get("/api/v1/health")[0] == 200
    finally:
        central.stop()


@pytest.mark.e2e
def test_wrong_passwords_do_not_grow_the_station(tmp_path: Path) -> None:
    """`station run`: 24 wrong passwords from 8 clients at once, failed logins with 60 KB
    usernames, then 10 MB usernames: VmRSS grows by a few MiB. Before: each server thread kept a
    password check's 16 MiB (45 → 175 MiB here), and long usernames were kept as keys (10 MB
    ones: 46 → 277 MB). bench/bench_login_memory.py measures it."""
    from concurrent.futures import ThreadPoolExecutor

    from bench.bench_login_memory import address, failed_login

    station = StationProcess(prepare_station(tmp_path / "station"))
    try:
        station.start_ready()
        before = rss_kib(station.pid)
        with ThreadPoolExecutor(8) as pool:  # as many as the server's threads

            def flood(size: int, n: int, first: int = 0) -> list[int]:
                return list(
                    pool.map(
                        lambda i: failed_login(station.port, address(i), size, i),
                        range(first, first + n),
                    )
                )

            assert flood(20, 24) == [401] * 24, "wrong passwords of plausible usernames"
            assert flood(60_000, 24, 100) == [401] * 24
            assert flood(10 << 20, 4, 200) == [413] * 4
        grown_mib = (rss_kib(station.pid) - before) / 1024
        assert grown_mib < 40, f"VmRSS grew by {grown_mib:.1f} MiB"
    finally:
        station.close()


# --- item 10: a page on another site cannot act as the kiosk through DNS rebinding --------------


def test_a_rebinding_page_cannot_act_as_the_demo_kiosk(
    checklist_controller: Controller, lan: str
) -> None:
    """On the mock backend (the demo) loopback pairs without the key: a page of evil.example
    rebound to 127.0.0.1, in a browser on the demo computer, would be the kiosk. Its requests
    carry ``Host: evil.example``: 400 with what to do, even with the kiosk's cookie and token,
    and the relay stays off. The demo, under its own names and addresses, still works."""
    controller = checklist_controller
    app = make_app(controller, simulator=True)
    controller.call(Tap(SOFIANE))
    assert controller.status()["checklist"] is not None
    with on_lan(app, controller) as port:
        kiosk = Client("127.0.0.1", port)
        token = kiosk.kiosk_boot()["csrf"]
        assert token, "the demo's loopback page is the kiosk"
        for host in ("evil.example", f"evil.example:{port}", "laser-1.evil.example"):
            status, page = kiosk.get("/kiosk/", Host=host)
            assert status == 400 and b"[web] allowed_hosts" in page, host
            for url, body in (
                ("/kiosk/checklist", {"answer": "confirm"}),
                ("/kiosk/problem", {"problem": "broken"}),
                ("/sim/badge", {"uid": LEA}),
            ):
                status, reply = kiosk.post_json(url, body, token, Host=host)
                assert status == 400, f"{host} {url}: {status}"
                assert "does not answer to the name" in reply["error"]
                assert "[web] allowed_hosts" in reply["error"]
        assert controller.status()["machine"]["relay_on"] is False
        assert controller.status()["check_requested"] is None

        name = socket.gethostname()
        for host in (
            f"localhost:{port}",
            f"127.0.0.1:{port}",
            f"[::1]:{port}",
            f"{lan}:{port}",
            f"{name}:{port}",
            f"{name}.local:{port}",
        ):
            assert kiosk.get("/api/status", Host=host)[0] == 200, host
        status, reply = kiosk.post_json(
            "/kiosk/checklist", {"answer": "confirm"}, token, Host=f"localhost:{port}"
        )
        assert status == 200, reply
        assert controller.status()["machine"]["relay_on"] is True, "the demo still works"


def test_the_station_answers_the_names_its_config_gives(controller: Controller) -> None:
    """``[web] allowed_hosts`` adds names (and, with a leading dot, subdomains); the 400 lists
    what the station answers to and which key to change."""
    web = replace(controller.config.web, allowed_hosts=["laser-1.fablab.lan", ".atelier.lan"])
    controller.config = replace(controller.config, web=web)
    client = make_app(controller).test_client()
    for host in ("laser-1.fablab.lan:8080", "cnc.atelier.lan", "192.168.1.42:8080", "[fe80::1]"):
        assert client.get("/api/status", headers={"Host": host}).status_code == 200, host
    refused = client.get("/api/status", headers={"Host": "fablab.lan"})
    assert refused.status_code == 400
    error = refused.get_json()["error"]
    assert "'fablab.lan'" in error and "laser-1.fablab.lan" in error
    assert "[web] allowed_hosts" in error
