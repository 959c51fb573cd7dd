"""The station's TOML config, validated into dataclasses.

Every error names the file, the key and what is allowed, and unknown keys are errors: a typo in a
config must never silently fall back to a default on a machine that cuts power.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from station import tomlconfig
from station.config_plug import RELAYS, MqttSection, PlugSection, check_plug_config
from station.errors import ConfigError
from station.protocol import BATCH_SIZE
from station.tomlconfig import REQUIRED, host_problem, networks_problem, time_zone_problem
from station.tomlconfig import setting as _f

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
LANGUAGES = ("fr", "en")
BACKENDS = ("mock", "pi")
READER_TYPES = ("fake", "mfrc522", "mfrc522-emulated")


@dataclass(frozen=True)
class StationSection:
    id: str = _f(
        REQUIRED, "Unique id of this station, e.g. `laser-1` (lower case, digits, - and _)."
    )
    name: str = _f("", "Name shown to people, e.g. `Découpe laser`. Defaults to the machine name.")
    data_dir: str = _f(
        "data", "Where the SQLite store lives; relative paths are relative to the config file."
    )
    language: str = _f("fr", "Default language of the kiosk and messages.", choices=LANGUAGES)
    timezone: str = _f(
        "Europe/Paris",
        "The fablab's time zone (IANA name): every time a person reads is in it.",
        check=time_zone_problem,
    )


@dataclass(frozen=True)
class MachineSection:
    id: str = _f(REQUIRED, "Id of the machine this station powers, e.g. `laser-1`.")
    name: str = _f(REQUIRED, "Name shown on the kiosk, e.g. `Découpe laser`.")
    kind: str = _f(REQUIRED, "Machine kind; qualifications are per kind (`laser`, `printer3d`…).")
    max_session_min: float = _f(60.0, "Longest session before it ends by itself.", minimum=1)
    warn_before_min: float = _f(
        5.0, "Warning (buzzer, kiosk) this long before the session ends.", minimum=0
    )
    extend_min: float = _f(
        30.0, "How much a tap of the same badge (or the button) adds during the warning.", minimum=1
    )
    co_badge_window_s: float = _f(
        60.0, "How long a supervised trainee and their supervisor have to badge both.", minimum=5
    )
    grant_window_s: float = _f(
        20.0,
        "How long each step of the grant gesture waits for the next one; once it lapses, the "
        "trainee's taps are ignored as long again (never a badge-out by accident).",
        minimum=5,
    )
    repeat_tap_guard_s: float = _f(
        3.0,
        "A second tap of the same badge within this many seconds is ignored (one tap, one "
        "meaning); 0 turns it off.",
        minimum=0,
    )
    needs_check_after_use: bool = _f(
        False, "After each session the machine is `to_check` until a technician or mentor badges."
    )
    checklist: list[str] = _f(  # noqa: RUF009 - _f builds a field(), not a shared default
        [],
        "Safety checklist the trainee confirms on the kiosk before the relay closes (empty: none).",
    )
    checklist_timeout_s: float = _f(
        90.0, "How long the kiosk waits for the checklist to be confirmed.", minimum=10
    )
    busy_watts: float = _f(
        20.0, "Above this power the machine is working (active); at or below, idle.", minimum=0
    )
    power_without_permission_s: float = _f(
        5.0,
        "Power above busy_watts for this long while the relay is open (a welded relay, a "
        "bypass) is a `fault` that staff clear.",
        minimum=1,
    )
    idle_off_min: float = _f(
        0.0, "End the session (reason `idle`) after this long idle; 0 turns it off.", minimum=0
    )
    idle_warn_min: float = _f(
        2.0, "Warn (buzzer, kiosk) this long before an idle session ends.", minimum=0
    )
    keep_on_while_busy: bool = _f(
        False,
        "When a session ends while the machine is busy, keep the relay on (`finishing`) until "
        "it is idle: never cut a print or a cut mid-way.",
    )
    finish_idle_s: float = _f(
        120.0, "`finishing` ends once power stays at or below busy_watts this long.", minimum=1
    )
    finish_max_min: float = _f(
        240.0, "`finishing` never lasts longer than this (then the relay opens).", minimum=1
    )
    finish_stop_window_s: float = _f(
        20.0,
        "During `finishing` the job's owner taps once to see it is hers, and again within this "
        "many seconds to stop it early (one stray tap never cuts a print).",
        minimum=5,
    )
    pm25_alarm: float = _f(
        0.0,
        "PM2.5 (µg/m³) at or above which the air alarm sounds and new sessions are refused "
        "(`fault`); 0 turns it off.",
        minimum=0,
    )
    air_alarm_cuts_power: bool = _f(
        False, "With the air alarm, also end the running session (reason `fault`)."
    )
    air_lost_s: float = _f(
        30.0,
        "With pm25_alarm set, no air reading for this long is a `fault` (sensor lost).",
        minimum=5,
    )
    heartbeat_s: float = _f(
        30.0,
        "Heartbeat period while a session runs (crash recovery closes at the last one).",
        minimum=1,
    )


@dataclass(frozen=True)
class PinsSection:
    relay: int = _f(17, "BCM pin of the relay stage (active-high, pulled down).", minimum=0)
    relay_active_high: bool = _f(True, "False only for active-low relay boards (see wiring).")
    green_led: int = _f(22, "BCM pin of the green LED.", minimum=0)
    red_led: int = _f(27, "BCM pin of the red LED.", minimum=0)
    buzzer: int = _f(13, "BCM pin of the buzzer (a PWM-capable pin for tones).", minimum=0)
    button: int = _f(
        26, "BCM pin of the extend/stop button (to ground, internal pull-up).", minimum=-1
    )


@dataclass(frozen=True)
class HardwareSection:
    backend: str = _f(
        "mock", "`pi` drives real GPIO; `mock` runs on any computer.", choices=BACKENDS
    )
    pins: PinsSection = field(default_factory=PinsSection, metadata={"doc": "GPIO pins (BCM)."})
    relay: str = _f(
        "gpio",
        "`gpio` (the relay stage on hardware.pins.relay), a smart plug over MQTT (`shelly`, "
        "`tasmota`: see [plug] and [mqtt]), or their `-emulated` twins on the mock backend.",
        choices=RELAYS,
    )


@dataclass(frozen=True)
class ReaderSection:
    type: str = _f(
        "fake",
        "`mfrc522` on a Pi; `mfrc522-emulated` runs the real driver on an emulated chip (mock "
        "backend); `fake` reports taps directly.",
        choices=READER_TYPES,
    )
    poll_hz: float = _f(10.0, "How often the MFRC522 driver polls for a card.", minimum=0.5)
    spi_bus: int = _f(0, "SPI bus of the MFRC522.", minimum=0)
    spi_device: int = _f(0, "SPI chip select of the MFRC522.", minimum=0)
    reset_pin: int = _f(25, "BCM pin wired to the MFRC522's RST.", minimum=0)
    verify_badges: bool = _f(
        False,
        "Admit only cards prepared with `station badge write` (HMAC of the UID in a sector).",
    )
    badge_secret_file: str = _f(
        "",
        "File holding the site secret for verify_badges (0600); empty: `badge_secret` in the "
        "data dir.",
    )
    badge_sector: int = _f(
        1,
        "MIFARE Classic sector holding the anti-clone value (sector 0 is the manufacturer's).",
        minimum=1,
        maximum=15,
    )


POWER_METERS = ("none", "pzem", "line", "pzem-emulated", "line-emulated", "plug")
AIR_SENSORS = ("none", "sds011", "sds011-emulated")


@dataclass(frozen=True)
class SensorsSection:
    power_meter: str = _f(
        "none",
        "`pzem` (PZEM-004T v3, Modbus), `line` (a serial `W:123.4` line sensor), their "
        "`-emulated` twins on the mock backend, `plug` (the smart plug's own meter), or `none`.",
        choices=POWER_METERS,
    )
    power_port: str = _f(
        "", "Serial port of the power meter, e.g. `/dev/serial/by-id/usb-1a86_USB_Serial-if00`."
    )
    power_address: int = _f(248, "Modbus address of the PZEM (248 = 0xF8, any lone meter).")
    air_sensor: str = _f(
        "none", "`sds011`, `sds011-emulated` (mock backend) or `none`.", choices=AIR_SENSORS
    )
    air_port: str = _f("", "Serial port of the SDS011.")
    stale_after_s: float = _f(5.0, "A reading older than this counts as unknown.", minimum=1)


@dataclass(frozen=True)
class ClockSection:
    simulated: bool = _f(
        False, "Use a clock that moves only through `/sim/advance` (mock backend only)."
    )


@dataclass(frozen=True)
class WebSection:
    host: str = _f("127.0.0.1", "Address the station's web server listens on.")
    port: int = _f(
        8080, "Port of the station's web server (0: any free port, printed at start).", minimum=0
    )
    threads: int = _f(8, "waitress threads (each open event stream holds one).", minimum=2)
    allowed_hosts: list[str] = _f(  # noqa: RUF009 - _f builds a field(), not a shared default
        [],
        "Host names the station answers to, besides `localhost`, this computer's name (and "
        '`<name>.local`), `host` itself and any IP address (e.g. `["laser-1.fablab.lan"]`; '
        '`".fablab.lan"` allows its subdomains). Any other Host header gets 400: a DNS-rebinding '
        "page cannot act as the kiosk.",
        check=host_problem,
    )
    metrics_from: list[str] = _f(  # noqa: RUF009 - _f builds a field(), not a shared default
        ["127.0.0.1", "::1"],
        "Addresses or networks that may read the Prometheus `/metrics` (e.g. the Prometheus "
        'server, `["192.168.1.10"]`); `[]`: no `/metrics`.',
        check=networks_problem,
    )


@dataclass(frozen=True)
class CentralSection:
    url: str = _f("", "Base URL of the central store; empty means no sync.")
    token: str = _f(
        "", "This station's bearer token, printed once by `station-central station add`."
    )
    sync_interval_s: float = _f(10.0, "Seconds between two syncs while all is well.", minimum=1)
    batch_size: int = _f(BATCH_SIZE, "Most events pushed in one request.", minimum=1)
    timeout_s: float = _f(5.0, "Timeout of every request to the central store.", minimum=0.5)
    roster_max_age_h: float = _f(
        72.0,
        "Without contact for this long, the cached roster expires and only staff are admitted.",
        minimum=0.1,
    )


@dataclass(frozen=True)
class Config:
    station: StationSection
    machine: MachineSection
    hardware: HardwareSection = field(default_factory=HardwareSection)
    reader: ReaderSection = field(default_factory=ReaderSection)
    sensors: SensorsSection = field(default_factory=SensorsSection)
    clock: ClockSection = field(default_factory=ClockSection)
    web: WebSection = field(default_factory=WebSection)
    central: CentralSection = field(default_factory=CentralSection)
    plug: PlugSection = field(default_factory=PlugSection)
    mqtt: MqttSection = field(default_factory=MqttSection)
    path: Path = field(default=Path("station.toml"), metadata={"internal": True})

    @property
    def data_path(self) -> Path:
        p = Path(self.station.data_dir).expanduser()
        return p if p.is_absolute() else (self.path.parent / p)

    @property
    def db_path(self) -> Path:
        return self.data_path / "station.sqlite"

    @property
    def display_name(self) -> str:
        return self.station.name or self.machine.name


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; raises :class:`ConfigError` that says what to fix."""
    path = Path(path)
    raw = tomlconfig.load_toml(path, ConfigError, f"station init --config {path}")
    return parse_config(raw, path)


