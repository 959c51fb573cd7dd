"""The central store's TOML config, validated into dataclasses.

As for a station (``station/config.py``): every error names the file and the key, and unknown keys
are errors, so a typo never falls back silently to a default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from central.dsn import DsnError, parse_dsn, redact
from central.errors import CentralConfigError
from station import tomlconfig
from station.protocol import MAX_BATCH, MAX_REQUEST_KB
from station.tomlconfig import host_problem, networks_problem, time_zone_problem
from station.tomlconfig import setting as _f

BACKENDS = ("sqlite", "postgresql")


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
        check=host_problem,
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


def _dsn_problem(text: str) -> str | None:
    if not text:
        return None  # checked with the backend: only "postgresql" needs one
    try:
        dsn = parse_dsn(text)
    except DsnError as e:
        return f"{e}."
    if dsn.has_password:
        return (
            "holds a password: take it out (it would show in logs and `ps`) and put it in the "
            "file named by storage.password_file, or in the variable named by "
            "storage.password_env."
        )
    return None


def _env_name_problem(name: str) -> str | None:
    if name and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return "is not an environment variable name (letters, digits and _)."
    return None


@dataclass(frozen=True)
class StorageSection:
    backend: str = _f(
        "sqlite",
        "`sqlite` (one file, one fablab, the default) or `postgresql` (a network of fablabs; "
        "several central processes may share one database).",
        choices=BACKENDS,
    )
    data_dir: str = _f(
        "central-data",
        "Where the SQLite database (and the web secret key, backups) live; relative to the "
        "config file's folder.",
    )
    dsn: str = _f(
        "",
        "With `postgresql`: the server and database, without the password, e.g. "
        "`postgresql://fabrique@127.0.0.1:5432/fabrique` (or libpq's `host=… dbname=…`).",
    )
    pool_size: int = _f(
        10,
        "With `postgresql`: most connections this process opens (each waitress thread "
        "borrows one per request).",
        minimum=1,
        maximum=200,
    )
    password_file: str = _f(
        "",
        "With `postgresql`: a file holding the database password (one line, mode 0600); "
        "relative to the config file's folder.",
    )
    password_env: str = _f(
        "FABRIQUE_DB_PASSWORD",
        "With `postgresql`: the environment variable holding the password when there is no "
        "`password_file` (empty: none; libpq's own `~/.pgpass` still works).",
        check=_env_name_problem,
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
        "The fablab's time zone (IANA name): every time a person reads on the pages is in it, "
        "and the reports count its calendar days (changing it rebuilds their roll-ups).",
        check=time_zone_problem,
    )
    progress_link_days: int = _f(
        90,
        "How long a trainee's personal progress link works (days); an educator can revoke it "
        "sooner from the member's progress page.",
        minimum=1,
    )
    name: str = _f(
        "",
        "The name of this store's default site (the fablab everything belonged to before "
        "sites, and the only one of a one-fablab store), as the pages show it; empty: "
        "unchanged. More fablabs: `station-central site add` (docs/network.md).",
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

    @property
    def password_path(self) -> Path | None:
        if not self.storage.password_file:
            return None
        p = Path(self.storage.password_file).expanduser()
        return p if p.is_absolute() else (self.path.parent / p)

    def db_password(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The PostgreSQL password: from ``password_file``, else ``password_env``, else None
        (libpq's ``~/.pgpass`` or trust authentication). Never printed."""
        path = self.password_path
        if path is not None:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as e:
                raise CentralConfigError(
                    f"{self.path}: storage.password_file = {self.storage.password_file!r} "
                    f"cannot be read ({e.strerror}); create it with the database password on "
                    "one line (chmod 600), or leave the key out."
                ) from None
            password = text.strip("\r\n")
            if not password:
                raise CentralConfigError(
                    f"{self.path}: storage.password_file {path} is empty; write the database "
                    "password on its first line."
                )
            return password
        name = self.storage.password_env
        value = (os.environ if environ is None else environ).get(name) if name else None
        return value or None


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
# "sqlite" (one fablab) or "postgresql" (a network: set dsn, and the password in a file).
{storage}data_dir = "{data_dir}"
# pool_size = 10
# password_file = "db-password"

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
    dsn: str = "",
) -> None:
    """The commented sample; with ``dsn``, on PostgreSQL (the DSN is checked first)."""
    problem = _dsn_problem(dsn)
    if problem:
        raise CentralConfigError(f"--dsn {redact(dsn)!r} {problem}")
    storage = (
        f'backend = "postgresql"\ndsn = "{dsn}"\n'
        if dsn
        else 'backend = "sqlite"\n# dsn = "postgresql://fabrique@127.0.0.1:5432/fabrique"\n'
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    text = SAMPLE.format(
        host=host,
        port=port,
        data_dir=data_dir,
        interval=interval,
        public_url=public_url,
        storage=storage,
    )
    path.write_text(text, encoding="utf-8")


def load_config(path: str | Path) -> CentralConfig:
    """Read and validate a config file; :class:`CentralConfigError` says what to fix."""
    path = Path(path)
    raw = tomlconfig.load_toml(path, CentralConfigError, f"station-central init --config {path}")
    return parse_config(raw, path)


def parse_config(raw: dict[str, Any], path: Path = Path("central.toml")) -> CentralConfig:
    values = tomlconfig.parse_sections(CentralConfig, raw, path, CentralConfigError)
    config = CentralConfig(**values, path=path)
    storage = config.storage
    problem = _dsn_problem(storage.dsn)
    if problem:  # the value is shown redacted: a password in it must not reach a log
        raise CentralConfigError(f"{path}: storage.dsn = {redact(storage.dsn)!r} {problem}")
    if storage.backend == "postgresql" and not storage.dsn:
        raise CentralConfigError(
            f'{path}: storage.backend = "postgresql" needs storage.dsn, e.g. '
            'dsn = "postgresql://fabrique@127.0.0.1:5432/fabrique" (docs/install.md, '
            '"A network of fablabs").'
        )
    return config


def documented_keys() -> list[tuple[str, str]]:
    """Every key with its one-line doc, for the docs test."""
    return tomlconfig.documented_keys(CentralConfig)
