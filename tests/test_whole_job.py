"""The whole job is one session (issue 11, items 1 and 2).

A 3D print that goes on after badge-out is logged in two events (``session_ended``, then
``finishing_ended``); people read one job. Here a real station (controller, emulated PZEM meter
on a pty, simulated clock) prints for 10 minutes, its owner badges out, the print goes on for 30
more and the machine idles 2 minutes before the station ends the job: 42 minutes, 0,10 kWh. The
station syncs to a real central store over loopback HTTP, on SQLite and on PostgreSQL: the end
screen, the station's sessions, the central sessions, every report, the programme report, every
CSV export and the energy per trainee hold the whole job, with figures computed from the events
the station wrote. The owner's tap during finishing is hers (item 2).
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from central import reports
from central.sqlite import migrations as central_migrations
from station.clock import SimulatedClock
from station.config import Config, parse_config
from station.controller import Controller
from station.machine import Command, Tap
from station.model import MachineState
from station.store import Store
from station.store import migrations as station_migrations
from station.sync import SyncClient
from tests.conftest import (
    LEA,
    MOUSSA,
    SOFIANE,
    YANIS,
    open_central_store,
    sample_roster_text,
    start_controller,
)
from tests.test_central_helpers import CentralServer, central_config
from tests.test_central_web import PASSWORD, login
from tests.test_machine_sensors import SensorSim, make_sim

SENSORS = {"power_meter": "pzem-emulated"}
PRINT_W = 150.0


# --- a real station, synced to a real central store -------------------------------------------


@pytest.fixture
def central(tmp_path: Path, central_store: Any) -> Iterator[CentralServer]:
    """A central store on each backend, served over loopback HTTP."""
    from station.roster import parse_roster_csv

    server = CentralServer(central_config(tmp_path), central_store)
    server.store.import_roster(parse_roster_csv(sample_roster_text()))
    server.store.add_user("ines", PASSWORD, "educator")
    try:
        yield server
    finally:
        server.stop()


def printer_config(tmp_path: Path, url: str, token: str) -> Config:
    raw = {
        "station": {"id": "printer-1", "data_dir": str(tmp_path / "printer-1")},
        "machine": {
            "id": "printer-1",
            "name": "Imprimante 3D",
            "kind": "printer3d",
            "keep_on_while_busy": True,
            "finish_idle_s": 120,
            "finish_max_min": 240,
        },
        "hardware": {"backend": "mock"},
        "reader": {"type": "fake"},
        "clock": {"simulated": True},
        "sensors": SENSORS,
        "web": {"port": 0},
        "central": {"url": url, "token": token, "sync_interval_s": 1.0, "timeout_s": 5.0},
    }
    return parse_config(raw, tmp_path / "printer-1.toml")


@pytest.fixture
def printer(tmp_path: Path, central: CentralServer) -> Iterator[Controller]:
    token = central.store.add_station("printer-1", kind="printer3d")
    c = start_controller(printer_config(tmp_path, central.url, token), SimulatedClock(mono=1000.0))
    try:
        yield c
    finally:
        c.stop()


def load(c: Controller, watts: float) -> None:
    c.hardware.extras["sensors"].set_load(watts)


def station_events(c: Controller, type_: str) -> list[dict[str, Any]]:
    store = c.store
    assert store is not None
    return [e["data"] for e in c.run_in_loop(lambda: list(store.events())) if e["type"] == type_]


def push_all(c: Controller) -> None:
    """Sync until the central store holds every event (the sync client's own code, in this
    thread: no waiting on a timer)."""
    client = SyncClient(c.config, c)
    client._open()
    try:
        while client.sync_once():
            pass
    finally:
        assert client.store is not None
        client.store.close()


def print_with_finishing(c: Controller) -> tuple[dict[str, Any], dict[str, Any]]:
    """Léa prints for 10 minutes, badges out, the print goes on for 30 more, then the machine
    idles until the station ends the job (``finish_idle_s``, 2 minutes): 42 minutes."""
    push_all(c)  # the roster's first contact: without it only staff get in
    load(c, PRINT_W)
    c.advance(4)
    started = c.call(Tap(LEA))
    assert started["action"] == "session_started", started
    c.advance(10 * 60)
    out = c.call(Tap(LEA))  # badge-out while the printer works: finishing
    assert out["action"] == "session_ended" and out["finishing"] is True
    assert out["job"] is None and out["member_name"] == "Léa"
    c.advance(30 * 60)
    assert c.status()["machine"]["state"] == "finishing"
    load(c, 2.0)  # the print is done
    c.advance(130)
    assert c.status()["machine"]["state"] == "available"
    return station_events(c, "session_ended")[-1], station_events(c, "finishing_ended")[-1]


def test_the_end_screen_shows_the_whole_job_once_the_print_is_done(printer: Controller) -> None:
    ended, finished = print_with_finishing(printer)
    d = printer.status()["last_decision"]
    assert d["action"] == "session_ended" and d["member_name"] == "Léa"
    job = d["job"]
    assert job["after_finishing"] is True
    assert job["duration_s"] == pytest.approx(ended["duration_s"] + finished["duration_s"])
    assert job["energy_wh"] == pytest.approx(ended["energy_wh"] + finished["energy_wh"])
    assert round(job["duration_s"] / 60) == 42  # 10 min + 30 min + the idle wait
    assert round(job["energy_wh"] / 1000, 2) == 0.10  # « 42 min · 0,10 kWh »
    assert finished["job_energy_wh"] == pytest.approx(job["energy_wh"])
    assert finished["ended_at"] > ended["ended_at"]


def test_station_sessions_hold_the_whole_job(printer: Controller) -> None:
    ended, finished = print_with_finishing(printer)
    store = printer.store
    assert store is not None
    (row,) = printer.run_in_loop(lambda: store.sessions())
    for total in ("duration_s", "enabled_s", "active_s", "idle_s", "unknown_s", "energy_wh"):
        assert row[total] == pytest.approx(ended[total] + finished[total], abs=1e-6), total
    assert row["finishing_s"] == finished["duration_s"]
    assert row["finishing_energy_wh"] == finished["energy_wh"]
    assert row["finished_at"] == finished["ended_at"]


def test_the_technician_page_shows_the_whole_job(printer: Controller) -> None:
    from tests.test_web_helpers import add_tech, login, make_app

    ended, finished = print_with_finishing(printer)
    add_tech(printer)
    with make_app(printer).test_client() as client:
        assert login(client) == 302
        html = client.get("/tech/").get_data(as_text=True)
    row = html.split(f'data-session="{ended["session_id"]}"')[1].split("</tr>")[0]
    minutes = round(round(ended["duration_s"] + finished["duration_s"]) / 60)
    kwh = f"{(ended['energy_wh'] + finished['energy_wh']) / 1000:.2f}".replace(".", ",")
    assert "Léa" in row and f"{minutes} min" in row and f"{kwh} kWh" in row, row
    assert f"{round(finished['duration_s'] / 60)} min" in row  # the finishing phase, apart
    assert "Dernières sessions" in html and "Dont après le badge" in html


def test_central_sessions_reports_and_csv_hold_the_whole_job(
    printer: Controller, central: CentralServer, tmp_path: Path
) -> None:
    """Every place a person reads the job at the central store, on both backends: the figures
    are the sums of what the station's two events say (never a hard-coded result)."""
    ended, finished = print_with_finishing(printer)
    push_all(printer)
    seconds = ended["duration_s"] + finished["duration_s"]
    wh = ended["energy_wh"] + finished["energy_wh"]
    hours, kwh = round(seconds / 3600, 2), round(wh / 1000, 3)
    assert round(seconds / 60) == 42 and round(wh / 1000, 2) == 0.10  # the issue's own job
    assert finished["energy_wh"] > ended["energy_wh"]  # most of the print ran after badge-out
    row = central.store._rows("SELECT * FROM sessions")[0]
    assert row["duration_s"] == pytest.approx(seconds)
    assert row["energy_wh"] == pytest.approx(wh)
    assert row["active_s"] == pytest.approx(ended["active_s"] + finished["active_s"])
    assert row["idle_s"] == pytest.approx(ended["idle_s"] + finished["idle_s"])
    assert row["finishing_s"] == pytest.approx(finished["duration_s"])
    assert row["finishing_energy_wh"] == pytest.approx(finished["energy_wh"])
    (record,) = central.store.sessions_of("lea")  # a member's own data (right of access)
    assert record["duration_s"] == pytest.approx(seconds)
    assert record["energy_wh"] == pytest.approx(wh)
    (practice,) = central.store.practice_sessions("lea")  # the progress page's hours
    assert practice["seconds"] == pytest.approx(seconds)

    f = reports.Filters(period="day")
    (machine,) = reports.machines(central.store, f)
    assert machine["hours"] == hours and machine["energy_kwh"] == kwh
    (trainee,) = reports.hours(central.store, f)
    assert trainee["member_id"] == "lea" and trainee["hours"] == hours
    assert trainee["energy_kwh"] == kwh  # energy per trainee, not only per machine
    (per,) = reports.energy_per_trainee(central.store, reports.Filters())
    assert per["hours"] == hours and per["energy_kwh"] == kwh
    assert per["finishing_energy_kwh"] == round(finished["energy_wh"] / 1000, 3)

    client = central.app.test_client()
    login(client, "ines")
    day = str(row["started_at"])[:10]
    got: dict[str, list[dict[str, str]]] = {}
    for name, url in (
        ("machines", "/reports/machines?format=csv&period=day"),
        ("hours", "/reports/hours?format=csv&period=day"),
        ("trainees", f"/reports/programme/?format=csv&since={day}&until={day}"),
        (
            "programme machines",
            f"/reports/programme/?format=csv&table=machines&since={day}&until={day}",
        ),
    ):
        r = client.get(url)
        assert r.status_code == 200, name
        got[name] = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
        assert len(got[name]) == 1, (name, got[name])
        assert float(got[name][0]["hours"]) == hours, name
        assert float(got[name][0]["energy_kwh"]) == kwh, name
    french = {f"{hours:.2f}".replace(".", ","), f"{kwh:.2f}".replace(".", ",")}  # « 0,70 »
    for name in ("machines", "hours"):  # the pages themselves, in French
        html = client.get(f"/reports/{name}?period=day").get_data(as_text=True)
        cells = re.findall(r"<td>([^<]*)</td>", html)
        assert french <= set(cells), (name, cells)
        assert "energy_kwh" not in html and ">lea<" not in html  # no raw ids
    page = client.get(f"/reports/programme/?since={day}&until={day}").get_data(as_text=True)
    assert f"{kwh:.2f}".replace(".", ",") in page, "the programme page's energy"
    pdf = client.get(f"/reports/programme/?format=pdf&since={day}&until={day}")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_a_finishing_end_from_another_station_is_refused(
    printer: Controller, central: CentralServer, tmp_path: Path
) -> None:
    """A token of another station cannot add a finishing phase to this station's session."""
    from central.ingest import parse_event

    ended, _ = print_with_finishing(printer)
    push_all(printer)
    before = central.store._rows("SELECT duration_s, energy_wh FROM sessions")[0]
    central.store.add_station("laser-9", kind="printer3d")
    raw = {
        "id": "forged-1",
        "seq": 1,
        "type": "finishing_ended",
        "at": "2026-03-02T10:00:00.000Z",
        "clock_synced": True,
        "boot_id": "b",
        "mono": 1.0,
        "data": {"session_id": ended["session_id"], "duration_s": 36000, "energy_wh": 9999},
    }
    result = central.store.ingest("laser-9", [parse_event(raw, 0, "laser-9")])
    assert result["refused"] == 1
    assert central.store._rows("SELECT duration_s, energy_wh FROM sessions")[0] == before


