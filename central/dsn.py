"""PostgreSQL connection strings, read without the driver: checked at config time, redacted in
every message.

A DSN is either a URL (``postgresql://fabrique@db.lan:5432/fabrique``) or libpq's ``key=value``
form (``host=db.lan dbname=fabrique user=fabrique``). The password never belongs in it (it would
show in ``ps``, logs and bug reports): it comes from ``[storage] password_file`` or an environment
variable, and :func:`redact` hides any that slipped in anyway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

SCHEMES = ("postgresql", "postgres")
KEYWORDS = frozenset(
    {
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "password",
        "passfile",
        "connect_timeout",
        "application_name",
        "options",
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "target_session_attrs",
        "keepalives",
        "keepalives_idle",
        "service",
    }
)
"""libpq's keywords a central store may need (a typo in any other key is an error here, not a
puzzling refusal from the server later)."""

_PAIR = re.compile(r"\s*([A-Za-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)([^@\s]*)(@)")
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


class DsnError(ValueError):
    """The DSN cannot be read; the message says what is wrong, never the password."""


@dataclass(frozen=True)
class Dsn:
    """What a DSN names, for messages (``fabrique@db.lan:5432/fabrique``) and checks."""

    params: dict[str, str]

    @property
    def has_password(self) -> bool:
        return bool(self.params.get("password"))

    def where(self) -> str:
        """The server and database in a few words, for error messages."""
        p = self.params
        user = f"{p['user']}@" if p.get("user") else ""
        host = p.get("host") or p.get("hostaddr") or "localhost"
        port = f":{p['port']}" if p.get("port") else ""
        return f"{user}{host}{port}/{p.get('dbname', '')}"


def parse_dsn(text: str) -> Dsn:
    """The DSN's parameters, or :class:`DsnError` saying what to fix."""
    text = text.strip()
    if not text:
        raise DsnError("is empty; use e.g. postgresql://fabrique@127.0.0.1:5432/fabrique")
    if "://" in text:
        return Dsn(_parse_url(text))
    return Dsn(_parse_pairs(text))


def _parse_url(text: str) -> dict[str, str]:
    parts = urlsplit(text)
    if parts.scheme not in SCHEMES:
        raise DsnError(f"starts with {parts.scheme}://; a PostgreSQL URL starts with postgresql://")
    params: dict[str, str] = {}
    if parts.username:
        params["user"] = unquote(parts.username)
    if parts.password:
        params["password"] = unquote(parts.password)
    if parts.hostname:
        params["host"] = unquote(parts.hostname)
    try:
        port = parts.port
    except ValueError:
        raise DsnError("has a port that is not a number (postgresql://HOST:5432/DB)") from None
    if port is not None:
        params["port"] = str(port)
    db = unquote(parts.path.lstrip("/"))
    if db:
        params["dbname"] = db
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        _check_key(key)
        params[key] = value
    return params


def _parse_pairs(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        m = _PAIR.match(text, pos)
        if m is None:
            rest = text[pos:].strip()
            if not rest:
                break
            raise DsnError(
                f"cannot be read near {rest.split()[0]!r}: use key=value pairs "
                "(host=127.0.0.1 dbname=fabrique user=fabrique) or a postgresql:// URL"
            )
        key, value = m.group(1), m.group(2)
        _check_key(key)
        if value.startswith("'"):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[key] = value
        pos = m.end()
    return params


def _check_key(key: str) -> None:
    if key not in KEYWORDS:
        raise DsnError(f"has an unknown parameter {key!r}; known: {', '.join(sorted(KEYWORDS))}")


def redact(text: str) -> str:
    """``text`` with any password in a DSN or a ``password=`` pair replaced by ``***``."""
    text = _URL_PASSWORD.sub(r"\1***\3", text)
    return _KV_PASSWORD.sub(r"\1***", text)


def conninfo(dsn: str, password: str | None) -> dict[str, str]:
    """The connection parameters: the DSN's, with the password from the file or environment."""
    params = dict(parse_dsn(dsn).params)
    if password:
        params["password"] = password
    return params
