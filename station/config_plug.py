"""Config sections for a smart plug over MQTT: ``[plug]`` (which plug, its fail-safe timer) and
``[mqtt]`` (the broker, its credentials and TLS).

Apart from :mod:`station.config` so that the plug's settings and their checks read as one
concern. The password is never a config value: it comes from a file or an environment
variable, is read once at start and is never printed (``repr`` hides it).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from station.errors import ConfigError
from station.tomlconfig import setting as _f

SESSION_NAMES = ("none", "first_name")
RELAYS = ("gpio", "shelly", "tasmota", "shelly-emulated", "tasmota-emulated")
PLUG_RELAYS = ("shelly", "tasmota", "shelly-emulated", "tasmota-emulated")
DEVICE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
"""A plug's MQTT id: no ``/``, ``+`` or ``#`` (it becomes part of a topic)."""
TOPIC_PATTERN = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")


def _device_problem(value: str) -> str | None:
    if value and not DEVICE_PATTERN.match(value):
        return "use the plug's MQTT id: letters, digits, . _ : - (no / + #), at most 64"
    return None


def _topic_problem(value: str) -> str | None:
    if not TOPIC_PATTERN.match(value):
        return "use letters, digits, _ and -, levels separated by / (no + # or empty level)"
    return None


@dataclass(frozen=True)
class PlugSection:
    device: str = _f(
        "",
        "The plug's MQTT id: a Shelly's topic prefix (e.g. `shellyplusplugs-a8032ab12345`) or a "
        "Tasmota's `%topic%` (e.g. `tasmota_5B1C2D`).",
        check=_device_problem,
    )
    off_after_s: float = _f(
        60.0,
        "The plug's own off-timer, armed with every `on` and renewed while a session runs: a "
        "station that dies or loses the broker leaves the machine on at most this long.",
        minimum=5,
        maximum=3600,
    )
    ack_timeout_s: float = _f(
        3.0,
        "An on/off the plug does not acknowledge within this many seconds is a fault.",
        minimum=0.5,
        maximum=60,
    )
    poll_s: float = _f(
        2.0,
        "How often the station asks the plug for its power and energy (keep it below "
        "sensors.stale_after_s).",
        minimum=0.5,
    )


@dataclass(frozen=True)
class MqttSection:
    host: str = _f("127.0.0.1", "The MQTT broker's address.")
    port: int = _f(1883, "The broker's port (8883 with TLS, usually).", minimum=1, maximum=65535)
    username: str = _f("", "User name at the broker; empty: anonymous.")
    password_file: str = _f(
        "", "File holding the broker password (0600, one line); relative to the config file."
    )
    password_env: str = _f(
        "", "Or: the environment variable holding the broker password, e.g. `FABRIQUE_MQTT_PASS`."
    )
    tls: bool = _f(False, "Connect with TLS (the broker's certificate is checked).")
    ca_file: str = _f(
        "", "CA certificate that signed the broker's certificate; empty: the system's CAs."
    )
    keepalive_s: int = _f(
        10,
        "MQTT keep-alive: the broker publishes the station's last will after 1.5× this silence.",
        minimum=5,
        maximum=600,
    )
    topic_prefix: str = _f(
        "fabrique",
        "The station's own topics: `<prefix>/<station id>/…` (availability, machine state).",
        check=_topic_problem,
    )
    publish_state: bool = _f(
        False,
        "Publish the machine's state, relay, power, session and alarms (retained) with Home "
        "Assistant discovery documents.",
    )
    session_name: str = _f(
        "none",
        "What the published session says about who is at the machine: `none` (only that one "
        "runs) or `first_name` (minors' privacy: never more).",
        choices=SESSION_NAMES,
    )
    discovery_prefix: str = _f(
        "homeassistant", "Home Assistant's MQTT discovery prefix.", check=_topic_problem
    )
    accept_commands: bool = _f(
        False,
        "Accept `LOCK`/`UNLOCK` on `<prefix>/<station id>/command` (out of service / back in "
        "service); nothing else is ever accepted from MQTT.",
    )


@dataclass(frozen=True)
class MqttCredentials:
    """The broker settings as a client needs them; the password stays out of ``repr``."""

    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)
    tls: bool = False
    ca_file: str = ""
    keepalive_s: int = 10


def check_plug_config(
    path: Path, relay: str, backend: str, plug: PlugSection, power_meter: str
) -> None:
    """The checks that span sections; each error says what to set."""
    if relay in PLUG_RELAYS and not plug.device:
        raise ConfigError(
            f'{path}: hardware.relay = "{relay}" needs plug.device, the plug\'s MQTT id '
            "(docs/smart-plugs.md says where to read it)."
        )
    if relay.endswith("-emulated") and backend != "mock":
        raise ConfigError(f'{path}: hardware.relay = "{relay}" needs hardware.backend = "mock".')
    if power_meter == "plug" and relay not in PLUG_RELAYS:
        raise ConfigError(
            f'{path}: sensors.power_meter = "plug" needs a smart plug: set hardware.relay to '
            '"shelly" or "tasmota".'
        )


def mqtt_credentials(config_path: Path, mqtt: MqttSection) -> MqttCredentials:
    """The broker settings with the password read from its file or variable (never printed)."""
    if mqtt.password_file and mqtt.password_env:
        raise ConfigError(f"{config_path}: set mqtt.password_file or mqtt.password_env, not both.")
    password = ""
    if mqtt.password_file:
        p = Path(mqtt.password_file).expanduser()
        p = p if p.is_absolute() else config_path.parent / p
        try:
            password = p.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ConfigError(
                f"{config_path}: mqtt.password_file = {str(p)!r} cannot be read "
                f"({e.strerror or e}): create it (one line, chmod 600) or fix the path."
            ) from None
        if not password:
            raise ConfigError(f"{config_path}: mqtt.password_file {str(p)!r} is empty.")
    elif mqtt.password_env:
        password = os.environ.get(mqtt.password_env, "")
        if not password:
            raise ConfigError(
                f"{config_path}: mqtt.password_env = {mqtt.password_env!r} but that variable is "
                "not set (or empty) in the station's environment."
            )
    if password and not mqtt.username:
        raise ConfigError(f"{config_path}: a broker password needs mqtt.username.")
    ca = ""
    if mqtt.ca_file:
        c = Path(mqtt.ca_file).expanduser()
        c = c if c.is_absolute() else config_path.parent / c
        if not c.is_file():
            raise ConfigError(f"{config_path}: mqtt.ca_file = {str(c)!r} does not exist.")
        if not mqtt.tls:
            raise ConfigError(f"{config_path}: mqtt.ca_file needs mqtt.tls = true.")
        ca = str(c)
    return MqttCredentials(
        host=mqtt.host,
        port=mqtt.port,
        username=mqtt.username,
        password=password,
        tls=mqtt.tls,
        ca_file=ca,
        keepalive_s=mqtt.keepalive_s,
    )