# --- the projections, whatever the order the two ends arrive in --------------------------------


def test_central_projection_is_the_same_in_either_order(central_store: Any) -> None:
    """Whichever of ``session_ended`` and ``finishing_ended`` arrives first, and on either
    backend, the session holds the whole job (and its roll-ups, which every report reads)."""
    from central.ingest import parse_event

    def event(seq: int, type_: str, data: dict[str, Any]) -> Any:
        raw = {
            "id": f"e{seq}",
            "seq": seq,
            "type": type_,
            "at": f"2026-03-02T10:{seq:02d}:00.000Z",
            "clock_synced": True,
            "boot_id": "b",
            "mono": float(seq),
            "data": data,
        }
        return parse_event(raw, 0, "printer-1")

    store = central_store
    store.add_station("printer-1", kind="printer3d")
    seq = 0
    for sid, ends_first in (("s1", "session_ended"), ("s2", "finishing_ended")):
        start = event(seq + 1, "session_started", {"session_id": sid, "member_id": "lea"})
        end = event(
            seq + 2 if ends_first == "session_ended" else seq + 3,
            "session_ended",
            {"session_id": sid, "end_reason": "badge_out", "duration_s": 600, "energy_wh": 20},
        )
        fin = event(
            seq + 3 if ends_first == "session_ended" else seq + 2,
            "finishing_ended",
            {"session_id": sid, "duration_s": 1920, "energy_wh": 80},
        )
        batches = (
            [[start], [end], [fin]] if ends_first == "session_ended" else [[start], [fin], [end]]
        )
        for batch in batches:
            store.ingest("printer-1", batch)
        seq += 3
    rows = store._rows("SELECT id, duration_s, energy_wh, finishing_s FROM sessions ORDER BY id")
    assert [{k: r[k] for k in ("duration_s", "energy_wh", "finishing_s")} for r in rows] == [
        {"duration_s": 2520, "energy_wh": 100, "finishing_s": 1920}
    ] * 2
    (trainee,) = reports.energy_per_trainee(store, reports.Filters())
    assert trainee["hours"] == round(2 * 2520 / 3600, 2) and trainee["energy_kwh"] == 0.2
    assert trainee["finishing_energy_kwh"] == 0.16


