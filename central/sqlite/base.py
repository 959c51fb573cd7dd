"""What every concern of the SQLite central store shares: the connection per thread, the write
transaction, the roster's version.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from central.sqlite.migrations import ROLLUPS_TIMEZONE, open_central_database
from station.sqlite import immediate


class SqliteBase:
    """One SQLite file, one connection per thread; the concerns' classes build on it."""

    database_errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, path: Path, *, two_stations_window_s: float = 10.0) -> None:
        self.path = path
        self.two_stations_window_s = two_stations_window_s
        self._local = threading.local()
        self._all: list[Database] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.db  # open (and migrate) now, so that errors show at start  # noqa: B018

    @property
    def db(self) -> Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = open_central_database(self.path)
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                try:
                    db.close()
                except sqlite3.ProgrammingError:
                    pass  # closed from another thread than its own: nothing left to do
            self._all.clear()
        self._local = threading.local()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One writer at a time in this process (cheaper than SQLite's busy retries)."""
        with self._write_lock, immediate(self.db.conn) as conn:
            yield conn

    def _one(self, sql: str, params: Any = ()) -> Any:
        row = self.db.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def _typed(self, sql: str, params: Any = ()) -> list[Any]:
        """:meth:`_rows` for a method that names its rows' type (a TypedDict of central/store.py):
        the query's columns are that type's keys."""
        return self._rows(sql, params)

    def _rows(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        cur = self.db.conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def rollups_timezone(self) -> str:
        """The zone whose calendar days the roll-ups, and so the reports, count in
        (central/sqlite/rollups.py)."""
        return str(self._one("SELECT value FROM meta WHERE key = ?", (ROLLUPS_TIMEZONE,)) or "UTC")

    @staticmethod
    def _bump(conn: sqlite3.Connection) -> int:
        """The roster's next version (one per transaction that changes it)."""
        row = conn.execute("SELECT value FROM meta WHERE key = 'roster_version'").fetchone()
        version = (int(row[0]) if row else 0) + 1
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('roster_version', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (str(version),),
        )
        return version

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot across several SELECTs."""
        conn = self.db.conn
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")
