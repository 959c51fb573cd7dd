"""Operations on the central store: backups restored (pg_dump/pg_restore, SQLite's online
backup), and an existing SQLite store moved into PostgreSQL without loss."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from central.cli import main as central_main
from central.ingest import parse_event
from central.store import CentralStore, Filters
from station.model import Level
from station.roster import parse_roster_csv
from tests.conftest import open_pg_store, sample_roster_text, storage_section
from tests.pg_server import with_database, with_schema

PASSWORD = "correct horse battery staple"


def ev(station: str, seq: int, type_: str, at: str, **data: Any) -> Any:
    raw = {"id": f"{station}-{seq}", "seq": seq, "type": type_, "at": at, "clock_synced": True,
           "boot_id": f"boot-{station}", "mono": 1000.0 + seq, "data": data}  # fmt: skip
    return parse_event(raw, 0, station)


def fill(store: CentralStore) -> None:
    """A small fablab's life: a roster, two stations, sessions, a grant, a command, an account."""
    store.import_roster(parse_roster_csv(sample_roster_text()))
    store.add_station("laser-1", kind="laser")
    store.add_station("printer-1", kind="printer3d")
    store.add_user("ines", PASSWORD, "educator")
    for station, member in (("laser-1", "sofiane"), ("printer-1", "lea")):
        events, seq = [], 0
        for day in range(1, 4):
            at = f"2026-0{day}-1{day}T10:00:00.000Z"
            end = f"2026-0{day}-1{day}T11:30:00.000Z"
            sid = f"{station}-s{day}"
            seq += 1
            events.append(ev(station, seq, "session_started", at, session_id=sid,
                             member_id=member))  # fmt: skip
            seq += 1
            events.append(ev(station, seq, "session_ended", end, session_id=sid,
                             member_id=member, end_reason="badge_out", duration_s=5400.0,
                             energy_wh=120.0 * day))  # fmt: skip
            seq += 1
            events.append(ev(station, seq, "heartbeat", end))
        store.ingest(station, events)
    store.ingest("laser-1", [ev("laser-1", 10, "qualification_granted", "2026-03-13T12:00:00.000Z",
                                member_id="lea", kind="laser", level="autonomous",
                                granted_by="moussa", previous_level="supervised")])  # fmt: skip
    store.add_command("printer-1", {"action": "lock", "reason": "maintenance"}, by="yanis")


def figures(store: CentralStore) -> dict[str, Any]:
    """What a restore or a move must keep: counts, report figures, the roster, the accounts."""
    f = Filters(period="month")
    return {
        "events": store.count_events(),
        "per_station": {s["id"]: (s["high_water"], s["held"]) for s in store.stations()},
        "event_ids": [e["id"] for e in store.events()],
        "hours": store.hours_by_period(f),
        "energy": store.energy_by_trainee(f),
        "mentors": store.mentor_credit(f),
        "machines": store.machine_use(f),
        "grants": store.grants_at_machines(f),
        "roster_version": store.roster_version(),
        "roster": store.roster_rows(),
        "commands": [(c["id"], c["status"]) for c in store.commands()],
        "history": store.qualification_history("lea"),
        "pseudonym": store.pseudonym("amina"),
        "login": (store.authenticate("ines", PASSWORD) or {}).get("role"),
    }


@pytest.fixture
def new_database(pg_database: str) -> Iterator[str]:
    """A database of its own (a new server's), dropped after the test."""
    import psycopg

    name = f"fabrique_new_{secrets.token_hex(4)}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield with_database(pg_database, name)
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def write_config(path: Path, storage: str) -> Path:
    path.write_text(storage, encoding="utf-8")
    return path


# --- backups ------------------------------------------------------------------------------------


