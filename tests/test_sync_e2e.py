"""Sync robustness with `station run` itself (issue 10, items 17, 18 and 19).

A real station process syncs over HTTP with a scripted socket server (faults on demand) or a
real central process (SQLite and PostgreSQL). Its clock is simulated, so "time since the last
success" is exact; the sync's own waits are real and bounded.
"""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from central.config import load_config
from central.wiring import open_store
from tests.conftest import CENTRAL_BACKENDS
from tests.e2e_helpers import SOFIANE, StationProcess, prepare_station, station_command
from tests.test_central_helpers import CentralProcess, wait_for
from tests.test_station_surface_http import Client
from tests.test_sync_faults import ScriptedCentral, on_backend
from tests.test_web_helpers import PASSWORD
from web.common import format as fmt

pytestmark = pytest.mark.e2e


def synced_station(workdir: Path, url: str, token: str) -> StationProcess:
    """A prepared station (sample roster, simulated clock) that syncs with ``url`` every second."""
    config = prepare_station(workdir)
    text = config.read_text(encoding="utf-8")
    for key, value in (
        ("url", f'"{url}"'),
        ("token", f'"{token}"'),
        ("sync_interval_s", "1"),
        ("timeout_s", "2"),
    ):
        text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text, count=1)
        assert n == 1, key
    config.write_text(text, encoding="utf-8")
    return StationProcess(config)


def sync_status(station: StationProcess) -> dict[str, Any]:
    sync: dict[str, Any] = station.status()["sync"]
    return sync


def last_seq(station: StationProcess) -> int:
    return max(e["seq"] for e in station.events())


# --- item 17: the sync thread never dies ----------------------------------------------------------


def test_a_truncated_reply_a_reset_and_garbage_do_not_stop_the_sync(tmp_path: Path) -> None:
    """Before: one truncated reply (http.client.IncompleteRead) ended the sync thread for good."""
    server = ScriptedCentral()
    server.script = ["truncated", "reset", "garbage"]
    station = synced_station(tmp_path / "station", server.url, "token")
    try:
        station.start_ready()
        wait_for(lambda: len(server.served) >= 3, 60, "the three faulty replies")
        assert server.served[:3] == ["truncated", "reset", "garbage"]

        def caught_up() -> bool:
            sync = sync_status(station)
            return sync["state"] == "ok" and sync["backlog"] == 0 and server.acked > 0

        wait_for(caught_up, 60, "the station's events acknowledged after the faults")
        assert server.acked == last_seq(station)
        station.badge(SOFIANE)  # a new event after the faults: still sent
        wait_for(lambda: server.acked == last_seq(station), 30, "the new event acknowledged")
    finally:
        station.close()
        server.close()


# --- item 19: the backlog is true -----------------------------------------------------------------


def test_an_offline_station_shows_its_backlog_and_time_since_success(tmp_path: Path) -> None:
    """Before: a station offline with 503 unsent events showed ``sync.backlog: 0``."""
    server = ScriptedCentral()
    server.script = []
    station = synced_station(tmp_path / "station", server.url, "token")
    try:
        station.start_ready()
        wait_for(lambda: sync_status(station)["state"] == "ok", 30, "a first sync")
        acked = server.acked
        server.close()  # the central store is gone: connection refused from now on
        advanced = 0.0
        for _ in range(6):  # badge in, badge out: three sessions
            station.advance(5)
            advanced += 5
            station.badge(SOFIANE)
        wait_for(lambda: sync_status(station)["state"] == "offline", 30, "the sync failing")
        waiting = last_seq(station) - acked
        assert waiting >= 6
        sync = sync_status(station)
        assert sync["backlog"] == waiting and sync["acked_seq"] == acked
        assert sync["seconds_since_success"] == pytest.approx(advanced, abs=0.5)

        add = ["technician", "add", "yanis", "--password-stdin", "--config", str(station.config)]
        subprocess.run(
            [*station_command(), *add],
            input=PASSWORD + "\n",
            text=True,
            check=True,
            capture_output=True,
        )
        tech = Client("127.0.0.1", station.port)
        tech.log_in()
        status, page = tech.get("/tech/")
        assert status == 200
        text = html.unescape(page.decode())
        assert f"{waiting} événements attendent d'être envoyés" in text, text
        assert f"Dernière synchro réussie il y a {fmt.duration(advanced, 'fr')}" in text, text
        assert "Le serveur central ne répond pas" in text
    finally:
        station.close()


# --- item 18: commands in the order sent, on both backends ----------------------------------------


@pytest.mark.parametrize("backend", CENTRAL_BACKENDS)
def test_200_end_session_and_lock_pairs_arrive_in_the_order_sent(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """Before: sorted by a millisecond timestamp then a random uuid, 81 of 200 back-to-back
    pairs arrived reversed. The station applies them in the order it gets them."""
    central = CentralProcess(tmp_path)
    on_backend(central.config_path, backend, request)
    cconfig = load_config(central.config_path)
    store = open_store(cconfig)
    try:
        token = store.add_station("laser-1", kind="laser")
        url = central.start()
        station = synced_station(tmp_path / "station", url, token)
        try:
            station.start_ready()
            wait_for(lambda: sync_status(station)["state"] == "ok", 30, "a first sync")
            sent = []
            for i in range(200):
                for action in ("end_session", "lock"):
                    command = {"action": action, "reason": f"pair {i}"}
                    sent.append(store.add_command("laser-1", command, by="yanis")["id"])

            def applied() -> list[str]:
                return [
                    e["data"]["command_id"]
                    for e in station.events()
                    if e["type"] == "command_applied"
                ]

            wait_for(lambda: len(applied()) == len(sent), 120, "every command applied")
            assert applied() == sent, "the station applied the commands in another order"
        finally:
            station.close()
    finally:
        central.stop()
        store.close()
