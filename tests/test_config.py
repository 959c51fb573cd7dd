"""Config: every error names the file, the key and what is allowed; the sample is valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.config import documented_keys, load_config, parse_config
from station.config_template import write_config
from station.errors import ConfigError

BASE = {"station": {"id": "laser-1"}, "machine": {"id": "laser-1", "name": "L", "kind": "laser"}}


def with_(section: str, **values: object) -> dict:
    raw = {k: dict(v) for k, v in BASE.items()}
    raw.setdefault(section, {}).update(values)
    return raw


def test_sample_config_is_valid_and_complete(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    write_config(path, station_id="cnc-2", machine_name="CNC", kind="cnc")
    text = path.read_text()
    config = load_config(path)
    assert config.station.id == "cnc-2" and config.machine.kind == "cnc"
    for key, _ in documented_keys():
        assert key.rsplit(".", 1)[-1] + " =" in text, f"{key} is missing from the sample config"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (with_("station", colour="red"), "unknown key station.colour; [station] allows: id, name"),
        (with_("machine", max_session_min="long"), "machine.max_session_min must be a number"),
        (with_("machine", max_session_min=0), "machine.max_session_min = 0.0 is too small"),
        (with_("machine", needs_check_after_use="yes"), "must be true or false"),
        (
            with_("station", language="de"),
            'station.language = \'de\' is not allowed; use one of "fr", "en"',
        ),
        (with_("hardware", backend="arduino"), "hardware.backend"),
        (with_("hardware", pins={"relay": 17.5}), "hardware.pins.relay must be a whole number"),
        (with_("hardware", pins={"realy": 17}), "unknown key hardware.pins.realy"),
        (with_("machine", checklist="Lunettes"), "machine.checklist must be a list"),
        (with_("machine", warn_before_min=90), "warn_before_min must be shorter"),
        (
            with_("clock", simulated=True)
            | {"hardware": {"backend": "pi"}, "reader": {"type": "mfrc522"}},
            "clock.simulated = true needs hardware.backend",
        ),
        (with_("reader", type="mfrc522"), 'reader.type = "mfrc522" needs hardware.backend = "pi"'),
        (with_("central", url="http://c"), "central.url and central.token go together"),
        (with_("station", id="Laser 1"), "station.id = 'Laser 1'"),
        (
            with_("reader", badge_sector=16),
            "reader.badge_sector = 16 is too large; the maximum is 15",
        ),
        (
            with_("web", allowed_hosts=["http://laser-1.fablab.lan:8080"]),
            "web.allowed_hosts = ['http://laser-1.fablab.lan:8080'] 'http://laser-1.fablab.lan:"
            '8080\' is not a host name: write the name alone, such as "laser-1.fablab.lan" (no '
            "http://, port or path)",
        ),
        (with_("web", allowed_hosts="laser-1.lan"), "web.allowed_hosts must be a list"),
        ({"station": {"id": "a"}}, "missing key machine.id"),
        ({"machine": []} | {"station": {"id": "a"}}, "[machine] must be a table"),
    ],
)
def test_errors_say_what_to_fix(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(raw, Path("/etc/fabrique-station/station.toml"))
    assert str(e.value).startswith("/etc/fabrique-station/station.toml: ")
    assert message in str(e.value)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such file\. Create one with `station init"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[station\nid = 1")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load_config(bad)


def test_data_dir_is_relative_to_the_config_file(tmp_path: Path) -> None:
    config = parse_config(with_("station", data_dir="d"), tmp_path / "x" / "station.toml")
    assert config.db_path == tmp_path / "x" / "d" / "station.sqlite"