def test_a_postgresql_backup_restores_into_a_new_database(
    tmp_path: Path, pg_store_dsn: str, new_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed (sudo apt-get install postgresql-client)")
    store = open_pg_store(pg_store_dsn)
    try:
        fill(store)
        before = figures(store)
        config = write_config(tmp_path / "central.toml", storage_section(store, tmp_path / "d"))
    finally:
        store.close()
    dump = tmp_path / "central.dump"
    assert central_main(["backup", "--config", str(config), "--to", str(dump)]) == 0
    assert f"backup written: {dump}" in capsys.readouterr().out
    restored_dsn = with_schema(new_database, "stores")  # the dump holds the store's schema
    new_config = write_config(
        tmp_path / "new.toml", f'[storage]\nbackend = "postgresql"\ndsn = "{restored_dsn}"\n'
    )
    assert central_main(["restore", str(dump), "--config", str(new_config)]) == 0
    restored = open_pg_store(restored_dsn)
    try:
        assert figures(restored) == before
        assert before["events"] == 19 and before["login"] == "educator"
    finally:
        restored.close()
    # A restore into a database that holds the store already changes nothing, and says so.
    assert central_main(["restore", str(dump), "--config", str(new_config)]) == 2
    assert "pg_restore into" in capsys.readouterr().err
    restored = open_pg_store(restored_dsn)
    try:
        assert restored.count_events() == 19
    finally:
        restored.close()


def test_a_sqlite_backup_restores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from central.sqlite import SqliteCentralStore

    data = tmp_path / "data"
    store = SqliteCentralStore(data / "central.sqlite")
    fill(store)
    before = figures(store)
    store.close()
    config = write_config(tmp_path / "central.toml", f'[storage]\ndata_dir = "{data}"\n')
    assert central_main(["backup", "--config", str(config)]) == 0
    written = Path(capsys.readouterr().out.split("backup written: ")[1].split(" (")[0])
    assert written.parent == data / "backups" and written.suffix == ".sqlite"
    assert central_main(["restore", str(written), "--config", str(config)]) == 2
    assert "move it aside" in capsys.readouterr().err
    (data / "central.sqlite").rename(tmp_path / "lost.sqlite")
    for wal in data.glob("central.sqlite-*"):
        wal.unlink()
    assert central_main(["restore", str(written), "--config", str(config)]) == 0
    restored = SqliteCentralStore(data / "central.sqlite")
    try:
        assert figures(restored) == before
    finally:
        restored.close()


# --- an existing SQLite store into PostgreSQL ---------------------------------------------------


def test_a_sqlite_store_moves_into_postgresql_without_loss(
    tmp_path: Path, pg_store_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from central.sqlite import SqliteCentralStore

    data = tmp_path / "data"
    old = SqliteCentralStore(data / "central.sqlite")
    fill(old)
    old.add_user("yanis", PASSWORD, "technician")
    old.set_user_active("yanis", False)
    before = figures(old)
    old.close()
    source = write_config(tmp_path / "central.toml", f'[storage]\ndata_dir = "{data}"\n')
    target = write_config(
        tmp_path / "pg.toml", f'[storage]\nbackend = "postgresql"\ndsn = "{pg_store_dsn}"\n'
    )
    args = ["migrate-to-postgresql", "--from", str(source), "--config", str(target)]
    assert central_main(args) == 0
    out = capsys.readouterr().out
    assert "events\t19" in out and "every table's count checked" in out
    moved = open_pg_store(pg_store_dsn)
    try:
        assert figures(moved) == before
        assert moved.session_user("yanis") is None, "a disabled account stays disabled"
        # The store goes on: new events after the moved ones, ids after the moved rows.
        moved.ingest("laser-1", [ev("laser-1", 11, "heartbeat", "2026-04-01T10:00:00.000Z")])
        assert moved.high_water("laser-1") == 11
        sent = moved.add_command("laser-1", {"action": "unlock", "reason": ""}, by="ines")
        assert moved.commands()[0]["id"] == sent["id"], "the newest command is listed first"
        moved.set_qualification("amina", "laser", Level.SUPERVISED, by="ines")
        assert moved.qualification_history("amina")[-1]["level"] == "supervised"
    finally:
        moved.close()
    # A second move into the same store is refused whole.
    assert central_main(args) == 2
    assert "holds data already" in capsys.readouterr().err


def test_a_move_that_does_not_add_up_writes_nothing(tmp_path: Path, pg_store_dsn: str) -> None:
    from adapters.postgresql import open_database
    from central.pg.load import MoveError, load
    from central.sqlite import SqliteCentralStore
    from central.sqlite.dump import SqliteDump

    old = SqliteCentralStore(tmp_path / "central.sqlite")
    fill(old)
    old.close()

    class Short(SqliteDump):
        def rows(self, table: str, columns: list[str]) -> Iterator[tuple[Any, ...]]:
            rows = list(super().rows(table, columns))
            return iter(rows[:-1] if table == "events" else rows)

    db = open_database(pg_store_dsn, None, pool_size=2)
    dump = Short(tmp_path / "central.sqlite")
    try:
        with pytest.raises(MoveError, match="events: 18 rows copied of 19; nothing was written"):
            load(db, dump)
    finally:
        dump.close()
        db.close()
    store = open_pg_store(pg_store_dsn)
    try:
        assert store.count_events() == 0 and store.stations() == []
        assert store.roster_rows()["members"] == []
    finally:
        store.close()


# --- the server goes away mid-run ---------------------------------------------------------------


def test_a_server_gone_mid_run_is_a_503_and_nothing_is_lost(
    tmp_path: Path, new_database: str
) -> None:
    """While the database refuses connections the sync API answers 503 (the station keeps its
    backlog); once it is back the same push is stored, once."""
    import psycopg

    from tests.test_central_helpers import CentralServer, central_config, post_json

    name = new_database.rsplit("/", 1)[1]
    admin = new_database.rsplit("/", 1)[0] + "/postgres"
    store = open_pg_store(new_database)
    server = CentralServer(central_config(tmp_path), store)
    try:
        token = store.add_station("laser-1", kind="laser")
        body = {"protocol": 1, "station_id": "laser-1", "roster_version": 0,
                "events": [{"id": "e1", "station_id": "laser-1", "seq": 1, "type": "heartbeat",
                            "at": "2026-03-02T10:00:00.000Z", "clock_synced": True,
                            "boot_id": "b", "mono": 1.0, "data": {}}]}  # fmt: skip
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
        status, reply = post_json(server.url + "/api/v1/sync", body, token)
        assert status == 503, reply
        assert "PostgreSQL at" in reply["error"] and "pg_isready" in reply["error"]
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        status, reply = post_json(server.url + "/api/v1/sync", body, token)
        assert status == 200 and reply["acked_seq"] == 1, reply
        status, reply = post_json(server.url + "/api/v1/sync", body, token)
        assert status == 200 and reply["acked_seq"] == 1
        assert store.count_events() == 1
    finally:
        server.stop()
