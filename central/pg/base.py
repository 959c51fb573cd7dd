"""What every concern of the PostgreSQL central store shares: the pool, the write transaction,
and the SQL it shares with the SQLite backend.

Most of the central store's SQL is standard: the concerns' classes of ``central/sqlite/`` are
the implementation of both backends, and this base gives them PostgreSQL underneath. Their
statements use SQLite's parameter style (``?``, ``:name``); :func:`to_psycopg` rewrites only
that (never the SQL itself), and the schema (``central/pg/migrations.py``) gives PostgreSQL the
few SQLite functions they call and a ``rowid`` column where they order by it. A statement that
cannot be shared is overridden in the concern's module here (``central/pg/<concern>.py``).

Writers are serialised as SQLite serialises them (one at a time, across every central process
on the database: a transaction-scoped advisory lock), so that the shared read-then-write logic —
the roster's version, the held seqs of a batch — means the same on both backends.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from central.changes import ChangeSignal
from central.errors import StorageUnavailable
from central.pg import migrations, partitions
from central.pg.db import Connection, Cursor, Database
from central.sqlite.base import SqliteBase

log = logging.getLogger("central.pg")

WRITE_LOCK = 7_041_977_015
"""``pg_advisory_xact_lock`` key of the store's write transactions: taken exclusively by every
writer but ingest, shared by ingests (which then lock their station: :meth:`PgBase.ingesting`)."""
STATION_LOCKS = 70_419
"""First key of the two-key advisory locks of one station's ingest (second: a hash of its id)."""
ROSTER_LOCK = 7_041_977_016
"""Taken before the roster's version is bumped (ingests of two stations may both bump it)."""
BADGE_LOCKS = 70_420
"""First key of the two-key advisory locks of one badge's taps (the two-stations alert)."""
CHANNEL = "fabrique_changes"
"""NOTIFY channel of committed writes (every central process LISTENs on it)."""
LISTEN_POLL_S = 0.5
"""How often the listener thread looks up from its wait (to stop with the store)."""

ROWS_PER_INSERT = 500
_PLAIN_INSERT = re.compile(
    r"^\s*INSERT INTO (\w+) \(([\w\s,]+)\) VALUES \(\?(?:,\s*\?)*\)\s*$", re.IGNORECASE
)
_VALUES = re.compile(r"\bVALUES\s*(\([^()]*\))", re.IGNORECASE)
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|\?|:([A-Za-z_]\w*)|%")


@lru_cache(maxsize=1024)
def to_psycopg(sql: str) -> str:
    """SQLite's parameter style in ``sql`` as psycopg's: ``?`` → ``%s``, ``:name`` →
    ``%(name)s``, a literal ``%`` → ``%%``; quoted text and ``::`` casts are left alone."""

    def swap(m: re.Match[str]) -> str:
        text = m.group(0)
        if text == "?":
            return "%s"
        if text == "%":
            return "%%"
        if m.group(1):
            return f"%({m.group(1)})s"
        return text

    return _TOKENS.sub(swap, sql)


class Result:
    """A statement's rows, fetched at once (the connection goes back to the pool)."""

    def __init__(self, cur: Cursor) -> None:
        self.description: Sequence[Any] | None = cur.description
        self.rowcount = cur.rowcount
        self._rows: list[Any] = cur.fetchall() if cur.description else []

    def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class SharedSqlConnection:
    """A pooled connection that takes the shared SQL (SQLite's parameter style)."""

    def __init__(self, raw: Connection, db: Database | None = None) -> None:
        self.raw = raw
        self.db = db

    def execute(self, sql: str, params: Any = ()) -> Result:
        return Result(self.raw.execute(to_psycopg(sql), _params(params)))

    def executemany(self, sql: str, rows: Any) -> None:
        """A plain INSERT in bulk: COPY (a batch of 5,000 events in one stream); one with
        ``ON CONFLICT`` as multi-row INSERTs of :data:`ROWS_PER_INSERT` rows; any other
        statement row by row."""
        plain = _PLAIN_INSERT.match(sql)
        if plain is not None and self.db is not None:
            columns = [c.strip() for c in plain.group(2).split(",")]
            self.db.copy_rows(
                self.raw, plain.group(1), columns, ([_value(v) for v in r] for r in rows)
            )
            return
        values = _VALUES.search(sql)
        if values is None:
            for row in rows:
                self.raw.execute(to_psycopg(sql), _params(row))
            return
        head, group = to_psycopg(sql[: values.start(1)]), to_psycopg(values.group(1))
        tail = to_psycopg(sql[values.end(1) :])
        batch = [_params(row) for row in rows]
        for i in range(0, len(batch), ROWS_PER_INSERT):
            chunk = batch[i : i + ROWS_PER_INSERT]
            self.raw.execute(
                head + ", ".join([group] * len(chunk)) + tail, [v for r in chunk for v in r]
            )


