"""Station core benchmark: tap-to-relay latency, resident memory and time-to-ready.

1. Tap-to-relay latency, inside one process: a controller built as ``station run`` builds it
   (mock backend, fake reader, a temp data dir, the sample roster). A thread that is not the
   controller calls ``FakeBadgeReader.tap(uid)``; the latency is from just before that call to the
   instant the relay pin changes (``RecordingMockPin.on_change``, ``time.perf_counter``). Taps
   alternate tap-in / tap-out with Sofiane's badge, so every tap switches the relay. Between taps
   the tapper waits until the controller has finished handling the previous tap (a no-op run on
   the controller thread), so each tap meets an idle controller, as a real badge does.
2. ``station run`` as a subprocess (mock backend, fake reader, system clock): time from spawn to
   the first 200 from ``GET /api/status``, and VmRSS after ready and after N taps over
   ``POST /sim/badge``; median of several starts, each on a fresh data dir.

    .venv/bin/python bench/bench_station.py            # 1,000 taps, 5 starts, 200 HTTP taps
    .venv/bin/python bench/bench_station.py --profile  # also cProfile the controller thread
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import platform
import pstats
import queue
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from station.clock import SimulatedClock, SystemClock  # noqa: E402
from station.config import load_config  # noqa: E402
from station.config_template import write_config  # noqa: E402
from station.controller import Controller  # noqa: E402
from station.roster import parse_roster_csv  # noqa: E402
from station.store import Store  # noqa: E402
from station.wiring import build_hardware  # noqa: E402
from tests.e2e_helpers import (  # noqa: E402
    SAMPLE_ROSTER,
    SOFIANE,
    StationProcess,
    prepare_station,
    rss_kib,
)

TARGET_P99_MS = 5.0
TARGET_RSS_MB = 60.0
TARGET_READY_S = 2.0
CHANGE_TIMEOUT_S = 5.0


def nearest_rank(sorted_values: list[float], p: float) -> float:
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


# --- 1. tap-to-relay latency, in process ----------------------------------------------------


def no_repeat_guard(config: Path) -> None:
    """Taps alternate in and out with one badge, faster than a person: no repeat-tap guard."""
    text = config.read_text("utf-8")
    text, n = re.subn(r"(?m)^repeat_tap_guard_s = .*$", "repeat_tap_guard_s = 0", text)
    assert n == 1, "the sample config sets machine.repeat_tap_guard_s"
    config.write_text(text, "utf-8")


def tap_to_relay(taps: int, warmup: int, simulated: bool, profile: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-station-") as tmp:
        path = Path(tmp) / "station.toml"
        write_config(
            path,
            station_id="laser-1",
            machine_name="Découpe laser",
            kind="laser",
            backend="mock",
            reader_type="fake",
            simulated=simulated,
            port=8080,  # not served: the benchmark drives the controller directly
        )
        no_repeat_guard(path)
        config = load_config(path)
        store = Store(config.db_path, config.station.id, config.machine.id)
        try:
            store.import_roster(parse_roster_csv(SAMPLE_ROSTER.read_text("utf-8")))
        finally:
            store.close()

        hardware = build_hardware(config)
        clock = SimulatedClock() if simulated else SystemClock()
        controller = Controller(config, hardware, clock)
        changes: queue.SimpleQueue[tuple[float, float]] = queue.SimpleQueue()
        relay_pin = hardware.relay.pin  # type: ignore[attr-defined]
        relay_pin.on_change = lambda stamp, value: changes.put((stamp, float(value)))
        profiler = cProfile.Profile() if profile else None
        commits: list[float] = []
        controller.start()
        try:
            controller.run_in_loop(lambda: _time_commits(controller, commits))
            if profiler is not None:
                controller.run_in_loop(profiler.enable)
            result: dict[str, Any] = {}
            tapper = threading.Thread(
                target=_tapper,
                args=(controller, hardware, changes, taps + warmup, warmup, result),
                name="tapper",
            )
            tapper.start()
            tapper.join(timeout=CHANGE_TIMEOUT_S * (taps + warmup))
            if tapper.is_alive():
                raise RuntimeError("the tapper thread did not finish")
            if profiler is not None:
                controller.run_in_loop(profiler.disable)
            if "error" in result:
                raise RuntimeError(result["error"])
        finally:
            relay_pin.on_change = None
            controller.stop()
        measured = result["latencies"]
        out = {
            "taps": len(measured),
            "warmup": warmup,
            "clock": "simulated" if simulated else "system",
            "all": _summary(measured),
            "in": _summary(measured[0::2]),  # warm-up is even: measuring starts with a tap-in
            "out": _summary(measured[1::2]),
            "commit": _summary(commits[warmup:]),
        }
        if profiler is not None:
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
            out["profile"] = text.getvalue()
        return out


def _summary(seconds: list[float]) -> dict[str, float]:
    s = sorted(seconds)
    return {
        "n": len(s),
        "p50_ms": nearest_rank(s, 50) * 1e3,
        "p99_ms": nearest_rank(s, 99) * 1e3,
        "max_ms": s[-1] * 1e3,
        "mean_ms": statistics.fmean(s) * 1e3,
    }


def _time_commits(controller: Controller, commits: list[float]) -> None:
    """Time each non-empty ``Store.append`` (one SQLite transaction, fsync'd: synchronous=FULL).

    Runs on the controller thread, which owns the store; only this benchmark's instance changes.
    """
    store = controller.store
    assert store is not None
    append = store.append

    def timed(records: Any, now: Any, boot_id: str) -> Any:
        if not records:
            return append(records, now, boot_id)
        t0 = time.perf_counter()
        try:
            return append(records, now, boot_id)
        finally:
            commits.append(time.perf_counter() - t0)

    store.append = timed  # type: ignore[method-assign]


def _tapper(
    controller: Controller,
    hardware: Any,
    changes: queue.SimpleQueue[tuple[float, float]],
    total: int,
    warmup: int,
    result: dict[str, Any],
) -> None:
    latencies: list[float] = []
    try:
        for i in range(total):
            expected = 1.0 if i % 2 == 0 else 0.0  # tap in, tap out, ...
            t0 = time.perf_counter()
            hardware.reader.tap(SOFIANE)
            stamp, value = changes.get(timeout=CHANGE_TIMEOUT_S)
            if value != expected:
                raise RuntimeError(f"tap {i}: relay went to {value}, expected {expected}")
            if i >= warmup:
                latencies.append(stamp - t0)
            controller.run_in_loop(lambda: None)  # the controller has finished this tap
            try:
                extra = changes.get_nowait()
            except queue.Empty:
                continue
            raise RuntimeError(f"tap {i}: an unexpected second relay change {extra}")
    except Exception as e:  # reported by the main thread
        result["error"] = f"{type(e).__name__}: {e}"
    result["latencies"] = latencies


# --- 2. station run as a subprocess ---------------------------------------------------------


def station_process(starts: int, http_taps: int) -> dict[str, Any]:
    ready_s: list[float] = []
    rss_ready: list[float] = []
    rss_after: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-station-run-") as tmp:
        for k in range(starts):
            config = prepare_station(Path(tmp) / f"start{k}", simulated_clock=False)
            no_repeat_guard(config)
            s = StationProcess(config)
            try:
                s.start()
                s.wait_ready(poll=0.002)
                ready_s.append(time.perf_counter() - s.spawned_at)
                rss_ready.append(rss_kib(s.pid) / 1024)
                for i in range(http_taps):
                    d = s.badge(SOFIANE)
                    want = "session_started" if i % 2 == 0 else "session_ended"
                    if not d.get("granted") or d.get("action") != want:
                        raise RuntimeError(f"HTTP tap {i}: unexpected decision {d}")
                rss_after.append(rss_kib(s.pid) / 1024)
                s.signal(signal.SIGTERM)
                code = s.wait_exit()
                if code != 0:
                    raise RuntimeError(f"station exited {code} on SIGTERM:\n{s.stderr()}")
            finally:
                s.close()
    return {
        "starts": starts,
        "http_taps": http_taps,
        "ready_s": ready_s,
        "rss_ready_mb": rss_ready,
        "rss_after_mb": rss_after,
        "ready_median_s": statistics.median(ready_s),
        "rss_ready_median_mb": statistics.median(rss_ready),
        "rss_after_median_mb": statistics.median(rss_after),
    }


# --- report ---------------------------------------------------------------------------------


def verdict(value: float, target: float) -> str:
    return "ok" if value <= target else "MISSED"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--taps", type=int, default=1000, help="measured in-process taps")
    p.add_argument("--warmup", type=int, default=10, help="taps before measuring (even)")
    p.add_argument("--simulated-clock", action="store_true", help="in-process: SimulatedClock")
    p.add_argument("--starts", type=int, default=5, help="station run subprocess starts")
    p.add_argument("--http-taps", type=int, default=200, help="taps over HTTP per start")
    p.add_argument("--profile", action="store_true", help="cProfile the controller thread")
    p.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = p.parse_args(argv)
    if args.warmup % 2:
        p.error("--warmup must be even (the relay must be off when measuring starts)")

    print(f"Python {platform.python_version()} on {platform.machine()}, {sys.platform}")
    lat = tap_to_relay(args.taps, args.warmup, args.simulated_clock, args.profile)
    every = lat["all"]
    print(
        f"tap-to-relay ({lat['taps']} taps after {lat['warmup']} warm-up, {lat['clock']} clock): "
        f"p50 {every['p50_ms']:.3f} ms, p99 {every['p99_ms']:.3f} ms "
        f"[target <= {TARGET_P99_MS} ms: {verdict(every['p99_ms'], TARGET_P99_MS)}], "
        f"max {every['max_ms']:.3f} ms, mean {every['mean_ms']:.3f} ms"
    )
    for key, label in (
        ("in", "  tap-in  (commit, then relay on)"),
        ("out", "  tap-out (relay off, then commit)"),
        ("commit", "  SQLite commit per tap (in+out)"),
    ):
        s = lat[key]
        print(
            f"{label}: n {s['n']}, p50 {s['p50_ms']:.3f} ms, p99 {s['p99_ms']:.3f} ms, "
            f"max {s['max_ms']:.3f} ms"
        )
    if "profile" in lat:
        print(lat["profile"])

    run = station_process(args.starts, args.http_taps)
    print(
        f"station run, median of {run['starts']} starts: "
        f"ready {run['ready_median_s']:.3f} s "
        f"[target <= {TARGET_READY_S} s: {verdict(run['ready_median_s'], TARGET_READY_S)}] "
        f"(each: {', '.join(f'{v:.3f}' for v in run['ready_s'])})"
    )
    worst_rss = max(run["rss_ready_median_mb"], run["rss_after_median_mb"])
    print(
        f"station run VmRSS: {run['rss_ready_median_mb']:.1f} MiB after ready, "
        f"{run['rss_after_median_mb']:.1f} MiB after {run['http_taps']} taps "
        f"[target <= {TARGET_RSS_MB} MiB: {verdict(worst_rss, TARGET_RSS_MB)}] "
        f"(after taps, each: {', '.join(f'{v:.1f}' for v in run['rss_after_mb'])})"
    )
    missed = (
        every["p99_ms"] > TARGET_P99_MS
        or run["ready_median_s"] > TARGET_READY_S
        or worst_rss > TARGET_RSS_MB
    )
    return 1 if (missed and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
