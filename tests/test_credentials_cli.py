"""``station-central credentials``: keys never printed, consent, issue, verify, revoke, retire."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from central.cli import main
from station.roster import parse_roster_csv
from tests.conftest import open_central_store, sample_roster_text


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "central.toml"
    path.write_text(
        '[storage]\ndata_dir = "data"\n'
        '[credentials]\npublic_url = "https://badges.fabrique.example"\n'
        'issuer_name = "Fabrique de Gonesse"\n',
        encoding="utf-8",
    )
    store = open_central_store(tmp_path / "data" / "central.sqlite")
    store.import_roster(parse_roster_csv(sample_roster_text()))
    store.close()
    return str(path)


def test_the_whole_round_from_the_terminal(
    config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["credentials", "rotate-key", "--config", config]) == 0
    assert (
        main(["credentials", "issue", "sofiane", "laser", "--config", config, "--by", "ines"]) == 2
    )
    assert "consent" in capsys.readouterr().err
    assert main(["credentials", "consent", "sofiane", "--config", config, "--by", "ines"]) == 0
    assert "« Sofiane K. »" in capsys.readouterr().out
    badge = tmp_path / "badge.png"
    args = ["credentials", "issue", "sofiane", "laser", "--config", config, "--by", "ines"]
    assert main([*args, "--out", str(badge)]) == 0
    capsys.readouterr()
    assert main(["credentials", "verify", str(badge), "--config", config]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "valid" and out["holder"] == "Sofiane K."
    assert main(["credentials", "list", "sofiane", "--config", config]) == 0
    cred = json.loads(capsys.readouterr().out.splitlines()[0])
    assert "token" not in cred
    assert main(["credentials", "revoke", cred["id"], "--config", config, "--by", "ines"]) == 0
    capsys.readouterr()
    assert main(["credentials", "verify", str(badge), "--config", config]) == 1
    assert json.loads(capsys.readouterr().out)["verdict"] == "revoked"


def test_keys_are_listed_by_name_never_printed(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["credentials", "rotate-key", "--config", config])
    main(["credentials", "rotate-key", "--config", config])
    out = capsys.readouterr().out
    kid = out.split()[3].rstrip(":")
    assert main(["credentials", "retire-key", kid, "--config", config, "--reason", "fuite"]) == 0
    capsys.readouterr()
    assert main(["credentials", "keys", "--config", config]) == 0
    listing = capsys.readouterr().out
    assert "retired" in listing and "usable" in listing and "PRIVATE" not in listing
    assert main(["credentials", "retire-key", "nope", "--config", config]) == 2
    assert "no key 'nope'" in capsys.readouterr().err


def test_a_minor_without_a_guardian_is_refused(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["credentials", "consent", "lea", "--minor", "--config", config, "--by", "ines"])
    assert code == 2 and "parent" in capsys.readouterr().err
