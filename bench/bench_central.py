"""Central store benchmark: push throughput over loopback HTTP, 50 stations at once, report queries.

For each backend (``--backend sqlite``, ``postgresql`` or ``both``, the default):

1. One station pushes a backlog of N events (default 100,000) to a central store running as a
   ``station-central run`` subprocess, over loopback HTTP, with the real sync client
   (``station/sync.py``, urllib) reading its own SQLite log: events/s from the client's start to
   the central store's acknowledgement of the last seq ("end to end"). Done with the default
   batch (500) and with 5,000.
2. 50 stations (50 sync clients, one thread each, in one process) push 2,000 events each at
   once; on PostgreSQL through ``--processes`` central processes (default 2) on one database,
   the stations shared between them as a load balancer would.
3. Report queries over a store of M events (default 1,000,000: 100,000 sessions of 10 events
   each, 30 trainees, 8 machines, a year, with grants): p50/p95 of each report page's queries.

PostgreSQL runs on a database of its own, made and dropped here, on the server named by
``FABRIQUE_BENCH_PG`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``).

    .venv/bin/python bench/bench_central.py               # the figures in docs/benchmarks.md
    .venv/bin/python bench/bench_central.py --events 20000 --report-events 100000   # quick
    .venv/bin/python bench/bench_central.py --backend postgresql --check   # exit 1 on a miss
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from central import progress, reports  # noqa: E402
from central.config import load_config, write_config  # noqa: E402
from central.fleet import fleet, utcnow  # noqa: E402
from central.ingest import Event  # noqa: E402
from central.store import CentralStore  # noqa: E402
from central.wiring import open_store  # noqa: E402
from station.clock import Clock, SimulatedClock  # noqa: E402
from station.config import parse_config  # noqa: E402
from station.store import Store  # noqa: E402
from station.sync import SyncClient  # noqa: E402

TARGET_EPS = {"sqlite": 20_000, "postgresql": 50_000}
"""Push targets: one station at batch 500 (SQLite); 50 stations at once (PostgreSQL, issue 13)."""
TARGET_P95_MS = 300.0
ADMIN_DSN = os.environ.get("FABRIQUE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


class Backend:
    """A fresh central store's config on one backend (PostgreSQL: a database made for it)."""

    def __init__(self, name: str, tmp: Path) -> None:
        self.name = name
        self.config = tmp / "central.toml"
        write_config(self.config, port=0, data_dir="central")
        text = self.config.read_text().replace("max_batch = 5000", "max_batch = 10000")
        self.database = ""
        if name == "postgresql":
            self.database = f"fabrique_bench_{os.getpid()}_{random.randrange(1 << 30)}"
            self._admin(f"CREATE DATABASE {self.database}")
            dsn = ADMIN_DSN.split("?", 1)[0].rsplit("/", 1)[0] + "/" + self.database
            text = text.replace('backend = "sqlite"', f'backend = "postgresql"\ndsn = "{dsn}"')
            text = text.replace("# pool_size = 10", "pool_size = 16")
        self.config.write_text(text)

    @staticmethod
    def _admin(sql: str) -> None:
        import psycopg

        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(sql)

    def store(self) -> CentralStore:
        return open_store(load_config(self.config))

    def drop(self) -> None:
        if self.database:
            self._admin(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")


class Target:
    """The controller's part the sync client needs, without hardware."""

    def __init__(self) -> None:
        self.clock: Clock = SimulatedClock()
        self.sync: dict[str, Any] = {}

    def call(self, inp: Any, timeout: float = 5.0) -> Any:
        return {"ok": True}

    def record(self, type_: str, data: Mapping[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        raise RuntimeError("not in the benchmark")

    def set_roster_expiry(self, expires_mono: float | None) -> None:
        pass

    def set_sync_status(self, sync: dict[str, Any]) -> None:
        self.sync = sync

    def reload_roster(self) -> None:
        pass


def start_central(config: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "central.cli", "run", "--config", str(config)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    m = re.search(r"ready on (http://\S+)", proc.stdout.readline())
    assert m, "the central store did not start"
    return proc, m.group(1)


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    if proc.stdout:
        proc.stdout.close()


def station(tmp: Path, sid: str, url: str, token: str, batch: int, events: int) -> Any:
    cfg = parse_config(
        {
            "station": {"id": sid, "data_dir": str(tmp / sid)},
            "machine": {"id": sid, "name": sid, "kind": "laser"},
            "hardware": {"backend": "mock"},
            "reader": {"type": "fake"},
            "clock": {"simulated": True},
            "central": {"url": url, "token": token, "batch_size": batch, "timeout_s": 30},
        },
        tmp / f"{sid}.toml",
    )
    store = Store(cfg.db_path, sid, sid)
    clock = SimulatedClock()
    data = {"session_id": "s", "member_id": "lea", "watts": 812.5}
    for done in range(0, events, 5000):
        n = min(5000, events - done)
        store.append([("heartbeat", data)] * n, clock.now(), "boot")
        clock.advance(1)
    store.close()
    return cfg


def push(backend: Backend, clients: list[SyncClient], total: int) -> float:
    store = backend.store()
    ids = [c.config.station.id for c in clients]
    t0 = time.perf_counter()
    for c in clients:
        c.start()
    try:
        while sum(store.high_water(i) for i in ids) < total:
            time.sleep(0.02)
        return time.perf_counter() - t0
    finally:
        for c in clients:
            c.stop()
        store.close()


def bench_push(name: str, events: int, batch: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        backend = Backend(name, tmp)
        proc, url = start_central(backend.config)
        try:
            s = backend.store()
            token = s.add_station("laser-1")
            s.close()
            cfg = station(tmp, "laser-1", url, token, batch, events)
            seconds = push(backend, [SyncClient(cfg, Target())], events)
        finally:
            stop(proc)
            backend.drop()
    return {
        "events": events,
        "batch": batch,
        "seconds": round(seconds, 2),
        "events_per_s": round(events / seconds),
    }


def bench_many(name: str, stations: int, each: int, batch: int, processes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        backend = Backend(name, tmp)
        centrals = [start_central(backend.config) for _ in range(processes)]
        try:
            s = backend.store()
            tokens = {f"st-{i:02d}": s.add_station(f"st-{i:02d}") for i in range(stations)}
            s.close()
            clients = [
                SyncClient(
                    station(tmp, sid, centrals[i % processes][1], tok, batch, each), Target()
                )
                for i, (sid, tok) in enumerate(tokens.items())
            ]
            seconds = push(backend, clients, stations * each)
        finally:
            for proc, _url in centrals:
                stop(proc)
            backend.drop()
    return {
        "processes": processes,
        "stations": stations,
        "events_each": each,
        "batch": batch,
        "seconds": round(seconds, 2),
        "events_per_s": round(stations * each / seconds),
    }


def build_report_store(backend: Backend, total: int, seed: int = 1) -> dict[str, Any]:
    """``total`` events as sessions of 10 (start, 8 heartbeats, end) plus a grant every 50."""
    rng = random.Random(seed)
    store = backend.store()
    trainees = [f"t{i:02d}" for i in range(30)]
    machines = [(f"m{i}", ("laser", "printer3d", "cnc", "vinyl")[i % 4]) for i in range(8)]
    for mid, kind in machines:
        store.add_station(mid, kind=kind)
    from station.model import Role

    for t in trainees:
        store.upsert_member(t, f"Trainee {t}", Role.TRAINEE)
    seqs = {mid: 0 for mid, _ in machines}
    batches: dict[str, list[Event]] = {mid: [] for mid, _ in machines}
    t0 = time.perf_counter()
    made = 0
    start = 1767225600.0  # 2026-01-01
    n = 0
    while made < total:
        mid, kind = machines[n % len(machines)]
        n += 1
        member = rng.choice(trainees)
        sup = rng.choice(trainees) if rng.random() < 0.3 else None
        begin = start + rng.uniform(0, 365 * 86400)
        dur = rng.uniform(600, 7200)
        sid = f"{mid}-{n}"

        def ev(type_: str, at: float, data: dict[str, Any], mid: str = mid) -> None:
            seqs[mid] += 1
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(at))
            batches[mid].append(
                Event(
                    f"{mid}-{seqs[mid]}",
                    mid,
                    seqs[mid],
                    type_,
                    stamp,
                    True,
                    "b",
                    float(seqs[mid]),
                    data,
                )
            )

        ev(
            "session_started",
            begin,
            {
                "session_id": sid,
                "member_id": member,
                "supervisor_id": sup,
                "kind": kind,
                "machine_id": mid,
            },
        )
        for k in range(8):
            ev("heartbeat", begin + dur * (k + 1) / 9, {"session_id": sid})
        ev(
            "session_ended",
            begin + dur,
            {
                "session_id": sid,
                "member_id": member,
                "duration_s": dur,
                "energy_wh": dur / 3600 * 400,
                "end_reason": "badge_out",
            },
        )
        made += 10
        if n % 50 == 0 and sup:
            ev(
                "qualification_granted",
                begin + dur,
                {"member_id": member, "kind": kind, "level": "autonomous", "granted_by": sup},
            )
            made += 1
        if len(batches[mid]) >= 5000:
            store.ingest(mid, batches[mid])
            batches[mid] = []
    for mid, evs in batches.items():
        if evs:
            store.ingest(mid, evs)
    seconds = time.perf_counter() - t0
    count = store.count_events()
    store.close()
    return {
        "events": count,
        "sessions": n,
        "build_s": round(seconds, 1),
        "ingest_events_per_s": round(count / seconds),
    }


def bench_reports(backend: Backend, runs: int) -> dict[str, Any]:
    store = backend.store()
    month = reports.Filters(period="month")
    cases = {
        "hours by month (all)": lambda: reports.hours(store, month),
        "hours by month, one site": lambda: reports.hours(
            store, reports.Filters(period="month", site="default")
        ),
        "hours, one kind, one quarter": lambda: reports.hours(
            store, reports.Filters(since="2026-04-01", until="2026-06-30", kind="laser")
        ),
        "mentors and grants": lambda: (reports.mentors(store, month), reports.grants(store, month)),
        "machines by day": lambda: reports.machines(store, reports.Filters(period="day")),
        "a trainee's progress": lambda: progress.progress(store, "t07"),
        "fleet dashboard": lambda: fleet(
            store.stations(), store.recent_events(("problem_reported",), 50), utcnow(), 30
        ),
    }
    out = {}
    for name, fn in cases.items():
        fn()  # warm the page cache, as a server that has been running does
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        out[name] = {
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
        }
    store.close()
    return out


def bench_backend(name: str, args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    print(f"## {name}", flush=True)
    results["push"] = [bench_push(name, args.events, b) for b in (500, 5000)]
    for r in results["push"]:
        print(
            f"push {r['events']} events, batch {r['batch']}: {r['seconds']} s, "
            f"{r['events_per_s']} events/s",
            flush=True,
        )
    processes = args.processes if name == "postgresql" else 1
    results["many"] = bench_many(name, args.stations, args.each, 500, processes)
    m = results["many"]
    print(
        f"{m['stations']} stations x {m['events_each']} at once through {processes} central "
        f"process(es): {m['seconds']} s, {m['events_per_s']} events/s",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as d:
        backend = Backend(name, Path(d))
        try:
            results["report_store"] = build_report_store(backend, args.report_events)
            b = results["report_store"]
            print(
                f"report store: {b['events']} events, {b['sessions']} sessions, built in "
                f"{b['build_s']} s ({b['ingest_events_per_s']} events/s, in-process ingest)",
                flush=True,
            )
            results["reports"] = bench_reports(backend, args.runs)
        finally:
            backend.drop()
    for rname, r in results["reports"].items():
        print(f"  {rname:<30} p50 {r['p50_ms']:>7} ms   p95 {r['p95_ms']:>7} ms", flush=True)
    return results


def missed_targets(name: str, results: dict[str, Any]) -> list[str]:
    missed = []
    eps = results["many" if name == "postgresql" else "push"]
    eps = eps["events_per_s"] if isinstance(eps, dict) else eps[0]["events_per_s"]
    if eps < TARGET_EPS[name]:
        missed.append(f"{name}: push below {TARGET_EPS[name]} events/s ({eps})")
    if max(r["p95_ms"] for r in results["reports"].values()) > TARGET_P95_MS:
        missed.append(f"{name}: a report p95 above {TARGET_P95_MS} ms")
    return missed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--stations", type=int, default=50)
    p.add_argument("--each", type=int, default=2_000)
    p.add_argument("--processes", type=int, default=2, help="central processes (PostgreSQL)")
    p.add_argument("--report-events", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--check", action="store_true")
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    args = p.parse_args()
    python = platform.python_version()
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {python}"
    }
    print(f"# {results['machine']}", flush=True)
    names = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    missed = []
    for name in names:
        results[name] = bench_backend(name, args)
        missed += missed_targets(name, results[name])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    for m_ in missed:
        print(f"MISSED: {m_}")
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
