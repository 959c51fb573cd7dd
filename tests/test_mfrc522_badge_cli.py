"""`station badge secret|write|check` on the mock backend (the real driver on the emulated chip),
and the backends refusing verify_badges without a secret. In-process, through main(argv)."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from station import badge_check
from station.cli import main
from station.config import load_config
from station.errors import ConfigError

UID7 = "0411223344AA80"


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "station.toml"
    assert main(["init", "--config", str(path), "--simulated-clock"]) == 0
    text = path.read_text(encoding="utf-8")
    if extra:
        text, n = re.subn(r"(?m)^verify_badges = false$", extra, text)
        assert n == 1
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def test_secret_is_created_once_0600(config_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["badge", "secret", "--config", str(config_path)]) == 0
    path = config_path.parent / "data" / "badge_secret"
    assert "created the badge secret" in capsys.readouterr().out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_text()
    assert main(["badge", "secret", "--config", str(config_path)]) == 0
    assert "exists already" in capsys.readouterr().out
    assert path.read_text() == first


def test_secret_goes_where_badge_secret_file_says(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'verify_badges = false\nbadge_secret_file = "keys/site"')
    text = config.read_text().replace('badge_secret_file = ""\n', "")
    config.write_text(text)
    assert main(["badge", "secret", "--config", str(config)]) == 0
    assert (tmp_path / "keys" / "site").exists()


def test_write_then_check_on_the_emulated_reader(
    config_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["badge", "secret", "--config", str(config_path)]) == 0
    capsys.readouterr()
    assert (
        main(["badge", "write", "--config", str(config_path), "--uid", "04:11:22:33:44:aa:80"]) == 0
    )
    out = capsys.readouterr().out
    assert f"{UID7} prepared: sector 1" in out
    assert main(["badge", "check", "--config", str(config_path), "--uid", UID7]) == 0
    assert f"{UID7} valid" in capsys.readouterr().out
    assert main(["badge", "check", "--config", str(config_path), "--uid", UID7, "--cloned"]) == 3
    assert f"{UID7} invalid" in capsys.readouterr().out


def test_write_without_secret_says_what_to_do(
    config_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["badge", "write", "--config", str(config_path), "--uid", UID7]) == 2
    err = capsys.readouterr().err
    assert "badge_secret does not exist" in err
    assert "station badge secret --config" in err


def test_write_on_the_mock_backend_needs_a_uid(
    config_path: Path, capsys: pytest.CaptureFixture
) -> None:
    main(["badge", "secret", "--config", str(config_path)])
    assert main(["badge", "write", "--config", str(config_path)]) == 2
    assert "give --uid" in capsys.readouterr().err
    assert main(["badge", "write", "--config", str(config_path), "--uid", "zz"]) == 2


def test_backends_refuse_verify_badges_without_a_secret(tmp_path: Path) -> None:
    from mocks.backend import build_hardware

    config = load_config(write_config(tmp_path, "verify_badges = true"))
    with pytest.raises(ConfigError, match=r"badge_secret does not exist.*station badge secret"):
        build_hardware(config)
    assert main(["badge", "secret", "--config", str(config.path)]) == 0
    hw = build_hardware(config)
    try:
        assert hw.reader.health()["verify_badges"] is True  # `station init`: emulated reader
    finally:
        hw.close()


def test_the_emulated_reader_verifies_with_the_sites_secret(tmp_path: Path) -> None:
    from mocks.backend import build_hardware

    path = write_config(tmp_path, "verify_badges = true\nbadge_sector = 2")
    text = path.read_text()
    text = re.sub(r"(?m)^badge_sector = 1\n", "", text)
    path.write_text(re.sub(r'(?m)^type = "[^"]*"$', 'type = "mfrc522-emulated"', text))
    assert main(["badge", "secret", "--config", str(path)]) == 0
    config = load_config(path)
    secret, sector = badge_check.badge_settings(config) or (b"", 0)
    assert sector == 2
    hw = build_hardware(config)
    try:
        assert hw.reader.health()["verify_badges"] is True
        badges = hw.extras["badges"]
        card = badges.card(bytes.fromhex(UID7))  # type: ignore[attr-defined]
        assert badge_check.verify(secret, UID7, card.block(8))
    finally:
        hw.close()


def test_a_sector_outside_the_card_is_a_config_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, "verify_badges = true\nbadge_sector = 16")
    path.write_text(re.sub(r"(?m)^badge_sector = 1\n", "", path.read_text()))
    # The config's own bounds refuse it when the file is read (sector 0 is the manufacturer's).
    with pytest.raises(ConfigError, match="badge_sector = 16 is too large; the maximum is 15"):
        load_config(path)
