"""Reports for educators and funders, from the projections ingest keeps (sessions, grants).

Hours of practice per trainee, per machine kind and per period; qualifications earned and who
trained whom (peer-teaching credit); energy and occupancy per machine. Each report is a list of
plain rows (the page draws a chart from them, the CSV export writes them). A trainee's progress
is in ``central/progress.py``, the funders' report in ``central/programme.py``.

The queries read the ``sessions`` and ``grants`` tables, never the raw events, so they stay fast
over millions of events (docs/benchmarks.md, "Central store"). Times are the repaired ones.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from central.errors import BadRequest
from central.store import SqliteCentralStore
from station.roster import csv_cell

PERIODS = {"day": 10, "month": 7, "year": 4}
"""Period → length of the ISO date prefix that names it (``2026-03-02``, ``2026-03``, ``2026``)."""


@dataclass(frozen=True)
class Filters:
    since: str | None = None
    until: str | None = None
    kind: str | None = None
    period: str = "month"

    @classmethod
    def parse(cls, args: Any) -> Filters:
        """From query arguments; a bad one is :class:`BadRequest` naming it."""
        since, until = args.get("since") or None, args.get("until") or None
        for name, value in (("since", since), ("until", until)):
            if value is not None:
                try:
                    date.fromisoformat(value)
                except ValueError:
                    raise BadRequest(f"{name} must be a date, e.g. 2026-03-01", name) from None
        period = args.get("period") or "month"
        if period not in PERIODS:
            raise BadRequest(f"period must be one of {', '.join(PERIODS)}", "period")
        kind = args.get("kind") or None
        if kind is not None and (len(kind) > 40 or not kind.replace("_", "").isalnum()):
            raise BadRequest("kind must be a machine kind such as laser", "kind")
        return cls(since, until, kind, period)

    def where(self, column: str = "s.started_at") -> tuple[str, list[Any]]:
        clauses, params = ["1 = 1"], []
        if self.since:
            clauses.append(f"{column} >= ?")
            params.append(self.since)
        if self.until:
            clauses.append(f"{column} < ?")
            params.append((date.fromisoformat(self.until) + timedelta(days=1)).isoformat())
        if self.kind:
            clauses.append("s.kind = ?")
            params.append(self.kind)
        return " AND ".join(clauses), params


def _rows(store: SqliteCentralStore, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = store.db.conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def hours(store: SqliteCentralStore, f: Filters) -> list[dict[str, Any]]:
    """Hours of practice and energy per trainee, kind and period (supervised sessions count for
    the trainee; the supervisor's credit is in :func:`mentors`). A session's hours and energy
    are the whole job's: a print that ran on after badge-out counts in full (``finishing``)."""
    where, params = f.where()
    n = PERIODS[f.period]
    return _rows(
        store,
        # Aggregate first, then join the few groups to members: joining every session first
        # costs three times as much over 100,000 sessions.
        f"""WITH g AS (
                SELECT substr(s.started_at, 1, {n}) AS period, s.member_id, s.kind,
                       COUNT(*) AS sessions, SUM(COALESCE(s.duration_s, 0)) AS seconds,
                       SUM(s.supervisor_id IS NOT NULL) AS supervised_sessions,
                       SUM(COALESCE(s.energy_wh, 0)) AS wh
                FROM sessions s WHERE {where} GROUP BY 1, 2, 3)
            SELECT g.period, g.member_id, COALESCE(m.name, g.member_id) AS name, g.kind,
                   g.sessions, ROUND(g.seconds / 3600.0, 2) AS hours, g.supervised_sessions,
                   ROUND(g.wh / 1000.0, 3) AS energy_kwh
            FROM g LEFT JOIN members m ON m.id = g.member_id
            WHERE COALESCE(m.role, 'trainee') = 'trainee'
            ORDER BY 1, 3, 4""",
        params,
    )


def energy_per_trainee(store: SqliteCentralStore, f: Filters) -> list[dict[str, Any]]:
    """Per trainee over the filters: sessions, hours and energy of their whole jobs (finishing
    included), the most first: what each trainee's making cost the fablab."""
    where, params = f.where()
    return _rows(
        store,
        f"""WITH g AS (
                SELECT s.member_id, COUNT(*) AS sessions,
                       SUM(COALESCE(s.duration_s, 0)) AS seconds,
                       SUM(COALESCE(s.energy_wh, 0)) AS wh,
                       SUM(COALESCE(s.finishing_energy_wh, 0)) AS finishing_wh
                FROM sessions s WHERE {where} GROUP BY 1)
            SELECT g.member_id, COALESCE(m.name, g.member_id) AS name, g.sessions,
                   ROUND(g.seconds / 3600.0, 2) AS hours,
                   ROUND(g.wh / 1000.0, 3) AS energy_kwh,
                   ROUND(g.finishing_wh / 1000.0, 3) AS finishing_energy_kwh
            FROM g LEFT JOIN members m ON m.id = g.member_id
            WHERE COALESCE(m.role, 'trainee') = 'trainee'
            ORDER BY g.wh DESC, name""",
        params,
    )


def mentors(store: SqliteCentralStore, f: Filters) -> list[dict[str, Any]]:
    """Peer-teaching credit: per mentor, sessions supervised (and their hours) and grants given."""
    where, params = f.where()
    gwhere, gparams = f.where("g.granted_at")
    gwhere = gwhere.replace("s.kind", "g.kind")
    return _rows(
        store,
        f"""WITH sup AS (
                SELECT s.supervisor_id AS mentor, COUNT(*) AS sessions_supervised,
                       ROUND(SUM(COALESCE(s.duration_s, 0)) / 3600.0, 2) AS hours_supervised
                FROM sessions s WHERE {where} AND s.supervisor_id IS NOT NULL GROUP BY 1),
            gr AS (
                SELECT g.granted_by AS mentor, COUNT(*) AS grants_given
                FROM grants g WHERE {gwhere} AND g.granted_by IS NOT NULL GROUP BY 1),
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


def grants(store: SqliteCentralStore, f: Filters) -> list[dict[str, Any]]:
    """Qualifications earned at the machines: who, which kind and level, granted by whom."""
    where, params = f.where("g.granted_at")
    where = where.replace("s.kind", "g.kind")
    return _rows(
        store,
        f"""SELECT g.granted_at, g.member_id, COALESCE(m.name, g.member_id) AS name, g.kind,
                   g.previous_level, g.level, g.granted_by,
                   COALESCE(b.name, g.granted_by) AS granted_by_name, g.station_id
            FROM grants g LEFT JOIN members m ON m.id = g.member_id
                          LEFT JOIN members b ON b.id = g.granted_by
            WHERE {where} ORDER BY g.granted_at DESC LIMIT 5000""",
        params,
    )


def machines(store: SqliteCentralStore, f: Filters) -> list[dict[str, Any]]:
    """Energy and occupancy per machine and period. Occupancy is the share of the period's
    hours the machine was in a session (24 h a day: the fablab's own opening hours vary)."""
    where, params = f.where()
    n = PERIODS[f.period]
    rows = _rows(
        store,
        f"""SELECT substr(s.started_at, 1, {n}) AS period, s.station_id,
                   COALESCE(s.machine_id, s.station_id) AS machine_id, s.kind,
                   COUNT(*) AS sessions,
                   ROUND(SUM(COALESCE(s.duration_s, 0)) / 3600.0, 2) AS hours,
                   ROUND(SUM(COALESCE(s.energy_wh, 0)) / 1000.0, 3) AS energy_kwh
            FROM sessions s WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2""",
        params,
    )
    for r in rows:
        r["occupancy_pct"] = round(100.0 * r["hours"] / _period_hours(r["period"]), 2)
    return rows


def _period_hours(period: str) -> float:
    try:
        if len(period) == 10:
            return 24.0
        if len(period) == 7:
            first = datetime.strptime(period + "-01", "%Y-%m-%d")
            nxt = (first + timedelta(days=32)).replace(day=1)
            return (nxt - first).days * 24.0
        if len(period) == 4:
            year = int(period)
            return (date(year + 1, 1, 1) - date(year, 1, 1)).days * 24.0
    except ValueError:
        pass
    return 24.0


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    if not rows:
        return ""
    w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows({k: csv_cell(v) for k, v in r.items()} for r in rows)
    return out.getvalue()


def today() -> date:
    return datetime.now(UTC).date()
