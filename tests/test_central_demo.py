"""``station demo``: one command starts a central store and three stations that sync with it."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import termios
import threading
import urllib.request
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from central import demo
from central.config import load_config as load_central_config
from central.demo import (
    DEMO_PASSWORD,
    DEMO_ROSTER,
    DEMO_TECHNICIAN,
    STATIONS,
    _banner,
    prepare,
    set_toml,
)
from station.accounts import authenticate, open_accounts
from station.clock import SimulatedClock
from station.config import load_config as load_station_config
from station.machine import Tap
from station.roster import parse_roster_csv
from station.store import Store
from station.wiring import build_clock
from tests.conftest import (
    SOFIANE,
    make_config,
    open_central_store,
    sample_roster_text,
    start_controller,
)
from tests.e2e_helpers import StationProcess, prepare_station
from tests.test_central_helpers import REPO, post_json, wait_for
from tests.test_central_reports import Log


def test_the_demo_roster_extends_the_sample_one() -> None:
    demo = parse_roster_csv(DEMO_ROSTER)
    sample = parse_roster_csv(sample_roster_text())
    assert {b.uid: b.member_id for b in sample.badges}.items() <= {
        b.uid: b.member_id for b in demo.badges
    }.items()
    cnc = {q.member_id: q.level.value for q in demo.qualifications if q.kind == "cnc"}
    trainees = {m.id for m in demo.members if m.role.value == "trainee"}
    assert {lv for mid, lv in cnc.items() if mid in trainees} == {"supervised", "mentor"}


def test_set_toml_changes_one_key_in_one_section() -> None:
    text = '[machine]\nid = "a"\nkind = "x"\n[web]\nid = "b"\n'
    assert (
        set_toml(text, "web", "id", '"c"') == '[machine]\nid = "a"\nkind = "x"\n[web]\nid = "c"\n'
    )


def test_a_restarted_simulated_station_continues_its_clock(tmp_path: Path) -> None:
    """Advanced three hours, then restarted: its new events follow the old ones in time."""
    config = make_config(tmp_path)
    first = start_controller(config, build_clock(config))  # type: ignore[arg-type]
    first.advance(3 * 3600)
    first.call(Tap(SOFIANE))  # a session three hours after the start: its events are then
    first.stop()
    clock = build_clock(config)
    assert isinstance(clock, SimulatedClock)
    second = start_controller(config, clock)
    second.call(Tap(SOFIANE))
    second.stop()
    with closing(Store(config.db_path, config.station.id, config.machine.id)) as store:
        times = [datetime.fromisoformat(e["at"]) for e in store.events()]
    assert times == sorted(times), "events went back in time after the restart"
    assert times[-1] - times[0] >= timedelta(hours=3)


@pytest.mark.e2e
def test_a_stopped_idle_station_starts_again_at_its_simulated_time(tmp_path: Path) -> None:
    """Advanced two hours while idle (no event records it), stopped, started: its clock goes
    on from where it stood, not from the real time."""
    station = StationProcess(prepare_station(tmp_path / "s"))
    try:
        station.start_ready()
        before = datetime.fromisoformat(station.advance(2 * 3600)["now"])
        station.signal(signal.SIGTERM)
        assert station.wait_exit() == 0
        after = datetime.fromisoformat(station.start_ready()["now"])
    finally:
        station.close()
    assert after >= before


def test_the_banner_technician_logs_in_on_each_station(tmp_path: Path) -> None:
    """The banner's technician (yanis, the demo password) is an account of each station's
    own technician page, not only of the central store's dashboard."""
    plan = prepare(tmp_path / "d", 18000)
    assert DEMO_TECHNICIAN in _banner(plan, tmp_path / "d")
    for s in plan["stations"]:
        db = open_accounts(load_station_config(s["config"]).db_path)
        try:
            assert authenticate(db, DEMO_TECHNICIAN, DEMO_PASSWORD), s["station"].id
        finally:
            db.close()


def test_restarting_the_demo_keeps_the_grants_made_at_machines(tmp_path: Path) -> None:
    """Léa, granted autonomous on the laser, stays autonomous when the demo starts again."""
    data = tmp_path / "d"
    prepare(data, 18000)
    config = load_central_config(data / "central.toml")
    store = open_central_store(config.db_path)
    try:
        Log(store, "laser-1", "laser").grant("lea", "moussa", "2026-11-20T10:00:00.000Z")
    finally:
        store.close()
    prepare(data, 18000)
    store = open_central_store(config.db_path)
    try:
        levels = {
            (q["member_id"], q["kind"]): q["level"] for q in store.roster_rows()["qualifications"]
        }
    finally:
        store.close()
    assert levels[("lea", "laser")] == "autonomous"
    assert levels[("lea", "cnc")] == "supervised"


