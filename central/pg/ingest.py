"""Ingest on PostgreSQL: the shared ingest (``central/sqlite/ingest.py``) into monthly
partitions, and events read back with a server-side cursor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from central import clock
from central.ingest import Event
from central.pg.base import BADGE_LOCKS, PgBase
from central.sqlite.ingest import IngestSqlite, stored_event

EVENT_PAGE = 5000
"""Events read back per round trip by :meth:`IngestPg.events` (a whole log never sits in
memory)."""


class IngestPg(PgBase, IngestSqlite):
    def ingest(
        self,
        station_id: str,
        events: list[Event],
        *,
        status: dict[str, Any] | None = None,
        backlog: int = 0,
    ) -> dict[str, Any]:
        self._prepare_month(clock.now_iso())
        with self.ingesting(station_id):
            return super().ingest(station_id, events, status=status, backlog=backlog)

    def _watch_badges(
        self,
        conn: Any,
        station_id: str,
        events: list[Event],
        offsets: dict[str, float],
        received: str,
    ) -> None:
        """As SQLite's, each badge locked first (in order): a tap pushed at the same moment
        through another station is seen, and one badge at two stations still raises its alert."""
        uids = sorted({u for e in events if isinstance(u := e.data.get("uid"), str) and u})
        for uid in uids:
            conn.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))", (BADGE_LOCKS, uid))
        super()._watch_badges(conn, station_id, events, offsets, received)

    def events(
        self, station_id: str | None = None, after_seq: int = 0, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """As the SQLite store's, read page by page (keyset on ``(station_id, seq)``)."""
        last: tuple[str, int] | None = None
        left = limit
        while left is None or left > 0:
            page = EVENT_PAGE if left is None else min(EVENT_PAGE, left)
            clauses, params = [], []
            if station_id is not None:
                clauses.append("station_id = %s AND seq > %s")
                params += [station_id, after_seq]
            if last is not None:
                clauses.append("(station_id, seq) > (%s, %s)")
                params += list(last)
            where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
            with self.pg.transaction() as conn:
                rows = conn.execute(
                    "SELECT station_id, seq, id, type, at, at_repaired, clock_synced, boot_id, "
                    f"mono, data, received_at, refused, applied FROM events {where} "
                    "ORDER BY station_id, seq LIMIT %s",
                    [*params, page],
                ).fetchall()
            for r in rows:
                yield stored_event(r)
            if len(rows) < page:
                return
            last = (rows[-1][0], rows[-1][1])
            if left is not None:
                left -= len(rows)
