"""Sites from the command line and in an existing store: `station-central site …`, `user add
--site`, `rollups rebuild`, `[site] name`; a store from before sites opens with one site."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlite_utils import Database

from central.cli import main as central_main
from central.config import load_config
from central.ingest import parse_event
from central.sqlite import SqliteCentralStore
from central.sqlite.migrations import migrations
from central.store import CentralStore
from central.wiring import open_store


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = central_main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / "central.toml"
    assert run(capsys, "init", "--config", str(path), "--port", "0")[0] == 0
    return str(path)


def test_sites_stations_and_accounts_from_the_command_line(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "site", "add", "sarcelles", "--name", "Fablab de Sarcelles",
               "--config", config)[1] == "site sarcelles created\n"  # fmt: skip
    code, _, err = run(capsys, "site", "add", "Bad Site", "--config", config)
    assert code != 0 and "site id 'Bad Site'" in err and "e.g. gonesse" in err
    code, _, err = run(capsys, "station", "add", "cnc-1", "--site", "nowhere", "--config", config)
    assert code != 0 and "no site nowhere" in err and "site add" in err
    assert run(capsys, "station", "add", "cnc-1", "--site", "sarcelles", "--config", config)[0] == 0
    assert run(capsys, "station", "add", "laser-1", "--config", config)[0] == 0
    code, out, _ = run(capsys, "site", "list", "--json", "--config", config)
    sites = {s["id"]: s for s in map(json.loads, out.splitlines())}
    assert sites["sarcelles"]["stations"] == 1 and sites["default"]["stations"] == 1
    assert run(capsys, "site", "move-station", "laser-1", "sarcelles", "--config", config)[0] == 0
    code, out, _ = run(capsys, "station", "list", "--json", "--config", config)
    assert {json.loads(line)["site_id"] for line in out.splitlines()} == {"sarcelles"}
    code, _, err = run(capsys, "site", "move-station", "laser-1", "nowhere", "--config", config)
    assert code != 0 and "no site nowhere" in err
    pw = "a long passphrase\n"
    with pytest.MonkeyPatch.context() as mp:
        import io
        import sys

        for user, extra in (("ed", ["--site", "sarcelles"]), ("boss", [])):
            mp.setattr(sys, "stdin", io.StringIO(pw))
            role = "educator" if user == "ed" else "admin"
            args = ["user", "add", user, "--role", role, "--password-stdin", *extra]
            assert run(capsys, *args, "--config", config)[0] == 0
    code, out, _ = run(capsys, "user", "list", "--config", config)
    assert "ed\teducator\tsarcelles" in out and "boss\tadmin\tnetwork" in out
    assert run(capsys, "site", "account", "boss", "--site", "default", "--config", config)[0] == 0
    code, out, _ = run(capsys, "user", "list", "--config", config)
    assert "boss\tadmin\tdefault" in out


def test_site_name_in_the_config_names_the_default_site(tmp_path: Path, config: str) -> None:
    path = Path(config)
    path.write_text(path.read_text() + '\n[site]\nname = "La Fabrique de Gonesse"\n')
    text = path.read_text()
    if text.count("[site]") > 1:  # the sample config has a [site] section already
        path.write_text(
            text.replace('\n[site]\nname = "La Fabrique de Gonesse"\n', "").replace(
                "[site]\n", '[site]\nname = "La Fabrique de Gonesse"\n', 1
            )
        )
    store = open_store(load_config(path))
    try:
        assert [s["name"] for s in store.sites()] == ["La Fabrique de Gonesse"]
    finally:
        store.close()


def test_a_store_from_before_sites_keeps_working_with_one_site(tmp_path: Path) -> None:
    """Migrated: every station, member, session and non-admin account at the default site,
    admins the network's, and the roll-ups filled from the sessions already held."""
    path = tmp_path / "central.sqlite"
    db = Database(path)
    migrations.apply(db, stop_before="m011_sites")
    db.execute(
        "INSERT INTO stations (id, kind, created_at, token_hash) "
        "VALUES ('laser-1', 'laser', '2026-01-01', 'h')"
    )
    db.execute(
        "INSERT INTO members (id, name, role, version, updated_at) "
        "VALUES ('lea', 'Léa', 'trainee', 1, '2026-01-01')"
    )
    db.execute(
        "INSERT INTO sessions (id, station_id, machine_id, kind, member_id, started_at, "
        "duration_s, energy_wh, started_seq) "
        "VALUES ('s1', 'laser-1', 'laser-1', 'laser', 'lea', '2026-03-02T10:00:00Z', 5400, 300, 1)"
    )
    for user, role in (("ines", "educator"), ("root", "admin")):
        db.execute(
            "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, 'x', ?, 'x')",
            (user, role),
        )
    db.conn.commit()
    db.close()
    store = SqliteCentralStore(path)
    try:
        assert [s["id"] for s in store.sites()] == ["default"]
        assert store.station("laser-1")["site_id"] == "default"
        assert store.member_site("lea") == "default"
        assert {u["username"]: u["site_id"] for u in store.users()} == {
            "ines": "default",
            "root": None,
        }
        [row] = store.rollup_rows()
        assert (row["day"], row["site_id"], row["sessions"], row["seconds"]) == (
            "2026-03-02",
            "default",
            1,
            5400,
        )
        # It goes on: a new session at the station counts at the default site.
        event = parse_event(
            {"id": "e1", "seq": 1, "type": "session_started", "at": "2026-03-03T10:00:00.000Z",
             "clock_synced": True, "boot_id": "b", "mono": 1.0,
             "data": {"session_id": "s2", "member_id": "lea", "supervisor_id": None,
                      "kind": "laser", "machine_id": "laser-1"}},
            0, "laser-1",
        )  # fmt: skip
        store.ingest("laser-1", [event])
        assert [r["site_id"] for r in store.rollup_rows()] == ["default", "default"]
    finally:
        store.close()


def test_rollups_rebuild_command(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rollups", "rebuild", "--config", config)
    assert code == 0 and out == "roll-ups rebuilt from the sessions: 0 rows\n"


def test_a_newcomer_enrolled_at_a_machine_joins_that_machines_site(
    central_store: CentralStore,
) -> None:
    central_store.add_site("sarcelles", "Fablab de Sarcelles")
    central_store.add_station("laser-s", kind="laser", site_id="sarcelles")
    central_store.add_station("laser-g", kind="laser")
    central_store.enrol_from_station("laser-s", "04112233", "karim", new_name="Zoé Leroy")
    central_store.enrol_from_station("laser-g", "04112234", "yanis", new_name="Noé Petit")
    assert central_store.member_site("zoe-leroy") == "sarcelles"
    assert central_store.member_site("noe-petit") == "default"


def test_levels_count_at_every_site(central_store: CentralStore) -> None:
    """Every station's roster is the network's: a member of one site, with her levels, reaches
    the stations of every site."""
    from station.roster import parse_roster_csv
    from tests.conftest import sample_roster_text

    central_store.import_roster(parse_roster_csv(sample_roster_text()))
    central_store.add_site("sarcelles", "Fablab de Sarcelles")
    central_store.move_member("amina", "sarcelles")
    changes = central_store.roster_changes(0)
    assert changes is not None
    assert {"amina", "lea"} <= {m["id"] for m in changes["members"]}
    assert ("amina", "printer3d") in {
        (q["member_id"], q["kind"]) for q in changes["qualifications"]
    }
