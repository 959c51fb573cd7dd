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
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from central.config import load_config as load_central_config
from central.config import write_config as write_central_config
from central.errors import Conflict
from central.store import SqliteCentralStore
from station.errors import StationError
from station.roster import parse_roster_csv

SYNC_INTERVAL_S = 2
DEMO_PASSWORD = "fabrique-demo"
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
            "sensors": {"power_meter": '"pzem-emulated"'},
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


def prepare(data: Path, port: int) -> dict[str, Any]:
    """Write the configs, load the roster into the central store, register the stations."""
    from station.cli import _emulated_reader_available, write_config

    data.mkdir(parents=True, exist_ok=True)
    central_path = data / "central.toml"
    central_port = port + CENTRAL_PORT_OFFSET
    write_central_config(
        central_path, port=central_port, data_dir="central", interval=SYNC_INTERVAL_S
    )
    cconfig = load_central_config(central_path)
    central_url = f"http://127.0.0.1:{central_port}"
    store = SqliteCentralStore(
        cconfig.db_path, two_stations_window_s=cconfig.sync.badge_two_stations_s
    )
    stations: list[dict[str, Any]] = []
    try:
        store.import_roster(parse_roster_csv(DEMO_ROSTER, "demo roster"))
        for username, role in (("admin", "admin"), ("ines", "educator"), ("yanis", "technician")):
            try:
                store.add_user(username, DEMO_PASSWORD, role)
            except Conflict:
                pass
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
                reader_type="mfrc522-emulated" if _emulated_reader_available() else "fake",
                simulated=True,
                port=port + st.port_offset,
                data_dir=st.id,
            )
            text = path.read_text(encoding="utf-8")
            settings = {
                **st.settings,
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
            stations.append(
                {"station": st, "config": path, "url": f"http://127.0.0.1:{port + st.port_offset}"}
            )
    finally:
        store.close()
    return {"central_config": central_path, "central_url": central_url, "stations": stations}


def _spawn(args: list[str], log_path: Path) -> tuple[subprocess.Popen[str], IO[str]]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - closed when the demo stops
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=log, text=True, env=_env(), start_new_session=True
    )
    return proc, log


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def _wait_ready(proc: subprocess.Popen[str], what: str, log_path: Path) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "ready on" not in line:
        raise StationError(f"{what} did not start (see {log_path}): {line.strip()!r}")
    # Keep draining stdout so that the child never blocks on a full pipe.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return line.strip()


def _sync_state(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url + "/api/status", timeout=2) as r:
            return json.loads(r.read())["sync"].get("state")  # type: ignore[no-any-return]
    except (OSError, ValueError, KeyError):
        return None


def run_demo(data_dir: Path, port: int) -> int:
    """Start everything, print the URLs, run until Ctrl-C or SIGTERM, stop everything."""
    data = data_dir.resolve()
    plan = prepare(data, port)
    logs = data / "logs"
    procs: list[tuple[str, subprocess.Popen[str], IO[str]]] = []
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        central_cmd = [sys.executable, "-m", "central.cli", "run", "--config"]
        proc, log = _spawn([*central_cmd, str(plan["central_config"])], logs / "central.log")
        procs.append(("central", proc, log))
        _wait_ready(proc, "the central store", logs / "central.log")
        for s in plan["stations"]:
            sid = s["station"].id
            cmd = [sys.executable, "-m", "station.cli", "run", "--config", str(s["config"])]
            proc, log = _spawn(cmd, logs / f"{sid}.log")
            procs.append((sid, proc, log))
            _wait_ready(proc, f"station {sid}", logs / f"{sid}.log")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(
            _sync_state(s["url"]) == "ok" for s in plan["stations"]
        ):
            stop.wait(0.1)
        print(_banner(plan, data), flush=True)
        while not stop.is_set():
            for name, proc, _ in procs:
                if proc.poll() is not None:
                    print(f"demo: {name} stopped (exit {proc.returncode}); see {logs}", flush=True)
                    stop.set()
            stop.wait(0.5)
        return 0
    finally:
        for _, proc, _ in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc, log in reversed(procs):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            log.close()


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
        lines.append(f"      status  {url}/api/status")
    first = plan["stations"][0]["url"]
    lines += [
        f"  tap         curl -s -XPOST {first}/sim/badge -H 'Content-Type: application/json' "
        '-d \'{"uid": "04C0C1C2"}\'',
        f"  events      python -m central.cli events --config {plan['central_config']} --json",
        f"Logs in {data / 'logs'}. Ctrl-C stops everything.",
    ]
    return "\n".join(lines)
