"""The reports' queries: sums of the roll-ups ingest keeps (hours, energy and sessions per day,
member, supervisor, machine and site) and of the ``grants`` projection, never the raw events
nor the sessions, so that they stay fast over millions of events (docs/benchmarks.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from central.sqlite.base import SqliteBase
from central.store import (
    PERIODS,
    Filters,
    HoursRow,
    LevelGiven,
    MachineUseRow,
    MemberRole,
    MentorRow,
    SupervisionPair,
    TraineeEnergyRow,
)


def day_start(day: date, zone: str) -> str:
    """The instant ``day`` begins in ``zone``, as a prefix of the store's UTC times
    (``2025-12-31T23:00:00``): every time from then on sorts at or after it."""
    local = datetime.combine(day, time(), tzinfo=ZoneInfo(zone))
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def where(
    f: Filters,
    column: str = "r.day",
    kind: str = "r.kind",
    site: str = "r.site_id",
    zone: str | None = None,
) -> tuple[str, list[Any]]:
    """The filters as a WHERE clause on ``column`` and ``kind``, ``site`` (a column, or a
    condition with one ``?`` for the site); ``until`` included. ``column`` is a roll-up's day
    (already the fablab's), or with ``zone`` a UTC time: then the range is the calendar days
    in ``zone``."""
    clauses, params = ["1 = 1"], []
    if f.since:
        clauses.append(f"{column} >= ?")
        since = date.fromisoformat(f.since)
        params.append(day_start(since, zone) if zone else since.isoformat())
    if f.until:
        clauses.append(f"{column} < ?")
        after = date.fromisoformat(f.until) + timedelta(days=1)
        params.append(day_start(after, zone) if zone else after.isoformat())
    if f.kind:
        clauses.append(f"{kind} = ?")
        params.append(f.kind)
    if f.site:
        clauses.append(site if "?" in site else f"{site} = ?")
        params.append(f.site)
    return " AND ".join(clauses), params


STATION_AT_SITE = "{}.station_id IN (SELECT id FROM stations WHERE site_id = ?)"
"""A grant's site: its station's."""
MEMBER_AT_SITE = "{}.member_id IN (SELECT id FROM members WHERE site_id = ?)"
"""A level set on the pages: its member's site."""


class ReportsSqlite(SqliteBase):
    """Hours, energy, peer-teaching credit and machine use read from the roll-ups ingest keeps
    (central/sqlite/rollups.py); grants from their projection."""

    def hours_by_period(self, f: Filters) -> list[HoursRow]:
        w, params = where(f)
        n = PERIODS[f.period]
        return self._typed(
            # Aggregate first, then join the few groups to members.
            f"""WITH g AS (
                    SELECT substr(r.day, 1, {n}) AS period, r.member_id,
                           NULLIF(r.kind, '') AS kind, SUM(r.sessions) AS sessions,
                           SUM(r.seconds) AS seconds,
                           SUM(CASE WHEN r.supervisor_id != '' THEN r.sessions ELSE 0 END)
                               AS supervised_sessions,
                           SUM(r.energy_wh) AS wh
                    FROM rollups r WHERE {w} GROUP BY 1, 2, 3 HAVING SUM(r.sessions) > 0)
                SELECT g.period, g.member_id, COALESCE(m.name, g.member_id) AS name, g.kind,
                       g.sessions, ROUND(g.seconds / 3600.0, 2) AS hours, g.supervised_sessions,
                       ROUND(g.wh / 1000.0, 3) AS energy_kwh
                FROM g LEFT JOIN members m ON m.id = g.member_id
                WHERE COALESCE(m.role, 'trainee') = 'trainee'
                ORDER BY 1, 3, 4""",
            params,
        )

    def energy_by_trainee(self, f: Filters) -> list[TraineeEnergyRow]:
        w, params = where(f)
        return self._typed(
            f"""WITH g AS (
                    SELECT r.member_id, SUM(r.sessions) AS sessions, SUM(r.seconds) AS seconds,
                           SUM(r.energy_wh) AS wh, SUM(r.finishing_energy_wh) AS finishing_wh
                    FROM rollups r WHERE {w} GROUP BY 1 HAVING SUM(r.sessions) > 0)
                SELECT g.member_id, COALESCE(m.name, g.member_id) AS name, g.sessions,
                       ROUND(g.seconds / 3600.0, 2) AS hours,
                       ROUND(g.wh / 1000.0, 3) AS energy_kwh,
                       ROUND(g.finishing_wh / 1000.0, 3) AS finishing_energy_kwh
                FROM g LEFT JOIN members m ON m.id = g.member_id
                WHERE COALESCE(m.role, 'trainee') = 'trainee'
                ORDER BY g.wh DESC, name""",
            params,
        )

    def energy_by_member(self, f: Filters) -> dict[str, float]:
        w, params = where(f)
        rows = self._rows(
            f"""SELECT r.member_id, ROUND(SUM(r.energy_wh) / 1000.0, 3) AS kwh
                FROM rollups r WHERE {w} GROUP BY 1 HAVING SUM(r.sessions) > 0""",
            params,
        )
        return {r["member_id"]: r["kwh"] for r in rows}

    def mentor_credit(self, f: Filters) -> list[MentorRow]:
        w, params = where(f)
        gw, gparams = where(
            f, "g.granted_at", "g.kind", STATION_AT_SITE.format("g"), self.rollups_timezone()
        )
        return self._typed(
            f"""WITH sup AS (
                    SELECT r.supervisor_id AS mentor, SUM(r.sessions) AS sessions_supervised,
                           ROUND(SUM(r.seconds) / 3600.0, 2) AS hours_supervised
                    FROM rollups r WHERE {w} AND r.supervisor_id != '' GROUP BY 1
                    HAVING SUM(r.sessions) > 0),
                gr AS (
                    SELECT g.granted_by AS mentor, COUNT(*) AS grants_given
                    FROM grants g WHERE {gw} AND g.granted_by IS NOT NULL GROUP BY 1),
                who AS (SELECT mentor FROM sup UNION SELECT mentor FROM gr)
                SELECT who.mentor AS member_id, COALESCE(m.name, who.mentor) AS name,
                       COALESCE(sup.sessions_supervised, 0) AS sessions_supervised,
                       COALESCE(sup.hours_supervised, 0) AS hours_supervised,
                       COALESCE(gr.grants_given, 0) AS grants_given
                FROM who LEFT JOIN sup ON sup.mentor = who.mentor
                         LEFT JOIN gr ON gr.mentor = who.mentor
                         LEFT JOIN members m ON m.id = who.mentor
                ORDER BY grants_given DESC, sessions_supervised DESC, name""",
            [*params, *gparams],
        )

    def grants_at_machines(self, f: Filters, limit: int = 5000) -> list[LevelGiven]:
        w, params = where(
            f, "g.granted_at", "g.kind", STATION_AT_SITE.format("g"), self.rollups_timezone()
        )
        return self._typed(
            f"""SELECT g.granted_at, g.member_id, COALESCE(m.name, g.member_id) AS name, g.kind,
                       g.previous_level, g.level, g.granted_by,
                       COALESCE(b.name, g.granted_by) AS granted_by_name, g.station_id
                FROM grants g LEFT JOIN members m ON m.id = g.member_id
                              LEFT JOIN members b ON b.id = g.granted_by
                WHERE {w} ORDER BY g.granted_at DESC LIMIT ?""",
            [*params, limit],
        )

    def levels_set_on_pages(self, f: Filters, limit: int, *, except_by: str) -> list[LevelGiven]:
        w, params = where(f, "h.at", "h.kind", MEMBER_AT_SITE.format("h"), self.rollups_timezone())
        return self._typed(
            f"""SELECT h.at AS granted_at, h.member_id, COALESCE(m.name, h.member_id) AS name,
                       h.kind,
                       (SELECT p.level FROM qualification_history p
                        WHERE p.member_id = h.member_id AND p.kind = h.kind
                          AND (p.at < h.at OR (p.at = h.at AND p.rowid < h.rowid))
                        ORDER BY p.at DESC, p.rowid DESC LIMIT 1) AS previous_level,
                       h.level, h.granted_by, h.granted_by AS granted_by_name
                FROM qualification_history h LEFT JOIN members m ON m.id = h.member_id
                WHERE {w} AND h.granted_by IS NOT NULL
                  AND h.granted_by != ? AND h.level != 'none'
                  AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.member_id = h.member_id
                                  AND g.kind = h.kind AND g.granted_at = h.at)
                ORDER BY h.at DESC LIMIT ?""",
            [*params, except_by, limit],
        )

    def machine_use(self, f: Filters) -> list[MachineUseRow]:
        w, params = where(f)
        n = PERIODS[f.period]
        return self._typed(
            f"""SELECT substr(r.day, 1, {n}) AS period, r.station_id,
                       MIN(r.machine_id) AS machine_id, MIN(NULLIF(r.kind, '')) AS kind,
                       SUM(r.sessions) AS sessions,
                       ROUND(SUM(r.seconds) / 3600.0, 2) AS hours,
                       ROUND(SUM(r.energy_wh) / 1000.0, 3) AS energy_kwh
                FROM rollups r WHERE {w} GROUP BY 1, 2 HAVING SUM(r.sessions) > 0
                ORDER BY 1, 2""",
            params,
        )

    def supervision_pairs(self, f: Filters) -> list[SupervisionPair]:
        w, params = where(f)
        return self._typed(
            f"""SELECT r.member_id, r.supervisor_id, SUM(r.sessions) AS sessions,
                       ROUND(SUM(r.seconds) / 3600.0, 2) AS hours
                FROM rollups r WHERE {w} AND r.supervisor_id != '' GROUP BY 1, 2
                HAVING SUM(r.sessions) > 0""",
            params,
        )

    def member_roles(self) -> list[MemberRole]:
        return self._typed("SELECT id, name, role FROM members")
