"""Helpers for the central store and sync tests (no tests here).

A central store in-process (waitress on 127.0.0.1, port 0) or as a ``station-central run``
subprocess that can be killed and restarted; a fault-injecting HTTP proxy; a fake controller for
sync clients that need no hardware; and a ``wait_for`` that polls a condition with a deadline.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from central.config import CentralConfig, parse_config, write_config
from central.store import CentralStore
from station.clock import SimulatedClock
from station.config import Config
from station.config import parse_config as parse_station_config
from station.store import Store
from tests.conftest import open_central_store

REPO = Path(__file__).resolve().parent.parent


def wait_for(cond: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll ``cond`` until it returns a truthy value; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def central_config(tmp_path: Path, **sync: Any) -> CentralConfig:
    raw = {
        "server": {"host": "127.0.0.1", "port": 0},
        "storage": {"data_dir": str(tmp_path / "central")},
        "sync": {"station_interval_s": 1.0, **sync},
    }
    return parse_config(raw, tmp_path / "central.toml")


class CentralServer:
    """The central store's app on waitress, in this process, on 127.0.0.1 and a free port."""

    def __init__(self, config: CentralConfig, store: CentralStore | None = None) -> None:
        import waitress

        from web.central.app import SERVER_OPTIONS, create_central_app

        self.config = config
        self.store: Any = store or open_central_store(config.db_path)
        self.app = create_central_app(self.store, config)
        self.server = waitress.create_server(
            self.app, host="127.0.0.1", port=0, threads=8, ident="test-central", **SERVER_OPTIONS
        )
        self.port = int(self.server.effective_port)  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        stop_waitress(self.server, self.thread)
        self.store.close()


def stop_waitress(server: Any, thread: threading.Thread) -> None:
    """Close every socket from the server's own loop thread; the loop ends when none is left."""

    def close_all() -> None:
        for channel in list(server._map.values()):
            channel.close()

    server.task_dispatcher.shutdown()  # first: a finishing task still pulls the trigger
    try:
        server.trigger.pull_trigger(close_all)
    except OSError:  # the trigger is closed already: its loop has ended, nothing races us
        close_all()
    thread.join(10)


@contextmanager
def serving(app: Any, host: str = "127.0.0.1", **options: Any) -> Iterator[int]:
    """``app`` on waitress (``options`` as the real command passes them) on a free port."""
    import waitress

    server = waitress.create_server(app, host=host, port=0, **options)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server.effective_port
    finally:
        stop_waitress(server, thread)


class CentralProcess:
    """``python -m central.cli run`` as a subprocess: killed with SIGKILL, started again."""

    def __init__(self, tmp_path: Path) -> None:
        self.config_path = tmp_path / "central.toml"
        write_config(self.config_path, port=0, data_dir="central", interval=1.0)
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> str:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "central.cli", "run", "--config", str(self.config_path)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        m = re.search(r"ready on (http://\S+)", line)
        if not m:
            self.kill()
            raise AssertionError(f"the central store did not start: {line!r}")
        self.url = m.group(1)
        return self.url

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.kill()


