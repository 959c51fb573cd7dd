"""Sync under faults: a proxy that drops, delays, duplicates and reorders, and a central store
killed with SIGKILL and restarted. After healing, the central store holds exactly the stations'
events: no loss, no duplicate, checked by ids and counts."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from central.config import load_config
from central.store import SqliteCentralStore
from station.sync import SyncClient
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


@pytest.mark.e2e
def test_three_stations_through_faults_and_central_restarts(tmp_path: Path) -> None:
    central = CentralProcess(tmp_path)
    cconfig = load_config(central.config_path)
    store = SqliteCentralStore(cconfig.db_path)
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
            s = SqliteCentralStore(cconfig.db_path)
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
            s = SqliteCentralStore(cconfig.db_path)
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

    store = SqliteCentralStore(cconfig.db_path)
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
