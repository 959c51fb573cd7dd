"""Sync under faults: a proxy that drops, delays, duplicates and reorders, and a central store
killed with SIGKILL and restarted. After healing, the central store holds exactly the stations'
events: no loss, no duplicate, checked by ids and counts. On both backends (on PostgreSQL a
killed process leaves its open transaction to the server, which rolls it back)."""

from __future__ import annotations

import json
import socket
import struct
import threading
from pathlib import Path

import pytest

from central.config import load_config
from central.wiring import open_store
from station.sync import SyncClient
from tests.conftest import CENTRAL_BACKENDS
from tests.test_central_helpers import (
    CentralProcess,
    FakeTarget,
    FaultProxy,
    fill_events,
    station_config,
    station_events,
    wait_for,
)

STATIONS = ("laser-1", "printer-1", "cnc-1")
EVENTS_PER_STATION = 2000


def on_backend(config: Path, backend: str, request: pytest.FixtureRequest) -> None:
    """The central process's config on ``backend`` (PostgreSQL: this test's schema)."""
    if backend == "postgresql":
        dsn = request.getfixturevalue("pg_store_dsn")
        text = config.read_text(encoding="utf-8")
        config.write_text(
            text.replace('backend = "sqlite"', f'backend = "postgresql"\ndsn = "{dsn}"'),
            encoding="utf-8",
        )


@pytest.mark.e2e
@pytest.mark.parametrize("backend", CENTRAL_BACKENDS)
def test_three_stations_through_faults_and_central_restarts(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    central = CentralProcess(tmp_path)
    on_backend(central.config_path, backend, request)
    cconfig = load_config(central.config_path)

    store = open_store(cconfig)
    tokens = {sid: store.add_station(sid) for sid in STATIONS}
    store.close()
    central.start()
    proxy = FaultProxy(
        central.url,
        seed=7,
        drop=0.08,
        lose_reply=0.08,
        delay=0.1,
        duplicate=0.08,
        reorder=0.05,
        max_delay_s=0.4,
    )
    configs = {
        sid: station_config(tmp_path, sid, proxy.url, tokens[sid], batch_size=97, timeout=1.0)
        for sid in STATIONS
    }
    # Half of each log exists before the clients start; the rest is written while they push.
    for cfg in configs.values():
        fill_events(cfg, EVENTS_PER_STATION // 2)
    clients = [SyncClient(cfg, FakeTarget(cfg), max_backoff_s=0.5) for cfg in configs.values()]
    writers = [
        threading.Thread(
            target=fill_events, args=(cfg, EVENTS_PER_STATION // 2), kwargs={"chunk": 37}
        )
        for cfg in configs.values()
    ]
    try:
        for c in clients:
            c.start()
        for w in writers:
            w.start()

        def held() -> int:
            s = open_store(cconfig)
            try:
                return s.count_events()
            finally:
                s.close()

        for restart in range(2):
            # Kill the central store in the middle of the pushes, then bring it back.
            wait_for(lambda r=restart: held() > (r + 1) * 1200, 60, "events reaching the store")
            central.kill()
            proxy.upstream = central.start()
        for w in writers:
            w.join(60)

        def healed() -> bool:
            s = open_store(cconfig)
            try:
                return all(s.high_water(sid) == EVENTS_PER_STATION for sid in STATIONS)
            finally:
                s.close()

        proxy.enabled = True
        wait_for(healed, 120, "every station's events at the central store")
    finally:
        for c in clients:
            c.stop()
        proxy.stop()
        central.stop()

    store = open_store(cconfig)
    try:
        assert store.count_events() == len(STATIONS) * EVENTS_PER_STATION
        for sid, cfg in configs.items():
            local = [(e["seq"], e["id"]) for e in station_events(cfg)]
            held_events = [(e["seq"], e["id"]) for e in store.events(station_id=sid)]
            assert len(local) == EVENTS_PER_STATION
            assert held_events == local, f"{sid}: the central store's copy differs"
            assert store.station(sid)["held"] == EVENTS_PER_STATION  # each stored once
    finally:
        store.close()
    # Every kind of fault did happen.
    for fault in ("drop", "lose_reply", "delay", "duplicate", "reorder"):
        assert proxy.counts.get(fault, 0) > 0, f"no {fault} was injected: {proxy.counts}"


# --- one attempt's failure never ends the sync thread ---------------------------------------------


class ScriptedCentral:
    """A raw TCP server on 127.0.0.1 that answers each request with the next scripted fault,
    then with valid replies acknowledging every event it was sent."""

    FAULTS = ("truncated", "reset", "garbage", "bad_roster", "not_json")

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.script = list(self.FAULTS)
        self.served: list[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    self._answer(conn)
                except OSError:
                    pass

    def _answer(self, conn: socket.socket) -> None:
        body = _read_request(conn)
        what = self.script.pop(0) if self.script else "ok"
        self.served.append(what)
        if what == "truncated":  # http.client.IncompleteRead in the client
            conn.sendall(_http(200, b'{"acked_seq": 1', length=100))
        elif what == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif what == "garbage":  # http.client.BadStatusLine
            conn.sendall(b"\x00\xffNOT HTTP AT ALL\r\n\r\n")
        elif what == "bad_roster":  # valid JSON whose roster does not fit (members: a number)
            conn.sendall(_http(200, b'{"acked_seq": 0, "roster": {"version": 9, "members": 5}}'))
        elif what == "not_json":
            conn.sendall(_http(200, b"<html>proxy error</html>"))
        else:
            seqs = [e["seq"] for e in json.loads(body)["events"]]
            acked = max(seqs) if seqs else self.acked
            self.acked = acked
            conn.sendall(_http(200, json.dumps({"acked_seq": acked}).encode()))

    acked = 0

    def close(self) -> None:
        """Stop listening now: a thread blocked in accept() would otherwise take one more."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._thread.join(5)


def _read_request(conn: socket.socket) -> bytes:
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return body


def _http(status: int, body: bytes, *, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    head = f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n"
    return head.encode() + b"Connection: close\r\n\r\n" + body


def test_a_truncated_reply_a_reset_and_garbage_never_end_the_sync_thread(tmp_path: Path) -> None:
    server = ScriptedCentral()
    config = station_config(tmp_path, "laser-1", server.url, "token", batch_size=20)
    fill_events(config, 50)
    target = FakeTarget(config)
    client = SyncClient(config, target, max_backoff_s=1.0)
    client.start()
    try:

        def pushed() -> bool:
            client.wake()  # no waiting out the back-off: each wake is one more attempt
            return server.acked == 50 and target.sync.get("state") == "ok"

        wait_for(pushed, 30, "every event acknowledged after the faults")
        assert server.served[: len(ScriptedCentral.FAULTS)] == list(ScriptedCentral.FAULTS)
        assert client._thread is not None and client._thread.is_alive()
        assert client.failures == 0 and target.sync["backlog"] == 0
    finally:
        client.stop()
        server.close()