def _params(params: Any) -> Any:
    if isinstance(params, dict):
        return {k: _value(v) for k, v in params.items()}
    return [_value(v) for v in params] if params else None


def _value(v: Any) -> Any:
    """A bool as SQLite takes it: 0/1 into an INTEGER column, a truth value in ``NOT (? AND …)``.
    Sent as the text ``'1'``/``'0'`` (psycopg passes text untyped), PostgreSQL reads it as
    whichever the statement needs."""
    return ("1" if v else "0") if isinstance(v, bool) else v


class _OneShot:
    """``self.db.conn`` of the shared code: each statement in a transaction of its own."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def execute(self, sql: str, params: Any = ()) -> Result:
        with self._db.transaction() as raw:
            return SharedSqlConnection(raw).execute(sql, params)


class _Handle:
    def __init__(self, db: Database) -> None:
        self.conn = _OneShot(db)


class PgBase(SqliteBase):
    """A pool on one PostgreSQL database; the concerns' classes build on it."""

    def __init__(self, db: Database, *, two_stations_window_s: float = 10.0) -> None:
        self.pg = db
        self.where = db.where
        self.two_stations_window_s = two_stations_window_s
        self.database_errors = (StorageUnavailable, *db.errors)
        migrations.migrate(db)  # at start, like the SQLite store (and `station-central migrate`)
        self._months: set[str] = set()
        self._signal = ChangeSignal()
        self._listening = threading.Lock()
        self._listener: threading.Thread | None = None
        self._closed = threading.Event()
        self._ingest_scope = threading.local()

    @property
    def db(self) -> Any:  # the shared code's ``self.db.conn.execute``
        return _Handle(self.pg)

    def close(self) -> None:
        self._closed.set()
        if self._listener is not None:
            self._listener.join(5)
        self.pg.close()

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        station = getattr(self._ingest_scope, "station", None)
        with self.pg.transaction() as raw:
            if station is None:
                raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            else:
                raw.execute("SELECT pg_advisory_xact_lock_shared(%s)", (WRITE_LOCK,))
                raw.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (STATION_LOCKS, station)
                )
            yield SharedSqlConnection(raw, self.pg)
            raw.execute(f"NOTIFY {CHANNEL}")  # delivered at commit, to every process

    # --- changes, across processes ------------------------------------------------------------

    def changes_seen(self) -> int:
        self._listen()
        return self._signal.seen

    def wait_for_change(self, seen: int, timeout_s: float) -> int:
        self._listen()
        return self._signal.wait(seen, timeout_s)

    def _listen(self) -> None:
        """Start the listener thread at the first wait (a CLI command never needs one)."""
        with self._listening:
            if self._listener is None and not self._closed.is_set():
                self._listener = threading.Thread(
                    target=self._listen_loop, name="pg-listen", daemon=True
                )
                self._listener.start()

    def _listen_loop(self) -> None:
        """Bump the signal at each NOTIFY; if the server goes away, listen again when it is back
        (and bump once: what changed meanwhile is unknown)."""
        while not self._closed.is_set():
            try:
                listener = self.pg.listen(CHANNEL)
            except StorageUnavailable as e:
                log.warning("dashboard streams fall back to polling: %s", e)
                self._closed.wait(5.0)
                continue
            try:
                self._signal.bump()
                while not self._closed.is_set():
                    if listener.poll(LISTEN_POLL_S):
                        self._signal.bump()
            except StorageUnavailable as e:
                log.warning("lost the change notifications, listening again: %s", e)
            finally:
                listener.close()

    @contextmanager
    def ingesting(self, station_id: str) -> Iterator[None]:
        """Within it, this thread's write transactions lock ``station_id`` only (and share the
        store's write lock with the other ingests): pushes of different stations run at once,
        two pushes of one station one after the other, every other writer alone."""
        self._ingest_scope.station = station_id
        try:
            yield
        finally:
            self._ingest_scope.station = None

    @staticmethod
    def _bump(conn: Any) -> int:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (ROSTER_LOCK,))
        return SqliteBase._bump(conn)

    def shared_secret(self, name: str) -> bytes | None:
        """Made once in the store (``meta``), so that processes on several machines sign the
        same session cookies: a login through one is valid through the other."""
        key = f"secret:{name}"
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (key, secrets.token_hex(48)),
            )
            value = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]
        return bytes.fromhex(value)

    @contextmanager
    def _read(self) -> Iterator[Any]:
        with self.pg.transaction() as raw:
            raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield SharedSqlConnection(raw)

    def _prepare_month(self, received: str) -> None:
        """This month's and the next month's partitions exist before their first event."""
        month = partitions.month_of(received)
        if month not in self._months:
            partitions.ensure_months(self.pg, [month, partitions.next_month(month)])
            self._months.add(month)
