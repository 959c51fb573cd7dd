"""Backups of a PostgreSQL central store with ``pg_dump`` and their restore with ``pg_restore``.

The tools get the connection from libpq's environment variables (``PGHOST``, ``PGPASSWORD``…),
never from their command line, so that the password shows neither in ``ps`` nor in a message.
A DSN whose ``options`` set a ``search_path`` backs up (and restores) that schema only.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from central.dsn import conninfo, parse_dsn, redact
from central.errors import CentralError

ENV = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "dbname": "PGDATABASE",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "passfile": "PGPASSFILE",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "options": "PGOPTIONS",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "service": "PGSERVICE",
}
_SEARCH_PATH = re.compile(r"-c\s*search_path=([A-Za-z_][A-Za-z0-9_]*)")


class BackupError(CentralError, RuntimeError):
    """pg_dump or pg_restore failed; the message has their own words (password-free)."""


def tool_env(dsn: str, password: str | None) -> dict[str, str]:
    """The environment that points libpq's tools at the store's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    for key, value in conninfo(dsn, password).items():
        if key in ENV:
            env[ENV[key]] = value
    return env


def schema_of(dsn: str) -> str | None:
    """The schema a DSN's ``options`` put first in the search path, if any."""
    m = _SEARCH_PATH.search(parse_dsn(dsn).params.get("options", ""))
    return m.group(1) if m else None


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not installed: sudo apt-get install postgresql-client (its major "
            "version at least the server's)"
        )
    return path


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        words = redact(done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}")
        raise BackupError(f"{what} failed: {words}")


def backup(dsn: str, password: str | None, target: Path) -> Path:
    """``pg_dump`` of the store (custom format, compressed) into ``target``; returns it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    argv = [_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={partial}"]
    schema = schema_of(dsn)
    if schema:
        argv.append(f"--schema={schema}")
    try:
        _run(argv, tool_env(dsn, password), f"pg_dump of {parse_dsn(dsn).where()}")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)  # a backup file is whole or absent
    return target


def restore(dsn: str, password: str | None, source: Path) -> None:
    """``pg_restore`` of a backup into the store's database, in one transaction (all or
    nothing). The database (or schema) must hold no store yet."""
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    argv = [_tool("pg_restore"), "--no-owner", "--single-transaction", "--exit-on-error"]
    argv.append(f"--dbname={parse_dsn(dsn).params.get('dbname', '')}")
    argv.append(str(source))
    _run(argv, tool_env(dsn, password), f"pg_restore into {parse_dsn(dsn).where()}")
