"""The one module that imports psycopg: a connection pool behind ``central.pg.db.Database``.

``central/`` imports no database driver; ``central/wiring.py`` imports this module by name when
``[storage] backend = "postgresql"``. Driver errors leave here as the central store's own:
the server down, a wrong DSN or a full disk as :class:`StorageUnavailable` (naming the server,
never the password), a unique key held already as :class:`Conflict`.

Example::

    db = open_database("postgresql://fabrique@127.0.0.1/fabrique", password=None, pool_size=4)
    with db.transaction() as conn:
        conn.execute("SELECT 1").fetchone()
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import psycopg
import psycopg_pool
from psycopg import errors, sql

from central.dsn import conninfo, parse_dsn, redact
from central.errors import Conflict, StorageUnavailable
from central.pg.db import Connection

CONNECT_TIMEOUT_S = 5
"""How long a connection attempt waits for the server (libpq ``connect_timeout``)."""
POOL_TIMEOUT_S = 5.0
"""How long a request waits for a free connection before it gets 503 (the station retries)."""


def _unavailable(where: str, e: BaseException) -> StorageUnavailable:
    reason = redact(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
    if isinstance(e, errors.DiskFull):
        hint = "the database server's disk is full: free space; the stations keep their events"
    elif isinstance(e, psycopg_pool.PoolTimeout):
        hint = "every connection is busy or the server stopped answering; raise pool_size?"
    else:
        hint = (
            "is the server running (`pg_isready`)? Check [storage] dsn (host, port, database, "
            "user) and the password in [storage] password_file"
        )
    return StorageUnavailable(f"PostgreSQL at {where}: {reason} — {hint}.")


class PsycopgListener:
    """A connection of its own, in autocommit, LISTENing on one channel."""

    def __init__(self, params: dict[str, Any], channel: str, where: str) -> None:
        self.where = where
        try:
            self.conn = psycopg.connect(**params, autocommit=True)
            self.conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except psycopg.OperationalError as e:
            raise _unavailable(where, e) from None

    def poll(self, timeout_s: float) -> list[str]:
        try:
            got = [n.payload for n in self.conn.notifies(timeout=timeout_s, stop_after=1)]
            if got:  # drain what came with it, without waiting
                got += [n.payload for n in self.conn.notifies(timeout=0.0)]
        except psycopg.OperationalError as e:
            raise _unavailable(self.where, e) from None
        return got

    def close(self) -> None:
        self.conn.close()


class PsycopgDatabase:
    """A psycopg_pool pool; connections are checked before use, so a restarted server is
    reconnected to without restarting the central store."""

    errors: tuple[type[Exception], ...] = (psycopg.Error,)

    def __init__(self, params: dict[str, Any], *, pool_size: int, where: str) -> None:
        self.where = where
        self._params = params
        self.pool = psycopg_pool.ConnectionPool(
            # as keywords: the password is never part of a conninfo string. Parameters are
            # bound client-side, as SQLite binds them: a NULL in `? IS NULL` needs no type.
            kwargs={**params, "cursor_factory": psycopg.ClientCursor},
            min_size=1,
            max_size=pool_size,
            open=False,
            check=psycopg_pool.ConnectionPool.check_connection,
            timeout=POOL_TIMEOUT_S,
            name="fabrique-central",
        )

    def open(self) -> None:
        """Connect once now, so that a wrong DSN or a server down shows at start."""
        try:
            psycopg.connect(**self._params).close()
        except psycopg.OperationalError as e:
            raise _unavailable(self.where, e) from None
        self.pool.open(wait=False)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        try:
            with self.pool.connection() as conn:
                yield cast(Connection, conn)
        except errors.UniqueViolation as e:
            detail = e.diag.message_detail or e.diag.message_primary or "a unique key"
            raise Conflict(f"already held: {redact(detail)}") from None
        except psycopg_pool.PoolTimeout as e:
            raise self._why(e) from None
        except psycopg.OperationalError as e:
            raise _unavailable(self.where, e) from None

    def _why(self, timeout: psycopg_pool.PoolTimeout) -> StorageUnavailable:
        """No connection in time: the server's own reason if it refuses one, else busy."""
        try:
            psycopg.connect(**{**self._params, "connect_timeout": 2}).close()
        except psycopg.OperationalError as e:
            return _unavailable(self.where, e)
        return _unavailable(self.where, timeout)

    def copy_rows(
        self, conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with cast(psycopg.Connection[Any], conn).cursor().copy(stmt) as copy:
            for row in rows:
                copy.write_row(row)

    def listen(self, channel: str) -> PsycopgListener:
        return PsycopgListener(self._params, channel, self.where)

    def close(self) -> None:
        self.pool.close()


def open_database(
    dsn: str,
    password: str | None,
    *,
    pool_size: int,
    application_name: str = "fabrique-central",
) -> PsycopgDatabase:
    """A pool on ``dsn``, checked by one connection now (:class:`StorageUnavailable` if not)."""
    params: dict[str, Any] = {
        "connect_timeout": CONNECT_TIMEOUT_S,
        "application_name": application_name,
        **conninfo(dsn, password),
    }
    db = PsycopgDatabase(params, pool_size=pool_size, where=parse_dsn(dsn).where())
    db.open()
    return db
