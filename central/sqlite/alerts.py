"""Fleet alerts: a badge at two stations at once, power without permission, a seq conflict, a
refused status, events out of scope.
"""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import timedelta
from typing import Any

from central import clock, scope
from central.alerts import BADGE_SEEN_AT_TWO_STATIONS, BadgeTap, badge_tap, seen_at_two_stations
from central.ingest import (
    Event,
    iso,
    parse_at,
    repaired_at,
)
from central.sqlite.base import SqliteBase
from central.store import Alert

POWER_WITHOUT_PERMISSION = "power_without_permission"
"""The event, and the fleet alert it raises: a machine drew power with its relay open."""
PLUG_FAULT = "plug_fault"
"""The event, and the fleet alert it raises: a smart plug did not answer or cut by itself."""
SEQ_CONFLICT = "seq_conflict"
"""The fleet alert of a 409: a seq held with another event id."""
BAD_STATUS = "bad_status"
"""The fleet alert of a refused status payload."""
ALERT_SQL = (
    "INSERT INTO alerts (kind, key, created_at, data) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (kind, key) DO NOTHING"
)
"""One alert per (kind, key), raised once (SQL shared with the PostgreSQL backend)."""


def _n(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


class AlertsSqlite(SqliteBase):
    """The fleet's alerts, raised by ingest and read by the dashboard."""

    def _seq_conflict(self, station_id: str, message: str, received: str) -> None:
        """A 409 shows on the dashboard: either the station's store was reset, or another holder
        of its token pushed those seqs first (docs/sync.md, "What a stolen token can do")."""
        with self._transaction() as conn:
            hwm = conn.execute(
                "SELECT high_water FROM stations WHERE id = ?", (station_id,)
            ).fetchone()
            conn.execute(
                ALERT_SQL,
                (
                    SEQ_CONFLICT,
                    f"{station_id}|{hwm[0] if hwm else 0}",
                    received,
                    json.dumps(
                        {
                            "station_id": station_id,
                            "acked_seq": hwm[0] if hwm else 0,
                            "error": message,
                        },
                        ensure_ascii=False,
                    ),
                ),
            )

    def record_bad_status(self, station_id: str, field: str | None, message: str) -> None:
        """A refused status payload raises a ``bad_status`` alert (once per station and field
        and day), so that the technician learns which station sends it."""
        received = clock.now_iso()
        with self._transaction() as conn:
            conn.execute(
                ALERT_SQL,
                (
                    BAD_STATUS,
                    f"{station_id}|{field}|{received[:10]}",
                    received,
                    json.dumps(
                        {"station_id": station_id, "field": field, "error": message[:300]},
                        ensure_ascii=False,
                    ),
                ),
            )

    @staticmethod
    def _watch_power(
        conn: sqlite3.Connection, station_id: str, events: list[Event], received: str
    ) -> None:
        """Power drawn with the relay open (a welded relay, a bypass, a smart plug's button),
        and a smart plug's fault: fleet alerts."""
        for e in events:
            if e.type == PLUG_FAULT:
                data = {
                    "station_id": station_id,
                    "seq": e.seq,
                    "at": e.at,
                    "kind": str(e.data.get("kind") or "")[:40],
                    "device": str(e.data.get("device") or "")[:80],
                }
                conn.execute(
                    "INSERT OR IGNORE INTO alerts (kind, key, created_at, data) "
                    "VALUES (?, ?, ?, ?)",
                    (PLUG_FAULT, f"{station_id}|{e.seq}", received, json.dumps(data)),
                )
                continue
            if e.type != POWER_WITHOUT_PERMISSION:
                continue
            conn.execute(
                ALERT_SQL,
                (
                    POWER_WITHOUT_PERMISSION,
                    f"{station_id}|{e.seq}",
                    received,
                    json.dumps(
                        {
                            "station_id": station_id,
                            "seq": e.seq,
                            "at": e.at,
                            "watts": _n(e.data.get("watts")),
                            "seconds": _n(e.data.get("seconds")),
                            "source": "plug" if e.data.get("source") == "plug" else None,
                        }
                    ),
                ),
            )

    @staticmethod
    def _alert_out_of_scope(
        conn: sqlite3.Connection,
        station_id: str,
        refused: list[tuple[Event, scope.Verdict]],
        received: str,
    ) -> None:
        """One ``event_out_of_scope`` alert per batch and rule broken (a flood stays one line)."""
        by_rule: dict[str, list[Event]] = {}
        details: dict[str, str] = {}
        for e, v in refused:
            by_rule.setdefault(v.rule or "?", []).append(e)
            if v.detail:
                details.setdefault(v.rule or "?", f"seq {e.seq}: {v.detail}")
        for rule, evs in by_rule.items():
            detail = {"detail": details[rule]} if rule in details else {}
            conn.execute(
                ALERT_SQL,
                (
                    scope.EVENT_OUT_OF_SCOPE,
                    f"{station_id}|{rule}|{evs[0].seq}",
                    received,
                    json.dumps(
                        {
                            "station_id": station_id,
                            "rule": rule,
                            "count": len(evs),
                            "seqs": [e.seq for e in evs[:20]],
                            "types": sorted({e.type for e in evs}),
                            **detail,
                        },
                        ensure_ascii=False,
                    ),
                ),
            )

    def _watch_badges(
        self,
        conn: sqlite3.Connection,
        station_id: str,
        events: list[Event],
        offsets: dict[str, float],
        received: str,
    ) -> None:
        """Record each tap by UID and raise an alert when one badge is at two stations at once.

        Only taps whose time can be trusted count: synced, or repaired from their boot's offset.
        """
        window = self.two_stations_window_s
        for e in events:
            at_text = e.at if e.clock_synced else repaired_at(e, offsets.get(e.boot_id))
            if at_text is None:
                continue
            tap = badge_tap(station_id, e.id, e.type, e.data, parse_at(at_text))
            if tap is None:
                continue
            lo = iso(tap.at - timedelta(seconds=window))
            hi = iso(tap.at + timedelta(seconds=window))
            for other_station, other_id, other_at in conn.execute(
                "SELECT station_id, event_id, at FROM badge_taps WHERE uid = ? AND "
                "station_id != ? AND at BETWEEN ? AND ?",
                (tap.uid, station_id, lo, hi),
            ).fetchall():
                other = BadgeTap(tap.uid, other_station, other_id, parse_at(other_at))
                alert = seen_at_two_stations(tap, other, window)
                if alert is not None:
                    conn.execute(
                        ALERT_SQL,
                        (
                            BADGE_SEEN_AT_TWO_STATIONS,
                            "|".join(sorted((tap.event_id, other_id))),
                            received,
                            json.dumps(alert, ensure_ascii=False),
                        ),
                    )
            conn.execute(
                "INSERT INTO badge_taps (uid, at, station_id, event_id) VALUES (?, ?, ?, ?)",
                (tap.uid, iso(tap.at), station_id, tap.event_id),
            )

    def recent_alerts(self, limit: int = 20) -> list[Alert]:
        """The latest alerts (a badge at two stations at once…), newest first, with the badge's
        current holder's name when the roster knows it."""
        rows = self.db.conn.execute(
            "SELECT a.kind, a.created_at, a.data, m.id, m.name FROM alerts a "
            "LEFT JOIN badges b ON b.uid = json_extract(a.data, '$.uid') "
            "LEFT JOIN members m ON m.id = b.member_id ORDER BY a.id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            {
                "kind": r[0],
                "at": r[1],
                "data": json.loads(r[2]),
                "member_id": r[3],
                "member_name": r[4],
            }
            for r in rows
        ]