# --- upgrades: the totals of sessions already stored ------------------------------------------


def test_central_migration_adds_the_stored_finishing_phases(tmp_path: Path) -> None:
    path = tmp_path / "central.sqlite"
    db = Database(sqlite3.connect(str(path), isolation_level=None))
    central_migrations.apply(db, stop_before="m008_whole_job")
    db.execute("INSERT INTO stations (id, kind, created_at) VALUES ('printer-1', 'printer3d', 'x')")
    db.execute(
        "INSERT INTO sessions (id, station_id, kind, member_id, started_at, ended_at, end_reason,"
        " duration_s, active_s, idle_s, energy_wh, started_seq) VALUES ('s1', 'printer-1',"
        " 'printer3d', 'lea', '2026-03-02T10:00:00Z', '2026-03-02T10:10:00Z', 'badge_out',"
        " 600, 590, 10, 25.5, 1)"
    )
    fin = {"session_id": "s1", "duration_s": 1800, "active_s": 1700, "idle_s": 100}
    db.execute(
        "INSERT INTO events (station_id, seq, id, type, at, clock_synced, boot_id, mono, data,"
        " received_at, applied) VALUES ('printer-1', 3, 'e3', 'finishing_ended',"
        " '2026-03-02T10:40:00Z', 1, 'b', 3, ?, 'x', 1)",
        [json.dumps({**fin, "energy_wh": 283.4})],
    )
    db.conn.close()
    store = open_central_store(path)
    try:
        row = store._rows("SELECT * FROM sessions")[0]
    finally:
        store.close()
    assert row["duration_s"] == 2400 and row["active_s"] == 2290 and row["idle_s"] == 110
    assert row["energy_wh"] == pytest.approx(25.5 + 283.4)
    assert row["finishing_energy_wh"] == 283.4 and row["finished_at"] == "2026-03-02T10:40:00Z"


