"""TOML config files validated into frozen dataclasses: the one mechanism behind the station's
and the central store's config.

Each field is declared with :func:`setting` (its default, one line of documentation, its bounds).
:func:`parse_sections` walks the dataclasses and raises the caller's error class with the file,
the key and what is allowed; unknown keys are errors, so a typo never falls back to a default.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable
from dataclasses import field
from pathlib import Path
from typing import Any, get_type_hints

REQUIRED: Any = object()
"""The default of a key that has none: leaving it out is an error."""


def setting(
    default: Any,
    doc: str,
    *,
    choices: tuple[Any, ...] = (),
    minimum: float | None = None,
    maximum: float | None = None,
    check: Callable[[Any], str | None] | None = None,
) -> Any:
    """A config field: its default, one line of documentation and its constraints (``check``
    returns what is wrong with a value, or None)."""
    meta = {
        "doc": doc,
        "choices": choices,
        "minimum": minimum,
        "maximum": maximum,
        "check": check,
    }
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def load_toml(path: Path, error: type[Exception], create_hint: str) -> dict[str, Any]:
    """The file's TOML, or ``error`` saying what is wrong (and how to create a missing file)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: no such file. Create one with `{create_hint}`.") from None
    except tomllib.TOMLDecodeError as e:
        raise error(f"{path}: not valid TOML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"{path}: cannot be read: {e}") from None


def parse_sections(
    cls: type, raw: Any, path: Path, error: type[Exception], prefix: str = ""
) -> dict[str, Any]:
    """The keyword arguments of ``cls`` from ``raw``, nested sections built recursively."""
    where = f"[{prefix}]" if prefix else "the top level"
    if not isinstance(raw, dict):
        raise error(f"{path}: {where} must be a table, found {type(raw).__name__}.")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        allowed = ", ".join(fields)
        raise error(f"{path}: unknown key {_key(prefix, unknown[0])}; {where} allows: {allowed}.")
    out: dict[str, Any] = {}
    for name, f in fields.items():
        key = _key(prefix, name)
        hint = hints[name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            out[name] = hint(**parse_sections(hint, raw.get(name, {}), path, error, key))
            continue
        if name not in raw:
            if f.default is REQUIRED:
                raise error(f"{path}: missing key {key}: {f.metadata['doc']}")
            continue
        out[name] = _value(raw[name], hint, key, f.metadata, path, error)
    return out


def _value(value: Any, hint: Any, key: str, meta: Any, path: Path, error: type[Exception]) -> Any:
    if hint is bool:
        if not isinstance(value, bool):
            raise error(f"{path}: {key} must be true or false, found {value!r}.")
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise error(f"{path}: {key} must be a whole number, found {value!r}.")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise error(f"{path}: {key} must be a number, found {value!r}.")
        value = float(value)
    elif hint is str:
        if not isinstance(value, str):
            raise error(f"{path}: {key} must be a string in quotes, found {value!r}.")
    elif hint == list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise error(
                f"{path}: {key} must be a list of non-empty strings, "
                'e.g. ["Lunettes", "Aspiration"].'
            )
        value = [v.strip() for v in value]
    if meta.get("choices") and value not in meta["choices"]:
        allowed = ", ".join(f'"{c}"' for c in meta["choices"])
        raise error(f"{path}: {key} = {value!r} is not allowed; use one of {allowed}.")
    minimum = meta.get("minimum")
    if minimum is not None and value < minimum:
        raise error(f"{path}: {key} = {value!r} is too small; the minimum is {minimum}.")
    maximum = meta.get("maximum")
    if maximum is not None and value > maximum:
        raise error(f"{path}: {key} = {value!r} is too large; the maximum is {maximum}.")
    check = meta.get("check")
    problem = check(value) if check is not None else None
    if problem:
        raise error(f"{path}: {key} = {value!r} {problem}")
    return value


def time_zone_problem(name: str) -> str | None:
    """What is wrong with an IANA time zone name (``Europe/Paris``), or None."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return 'is not a time zone; use an IANA name such as "Europe/Paris".'
    return None


def _key(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def documented_keys(cls: type) -> list[tuple[str, str]]:
    """Every key of ``cls`` with its one-line doc: the docs tests and the sample configs."""
    out: list[tuple[str, str]] = []

    def walk(c: type, prefix: str) -> None:
        hints = get_type_hints(c)
        for f in dataclasses.fields(c):
            if f.metadata.get("internal"):
                continue
            key = _key(prefix, f.name)
            hint = hints[f.name]
            if isinstance(hint, type) and dataclasses.is_dataclass(hint):
                walk(hint, key)
            else:
                out.append((key, f.metadata["doc"]))

    walk(cls, "")
    return out


def is_address(host: str) -> bool:
    """``Host`` names an IP address (``10.0.0.5``, ``10.0.0.5:8080``, ``[::1]:8080``)."""
    import ipaddress

    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def host_problem(values: list[str]) -> str | None:
    """Each value a bare host name or address (no scheme, port, path or space)."""
    for v in values:
        name = str(v)
        if not name or (any(c in name for c in " /:@\t") and not is_address(name)):
            return (
                f"{v!r} is not a host name: write the name alone, such as "
                '"laser-1.fablab.lan" (no http://, port or path)'
            )
    return None


def networks_problem(values: list[str]) -> str | None:
    """Each value an address or a network (``192.168.1.0/24``): who may read ``/metrics``."""
    import ipaddress

    for v in values:
        try:
            ipaddress.ip_network(str(v), strict=False)
        except ValueError:
            return f"{v!r} is not an address or a network such as 192.168.1.0/24"
    return None
