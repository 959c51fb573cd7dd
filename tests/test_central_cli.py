"""The ``station-central`` command, called through ``main`` as the console script does, on each
backend (``init --dsn`` writes a PostgreSQL config, ``migrate`` makes its schema)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from central.cli import main
from central.config import load_config
from central.ingest import parse_event
from central.store import CentralStore
from central.wiring import open_store
from station.roster import CSV_HEADER
from tests.conftest import CENTRAL_BACKENDS


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(params=CENTRAL_BACKENDS)
def config(
    request: pytest.FixtureRequest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> str:
    path = tmp_path / "central.toml"
    init = ["init", "--config", str(path), "--port", "0"]
    if request.param == "postgresql":
        init += ["--dsn", request.getfixturevalue("pg_store_dsn")]
    code, out, _ = run(capsys, *init)
    assert code == 0 and "wrote" in out
    if request.param == "postgresql":
        assert "next: station-central migrate" in out
        assert run(capsys, "migrate", "--config", str(path))[0] == 0
    return str(path)


def open_central_store(config: str) -> CentralStore:
    return open_store(load_config(config))


def test_station_add_prints_the_token_once_and_revoke(
    config: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "station", "add", "laser-1", "--kind", "laser", "--config", config)
    token = re.search(r"^(fst_\S+)$", out, re.M)
    assert code == 0 and token
    store = open_central_store(config)
    try:
        assert store.station_for_token(token.group(1)) == "laser-1"
        assert token.group(1) not in json.dumps(store.stations())  # only its hash is kept
    finally:
        store.close()
    code, _, err = run(capsys, "station", "add", "laser-1", "--config", config)
    assert code == 2 and "exists already" in err
    code, _, err = run(capsys, "station", "add", "Bad Id", "--config", config)
    assert code == 2 and "lower-case" in err
    code, out, _ = run(capsys, "station", "list", "--json", "--config", config)
    assert json.loads(out)["id"] == "laser-1"
    assert run(capsys, "station", "revoke", "laser-1", "--config", config)[0] == 0
    code, out, _ = run(capsys, "station", "token", "laser-1", "--config", config)
    assert code == 0 and "fst_" in out
    code, _, err = run(capsys, "station", "revoke", "nope", "--config", config)
    assert code == 2 and "no station nope" in err


def test_events_json_by_station(
    config: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run(capsys, "station", "add", "laser-1", "--config", config)
    run(capsys, "station", "add", "cnc-1", "--config", config)
    store = open_central_store(config)
    try:
        for sid in ("laser-1", "cnc-1"):
            raw = {
                "id": f"{sid}-1",
                "seq": 1,
                "type": "station_started",
                "at": "2026-03-02T10:00:00.000Z",
                "clock_synced": True,
                "boot_id": "b",
                "mono": 1.0,
                "data": {"version": "0.1.0"},
            }
            store.ingest(sid, [parse_event(raw, 0, sid)])
    finally:
        store.close()
    code, out, _ = run(capsys, "events", "--json", "--station", "cnc-1", "--config", config)
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [(e["station_id"], e["seq"]) for e in lines] == [("cnc-1", 1)]
    assert {"id", "type", "at", "clock_synced", "boot_id", "mono", "data"} <= set(lines[0])
    code, out, _ = run(capsys, "events", "--json", "--config", config)
    assert len(out.splitlines()) == 2


def test_roster_import_export_round_trip(
    config: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    csv_path = tmp_path / "roster.csv"
    csv_path.write_text(
        ",".join(CSV_HEADER) + "\nlea,Léa Martin,trainee,04B0B1B2,laser:supervised\n"
        "ines,Inès Haddad,educator,04A1B2C3,\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "roster", "import", str(csv_path), "--config", config)
    assert code == 0 and "roster version 1" in out
    code, out, _ = run(capsys, "roster", "export", "--config", config)
    assert "lea,Léa Martin,trainee,04B0B1B2,laser:supervised" in out
    csv_path.write_text(",".join(CSV_HEADER) + "\nx,,trainee,,\n", encoding="utf-8")
    code, _, err = run(capsys, "roster", "import", str(csv_path), "--config", config)
    assert code == 2 and "line 2: name is empty" in err


def test_users_commands_and_privacy(
    config: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long passphrase\n"))
    code, out, _ = run(
        capsys, "user", "add", "ines", "--role", "educator", "--password-stdin", "--config", config
    )
    assert code == 0 and "created" in out
    assert "ines\teducator" in run(capsys, "user", "list", "--config", config)[1]
    run(capsys, "station", "add", "laser-1", "--config", config)
    code, _, err = run(capsys, "command", "send", "laser-1", "lock", "--config", config)
    assert code == 2 and "needs a reason" in err
    code, out, _ = run(
        capsys, "command", "send", "laser-1", "lock", "--reason", "tube", "--config", config
    )
    assert code == 0 and "queued" in out
    assert json.loads(run(capsys, "command", "list", "--config", config)[1])["status"] == "pending"
    csv_path = tmp_path / "r.csv"
    csv_path.write_text(",".join(CSV_HEADER) + "\nlea,Léa Martin,trainee,04B0B1B2,\n", "utf-8")
    run(capsys, "roster", "import", str(csv_path), "--config", config)
    exported = json.loads(run(capsys, "privacy", "export", "lea", "--config", config)[1])
    assert exported["member"]["name"] == "Léa Martin"
    assert "would pseudonymise" in run(capsys, "privacy", "erase", "lea", "--config", config)[1]
    code, out, _ = run(capsys, "privacy", "erase", "lea", "--yes", "--config", config)
    assert code == 0 and "anon-" in out
    assert "retention_days is 0" in run(capsys, "privacy", "retention", "--config", config)[1]


def test_config_errors_name_the_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nprot = 1\n", encoding="utf-8")
    code, _, err = run(capsys, "station", "list", "--config", str(bad))
    assert code == 2 and "bad.toml: unknown key server.prot" in err
    bad.write_text("[sync]\nmax_batch = 0\n", encoding="utf-8")
    code, _, err = run(capsys, "station", "list", "--config", str(bad))
    assert code == 2 and "sync.max_batch = 0 is too small" in err
    bad.write_text('[server]\nallowed_hosts = ["https://central.fablab.lan:8443"]\n', "utf-8")
    code, _, err = run(capsys, "station", "list", "--config", str(bad))
    assert code == 2 and "server.allowed_hosts" in err and "is not a host name" in err
    code, _, err = run(capsys, "station", "list", "--config", str(tmp_path / "none.toml"))
    assert code == 2 and "station-central init" in err
