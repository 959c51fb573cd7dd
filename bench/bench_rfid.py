"""RFID benchmark on the emulated MFRC522: the stock PyPI package against our driver, in one run.

1. SPI transfers and CPU time per empty poll and per successful UID read, for the stock
   ``SimpleMFRC522.read_id_no_block()`` (unmodified package, fake spidev/RPi.GPIO injected) and
   for ``Mfrc522Reader.poll_once()`` (polled wait, and waiting on the IRQ pin). CPU time is the
   host's Python *plus* the emulator's, so it overstates both; the transfer count is the figure
   that carries over to a Pi (each transfer is a syscall and ~20-50 µs there).
2. Tap-to-callback latency: the threaded reader at ``--poll-hz`` on a chip whose timer and card
   answers take real time (``Mfrc522Chip(clock=time.monotonic)``); a card is placed at a random
   moment and the time to ``on_tap`` is taken with ``perf_counter``.

    .venv/bin/python bench/bench_rfid.py               # defaults: 200 polls, 40 taps, 10 Hz
    .venv/bin/python bench/bench_rfid.py --taps 100 --poll-hz 20
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from gpiozero import DigitalInputDevice  # noqa: E402
from gpiozero.pins.mock import MockFactory  # noqa: E402

from hardware.mfrc522_reader import Mfrc522Reader  # noqa: E402
from mocks.mfrc522_chip import FakeSpiDev, Mfrc522Chip, VirtualCard, stock_mfrc522  # noqa: E402

UID4 = bytes.fromhex("04A1B2C3")
UID7 = bytes.fromhex("04112233445566")
TIMED_EMPTY = "empty poll, chip with real timing"


def measure(chip: Mfrc522Chip, call: Callable[[], Any], n: int) -> tuple[float, float, list[Any]]:
    """Mean SPI transfers and mean CPU microseconds per call, and the results."""
    results = []
    before = chip.spi_transfers
    cpu = time.thread_time()
    for _ in range(n):
        results.append(call())
    cpu = time.thread_time() - cpu
    return (chip.spi_transfers - before) / n, cpu / n * 1e6, results


def stock_figures(n: int) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    timed = Mfrc522Chip(clock=time.monotonic)
    with warnings.catch_warnings(), stock_mfrc522(timed) as mfrc522:
        warnings.simplefilter("ignore", DeprecationWarning)
        reader = mfrc522.SimpleMFRC522()
        out[TIMED_EMPTY] = measure(timed, reader.read_id_no_block, max(5, n // 20))[:2]
    chip = Mfrc522Chip()
    with warnings.catch_warnings(), stock_mfrc522(chip) as mfrc522:
        warnings.simplefilter("ignore", DeprecationWarning)  # `~` on bools, Python 3.12+
        reader = mfrc522.SimpleMFRC522()
        out["empty poll"] = measure(chip, reader.read_id_no_block, max(5, n // 10))[:2]
        chip.place(VirtualCard(UID4))
        # A held card answers every other call; time the calls that return an id.
        hits: list[tuple[int, float]] = []
        misses = 0
        while len(hits) < n:
            before, cpu = chip.spi_transfers, time.thread_time()
            got = reader.read_id_no_block()
            sample = (chip.spi_transfers - before, time.thread_time() - cpu)
            if got is None:
                misses += 1
            else:
                hits.append(sample)
        out["read, 4-byte UID"] = (
            statistics.mean(h[0] for h in hits),
            statistics.mean(h[1] for h in hits) * 1e6,
        )
        out["held card: polls answering None"] = (misses / (misses + n) * 100, float("nan"))
    return out


def driver_figures(n: int, irq: bool, clock: Callable[[], float] | None = None) -> dict[str, Any]:
    chip = Mfrc522Chip(clock=clock)
    spi = FakeSpiDev(chip)
    spi.open(0, 0)
    factory = MockFactory() if irq else None
    pin = None
    if factory is not None:
        pin = DigitalInputDevice(24, pull_up=True, pin_factory=factory)
        chip.attach_irq_pin(factory.pin(24))
    reader = Mfrc522Reader(spi, reset=chip.reset_line, irq=pin, threaded=False)
    reader.start(lambda uid: None)
    reader.poll_once()  # initialise the chip
    if clock is not None:
        out = {TIMED_EMPTY: measure(chip, reader.poll_once, max(5, n // 20))[:2]}
        reader.close()
        if factory is not None:
            factory.close()
        return out
    out = {"empty poll": measure(chip, reader.poll_once, n)[:2]}
    chip.place(VirtualCard(UID4))
    out["read, 4-byte UID"] = measure(chip, reader.poll_once, n)[:2]
    chip.place(VirtualCard(UID7))
    out["read, 7-byte UID"] = measure(chip, reader.poll_once, n)[:2]
    out["held card: polls answering None"] = (0.0, float("nan"))
    reader.close()
    if factory is not None:
        factory.close()
    return out


def latency(taps: int, poll_hz: float) -> list[float]:
    """Seconds from placing a card to its tap callback, on a chip with real answer times."""
    chip = Mfrc522Chip(clock=time.monotonic)
    spi = FakeSpiDev(chip)
    spi.open(0, 0)
    reader = Mfrc522Reader(spi, reset=chip.reset_line, poll_hz=poll_hz)
    seen = threading.Event()
    stamp: list[float] = []

    def on_tap(uid: str) -> None:
        stamp.append(time.perf_counter())
        seen.set()

    reader.start(on_tap)
    rng = random.Random(522)
    out = []
    for i in range(taps):
        chip.remove()
        time.sleep(rng.uniform(0.0, 1.0 / poll_hz))  # land at a random phase of the poll cycle
        seen.clear()
        stamp.clear()
        start = time.perf_counter()
        chip.place(VirtualCard(bytes([0x04, 0x10, i >> 8, i & 0xFF])))  # a new badge each time
        if not seen.wait(5.0):
            raise RuntimeError("no tap within 5 s")
        out.append(stamp[0] - start)
    reader.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=200, help="polls per figure (default 200)")
    parser.add_argument("--taps", type=int, default=40, help="taps for the latency (default 40)")
    parser.add_argument("--poll-hz", type=float, default=10.0, help="reader poll rate (10)")
    args = parser.parse_args(argv)

    print(
        f"# RFID on the emulated MFRC522 — Python {platform.python_version()}, {platform.machine()}"
    )
    columns = {
        "stock mfrc522 0.0.7 read_id_no_block()": stock_figures(args.polls),
        "Mfrc522Reader.poll_once() (polled wait)": driver_figures(args.polls, irq=False),
        "Mfrc522Reader.poll_once() (IRQ pin)": driver_figures(args.polls, irq=True),
    }
    for name, irq in (("polled wait", False), ("IRQ pin", True)):
        columns[f"Mfrc522Reader.poll_once() ({name})"].update(
            driver_figures(args.polls, irq=irq, clock=time.monotonic)
        )
    rows = ["empty poll", TIMED_EMPTY, "read, 4-byte UID", "read, 7-byte UID"]
    rows.append("held card: polls answering None")
    width = max(len(r) for r in rows) + 2
    print()
    print(f"{'':{width}}" + "".join(f"| {name:<42}" for name in columns))
    print(f"{'':{width}}" + "| SPI transfers    CPU µs (host+emulator)   " * len(columns))
    for row in rows:
        cells = []
        for figures in columns.values():
            if row not in figures:
                cells.append(f"| {'cannot (cascade tag 0x88 + 3 bytes)':<42}")
                continue
            n, cpu = figures[row]
            if row.startswith("held"):
                cells.append(f"| {f'{n:.0f} %':<42}")
            else:
                cells.append(f"| {n:>8.1f}       {cpu:>10.0f}{'':17}")
        print(f"{row:<{width}}" + "".join(cells))
    lat = sorted(latency(args.taps, args.poll_hz))
    ms = [x * 1e3 for x in lat]
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print()
    print(
        f"tap-to-callback latency at {args.poll_hz:g} Hz, {len(ms)} taps, chip with real timing "
        f"(15.5 ms timer, 0.5 ms answers): median {statistics.median(ms):.1f} ms, "
        f"p95 {p95:.1f} ms, max {ms[-1]:.1f} ms"
    )
    print("target: <= 16 SPI transfers per empty poll")


if __name__ == "__main__":
    main()
