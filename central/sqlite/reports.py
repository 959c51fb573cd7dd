"""The reports' queries: aggregates over the ``sessions`` and ``grants`` projections, never the
raw events, so that they stay fast over millions of events (docs/benchmarks.md)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

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


def where(f: Filters, column: str = "s.started_at", kind: str = "s.kind") -> tuple[str, list[Any]]:
    """The filters as a WHERE clause on ``column`` (the time) and ``kind``; ``until`` included."""
    clauses, params = ["1 = 1"], []
    if f.since:
        clauses.append(f"{column} >= ?")
        params.append(f.since)
    if f.until:
        clauses.append(f"{column} < ?")
        params.append((date.fromisoformat(f.until) + timedelta(days=1)).isoformat())
    if f.kind:
        clauses.append(f"{kind} = ?")
        params.append(f.kind)
    return " AND ".join(clauses), params


class ReportsSqlite(SqliteBase):
    """Hours, energy, peer-teaching credit, grants and machine use for the reports."""

    def hours_by_period(self, f: Filters) -> list[HoursRow]:
        w, params = where(f)
        n = PERIODS[f.period]
        return self._typed(
            # Aggregate first, then join the few groups to members: joining every session first
            # costs three times as much over 100,000 sessions.
            f"""WITH g AS (
                    SELECT substr(s.started_at, 1, {n}) AS period, s.member_id, s.kind,
                           COUNT(*) AS sessions, SUM(COALESCE(s.duration_s, 0)) AS seconds,
                           SUM(s.supervisor_id IS NOT NULL) AS supervised_sessions,
                           SUM(COALESCE(s.energy_wh, 0)) AS wh
                    FROM sessions s WHERE {w} GROUP BY 1, 2, 3)
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
                    SELECT s.member_id, COUNT(*) AS sessions,
                           SUM(COALESCE(s.duration_s, 0)) AS seconds,
                           SUM(COALESCE(s.energy_wh, 0)) AS wh,
                           SUM(COALESCE(s.finishing_energy_wh, 0)) AS finishing_wh
                    FROM sessions s WHERE {w} GROUP BY 1)
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
            f"""SELECT s.member_id, ROUND(SUM(COALESCE(s.energy_wh, 0)) / 1000.0, 3) AS kwh
                FROM sessions s WHERE {w} GROUP BY 1""",
            params,
        )
        return {r["member_id"]: r["kwh"] for r in rows}

    def mentor_credit(self, f: Filters) -> list[MentorRow]:
        w, params = where(f)
        gw, gparams = where(f, "g.granted_at", "g.kind")
        return self._typed(
            f"""WITH sup AS (
                    SELECT s.supervisor_id AS mentor, COUNT(*) AS sessions_supervised,
                           ROUND(SUM(COALESCE(s.duration_s, 0)) / 3600.0, 2) AS hours_supervised
                    FROM sessions s WHERE {w} AND s.supervisor_id IS NOT NULL GROUP BY 1),
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
        w, params = where(f, "g.granted_at", "g.kind")
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
        w, params = where(f, "h.at", "h.kind")
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
            f"""SELECT substr(s.started_at, 1, {n}) AS period, s.station_id,
                       COALESCE(s.machine_id, s.station_id) AS machine_id, s.kind,
                       COUNT(*) AS sessions,
                       ROUND(SUM(COALESCE(s.duration_s, 0)) / 3600.0, 2) AS hours,
                       ROUND(SUM(COALESCE(s.energy_wh, 0)) / 1000.0, 3) AS energy_kwh
                FROM sessions s WHERE {w} GROUP BY 1, 2 ORDER BY 1, 2""",
            params,
        )

    def supervision_pairs(self, f: Filters) -> list[SupervisionPair]:
        w, params = where(f)
        return self._typed(
            f"""SELECT s.member_id, s.supervisor_id, COUNT(*) AS sessions,
                       ROUND(SUM(COALESCE(s.duration_s, 0)) / 3600.0, 2) AS hours
                FROM sessions s WHERE {w} AND s.supervisor_id IS NOT NULL GROUP BY 1, 2""",
            params,
        )

    def member_roles(self) -> list[MemberRole]:
        return self._typed("SELECT id, name, role FROM members")
