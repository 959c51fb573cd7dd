"""Incremental roll-ups: the reports' sums, kept by ingest in the transaction that changes the
sessions they sum, never recomputed from the raw events at read time.

A change to sessions is wrapped: their rows are taken out of the roll-ups before it and put
back after (:func:`rollup_change`), so a session that starts, ends, finishes its job, has its
time repaired or its member pseudonymised moves exactly what it changed. Ingest is exactly once
on ``(station_id, seq)``, so a retried or duplicated batch projects nothing and moves nothing.
``station-central rollups rebuild`` recomputes them all from the sessions.

A session counts on the calendar day it started on in the fablab's zone (``[site] timezone``:
at 00:30 in Paris on 1 January, 23:30 UTC on 31 December, it counts on 1 January), so days,
months and years are the fablab's. The zone they were built in is kept in ``meta``; opening
the store with another one rebuilds them (:meth:`RollupsSqlite.set_rollups_timezone`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from central.sqlite.base import SqliteBase
from central.sqlite.migrations import ROLLUP_KEY, ROLLUP_SUMS, ROLLUPS_TIMEZONE, rollup_select

_UPSERT = (
    f"INSERT INTO rollups ({ROLLUP_KEY}, {', '.join(ROLLUP_SUMS)}) {{select}} "
    f"ON CONFLICT ({ROLLUP_KEY}) DO UPDATE SET "
    + ", ".join(f"{c} = rollups.{c} + excluded.{c}" for c in ROLLUP_SUMS)
)


def add_sessions(conn: Any, sign: int, where: str, params: Any) -> None:
    """Add (``sign`` 1) or take away (-1) the sessions ``where`` picks."""
    conn.execute(_UPSERT.format(select=rollup_select(sign, where)), params)


@contextmanager
def rollup_change(conn: Any, where: str, params: Any) -> Iterator[None]:
    """Around a change of the sessions ``where`` picks (the same ones before and after)."""
    add_sessions(conn, -1, where, params)
    yield
    add_sessions(conn, 1, where, params)


_ZONE = "SELECT value FROM meta WHERE key = ?"


def _rebuild(conn: Any) -> int:
    conn.execute("DELETE FROM rollups")
    add_sessions(conn, 1, "1 = 1", ())
    return int(conn.execute("SELECT COUNT(*) FROM rollups").fetchone()[0])


class RollupsSqlite(SqliteBase):
    """The roll-ups rebuilt (in the fablab's zone), and read whole (for checks)."""

    def rebuild_rollups(self) -> int:
        """Recompute every roll-up from the sessions; return how many rows there are."""
        with self._transaction() as conn:
            return _rebuild(conn)

    def set_rollups_timezone(self, zone: str) -> int | None:
        """Count the reports' days in ``zone`` (an IANA name): when the roll-ups were built
        in another one, rebuild them and return how many rows there are; else None."""
        with self._transaction() as conn:
            if (conn.execute(_ZONE, (ROLLUPS_TIMEZONE,)).fetchone() or ["UTC"])[0] == zone:
                return None
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (ROLLUPS_TIMEZONE, zone),
            )
            return _rebuild(conn)

    def rollup_rows(self) -> list[dict[str, Any]]:
        """Every roll-up row that counts a session, in key order."""
        return self._rows(
            f"SELECT {ROLLUP_KEY}, {', '.join(ROLLUP_SUMS)} FROM rollups WHERE sessions != 0 "
            f"ORDER BY {ROLLUP_KEY}"
        )
