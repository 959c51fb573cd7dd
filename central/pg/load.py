"""Loading a whole SQLite central store into an empty PostgreSQL one, in one transaction: every
row or none (``station-central migrate-to-postgresql``).

Rows go in with COPY, the ``rowid`` of the tables ordered by it kept, the history triggers off
(the history is copied, not recomputed), each month's partition made first; the counts are
compared table by table before the commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from central.errors import CentralError
from central.pg import migrations, partitions
from central.pg.db import Connection, Database

SKIP = frozenset({"schema_migrations"})
"""PostgreSQL's own bookkeeping: not a table of the store."""
SEEDED = ("sites",)
"""Tables whose rows the migrations write (the default site): the copy replaces them."""
TRIGGERED = ("members", "qualifications")
"""Tables whose triggers write the history (copied as it is instead)."""
IDENTITIES = (
    ("commands", "rowid"),
    ("qualification_history", "rowid"),
    ("role_history", "rowid"),
    ("station_enrolments", "rowid"),
    ("alerts", "id"),
    ("retention_runs", "id"),
)


class Source(Protocol):
    def tables(self) -> dict[str, list[str]]: ...
    def rows(self, table: str, columns: list[str]) -> Iterator[tuple[Any, ...]]: ...
    def months(self) -> list[str]: ...
    def count(self, table: str) -> int: ...


class MoveError(CentralError, RuntimeError):
    """The move cannot be done or did not add up; nothing was written."""


def _columns(conn: Connection) -> dict[str, list[str]]:
    rows = conn.execute(
        "SELECT c.table_name, c.column_name FROM information_schema.columns c "
        "JOIN pg_class k ON k.relname = c.table_name "
        "JOIN pg_namespace n ON n.oid = k.relnamespace AND n.nspname = c.table_schema "
        "WHERE c.table_schema = current_schema() AND NOT k.relispartition "
        "ORDER BY c.table_name, c.ordinal_position"
    ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        if table not in SKIP:
            out.setdefault(table, []).append(column)
    return out


def load(db: Database, source: Source) -> dict[str, int]:
    """Copy every table of ``source`` into the (migrated, empty) store; rows per table."""
    migrations.migrate(db)
    counts: dict[str, int] = {}
    with db.transaction() as conn:
        target = _columns(conn)
        held = sum(
            int(conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0])
            for t in ("stations", "events", "members", "users")
        )
        if held:
            raise MoveError(
                f"the PostgreSQL store at {db.where} holds data already ({held} stations, events, "
                "members or accounts): move into an empty database"
            )
        source_tables = source.tables()
        missing = sorted(set(source_tables) - set(target))
        if missing:
            raise MoveError(
                f"the SQLite store has table {missing[0]} that PostgreSQL's schema lacks: "
                "upgrade fabrique-station, then migrate again"
            )
        for table in SEEDED:
            conn.execute(f'DELETE FROM "{table}"')  # the source holds these rows too
        for month in source.months():
            partitions.ensure_partition(conn, month)
        for table in TRIGGERED:
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for table, columns in sorted(source_tables.items()):
            wanted = [c for c in target[table] if c in columns or c == "rowid"]
            db.copy_rows(conn, table, wanted, source.rows(table, wanted))
            copied = int(conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])
            expected = source.count(table)
            if copied != expected:
                raise MoveError(f"{table}: {copied} rows copied of {expected}; nothing was written")
            counts[table] = copied
        for table in TRIGGERED:
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        for table, column in IDENTITIES:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                f"COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
            )
    return counts