def test_station_migration_adds_the_stored_finishing_phases(tmp_path: Path) -> None:
    """Before, the station added energy and active time only; the upgrade counts each once."""
    path = tmp_path / "station.sqlite"
    db = Database(sqlite3.connect(str(path), isolation_level=None))
    station_migrations.apply(db, stop_before="m005_whole_job")
    ended = {
        "session_id": "s1",
        "end_reason": "badge_out",
        "ended_at": "2026-03-02T10:10:00Z",
        "duration_s": 600,
        "enabled_s": 600,
        "active_s": 590,
        "idle_s": 10,
        "unknown_s": 0,
        "energy_wh": 491.7,
        "finishing": True,
    }
    fin = {"session_id": "s1", "duration_s": 1800, "enabled_s": 1800, "active_s": 1700}
    fin.update(idle_s=100, unknown_s=0, energy_wh=283.4)
    for seq, type_, data in ((2, "session_ended", ended), (3, "finishing_ended", fin)):
        db.execute(
            "INSERT INTO events (id, station_id, seq, type, at, clock_synced, boot_id, mono, data)"
            " VALUES (?, 'p', ?, ?, '2026-03-02T10:40:00Z', 1, 'b', 1, ?)",
            [f"e{seq}", seq, type_, json.dumps(data)],
        )
    # The row as the old projection left it: energy and active time with finishing, not the rest.
    db.execute(
        "INSERT INTO sessions (id, member_id, started_at, ended_at, end_reason, duration_s,"
        " enabled_s, active_s, idle_s, energy_wh, unknown_s, finishing_s, finishing_energy_wh,"
        " started_seq) VALUES ('s1', 'lea', '2026-03-02T10:00:00Z', '2026-03-02T10:10:00Z',"
        " 'badge_out', 600, 600, 2290, 10, 775.1, 0, 1800, 283.4, 1)"
    )
    db.conn.close()
    store = Store(path, "p", "printer-1")
    try:
        (row,) = store.sessions()
    finally:
        store.close()
    assert row["duration_s"] == 2400 and row["enabled_s"] == 2400
    assert row["active_s"] == 2290 and row["idle_s"] == 110
    assert row["energy_wh"] == pytest.approx(491.7 + 283.4)  # 0.775 kWh, not 0.492