class FaultProxy:
    """An HTTP proxy that drops, delays, duplicates and reorders requests (seeded).

    ``faults`` are probabilities: ``drop`` (close before forwarding), ``lose_reply`` (forward,
    then close: stored but never acknowledged), ``delay`` (up to ``max_delay_s``), ``duplicate``
    (forward twice), ``reorder`` (hold the request until the next one has gone through). With no
    upstream, or an upstream down, it answers 502.
    """

    def __init__(self, upstream: str = "", *, seed: int = 1, **faults: float) -> None:
        self.upstream = upstream
        self.faults = {"max_delay_s": 0.3, **faults}
        self.rng = random.Random(seed)
        self.rng_lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.passed = threading.Condition()
        self.forwarded = 0
        self.enabled = True
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                proxy.handle(self)

            def do_GET(self) -> None:
                proxy.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _count(self, what: str) -> None:
        with self.rng_lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def _roll(self) -> str:
        with self.rng_lock:
            r = self.rng.random()
        if not self.enabled:
            return "pass"
        acc = 0.0
        for fault in ("drop", "lose_reply", "delay", "duplicate", "reorder"):
            acc += self.faults.get(fault, 0.0)
            if r < acc:
                return fault
        return "pass"

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
        if not self.upstream:
            return None
        host, port = self.upstream.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            result = (resp.status, resp.getheader("Content-Type", ""), resp.read())
        except OSError:
            result = None
        finally:
            conn.close()
        with self.passed:
            self.forwarded += 1
            self.passed.notify_all()
        return result

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        headers = {
            k: v for k, v in h.headers.items() if k.lower() in ("content-type", "authorization")
        }
        fault = self._roll()
        self._count(fault)
        if fault == "drop":
            h.close_connection = True
            h.connection.close()
            return
        if fault == "delay":
            with self.rng_lock:
                delay = self.rng.uniform(0, self.faults["max_delay_s"])
            time.sleep(delay)  # injected network latency, not a wait for a test condition
        if fault == "reorder":
            with self.passed:
                seen = self.forwarded
                self.passed.wait_for(lambda: self.forwarded > seen, timeout=2.0)
        result = self._forward(h.command, h.path, headers, body)
        if fault == "duplicate":
            second = self._forward(h.command, h.path, headers, body)
            result = result or second
        if fault == "lose_reply" or result is None:
            if result is None and fault != "lose_reply":
                self._reply(h, 502, "application/json", b'{"error": "upstream down"}')
                return
            h.close_connection = True
            h.connection.close()
            return
        self._reply(h, *result)

    @staticmethod
    def _reply(h: BaseHTTPRequestHandler, status: int, ctype: str, body: bytes) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype or "application/json")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
        except OSError:
            pass  # the client gave up (timeout): what a reordered request looks like


def station_config(
    tmp_path: Path,
    station_id: str,
    url: str,
    token: str,
    *,
    kind: str = "laser",
    batch_size: int = 100,
    interval: float = 1.0,
    timeout: float = 2.0,
    max_age_h: float = 72.0,
) -> Config:
    raw = {
        "station": {"id": station_id, "data_dir": str(tmp_path / station_id)},
        "machine": {"id": station_id, "name": station_id, "kind": kind},
        "hardware": {"backend": "mock"},
        "reader": {"type": "fake"},
        "clock": {"simulated": True},
        "web": {"port": 0},
        "central": {
            "url": url,
            "token": token,
            "batch_size": batch_size,
            "sync_interval_s": interval,
            "timeout_s": timeout,
            "roster_max_age_h": max_age_h,
        },
    }
    return parse_station_config(raw, tmp_path / f"{station_id}.toml")


class FakeTarget:
    """Stands in for the controller: records what the sync client asks of it."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.clock = SimulatedClock(mono=5000.0)
        self.calls: list[Any] = []
        self.expiry: float | None = None
        self.sync: dict[str, Any] = {}
        self.reloads = 0
        self._local = threading.local()
        self.lock = threading.Lock()

    def _store(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = Store(self.config.db_path, self.config.station.id, self.config.machine.id)
            self._local.store = store
        return store

    def call(self, inp: Any, timeout: float = 5.0) -> Any:
        self.calls.append(inp)
        return {"ok": True, "action": getattr(inp, "action", None)}

    def record(self, type_: str, data: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        with self.lock:
            (event,) = self._store().append([(type_, data)], self.clock.now(), "fake-boot")
        return event

    def set_roster_expiry(self, expires_mono: float | None) -> None:
        self.expiry = expires_mono

    def set_sync_status(self, sync: dict[str, Any]) -> None:
        self.sync = sync

    def reload_roster(self) -> None:
        self.reloads += 1


def fill_events(config: Config, count: int, *, chunk: int = 250, boot: str = "boot-1") -> None:
    """Append ``count`` heartbeat events to a station's log, ``chunk`` per transaction."""
    store = Store(config.db_path, config.station.id, config.machine.id)
    clock = SimulatedClock(mono=100.0)
    try:
        done = 0
        while done < count:
            n = min(chunk, count - done)
            store.append([("heartbeat", {"n": done + i}) for i in range(n)], clock.now(), boot)
            clock.advance(1.0)
            done += n
    finally:
        store.close()


def station_events(config: Config) -> list[dict[str, Any]]:
    store = Store(config.db_path, config.station.id, config.machine.id)
    try:
        return list(store.events())
    finally:
        store.close()


def post_json(url: str, body: Any, token: str | None = None, timeout: float = 10.0) -> Any:
    """POST JSON; return ``(status, decoded body)`` whatever the status."""
    import urllib.error
    import urllib.request

    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        with e:
            raw = e.read()
        return e.code, json.loads(raw) if raw else {}
