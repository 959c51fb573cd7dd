"""Sensor benchmarks: CPU of the sensor threads at 1 Hz, and metering error over a long session.

    .venv/bin/python bench/bench_sensors.py                 # 30 s of CPU, a 2-hour session
    .venv/bin/python bench/bench_sensors.py --seconds 10 --hours 0.5

1. **CPU.** A PZEM-004T driver polling at 1 Hz, an SDS011 driver and a line-sensor driver
   reading emulators that send once a second, all on real ptys, for ``--seconds`` of real time.
   The CPU time of each driver thread is read from its own thread CPU clock, so the emulators'
   work is not counted against the drivers (it is printed apart). Target ≤ 0.5 % of one core.
2. **Metering error.** A simulated laser-cutter session (idle ~30 W, cuts of 5-120 s at
   400-1400 W, ±3 % ripple, load changes at random instants *between* polls) of ``--hours``,
   with the clock injected: every second the meter is polled through the real driver and pty,
   and the readings feed :class:`station.metering.SessionMeter`. Compared with the emulator's
   exact energy: (a) the meter as the station uses it (energy register), (b) integrated power
   alone (trapezoid, as with a clamp that reports no energy). Target ≤ 1 %. A second run
   unplugs the meter for 60 s mid-session to show what each method does with the gap.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hardware.line_sensor import LineSensor
from hardware.pzem import Pzem004t
from hardware.sds011 import Sds011
from hardware.serial_link import SerialLink, SerialSensor
from mocks.serial_devices import (
    LineSensorEmulator,
    PzemEmulator,
    Sds011Emulator,
    _PtyDevice,
)
from station.metering import MeteringConfig, SessionMeter
from station.ports import PowerReading


def _counter(counts: list[int], i: int) -> Callable[[object], None]:
    """A reading callback that counts sensor ``i``'s readings (one closure per sensor)."""

    def on_reading(_reading: object) -> None:
        counts[i] += 1

    return on_reading


def thread_cpu(thread: threading.Thread | None) -> float:
    if thread is None or thread.ident is None:
        return 0.0
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def bench_cpu(seconds: float) -> None:
    pzem = PzemEmulator()
    pzem.set_load(850.0)
    sds = Sds011Emulator(pm25=12.0, pm10=20.0)
    line = LineSensorEmulator(watts=120.0)
    devices: list[_PtyDevice] = [pzem, sds, line]
    sds.start_streaming(1.0)
    line.start_streaming(1.0)
    sensors: list[SerialSensor] = [
        Pzem004t(pzem.port, poll_s=1.0),
        Sds011(sds.port),
        LineSensor(line.port),
    ]
    counts = [0, 0, 0]
    try:
        for i, sensor in enumerate(sensors):
            sensor.start(_counter(counts, i))
        time.sleep(0.5)  # let them open their ports before measuring
        start_cpu = [thread_cpu(s._thread) for s in sensors]
        start_emu = sum(thread_cpu(d._thread) for d in devices)
        start_proc = time.process_time()
        start_counts = list(counts)
        time.sleep(seconds)
        used = [thread_cpu(s._thread) - c for s, c in zip(sensors, start_cpu, strict=True)]
        emu = sum(thread_cpu(d._thread) for d in devices) - start_emu
        proc = time.process_time() - start_proc
    finally:
        for sensor in sensors:
            sensor.close()
        for device in devices:
            device.close()
    print(f"CPU over {seconds:.0f} s of real time (1 reading per second per sensor):")
    for sensor, cpu, n0, n1 in zip(sensors, used, start_counts, counts, strict=True):
        print(
            f"  {sensor.kind:<10} thread: {100 * cpu / seconds:.3f} % of a core, {n1 - n0} readings"
        )
    total = sum(used)
    print(f"  all sensor threads: {100 * total / seconds:.3f} % of a core (target <= 0.5 %)")
    print(f"  emulator threads:   {100 * emu / seconds:.3f} % of a core")
    print(f"  whole process:      {100 * proc / seconds:.3f} % of a core")


class SimClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def laser_profile(rng: random.Random, seconds: int) -> list[tuple[float, float]]:
    """(instant, watts) load changes: idle gaps and cuts, at random sub-second instants."""
    changes: list[tuple[float, float]] = []
    t = 0.0
    while t < seconds:
        changes.append((t, rng.uniform(25, 35)))
        t += rng.uniform(5, 90)
        cut_end = t + rng.uniform(5, 120)
        level = rng.uniform(400, 1400)
        while t < min(cut_end, seconds):
            changes.append((t, level * rng.uniform(0.97, 1.03)))
            t += rng.uniform(0.3, 4.0)
    return changes


def bench_metering(hours: float, seed: int, unplug_at: float | None) -> None:
    rng = random.Random(seed)
    seconds = int(hours * 3600)
    clock = SimClock()
    pzem = PzemEmulator(clock=clock, energy_wh=123_456.0)
    link = SerialLink(pzem.port, clock=clock, timeout=0.5, backoff_initial_s=1.0)
    meter = Pzem004t(pzem.port, clock=clock, link=link)
    changes = laser_profile(rng, seconds)
    with_register = SessionMeter.begin(0.0, MeteringConfig(busy_watts=100))
    power_only = SessionMeter.begin(0.0, MeteringConfig(busy_watts=100))
    exact_start = pzem.energy_wh
    wall = time.perf_counter()
    try:
        i = 0
        for second in range(seconds + 1):
            while i < len(changes) and changes[i][0] <= second:
                clock.t = changes[i][0]
                pzem.set_load(changes[i][1])
                i += 1
            clock.t = float(second)
            if unplug_at is not None and second == int(unplug_at):
                pzem.unplug()
            if unplug_at is not None and second == int(unplug_at) + 60:
                pzem.replug()
            for reading in meter.poll_once():
                assert isinstance(reading, PowerReading)
                with_register = with_register.add(clock.t, reading)
                power_only = power_only.add(clock.t, PowerReading(watts=reading.watts))
        exact = pzem.energy_wh - exact_start
        health = meter.health()
    finally:
        meter.close()
        pzem.close()
    end = float(seconds)
    reg, pwr = with_register.totals(end), power_only.totals(end)
    label = f"{hours:g} h simulated session" + (", meter unplugged 60 s" if unplug_at else "")
    print(f"Metering, {label} ({time.perf_counter() - wall:.1f} s of real time):")
    print(f"  emulator's exact energy: {exact:10.2f} Wh, {health['readings']} readings")
    for name, tot in (("energy register", reg), ("integrated power", pwr)):
        err = 100 * (tot.energy_wh - exact) / exact
        print(
            f"  {name:<17}: {tot.energy_wh:10.2f} Wh, error {err:+.3f} % (target |e| <= 1 %); "
            f"active {tot.active_s:.0f} s, idle {tot.idle_s:.0f} s, unknown {tot.unknown_s:.0f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="real time for the CPU figure")
    parser.add_argument("--hours", type=float, default=2.0, help="simulated session length")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores")
    bench_cpu(args.seconds)
    bench_metering(args.hours, args.seed, unplug_at=None)
    bench_metering(args.hours, args.seed, unplug_at=args.hours * 1800)


if __name__ == "__main__":
    main()
