"""Run ``station run`` as a real subprocess on the mock backend and drive it over HTTP.

Shared by the end-to-end tests and the station benchmark. Only the standard library: urllib for
HTTP, subprocess for the station. Every wait polls a real condition until a bounded deadline.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parent.parent
SAMPLE_ROSTER = REPO / "station" / "sample_roster.csv"
PIN_LOG_ENV = "FABRIQUE_PIN_LOG"
RELAY_PIN = "GPIO17"  # RecordingMockPin.info.name of BCM 17, the default [hardware.pins] relay

SOFIANE = "04C0C1C2"  # autonomous on laser
LEA = "04B0B1B2"  # supervised on laser
MOUSSA = "0411223344AA80"  # mentor on laser
INES = "04A1B2C3"  # educator
UNKNOWN = "DEADBEEF"

READY_TIMEOUT_S = 20.0
HTTP_TIMEOUT_S = 10.0
POLL_S = 0.02


def station_command() -> list[str]:
    """The ``station`` console script of this interpreter's environment (``-m`` as a fallback)."""
    script = Path(sys.executable).with_name("station")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "station.cli"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, cwd: Path, timeout: float = 60.0) -> str:
    """Run one ``station`` command to completion; return its stdout, fail with its stderr."""
    done = subprocess.run(
        [*station_command(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"station {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def prepare_station(
    workdir: Path,
    *,
    port: int | None = None,
    simulated_clock: bool = True,
    reader: str = "fake",
    verify_badges: bool = False,
) -> Path:
    """``station init`` (simulated clock, 127.0.0.1) and the sample roster.

    ``reader``: ``"fake"`` (taps posted directly) or ``"mfrc522-emulated"`` (the real driver on
    the emulated chip: ``/sim/badge`` places a card on it). ``verify_badges`` turns the
    anti-clone check on and creates the site secret with ``station badge secret``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "station.toml"
    port = port or free_port()
    clock = ["--simulated-clock"] if simulated_clock else []
    cli("init", "--config", str(config), *clock, "--port", str(port), cwd=workdir)
    text = config.read_text(encoding="utf-8")
    text, n = re.subn(r'(?m)^type = "[^"]*"$', f'type = "{reader}"', text)
    assert n == 1, "the [reader] type line of the sample config changed"
    if verify_badges:
        text, n = re.subn(r"(?m)^verify_badges = false$", "verify_badges = true", text)
        assert n == 1, "the [reader] verify_badges line of the sample config changed"
    assert re.search(r'(?m)^host = "127\.0\.0\.1"$', text), "the station must listen on loopback"
    config.write_text(text, encoding="utf-8")
    cli("roster", "import", str(SAMPLE_ROSTER), "--config", str(config), cwd=workdir)
    if verify_badges:
        cli("badge", "secret", "--config", str(config), cwd=workdir)
    return config


def set_port(config: Path, port: int) -> None:
    text = config.read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^port = \d+$", f"port = {port}", text)
    assert n == 1
    config.write_text(text, encoding="utf-8")


def config_port(config: Path) -> int:
    m = re.search(r"(?m)^port = (\d+)$", config.read_text(encoding="utf-8"))
    assert m is not None
    return int(m.group(1))


class HttpError(AssertionError):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


def http(method: str, url: str, body: Any = None, timeout: float = HTTP_TIMEOUT_S) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read().decode())
    except urllib.error.HTTPError as e:
        with e:
            raise HttpError(e.code, e.read().decode(errors="replace")) from None


@dataclass
class PinChange:
    pid: int
    pin: str
    wall: float
    value: float


def read_pin_log(path: Path) -> list[PinChange]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        pid, pin, wall, value = line.split()
        out.append(PinChange(int(pid), pin, float(wall), float(value)))
    return out


class StationProcess:
    """One ``station run --config F`` subprocess; stdout/stderr go to files, never to pipes."""

    def __init__(self, config: Path, pin_log: Path | None = None) -> None:
        self.config = config
        self.workdir = config.parent
        self.pin_log = pin_log
        self.proc: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None
        self._err: IO[bytes] | None = None
        self.run_no = 0
        self.spawned_at = 0.0

    @property
    def port(self) -> int:
        return config_port(self.config)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> StationProcess:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self._close_files()
        self.run_no += 1
        env = dict(os.environ)
        env.pop(PIN_LOG_ENV, None)
        if self.pin_log is not None:
            env[PIN_LOG_ENV] = str(self.pin_log)
        env["PYTHONUNBUFFERED"] = "1"
        self._out = open(self.workdir / f"run{self.run_no}.out", "wb")  # noqa: SIM115
        self._err = open(self.workdir / f"run{self.run_no}.err", "wb")  # noqa: SIM115
        self.spawned_at = time.perf_counter()
        self.proc = subprocess.Popen(
            [*station_command(), "run", "--config", str(self.config)],
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
        )
        return self

    def stderr(self) -> str:
        path = self.workdir / f"run{self.run_no}.err"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def wait_ready(self, timeout: float = READY_TIMEOUT_S, poll: float = POLL_S) -> dict[str, Any]:
        """Poll GET /api/status until a 200 (or the process exits, or the deadline passes)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"station exited {self.proc.returncode} before ready:\n{self.stderr()}"
                )
            try:
                return self.status(timeout=1.0)
            except (OSError, HttpError) as e:  # URLError, connection refused/reset
                last = e
            time.sleep(poll)
        raise AssertionError(f"station not ready after {timeout} s ({last!r}):\n{self.stderr()}")

    def start_ready(self, attempts: int = 3) -> dict[str, Any]:
        """Start and wait; if the chosen port was taken meanwhile, move to another port."""
        for attempt in range(attempts):
            self.start()
            try:
                return self.wait_ready()
            except AssertionError:
                if attempt + 1 < attempts and "Address already in use" in self.stderr():
                    self.kill()
                    set_port(self.config, free_port())
                    continue
                raise
        raise AssertionError("unreachable")

    # --- HTTP -------------------------------------------------------------------------------

    def status(self, timeout: float = HTTP_TIMEOUT_S) -> dict[str, Any]:
        return http("GET", self.base + "/api/status", timeout=timeout)

    def badge(self, uid: str, *, cloned: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"uid": uid}
        if cloned:
            body["cloned"] = True
        return http("POST", self.base + "/sim/badge", body)

    def advance(self, seconds: float) -> dict[str, Any]:
        return http("POST", self.base + "/sim/advance", {"seconds": seconds})

    def events(self) -> list[dict[str, Any]]:
        out = cli("events", "--config", str(self.config), "--json", cwd=self.workdir)
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    # --- ending -----------------------------------------------------------------------------

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def wait_exit(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL and reap (no-op if it has exited)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=15)

    def close(self) -> None:
        try:
            self.kill()
        finally:
            self._close_files()

    def _close_files(self) -> None:
        for f in (self._out, self._err):
            if f is not None:
                f.close()
        self._out = self._err = None


def rss_kib(pid: int) -> int:
    """Resident memory of a process, from /proc/<pid>/status (VmRSS, in KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")
