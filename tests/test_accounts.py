"""Technician accounts: scrypt hashes, the accounts table's own migrations, the CLI command."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from station import accounts
from station.accounts import (
    AccountError,
    add_technician,
    authenticate,
    check_password,
    hash_password,
    is_active,
    list_technicians,
    open_accounts,
)
from station.cli import main
from station.config_template import write_config
from station.errors import StationError
from station.store import open_database


def test_hash_is_salted_scrypt() -> None:
    a, b = hash_password("a long passphrase"), hash_password("a long passphrase")
    assert a != b and a.startswith("scrypt$16384$8$1$")
    assert check_password(a, "a long passphrase") and not check_password(a, "a long passphrasE")
    assert not check_password("md5$abc", "x") and not check_password("garbage", "x")
    assert not check_password("scrypt$x$8$1$AAAA$AAAA", "x")


def test_accounts(tmp_path: Path) -> None:
    db = open_accounts(tmp_path / "station.sqlite")
    assert add_technician(db, "yanis", "ten chars!") is True
    assert authenticate(db, "yanis", "ten chars!") and not authenticate(db, "yanis", "ten chars?")
    assert not authenticate(db, "nobody", "ten chars!")
    with pytest.raises(AccountError, match="exists already"):
        add_technician(db, "yanis", "another one!")
    assert add_technician(db, "yanis", "another one!", replace=True) is False
    assert authenticate(db, "yanis", "another one!")
    assert is_active(db, "yanis") and not is_active(db, "nobody")
    [row] = list_technicians(db)
    assert row["username"] == "yanis" and row["last_login_at"]
    stored = db.execute("SELECT password_hash FROM technicians").fetchone()[0]
    assert "another one!" not in stored
    db.close()


@pytest.mark.parametrize("username", ["Yanis", "y", "-yanis", "ya nis", "x" * 33, ""])
def test_bad_usernames(tmp_path: Path, username: str) -> None:
    db = open_accounts(tmp_path / "s.sqlite")
    with pytest.raises(AccountError) as e:
        add_technician(db, username, "long enough password")
    assert isinstance(e.value, ValueError) and isinstance(e.value, StationError)
    db.close()


def test_short_password(tmp_path: Path) -> None:
    db = open_accounts(tmp_path / "s.sqlite")
    with pytest.raises(AccountError, match="at least 10"):
        add_technician(db, "yanis", "short")
    db.close()


def test_own_migrations_in_the_station_file(tmp_path: Path) -> None:
    path = tmp_path / "station.sqlite"
    open_database(path).close()
    db = open_accounts(path)
    assert {"events", "technicians"} <= set(db.table_names())
    names = {r[0] for r in db.execute("SELECT migration_set FROM _sqlite_migrations")}
    assert {"fabrique-station", accounts.migrations.name} <= names
    db.close()
    open_accounts(path).close()  # applying twice is harmless


def test_cli_technician_add_and_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "station.toml"
    write_config(config, station_id="laser-1", machine_name="Découpe laser", kind="laser")
    monkeypatch.setattr("sys.stdin", io.StringIO("a good long password\n"))
    assert main(["technician", "add", "yanis", "--config", str(config), "--password-stdin"]) == 0
    assert "technician yanis created" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["technician", "add", "inès", "--config", str(config), "--password-stdin"]) == 2
    assert "username" in capsys.readouterr().err
    answers = iter(["new password here", "new password here"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["technician", "add", "yanis", "--config", str(config), "--replace"]) == 0
    assert "technician yanis updated" in capsys.readouterr().out
    answers = iter(["new password here", "different"])
    assert main(["technician", "add", "lea", "--config", str(config)]) == 2
    assert "differ" in capsys.readouterr().err
    assert main(["technician", "list", "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith("yanis\tactive")
    db = open_accounts(tmp_path / "data" / "station.sqlite")
    assert authenticate(db, "yanis", "new password here")
    db.close()
