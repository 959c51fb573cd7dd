"""Smart-plug benchmarks, through the local MQTT broker and the emulated plugs.

    .venv/bin/python bench/bench_plug.py                  # 200 taps per plug, 60 s of traffic
    .venv/bin/python bench/bench_plug.py --taps 50 --seconds 20

1. **Tap to plug "on" acknowledged.** A station (the real controller, state machine, SQLite
   store and plug driver; simulated clock, fake reader) on an emulated Shelly and on an emulated
   Tasmota: from posting the tap to the driver receiving the plug's acknowledgement of ``on``
   (``Switch.Set`` reply, ``stat/<topic>/RESULT``), ``--taps`` times; p50, p95, max.
2. **MQTT messages per session hour.** A real-clock station runs a session for ``--seconds``
   with the default ``poll_s`` (2 s) and ``off_after_s`` (60 s); a raw paho client counts every
   message on the plug's and the station's topics; scaled to one hour.

Needs a broker at 127.0.0.1:1883 (``sudo apt-get install mosquitto``), or ``--port``. Mosquitto's
default leaves Nagle's algorithm on its sockets (``set_tcp_nodelay false``): an answer that
follows another small packet then waits for the client's delayed ACK, about 40 ms on Linux.
Run it against a broker with ``set_tcp_nodelay true`` to see the difference.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from station.clock import SimulatedClock, SystemClock
from station.config import parse_config
from station.controller import Controller
from station.machine import Tap
from station.roster import parse_roster_csv
from station.store import Store
from station.wiring import build_hardware

SOFIANE = "04C0C1C2"
ROSTER = Path(__file__).resolve().parent.parent / "station" / "sample_roster.csv"


PORT = [1883]


def station(tmp: Path, relay: str, simulated: bool) -> Controller:
    device = f"bench-{uuid.uuid4().hex[:8]}"
    raw = {
        "station": {"id": f"bench-{uuid.uuid4().hex[:6]}", "data_dir": str(tmp / device)},
        "machine": {"id": "laser-1", "name": "Découpe laser", "kind": "laser"},
        "hardware": {"backend": "mock", "relay": relay},
        "reader": {"type": "fake"},
        "clock": {"simulated": simulated},
        "sensors": {"power_meter": "plug"},
        "plug": {"device": device},
        "mqtt": {"port": PORT[0]},
    }
    config = parse_config(raw, tmp / "station.toml")
    store = Store(config.db_path, config.station.id, config.machine.id)
    store.import_roster(parse_roster_csv(ROSTER.read_text(encoding="utf-8")))
    store.close()
    clock = SimulatedClock(mono=1000.0) if simulated else SystemClock()
    c = Controller(config, build_hardware(config, clock), clock)
    c.start()
    return c


def wait(cond: Any, timeout: float = 5.0) -> None:
    deadline = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > deadline:
            raise TimeoutError("no acknowledgement")
        time.sleep(0.0002)


def tap_to_ack(tmp: Path, relay: str, taps: int) -> list[float]:
    c = station(tmp, relay, simulated=True)
    plug: Any = c.hardware.extras["plug"]
    out = []
    try:
        wait(lambda: plug.settled)
        for _ in range(taps):
            acks = len(plug.acks)
            t0 = time.perf_counter()
            c.post(Tap(SOFIANE))
            wait(lambda: len(plug.acks) > acks and plug.reported is True)  # noqa: B023
            out.append(time.perf_counter() - t0)
            c.advance(5)
            c.call(Tap(SOFIANE))  # badge out
            wait(lambda: plug.settled and plug.reported is False)
            c.advance(5)
    finally:
        c.stop()
    return out


def messages_per_hour(tmp: Path, relay: str, seconds: float) -> tuple[int, float]:
    c = station(tmp, relay, simulated=False)
    device = c.config.plug.device
    counted = [0]
    lock = threading.Lock()

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        with lock:
            counted[0] += 1

    raw = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    raw.on_message = on_message
    raw.connect("127.0.0.1", PORT[0])
    topics = [f"{device}/#", f"+/{device}/#", f"fabrique-{c.config.station.id}-rpc/#"]
    for topic in topics:
        raw.subscribe(topic)
    raw.loop_start()
    try:
        time.sleep(0.5)  # the subscriptions are in place (a benchmark, not a test)
        c.call(Tap(SOFIANE))
        start = counted[0]
        time.sleep(seconds)
        n = counted[0] - start
    finally:
        raw.disconnect()
        raw.loop_stop()
        c.stop()
    return n, n * 3600 / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--taps", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--port", type=int, default=1883, help="the broker's port on 127.0.0.1 (default 1883)"
    )
    args = parser.parse_args()
    PORT[0] = args.port
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for relay in ("shelly-emulated", "tasmota-emulated"):
            lat = sorted(tap_to_ack(tmp, relay, args.taps))
            p95 = lat[int(0.95 * (len(lat) - 1))]
            print(
                f"{relay:17} tap → plug on acknowledged over {len(lat)} taps: "
                f"p50 {statistics.median(lat) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms, "
                f"max {lat[-1] * 1000:.2f} ms"
            )
        for relay in ("shelly-emulated", "tasmota-emulated"):
            n, per_hour = messages_per_hour(tmp, relay, args.seconds)
            print(
                f"{relay:17} MQTT messages during a session: {n} in {args.seconds:g} s, "
                f"≈ {per_hour:.0f} per session hour"
            )


if __name__ == "__main__":
    main()
