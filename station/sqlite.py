"""Opening SQLite the one way this project does: WAL, ``synchronous=FULL``, foreign keys, a busy
timeout, and the schema migrated by sqlite-utils' ``Migrations``.

``journal_mode`` persists in the file, but ``synchronous``, ``foreign_keys`` and ``busy_timeout``
are per connection: every connection must go through :func:`open_sqlite`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations


def open_sqlite(
    path: Path,
    migrations: Migrations,
    *,
    error: type[Exception],
    what: str = "the store",
    busy_timeout_s: float = 10.0,
) -> Database:
    """One connection (for one thread), schema migrated; ``error`` names the file if it fails."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=True, timeout=busy_timeout_s
        )
    except (OSError, sqlite3.Error) as e:
        raise error(f"cannot open {what} {path}: {e}") from e
    db = Database(conn)
    db.enable_wal()
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    migrations.apply(db)
    return db


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the lock up front (BEGIN IMMEDIATE), so a read-then-write
    such as "next seq" never races another writer; rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
