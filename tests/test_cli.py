"""The `station` command, called in-process through main(argv)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from station.cli import main
from tests.conftest import sample_roster_text


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "station.toml"
    assert main(["init", "--config", str(path), "--simulated-clock"]) == 0
    return path


def test_init_writes_a_config_and_the_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config_path = tmp_path / "station.toml"
    assert main(["init", "--config", str(config_path), "--simulated-clock"]) == 0
    assert (config_path.parent / "data" / "station.sqlite").exists()
    assert "next: station roster import" in capsys.readouterr().out
    assert main(["init", "--config", str(config_path)]) == 2  # never overwrites silently
    assert "exists already; use --force" in capsys.readouterr().err


def test_roster_import_export(
    config_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    csv_path = tmp_path / "roster.csv"
    csv_path.write_text(sample_roster_text(), encoding="utf-8")
    assert main(["roster", "import", str(csv_path), "--config", str(config_path)]) == 0
    assert "imported 7 members, 7 badges, 9 qualifications" in capsys.readouterr().out
    assert main(["roster", "export", "--config", str(config_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("member_id,name,role,badge_uid,qualifications\n")
    assert "lea,Léa Martin,trainee,04B0B1B2," in out


def test_a_bad_roster_imports_nothing(
    config_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    csv_path = tmp_path / "roster.csv"
    csv_path.write_text(sample_roster_text() + "zoe,Zoé,pirate,01020304,\n", encoding="utf-8")
    assert main(["roster", "import", str(csv_path), "--config", str(config_path)]) == 2
    err = capsys.readouterr().err
    assert "line 9: role 'pirate'" in err and "nothing was imported" in err
    assert main(["roster", "export", "--config", str(config_path)]) == 0
    assert capsys.readouterr().out.count("\n") == 1  # header only


def test_roster_file_errors(
    config_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["roster", "import", str(tmp_path / "none.csv"), "--config", str(config_path)]) == 2
    assert "no such file" in capsys.readouterr().err
    latin = tmp_path / "latin.csv"
    latin.write_bytes(
        "member_id,name,role,badge_uid,qualifications\nlea,Léa,trainee,,\n".encode("latin-1")
    )
    assert main(["roster", "import", str(latin), "--config", str(config_path)]) == 2
    assert "save it as CSV UTF-8" in capsys.readouterr().err


def test_events_json_lines(config_path: Path, capsys: pytest.CaptureFixture) -> None:
    from station.clock import SimulatedClock
    from station.config import load_config
    from station.store import Store

    config = load_config(config_path)
    store = Store(config.db_path, config.station.id, config.machine.id)
    store.append(
        [("station_started", {"version": "x"}), ("heartbeat", {})], SimulatedClock().now(), "b"
    )
    store.close()
    capsys.readouterr()
    assert main(["events", "--config", str(config_path), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["seq"] for e in lines] == [1, 2]
    assert set(lines[0]) >= {
        "id",
        "station_id",
        "seq",
        "type",
        "at",
        "clock_synced",
        "boot_id",
        "mono",
        "data",
    }
    assert main(["events", "--config", str(config_path), "--json", "--after", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_bad_config_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[station]\nid = "x"\nfoo = 1\n')
    assert main(["run", "--config", str(bad)]) == 2
    assert "unknown key station.foo" in capsys.readouterr().err


def test_run_on_a_damaged_store_says_what_to_do_in_one_sentence(config_path: Path) -> None:
    import os
    import subprocess

    from tests.e2e_helpers import PIN_LOG_ENV, read_pin_log, station_command

    db = config_path.parent / "data" / "station.sqlite"
    for extra in ("-wal", "-shm"):
        Path(f"{db}{extra}").unlink(missing_ok=True)
    db.write_bytes(b"this is not a database " * 400)
    pins = config_path.parent / "pins.log"
    done = subprocess.run(
        [*station_command(), "run", "--config", str(config_path)],
        cwd=config_path.parent,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, PIN_LOG_ENV: str(pins)},
        check=False,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "is damaged" in lines[0] and "restore the last backup" in lines[0]
    assert str(db.name) in lines[0] and "Traceback" not in done.stderr
    assert all(c.value == 0.0 for c in read_pin_log(pins))  # the relay never switched on


@pytest.mark.parametrize("simulated", [True, False], ids=["simulated", "real"])
def test_an_imports_anchor_is_trusted_as_the_stations_own_clock_would_be(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, simulated: bool
) -> None:
    """A real station trusts a wall clock only when NTP vouches for it (the kernel here says
    not); a simulated station's clock is this computer's, trusted by construction."""
    from station import clock as clock_module
    from station.config import load_config
    from station.store import Store

    monkeypatch.setattr(clock_module, "TIMESYNC_FLAG", tmp_path / "no-timesyncd")
    monkeypatch.setattr(clock_module, "kernel_clock_synced", lambda: False)
    path = tmp_path / "station.toml"
    assert main(["init", "--config", str(path), *(["--simulated-clock"] * simulated)]) == 0
    csv_path = tmp_path / "roster.csv"
    csv_path.write_text(sample_roster_text(), encoding="utf-8")
    assert main(["roster", "import", str(csv_path), "--config", str(path)]) == 0
    config = load_config(path)
    store = Store(config.db_path, config.station.id, config.machine.id)
    try:
        anchor = store.roster_anchor()
    finally:
        store.close()
    assert anchor is not None and anchor.synced is simulated
