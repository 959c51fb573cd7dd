"""The central store's TOML config, validated into dataclasses.

As for a station (``station/config.py``): every error names the file and the key, and unknown keys
are errors, so a typo never falls back silently to a default.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from central.errors import CentralConfigError

BACKENDS = ("sqlite",)


def _f(default: Any, doc: str, *, choices: tuple[Any, ...] = (), minimum: float | None = None):
    """A config field: its default, one line of documentation and its constraints."""
    return field(default=default, metadata={"doc": doc, "choices": choices, "minimum": minimum})


@dataclass(frozen=True)
class ServerSection:
    host: str = _f("127.0.0.1", "Address the central store listens on (`0.0.0.0`: every one).")
    port: int = _f(
        8000, "Port of the central store (0: any free port, printed at start).", minimum=0
    )
    threads: int = _f(16, "waitress threads (each open dashboard stream holds one).", minimum=2)
    max_request_kb: int = _f(
        8192, "Largest request body accepted (KiB); bigger ones get 413.", minimum=16
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
        5000, "Most events accepted in one sync request (bigger batches get 413).", minimum=1
    )
    station_interval_s: float = _f(
        10.0,
        "The stations' `central.sync_interval_s`: a station is offline after 3 missed syncs.",
        minimum=1,
    )
    offline_after_missed: int = _f(
        3, "Missed syncs after which a station shows offline.", minimum=1
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
class CentralConfig:
    server: ServerSection = field(default_factory=ServerSection)
    storage: StorageSection = field(default_factory=StorageSection)
    sync: SyncSection = field(default_factory=SyncSection)
    privacy: PrivacySection = field(default_factory=PrivacySection)
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

[storage]
backend = "sqlite"
data_dir = "{data_dir}"

[sync]
max_batch = 5000
station_interval_s = {interval}
offline_after_missed = 3

[privacy]
retention_days = 0
"""


def write_config(
    path: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    data_dir: str = "central-data",
    interval: float = 10.0,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = SAMPLE.format(host=host, port=port, data_dir=data_dir, interval=interval)
    path.write_text(text, encoding="utf-8")


def load_config(path: str | Path) -> CentralConfig:
    """Read and validate a config file; :class:`CentralConfigError` says what to fix."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CentralConfigError(
            f"{path}: no such file. Create one with `station-central init --config {path}`."
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise CentralConfigError(f"{path}: not valid TOML: {e}") from None
    return parse_config(raw, path)


def parse_config(raw: dict[str, Any], path: Path = Path("central.toml")) -> CentralConfig:
    return CentralConfig(**_section(CentralConfig, raw, path, ""), path=path)


def _section(cls: type, raw: Any, path: Path, prefix: str) -> dict[str, Any]:
    where = f"[{prefix}]" if prefix else "the top level"
    if not isinstance(raw, dict):
        raise CentralConfigError(f"{path}: {where} must be a table, found {type(raw).__name__}.")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise CentralConfigError(
            f"{path}: unknown key {_key(prefix, unknown[0])}; {where} allows: {', '.join(fields)}."
        )
    out: dict[str, Any] = {}
    for name, f in fields.items():
        key, hint = _key(prefix, name), hints[name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            out[name] = hint(**_section(hint, raw.get(name, {}), path, key))
        elif name in raw:
            out[name] = _value(raw[name], hint, key, f.metadata, path)
    return out


def _value(value: Any, hint: Any, key: str, meta: Any, path: Path) -> Any:
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise CentralConfigError(f"{path}: {key} must be a whole number, found {value!r}.")
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CentralConfigError(f"{path}: {key} must be a number, found {value!r}.")
        value = float(value)
    if hint is str and not isinstance(value, str):
        raise CentralConfigError(f"{path}: {key} must be a string in quotes, found {value!r}.")
    if meta.get("choices") and value not in meta["choices"]:
        allowed = ", ".join(f'"{c}"' for c in meta["choices"])
        raise CentralConfigError(f"{path}: {key} = {value!r} is not allowed; use one of {allowed}.")
    minimum = meta.get("minimum")
    if minimum is not None and value < minimum:
        raise CentralConfigError(
            f"{path}: {key} = {value!r} is too small; the minimum is {minimum}."
        )
    return value


def _key(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def documented_keys() -> list[tuple[str, str]]:
    """Every key with its one-line doc, for the docs test."""
    out: list[tuple[str, str]] = []

    def walk(cls: type, prefix: str) -> None:
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.metadata.get("internal"):
                continue
            key = _key(prefix, f.name)
            if dataclasses.is_dataclass(hints[f.name]):
                walk(hints[f.name], key)
            else:
                out.append((key, f.metadata["doc"]))

    walk(CentralConfig, "")
    return out