def parse_config(raw: dict[str, Any], path: Path = Path("station.toml")) -> Config:
    values = tomlconfig.parse_sections(Config, raw, path, ConfigError)
    config = Config(**values, path=path)
    _check_together(config)
    return config


def _check_together(config: Config) -> None:
    path = config.path
    for key, value in (("station.id", config.station.id), ("machine.id", config.machine.id)):
        if not ID_PATTERN.match(value):
            raise ConfigError(
                f"{path}: {key} = {value!r}: use lower-case letters, digits, - and _ (max 63)."
            )
    if not re.match(r"^[a-z0-9_]+$", config.machine.kind):
        raise ConfigError(
            f"{path}: machine.kind = {config.machine.kind!r}: use lower-case letters, digits, _."
        )
    if config.machine.warn_before_min >= config.machine.max_session_min:
        raise ConfigError(
            f"{path}: machine.warn_before_min must be shorter than machine.max_session_min."
        )
    mock = config.hardware.backend == "mock"
    if config.clock.simulated and not mock:
        raise ConfigError(f'{path}: clock.simulated = true needs hardware.backend = "mock".')
    if config.reader.type in ("fake", "mfrc522-emulated") and not mock:
        raise ConfigError(
            f'{path}: reader.type = "{config.reader.type}" needs hardware.backend = "mock"; '
            'use "mfrc522" on a Pi.'
        )
    if config.reader.type == "mfrc522" and mock:
        raise ConfigError(
            f'{path}: reader.type = "mfrc522" needs hardware.backend = "pi"; '
            'on the mock backend use "mfrc522-emulated" or "fake".'
        )
    s = config.sensors
    for key, value in (("power_meter", s.power_meter), ("air_sensor", s.air_sensor)):
        if value.endswith("-emulated") and not mock:
            raise ConfigError(f'{path}: sensors.{key} = "{value}" needs hardware.backend = "mock".')
        if value in ("pzem", "line", "sds011") and mock:
            raise ConfigError(
                f'{path}: sensors.{key} = "{value}" needs hardware.backend = "pi"; '
                f'on the mock backend use "{value}-emulated".'
            )
    if s.power_meter in ("pzem", "line") and not s.power_port:
        raise ConfigError(f"{path}: sensors.power_port is required with a {s.power_meter} meter.")
    if s.air_sensor == "sds011" and not s.air_port:
        raise ConfigError(f"{path}: sensors.air_port is required with an sds011.")
    if config.machine.pm25_alarm > 0 and s.air_sensor == "none":
        raise ConfigError(
            f"{path}: machine.pm25_alarm needs an air sensor: set sensors.air_sensor."
        )
    needs_power = config.machine.idle_off_min > 0 or config.machine.keep_on_while_busy
    if needs_power and s.power_meter == "none":
        raise ConfigError(
            f"{path}: machine.idle_off_min and machine.keep_on_while_busy need a power meter: "
            "set sensors.power_meter."
        )
    check_plug_config(
        path, config.hardware.relay, config.hardware.backend, config.plug, s.power_meter
    )
    if bool(config.central.url) != bool(config.central.token):
        raise ConfigError(f"{path}: central.url and central.token go together: set both or none.")


def documented_keys() -> list[tuple[str, str]]:
    """Every config key with its one-line doc, for the docs test and `station init`."""
    return tomlconfig.documented_keys(Config)
