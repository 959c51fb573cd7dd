"""Reading a SQLite central store table by table, to move it into PostgreSQL
(``station-central migrate-to-postgresql``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from central.sqlite.migrations import open_central_database


class SqliteDump:
    """A migrated SQLite store opened read-only for the move (the central store is stopped)."""

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise FileNotFoundError(f"no central store at {path}")
        open_central_database(path).close()  # bring it to the current schema first
        self.conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)

    def tables(self) -> dict[str, list[str]]:
        """Each table of the store with its columns (SQLite's own bookkeeping left out)."""
        names = [
            r[0]
            for r in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name"
            )
        ]
        return {n: [r[1] for r in self.conn.execute(f'PRAGMA table_info("{n}")')] for n in names}

    def rows(self, table: str, columns: list[str]) -> Iterator[tuple[Any, ...]]:
        """The rows in their stored order (``rowid`` may be asked for where it has a meaning)."""
        cols = ", ".join(f'"{c}"' if c != "rowid" else "rowid" for c in columns)
        order = "rowid" if "rowid" in columns else "1"
        with closing(self.conn.execute(f'SELECT {cols} FROM "{table}" ORDER BY {order}')) as cur:
            while batch := cur.fetchmany(5000):
                yield from batch

    def months(self) -> list[str]:
        """The months the events were received in (their partitions on PostgreSQL)."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT DISTINCT substr(received_at, 1, 7) FROM events ORDER BY 1"
            )
        ]

    def count(self, table: str) -> int:
        return int(self.conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])

    def close(self) -> None:
        self.conn.close()
