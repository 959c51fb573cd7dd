"""``station demo``: a central store and three simulated stations, each its own process.

A laser cutter with an air sensor, a 3D printer that keeps running after badge-out while it
prints, and a CNC on which trainees are only ever ``supervised``. Every process is started the
way a fablab runs it (``station-central run``, ``station run``), on 127.0.0.1, with the sample
roster of fictional trainees, mentors and educators held by the central store and synced to the
stations. Logs go to ``<data-dir>/logs/``.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from central import demo_plug
from central.config import load_config as load_central_config
from central.config import write_config as write_central_config
from central.errors import Conflict
from central.quiz import SAMPLE as SAMPLE_QUIZ
from central.sqlite import SqliteCentralStore
from station.errors import StationError
from station.roster import parse_roster_csv

SYNC_INTERVAL_S = 2
DEMO_PASSWORD = "fabrique-demo"
DEMO_TECHNICIAN = "yanis"
DEMO_ROSTER_DATE = datetime(2026, 1, 1, tzinfo=UTC)
"""The date the demo roster describes: levels granted at the machines after it are kept when
the demo starts again."""
DEMO_ROSTER = """\
member_id,name,role,badge_uid,qualifications
ines,Inès Haddad,educator,04A1B2C3,
chloe,Chloé Durand,educator,04A9AAAB,
yanis,Yanis Benali,technician,04D4E5F6,
moussa,Moussa Diallo,trainee,0411223344AA80,laser:mentor;printer3d:mentor;cnc:mentor
samir,Samir Belkacem,trainee,04ACADAE,laser:mentor;cnc:mentor
jade,Jade Nguyen,trainee,04A3A4A5,printer3d:mentor;laser:supervised
lea,Léa Martin,trainee,04B0B1B2,laser:supervised;printer3d:autonomous;cnc:supervised
sofiane,Sofiane Kaci,trainee,04C0C1C2,laser:autonomous;printer3d:supervised
karim,Karim Ziani,trainee,04A0A1A2,laser:autonomous;cnc:supervised
ibrahima,Ibrahima Sow,trainee,04A6A7A8,cnc:supervised;printer3d:supervised
amina,Amina Traoré,trainee,04E0E1E2,printer3d:supervised
noah,Noah Petit,trainee,04F0F1F2,
"""
"""Fictional people. A superset of ``station/sample_roster.csv`` (same badges), so the README's
tour works on the laser; on the CNC every trainee is ``supervised`` except two mentors."""


@dataclass(frozen=True)
class DemoStation:
    id: str
    name: str
    kind: str
    port_offset: int
    settings: dict[str, dict[str, str]]
    """TOML values to set, by section: ``{"machine": {"pm25_alarm": "35"}}``."""


STATIONS = (
    DemoStation(
        "laser-1",
        "Découpe laser",
        "laser",
        0,
        {
            "machine": {"pm25_alarm": "35", "air_lost_s": "30"},
            "sensors": {"air_sensor": '"sds011-emulated"'},
        },
    ),
    DemoStation(
        "printer-1",
        "Imprimante 3D",
        "printer3d",
        1,
        {
            "machine": {"keep_on_while_busy": "true", "max_session_min": "120"},
            "sensors": {"power_meter": '"pzem-emulated"'},  # or a smart plug: demo_plug.py
        },
    ),
    DemoStation(
        "cnc-1",
        "Fraiseuse CNC",
        "cnc",
        2,
        {"machine": {"needs_check_after_use": "true"}},
    ),
)
CENTRAL_PORT_OFFSET = 10


def set_toml(text: str, section: str, key: str, value: str) -> str:
    """Set ``key = value`` inside ``[section]`` of a config written from the sample template."""
    pattern = re.compile(rf"(?ms)(^\[{re.escape(section)}\]\n.*?^){re.escape(key)} = [^\n]*$")
    new, n = pattern.subn(lambda m: f"{m.group(1)}{key} = {value}", text, count=1)
    if n != 1:
        raise StationError(f"the sample config has no {section}.{key} to set")
    return new


def add_demo_technician(config_path: Path) -> None:
    """The banner's technician login (yanis) on the station's own technician page, /tech/:
    its accounts are the station's, not the central store's."""
    from station.accounts import add_technician, open_accounts
    from station.config import load_config

    db_path = load_config(config_path).db_path
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db = open_accounts(db_path)
    try:
        add_technician(db, DEMO_TECHNICIAN, DEMO_PASSWORD, replace=True)
    finally:
        db.close()


def prepare(data: Path, port: int) -> dict[str, Any]:
    """Write the configs, load the roster into the central store, register the stations."""
    from station.config_template import write_config
    from station.wiring import emulated_reader_available

    data.mkdir(parents=True, exist_ok=True)
    central_path = data / "central.toml"
    central_port = port + CENTRAL_PORT_OFFSET
    central_url = f"http://127.0.0.1:{central_port}"
    write_central_config(
        central_path,
        port=central_port,
        data_dir="central",
        interval=SYNC_INTERVAL_S,
        public_url=central_url,  # badges name their keys under it (docs/credentials.md)
    )
    cconfig = load_central_config(central_path)
    store = SqliteCentralStore(
        cconfig.db_path, two_stations_window_s=cconfig.sync.badge_two_stations_s
    )
    stations: list[dict[str, Any]] = []
    broker = demo_plug.broker_answers()
    try:
        # A restart keeps what happened at the machines: Léa, granted autonomous on the
        # laser, is not sent back to supervised by the demo's own roster.
        store.import_roster_keeping_grants(
            parse_roster_csv(DEMO_ROSTER, "demo roster"), replace_all=True, since=DEMO_ROSTER_DATE
        )
        for username, role in (
            ("admin", "admin"),
            ("ines", "educator"),
            (DEMO_TECHNICIAN, "technician"),
        ):
            try:
                store.add_user(username, DEMO_PASSWORD, role)
            except Conflict:
                pass
        if store.quiz("laser") is None:  # the laser's induction quiz, for the learning path
            store.save_quiz("laser", SAMPLE_QUIZ, by="ines", at=datetime.now(UTC).isoformat())
        for st in STATIONS:
            try:
                token = store.add_station(st.id, name=st.name, machine_id=st.id, kind=st.kind)
            except Conflict:
                token = store.rotate_token(st.id)
            path = data / f"{st.id}.toml"
            write_config(
                path,
                station_id=st.id,
                machine_name=st.name,
                kind=st.kind,
                backend="mock",
                reader_type="mfrc522-emulated" if emulated_reader_available() else "fake",
                simulated=True,
                port=port + st.port_offset,
                data_dir=st.id,
            )
            text = path.read_text(encoding="utf-8")
            settings = {
                **st.settings,
                **(demo_plug.printer_power(broker, data) if st.id == "printer-1" else {}),
                "central": {
                    "url": f'"{central_url}"',
                    "token": f'"{token}"',
                    "sync_interval_s": str(SYNC_INTERVAL_S),
                    "timeout_s": "3",
                },
            }
            for section, values in settings.items():
                for key, value in values.items():
                    text = set_toml(text, section, key, value)
            path.write_text(text, encoding="utf-8")
            add_demo_technician(path)
            stations.append(
                {"station": st, "config": path, "url": f"http://127.0.0.1:{port + st.port_offset}"}
            )
    finally:
        store.close()
    return {
        "central_config": central_path,
        "central_url": central_url,
        "stations": stations,
        "broker": broker,
    }


class DemoError(StationError, RuntimeError):
    """The demo could not start (a port in use, a process that did not come up)."""


@dataclass(frozen=True)
class DemoPort:
    port: int
    what: str


def demo_ports(port: int) -> list[DemoPort]:
    """Every port the demo listens on (127.0.0.1), with what listens there."""
    ports = [DemoPort(port + CENTRAL_PORT_OFFSET, "the central store")]
    ports += [DemoPort(port + st.port_offset, f"station {st.id}") for st in STATIONS]
    return ports


def check_ports_free(port: int) -> None:
    """Refuse to start, naming the port, when one of the demo's ports is taken: otherwise a
    child fails to listen and the demo could only say that it did not start."""
    busy = [p for p in demo_ports(port) if not _port_free(p.port)]
    if not busy:
        return
    names = ", ".join(f"{p.port} ({p.what})" for p in busy)
    what = f"port {names} is" if len(busy) == 1 else f"ports {names} are"
    raise DemoError(
        f"{what} already in use on 127.0.0.1. Another demo may still be running: stop it with "
        f"Ctrl-C in its terminal (`ss -ltnp 'sport = :{busy[0].port}'` shows which program "
        f"holds the port). Or start this one on other ports with --port N (it uses N, N+1, "
        f"N+2 and N+{CENTRAL_PORT_OFFSET})."
    )


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress does
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Child:
    """One process of the demo, restarted when it dies."""

    name: str
    what: str
    args: list[str]
    log_path: Path
    proc: subprocess.Popen[str] | None = None
    log: IO[str] | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self) -> None:
        """Spawn and wait for its ``ready on`` line (or its exit, with the log's last line)."""
        self.close_log()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115 - close_log()
        self.proc = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=_env(),
            # Its own session: Ctrl-C and the terminal's hang-up reach the demo alone, which
            # stops the children in order (stations first, then the central store).
            start_new_session=True,
        )
        _wait_ready(self.proc, self.what, self.log_path)

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def stop(self, timeout: float = 15.0) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.close_log()

    def close_log(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None


RESTART_LIMIT = 3
"""A child is restarted at most this many times within RESTART_WINDOW_S; after that it is left
stopped (it would only crash again: its log says why) and the other processes keep running."""
RESTART_WINDOW_S = 60.0
RESTART_PAUSE_S = 1.0


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def _wait_ready(proc: subprocess.Popen[str], what: str, log_path: Path) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "ready on" not in line:
        proc.stdout.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # closed its output but did not exit
            proc.kill()
            proc.wait(5)
        last = _last_line(log_path) or line.strip() or f"exit {proc.returncode}"
        raise DemoError(f"{what} did not start: {last} (the whole log: {log_path})")
    # Keep draining stdout so that the child never blocks on a full pipe; closed at its end.
    threading.Thread(target=_drain, args=(proc.stdout,), daemon=True).start()
    return line.strip()


def _drain(stream: IO[str]) -> None:
    with stream:
        stream.read()


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def _sync_state(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url + "/api/status", timeout=2) as r:
            return json.loads(r.read())["sync"].get("state")  # type: ignore[no-any-return]
    except (OSError, ValueError, KeyError):
        return None


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
"""Ctrl-C, a service stop, and closing the terminal (SIGHUP) all stop every child."""


def run_demo(data_dir: Path, port: int) -> int:
    """Start everything, print the URLs, restart a child that dies, and stop everything on
    Ctrl-C, SIGTERM or SIGHUP (the terminal closed)."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    for signum in STOP_SIGNALS:
        signal.signal(signum, on_signal)
    check_ports_free(port)
    data = data_dir.resolve()
    plan = prepare(data, port)
    children = _children(plan, data / "logs")
    try:
        for child in children:
            if stop.is_set():
                return 0
            child.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(
            _sync_state(s["url"]) == "ok" for s in plan["stations"]
        ):
            stop.wait(0.1)
        print(_banner(plan, data), flush=True)
        supervise(children, stop)
        return 0
    finally:
        for child in reversed(children):
            child.stop()


def _children(plan: dict[str, Any], logs: Path) -> list[Child]:
    central = [sys.executable, "-m", "central.cli", "run", "--config", str(plan["central_config"])]
    out = [Child("central", "the central store", central, logs / "central.log")]
    for s in plan["stations"]:
        sid = s["station"].id
        args = [sys.executable, "-m", "station.cli", "run", "--config", str(s["config"])]
        out.append(Child(sid, f"station {sid}", args, logs / f"{sid}.log"))
    return out


def supervise(children: list[Child], stop: threading.Event, poll_s: float = 0.5) -> None:
    """Until ``stop``: a child that exits is restarted, the others keep running."""
    while not stop.wait(poll_s):
        for child in children:
            if child.proc is None or not child.exited():
                continue
            _restart(child, stop)


def _restart(child: Child, stop: threading.Event) -> None:
    assert child.proc is not None
    code = child.proc.returncode
    child.close_log()
    now = time.monotonic()
    child.restarts = [t for t in child.restarts if now - t < RESTART_WINDOW_S] + [now]
    if len(child.restarts) > RESTART_LIMIT:
        print(
            f"demo: {child.name} stopped again (exit {code}); it is left stopped, the others "
            f"keep running. Its log says why: {child.log_path}",
            flush=True,
        )
        child.proc = None
        return
    print(f"demo: {child.name} stopped (exit {code}); restarting it", flush=True)
    if stop.wait(RESTART_PAUSE_S):
        return
    try:
        child.start()
    except DemoError as e:
        print(f"demo: {e}", flush=True)
    else:
        print(f"demo: {child.name} running again", flush=True)


def _command(name: str) -> str:
    """How to run one of the project's commands from this terminal: the script installed beside
    this Python (``.venv/bin/station-central``), which works without activating the venv."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else f"{sys.executable} -m central.cli"


def _banner(plan: dict[str, Any], data: Path) -> str:
    central = plan["central_url"]
    lines = [
        "Fabrique station demo: a central store and three simulated stations.",
        f"  dashboard   {central}/dash/   (technician yanis, educator ines, admin admin; "
        f"password {DEMO_PASSWORD})",
        f"  reports     {central}/reports/",
        f"  admin       {central}/admin/",
    ]
    for s in plan["stations"]:
        st, url = s["station"], s["url"]
        lines.append(f"  {st.id:<10}  {st.name} ({st.kind})")
        lines.append(f"      kiosk   {url}/kiosk/")
        lines.append(f"      sim     {url}/sim/")
        lines.append(f"      tech    {url}/tech/   (technician {DEMO_TECHNICIAN})")
        lines.append(f"      status  {url}/api/status")
    first = plan["stations"][0]["url"]
    lines += [
        f"  tap         curl -s -XPOST {first}/sim/badge -H 'Content-Type: application/json' "
        '-d \'{"uid": "04C0C1C2"}\'',
        f"  events      {_command('station-central')} events --config {plan['central_config']} "
        "--json",
        demo_plug.banner_line(bool(plan.get("broker"))),
        f"Logs in {data / 'logs'}. A process that stops is restarted; Ctrl-C (or closing "
        "this terminal) stops everything.",
    ]
    return "\n".join(lines)