def _free_base() -> int:
    """A port p with p, p+1, p+2 and p+10 free (the demo's layout)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base > 65000:
            continue
        try:
            socks = []
            for off in (0, 1, 2, 10):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + off))
            return int(base)
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free ports for the demo")


@pytest.mark.e2e
def test_station_demo_runs_a_central_store_and_three_stations(tmp_path: Path) -> None:
    base = _free_base()
    demo = ["demo", "--data-dir", str(tmp_path / "d"), "--port", str(base)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "station.cli", *demo],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = []
        while not banner or not banner[-1].startswith("Logs in"):
            line = proc.stdout.readline()
            assert line, f"the demo stopped: {proc.stderr.read() if proc.stderr else ''}"
            banner.append(line.rstrip())
        text = "\n".join(banner)
        for st in STATIONS:
            assert st.id in text
        assert len(re.findall(r"/kiosk/", text)) == 3
        assert len(re.findall(r"/sim/\n", text + "\n")) == 3
        assert f"http://127.0.0.1:{base + 10}/dash/" in text
        # The README's first tap works on the laser, and its events reach the central store.
        status, decision = post_json(
            f"http://127.0.0.1:{base}/sim/badge", {"uid": "04C0C1C2"}, timeout=10
        )
        assert status == 200 and decision["action"] == "session_started", decision
        store = open_central_store(tmp_path / "d" / "central" / "central.sqlite")
        try:
            wait_for(
                lambda: any(
                    e["type"] == "session_started" for e in store.events(station_id="laser-1")
                ),
                20,
                "the session at the central store",
            )
        finally:
            store.close()
        # The banner's events command runs as printed, from a terminal with no venv active.
        events = re.search(r"(?m)^  events +(.+)$", text)
        assert events is not None, text
        path = ":".join(d for d in os.environ["PATH"].split(":") if ".venv" not in d)
        shown = subprocess.run(
            events.group(1),
            shell=True,
            cwd=tmp_path,
            env={"PATH": path, "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0 and "session_started" in shown.stdout, shown.stderr
        # On the CNC a trainee needs a supervisor.
        _, cnc = post_json(f"http://127.0.0.1:{base + 2}/sim/badge", {"uid": "04B0B1B2"})
        assert cnc["reason"] == "needs_supervisor"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()
    assert proc.returncode == 0


def _start_demo(tmp_path: Path, base: int) -> tuple[subprocess.Popen[str], str]:
    demo = ["demo", "--data-dir", str(tmp_path / "d"), "--port", str(base)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "station.cli", *demo],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    banner: list[str] = []
    while not banner or not banner[-1].startswith("Logs in"):
        line = proc.stdout.readline()
        if not line:
            proc.wait(30)
            raise AssertionError(f"the demo stopped: {proc.stderr.read() if proc.stderr else ''}")
        banner.append(line.rstrip())
    return proc, "\n".join(banner)


def _demo_children(pid: int) -> dict[str, int]:
    """The demo's processes by name (``central``, ``laser-1``…), read from /proc."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue
        if int(fields[1]) != pid or b"--config" not in cmdline:
            continue
        config = Path(cmdline[cmdline.index(b"--config") + 1].decode())
        out[config.stem] = int(stat.parent.name)
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _status(base: int, offset: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{base + offset}/api/status", timeout=2) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]
    except OSError:
        return None


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Terminal:
    """The demo as a person starts it: in a terminal (a pty it leads, as a shell's job does),
    so that Ctrl-C and closing the window reach it the way they do at a desk."""

    def __init__(self, tmp_path: Path, base: int) -> None:
        self.master, slave = os.openpty()
        demo = ["demo", "--data-dir", str(tmp_path / "d"), "--port", str(base)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "station.cli", *demo],
            cwd=REPO,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            # after setsid: the pty becomes its controlling terminal
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self.output: list[str] = []
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            wait_for(
                lambda: "Logs in" in self.text() or self.proc.poll() is not None,
                120,
                "the demo's banner",
            )
            assert "Logs in" in self.text(), f"the demo stopped: {self.text()}"
        except BaseException:
            self.close()
            raise

    def _read(self) -> None:  # as a terminal window does: it always reads what is written
        while not self._stop.is_set():
            if select.select([self.master], [], [], 0.1)[0]:
                try:
                    data = os.read(self.master, 4096)
                except OSError:  # EIO: nobody holds the terminal any more
                    return
                if not data:
                    return
                self.output.append(data.decode("utf-8", "replace"))

    def text(self) -> str:
        return "".join(self.output)

    def ctrl_c(self) -> None:
        os.write(self.master, b"\x03")  # the line discipline sends SIGINT to the foreground

    def close(self) -> None:
        """Close the window: the kernel hangs up the demo's session (SIGHUP)."""
        self._stop.set()
        self._reader.join(5)
        if self.master >= 0:
            os.close(self.master)
            self.master = -1


def _stopped_cleanly(term: Terminal, base: int, pids: dict[str, int]) -> None:
    """The demo exits 0, no child is left behind, every port is free (a failed run leaves
    nothing behind either)."""
    try:
        assert term.proc.wait(60) == 0, term.text()
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
            term.proc.wait(10)
        term.close()
        left = [name for name, pid in pids.items() if _alive(pid)]
        for name in left:
            os.kill(pids[name], signal.SIGKILL)
    assert left == [], f"still running after the demo stopped: {left}"
    for offset in (0, 1, 2, 10):
        assert _port_free(base + offset), f"port {base + offset} still held"


@pytest.mark.e2e
def test_a_killed_child_is_restarted_and_closing_the_terminal_stops_every_child(
    tmp_path: Path,
) -> None:
    base = _free_base()
    term = Terminal(tmp_path, base)
    pids: dict[str, int] = {}
    try:
        before = _demo_children(term.proc.pid)
        pids.update(before)
        assert set(before) == {"central", "laser-1", "printer-1", "cnc-1"}, before
        os.kill(before["laser-1"], signal.SIGKILL)
        # The laser comes back on its port; the others were never stopped.
        after = wait_for(
            lambda: (
                (c := _demo_children(term.proc.pid)).get("laser-1") not in (None, before["laser-1"])
                and _status(base, 0)
                and c
            ),
            60,
            "the laser station restarted",
        )
        pids["laser-1 again"] = after["laser-1"]
        assert term.proc.poll() is None, "the demo stopped with its child"
        assert {k: v for k, v in after.items() if k != "laser-1"} == {
            k: v for k, v in before.items() if k != "laser-1"
        }
        assert "laser-1 running again" in term.text()
    finally:
        term.close()  # the terminal window closed: SIGHUP, not a signal sent by hand
        _stopped_cleanly(term, base, pids)


@pytest.mark.e2e
def test_ctrl_c_in_the_terminal_stops_every_child(tmp_path: Path) -> None:
    base = _free_base()
    term = Terminal(tmp_path, base)
    pids: dict[str, int] = {}
    try:
        pids.update(_demo_children(term.proc.pid))
        assert len(pids) == 4, pids
        term.ctrl_c()
    finally:
        _stopped_cleanly(term, base, pids)


@pytest.mark.e2e
@pytest.mark.parametrize("cli", ["station.cli", "central.cli"])
def test_a_port_in_use_is_named_with_what_to_do(tmp_path: Path, cli: str) -> None:
    """Both command lines run the one demo module (``station demo``, ``station-central demo``)."""
    base = _free_base()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 10))
        taken.listen()
        demo = ["demo", "--data-dir", str(tmp_path / "d"), "--port", str(base)]
        done = subprocess.run(
            [sys.executable, "-m", cli, *demo],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert f"port {base + 10} (the central store)" in done.stderr, done.stderr
    assert "--port N" in done.stderr and "already in use" in done.stderr
    assert not (tmp_path / "d" / "logs").exists(), "nothing was started"


def test_a_child_that_keeps_crashing_is_left_stopped_and_said_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo, "RESTART_PAUSE_S", 0.0)
    script = "import sys; print('ready on test', flush=True); sys.exit(3)"
    child = demo.Child("cnc-1", "station cnc-1", [sys.executable, "-c", script], tmp_path / "c.log")
    child.start()
    stop = threading.Event()
    supervisor = threading.Thread(target=demo.supervise, args=([child], stop, 0.01))
    supervisor.start()
    try:
        wait_for(lambda: child.proc is None, 60, "the child left stopped")
    finally:
        stop.set()
        supervisor.join(10)
    out = capsys.readouterr().out
    assert out.count("restarting it") == demo.RESTART_LIMIT
    assert "cnc-1 stopped again (exit 3); it is left stopped, the others keep running" in out
    assert str(tmp_path / "c.log") in out


def test_the_printer_runs_on_an_emulated_plug_when_a_broker_answers(tmp_path: Path) -> None:
    from central import demo_plug
    from central.demo import _banner, prepare
    from station.config import load_config

    plan = prepare(tmp_path / "d", _free_base())
    printer = next(s for s in plan["stations"] if s["station"].id == "printer-1")
    config = load_config(printer["config"])
    banner = _banner(plan, tmp_path / "d")
    if demo_plug.broker_answers():
        assert config.hardware.relay == "shelly-emulated"
        assert config.sensors.power_meter == "plug" and config.plug.device.startswith("shelly")
        assert "emulated Shelly" in banner
    else:
        assert config.sensors.power_meter == "pzem-emulated"
        assert "sudo apt-get install mosquitto" in banner
    other = prepare(tmp_path / "other", _free_base())
    assert demo_plug.plug_device(tmp_path / "d") != demo_plug.plug_device(tmp_path / "other")
    assert other["broker"] == plan["broker"]