# --- item 2: the owner's tap during finishing -------------------------------------------------


@pytest.fixture
def sim(tmp_path: Path, roster: Any, clock: SimulatedClock) -> SensorSim:
    return make_sim(
        tmp_path, roster, clock, keep_on_while_busy=True, finish_idle_s=120, finish_max_min=60
    )


def finishing(sim: SensorSim) -> None:
    sim.tap(SOFIANE)
    sim.watts = 200.0
    sim.run(10 * 60)
    d = sim.tap(SOFIANE)
    assert d["action"] == "session_ended" and d["finishing"] is True and d["job"] is None
    assert sim.state.machine is MachineState.FINISHING
    sim.run(4)  # past the repeat-tap guard


def test_the_owner_sees_her_job_and_one_tap_never_stops_it(sim: SensorSim) -> None:
    finishing(sim)
    d = sim.tap(SOFIANE)
    assert d["action"] == "finishing_yours" and d["granted"] is True
    assert d["member_name"] == "Sofiane" and d["reason"] is None
    assert sim.state.machine is MachineState.FINISHING and sim.state.machine.relay_on
    sim.run(30)  # past the window: the next tap asks again
    assert sim.tap(SOFIANE)["action"] == "finishing_yours"
    assert "finishing_ended" not in sim.types()


def test_the_owner_stops_her_job_early_with_a_second_tap(sim: SensorSim) -> None:
    finishing(sim)
    sim.tap(SOFIANE)
    sim.run(4)
    d = sim.tap(SOFIANE)
    assert d["action"] == "session_ended" and not sim.state.machine.relay_on
    done = sim.last("finishing_ended")
    assert done["reason"] == "badge_out" and done["by"] == "sofiane"
    ended = sim.last("session_ended")
    assert d["job"]["duration_s"] == pytest.approx(ended["duration_s"] + done["duration_s"])
    assert d["job"]["energy_wh"] == pytest.approx(ended["energy_wh"] + done["energy_wh"])
    assert sim.state.machine is MachineState.AVAILABLE


def test_others_still_wait_and_staff_still_take_over(sim: SensorSim) -> None:
    finishing(sim)
    d = sim.tap(MOUSSA)
    assert d["reason"] == "machine_in_use" and d["in_use_by"] == "Sofiane"
    assert sim.tap(YANIS)["action"] == "takeover"
    assert sim.last("finishing_ended")["reason"] == "takeover"


def test_a_job_that_ends_without_finishing_shows_its_totals(sim: SensorSim) -> None:
    sim.tap(SOFIANE)
    sim.watts = 200.0
    sim.run(60)
    sim.watts = 2.0
    sim.run(10)
    d = sim.tap(SOFIANE)
    ended = sim.last("session_ended")
    assert d["job"] == {
        "member_id": "sofiane",
        "member_name": "Sofiane",
        "duration_s": ended["duration_s"],
        "energy_wh": ended["energy_wh"],
        "after_finishing": False,
    }


def test_a_technician_ending_the_job_is_not_an_end_screen(sim: SensorSim) -> None:
    finishing(sim)
    out = sim.send(Command("end_session", by="yanis"))
    assert out.decision is not None and out.decision["action"] == "end_session"
    assert "job" not in out.decision
