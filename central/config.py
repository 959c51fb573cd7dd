"""The central store's TOML config, validated into dataclasses.

As for a station (``station/config.py``): every error names the file and the key, and unknown keys
are errors, so a typo never falls back silently to a default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from central.errors import CentralConfigError
from station import tomlconfig
from station.protocol import MAX_BATCH, MAX_REQUEST_KB
from station.tomlconfig import networks_problem, time_zone_problem
from station.tomlconfig import setting as _f

BACKENDS = ("sqlite",)


@dataclass(frozen=True)
class ServerSection:
    host: str = _f("127.0.0.1", "Address the central store listens on (`0.0.0.0`: every one).")
    port: int = _f(
        8000, "Port of the central store (0: any free port, printed at start).", minimum=0
    )
    threads: int = _f(16, "waitress threads (each open dashboard stream holds one).", minimum=2)
    max_request_kb: int = _f(
        MAX_REQUEST_KB, "Largest request body accepted (KiB); bigger ones get 413.", minimum=16
    )
    allowed_hosts: list[str] = _f(  # noqa: RUF009 - _f builds a field(), not a shared default
        [],
        "Host names the pages answer to, besides `localhost`, `127.0.0.1`, `::1` and `host` "
        'itself (e.g. `["central.fablab.lan"]`; `".fablab.lan"` allows its subdomains). Any '
        "other Host header gets 400: a DNS-rebinding page cannot reach the store.",
    )
    metrics_from: list[str] = _f(  # noqa: RUF009 - _f builds a field(), not a shared default
        ["127.0.0.1", "::1"],
        "Addresses or networks that may read the Prometheus `/metrics` (e.g. the Prometheus "
        'server, `["192.168.1.10"]`); `[]`: no `/metrics`.',
        check=networks_problem,
    )
    behind_tls: bool = _f(
        False,
        "`true` when an HTTPS reverse proxy on this machine is the only way in (keep `host = "
        '"127.0.0.1"`): cookies get `Secure`, responses `Strict-Transport-Security`, and the '
        "client address and scheme are read from the proxy's `X-Forwarded-For`/`-Proto`.",
    )


@dataclass(frozen=True)
class StorageSection:
    backend: str = _f("sqlite", "Storage backend (only `sqlite` for now).", choices=BACKENDS)
    data_dir: str = _f(
        "central-data", "Where the database lives; relative to the config file's folder."
    )


@dataclass(frozen=True)
class SyncSection:
    max_batch: int = _f(
        MAX_BATCH, "Most events accepted in one sync request (bigger batches get 413).", minimum=1
    )
    station_interval_s: float = _f(
        10.0,
        "The stations' `central.sync_interval_s`: a station is offline after 3 missed syncs.",
        minimum=1,
    )
    offline_after_missed: int = _f(
        3, "Missed syncs after which a station shows offline.", minimum=1
    )
    badge_two_stations_s: float = _f(
        10.0,
        "One badge tapped at two stations closer in time than this raises an alert (a copied "
        "badge?); keep it shorter than a walk between the two closest stations.",
        minimum=1,
    )


@dataclass(frozen=True)
class PrivacySection:
    retention_days: int = _f(
        0,
        "Members inactive for longer than this are pseudonymised by `station-central privacy "
        "retention` (0: keep).",
        minimum=0,
    )


@dataclass(frozen=True)
class SiteSection:
    timezone: str = _f(
        "Europe/Paris",
        "The fablab's time zone (IANA name): every time a person reads on the pages is in it.",
        check=time_zone_problem,
    )
    progress_link_days: int = _f(
        90,
        "How long a trainee's personal progress link works (days); an educator can revoke it "
        "sooner from the member's progress page.",
        minimum=1,
    )


def _public_url_problem(value: Any) -> str | None:
    if value and not str(value).startswith(("https://", "http://")):
        return "an address starting with https:// (e.g. https://badges.fablab.fr)"
    return None


@dataclass(frozen=True)
class CredentialsSection:
    public_url: str = _f(
        "",
        "The central store's address as the public reaches it (e.g. `https://badges.fablab.fr`): "
        "every credential names its keys, status list and verification page under it. Empty: "
        "no credential can be issued.",
        check=_public_url_problem,
    )
    issuer_name: str = _f("Fabrique", "The fablab's name, as credentials and badges show it.")
    website: str = _f("", "The fablab's own website, in the issuer's profile (optional).")
    key_valid_days: int = _f(
        0,
        "A new signing key stops signing and verifying after this many days (0: until retired).",
        minimum=0,
    )


@dataclass(frozen=True)
class CentralConfig:
    server: ServerSection = field(default_factory=ServerSection)
    storage: StorageSection = field(default_factory=StorageSection)
    sync: SyncSection = field(default_factory=SyncSection)
    privacy: PrivacySection = field(default_factory=PrivacySection)
    site: SiteSection = field(default_factory=SiteSection)
    credentials: CredentialsSection = field(default_factory=CredentialsSection)
    path: Path = field(default=Path("central.toml"), metadata={"internal": True})

    @property
    def data_path(self) -> Path:
        p = Path(self.storage.data_dir).expanduser()
        return p if p.is_absolute() else (self.path.parent / p)

    @property
    def db_path(self) -> Path:
        return self.data_path / "central.sqlite"

    @property
    def offline_after_s(self) -> float:
        return self.sync.station_interval_s * self.sync.offline_after_missed


SAMPLE = """\
# Fabrique station — configuration of the central store.
# Every key is described in docs/configuration.md ("Central store"). Unknown keys are errors.

[server]
host = "{host}"
port = {port}
threads = 16
max_request_kb = 8192
# Names the pages answer to besides localhost (e.g. ["central.fablab.lan"]).
allowed_hosts = []
# Who may read the Prometheus /metrics: addresses or networks ([] for no /metrics).
metrics_from = ["127.0.0.1", "::1"]
# true behind an HTTPS reverse proxy on this machine (then keep host = "127.0.0.1").
behind_tls = false

[storage]
backend = "sqlite"
data_dir = "{data_dir}"

[sync]
max_batch = 5000
station_interval_s = {interval}
offline_after_missed = 3
# One badge at two stations closer than this (seconds) raises an alert.
badge_two_stations_s = 10

[privacy]
retention_days = 0

[site]
timezone = "Europe/Paris"
progress_link_days = 90

[credentials]
# The address verifiers reach (https://…): set it to issue Open Badges (docs/credentials.md).
public_url = "{public_url}"
issuer_name = "Fabrique"
website = ""
key_valid_days = 0
"""


def write_config(
    path: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    data_dir: str = "central-data",
    interval: float = 10.0,
    public_url: str = "",
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = SAMPLE.format(
        host=host, port=port, data_dir=data_dir, interval=interval, public_url=public_url
    )
    path.write_text(text, encoding="utf-8")


def load_config(path: str | Path) -> CentralConfig:
    """Read and validate a config file; :class:`CentralConfigError` says what to fix."""
    path = Path(path)
    raw = tomlconfig.load_toml(path, CentralConfigError, f"station-central init --config {path}")
    return parse_config(raw, path)


def parse_config(raw: dict[str, Any], path: Path = Path("central.toml")) -> CentralConfig:
    values = tomlconfig.parse_sections(CentralConfig, raw, path, CentralConfigError)
    return CentralConfig(**values, path=path)


def documented_keys() -> list[tuple[str, str]]:
    """Every key with its one-line doc, for the docs test."""
    return tomlconfig.documented_keys(CentralConfig)
