"""[plug] and [mqtt]: the checks that span sections, and the password that is never printed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from station.config import parse_config
from station.config_plug import mqtt_credentials
from station.errors import ConfigError


def raw(**sections: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "station": {"id": "laser-1"},
        "machine": {"id": "laser-1", "name": "Laser", "kind": "laser"},
    }
    for name, values in sections.items():
        base[name] = values
    return base


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"hardware": {"relay": "shelly"}}, 'hardware.relay = "shelly" needs plug.device'),
        ({"hardware": {"relay": "zigbee"}}, "hardware.relay = 'zigbee' is not allowed"),
        (
            {"hardware": {"backend": "pi", "relay": "tasmota-emulated"}, "plug": {"device": "t"}},
            'needs hardware.backend = "mock"',
        ),
        ({"sensors": {"power_meter": "plug"}}, 'power_meter = "plug" needs a smart plug'),
        ({"plug": {"device": "shelly/#"}}, "plug.device = 'shelly/#'"),
        ({"plug": {"off_after_s": 2}}, "plug.off_after_s = 2.0 is too small"),
        ({"mqtt": {"port": 70000}}, "mqtt.port = 70000 is too large"),
        ({"mqtt": {"topic_prefix": "a/+/b"}}, "mqtt.topic_prefix"),
        ({"mqtt": {"passwrd_file": "x"}}, "unknown key mqtt.passwrd_file"),
    ],
)
def test_bad_plug_settings_say_what_to_fix(sections: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(raw(**sections), Path("station.toml"))
    assert message in str(e.value)


def test_a_plug_station_parses_and_meters_through_the_plug() -> None:
    config = parse_config(
        raw(
            hardware={"backend": "pi", "relay": "shelly"},
            reader={"type": "mfrc522"},
            plug={"device": "shellyplusplugs-a8032ab12345", "off_after_s": 45},
            sensors={"power_meter": "plug"},
            machine={"id": "p", "name": "P", "kind": "printer3d", "keep_on_while_busy": True},
        ),
        Path("station.toml"),
    )
    assert config.plug.off_after_s == 45 and config.sensors.power_meter == "plug"


def test_the_password_comes_from_a_file_and_is_never_printed(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret-Pa55\n")
    config = parse_config(
        raw(mqtt={"username": "laser-1", "password_file": "pw"}), tmp_path / "station.toml"
    )
    creds = mqtt_credentials(config.path, config.mqtt)
    assert creds.password == "s3cret-Pa55"
    assert "s3cret" not in repr(creds) and "s3cret" not in repr(config)


def test_the_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config(raw(mqtt={"username": "u", "password_env": "FAB_PW"}))
    monkeypatch.setenv("FAB_PW", "from-env")
    assert mqtt_credentials(config.path, config.mqtt).password == "from-env"
    monkeypatch.delenv("FAB_PW")
    with pytest.raises(ConfigError, match=r"FAB_PW.*not set"):
        mqtt_credentials(config.path, config.mqtt)


@pytest.mark.parametrize(
    ("mqtt", "message"),
    [
        ({"username": "u", "password_file": "missing"}, "cannot be read"),
        ({"username": "u", "password_file": "pw", "password_env": "X"}, "not both"),
        ({"password_file": "pw"}, "needs mqtt.username"),
        ({"tls": False, "ca_file": "pw"}, "needs mqtt.tls = true"),
        ({"tls": True, "ca_file": "nope.pem"}, "does not exist"),
    ],
)
def test_bad_credentials_settings_name_the_key(
    tmp_path: Path, mqtt: dict[str, Any], message: str
) -> None:
    (tmp_path / "pw").write_text("x\n")
    config = parse_config(raw(mqtt=mqtt), tmp_path / "station.toml")
    with pytest.raises(ConfigError, match=message):
        mqtt_credentials(config.path, config.mqtt)
