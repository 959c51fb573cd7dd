"""What the PostgreSQL backend needs of a database driver, as small protocols.

``central/`` imports no driver (the dependency rule): the SQL lives here, written against these
protocols, and ``adapters/postgresql.py`` — the one module that imports psycopg — implements
them. The composition root (``central/wiring.py``) imports the adapter by name from config.
Placeholders are psycopg's (``%s``, ``%(name)s``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol


class Cursor(Protocol):
    """The result of one statement."""

    @property
    def description(self) -> Sequence[Any] | None: ...
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """One connection inside a transaction."""

    def execute(self, query: Any, params: Any = None) -> Cursor: ...


class Listener(Protocol):
    """A connection of its own that LISTENs on one channel (the dashboard's live stream)."""

    def poll(self, timeout_s: float) -> list[str]:
        """The payloads notified since the last poll, waiting up to ``timeout_s`` for one."""
        ...

    def close(self) -> None: ...


class Database(Protocol):
    """A pool of connections to one PostgreSQL database.

    Errors come out as :mod:`central.errors` classes: ``StorageUnavailable`` (server down, wrong
    DSN, disk full: a sync gets 503 and the station keeps its backlog), ``Conflict`` (a unique
    key held already).
    """

    where: str
    """The server and database without the password, for messages."""
    errors: tuple[type[Exception], ...]
    """The driver's own errors that may still come out (a bug's SQL error): the pages answer
    them as a storage failure (500), never a traceback."""

    def transaction(self) -> AbstractContextManager[Connection]:
        """A connection in a transaction: committed on exit, rolled back on an exception."""
        ...

    def copy_rows(
        self, conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Bulk load ``rows`` into ``table`` (COPY), inside ``conn``'s transaction."""
        ...

    def listen(self, channel: str) -> Listener: ...

    def close(self) -> None: ...
