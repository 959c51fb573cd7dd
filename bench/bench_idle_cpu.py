"""Idle CPU of a running `station run`: the MFRC522 driver polling an emulated chip at 10 Hz.

Starts the station as a subprocess on the mock backend (real clock, `mfrc522-emulated` reader,
optionally the emulated serial sensors), waits until it answers, then reads the process's
user+system CPU time from /proc/<pid>/stat over a window. The emulated chip runs inside the
station process, so the figure includes the emulator's own work: an upper bound for the driver.

    .venv/bin/python bench/bench_idle_cpu.py [--seconds 60] [--sensors]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATION = [sys.executable, "-m", "station.cli"]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--poll-hz", type=float, default=10.0)
    parser.add_argument("--sensors", action="store_true", help="also the emulated PZEM and SDS011")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "station.toml"
        port = free_port()
        subprocess.run(
            [*STATION, "init", "--config", str(config), "--port", str(port)],
            check=True,
            cwd=ROOT,
            capture_output=True,
        )
        text = config.read_text().replace("poll_hz = 10.0", f"poll_hz = {args.poll_hz}")
        if args.sensors:
            text = text.replace('power_meter = "none"', 'power_meter = "pzem-emulated"')
            text = text.replace('air_sensor = "none"', 'air_sensor = "sds011-emulated"')
        config.write_text(text)
        with open(Path(tmp) / "out.log", "w") as log:
            proc = subprocess.Popen(
                [*STATION, "run", "--config", str(config)],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                deadline = time.monotonic() + 20
                while True:
                    try:
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=1)
                        break
                    except OSError:
                        if time.monotonic() > deadline or proc.poll() is not None:
                            raise SystemExit("the station did not become ready") from None
                        time.sleep(0.05)
                time.sleep(2)  # let start-up work settle before the window opens
                c0, t0 = cpu_seconds(proc.pid), time.monotonic()
                time.sleep(args.seconds)
                c1, t1 = cpu_seconds(proc.pid), time.monotonic()
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status") as r:
                    import json

                    polls = json.load(r)["health"]["reader"].get("polls")
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(10)
    share = 100 * (c1 - c0) / (t1 - t0)
    print(f"window            {t1 - t0:.1f} s")
    print(f"reader polls      {polls} ({args.poll_hz:g} Hz)")
    print(f"sensors           {'emulated PZEM + SDS011' if args.sensors else 'none'}")
    print(f"station CPU       {share:.2f} % of one core (target <= 1 % without sensors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
