"""Reports on PostgreSQL: the shared queries (``central/sqlite/reports.py``) but one, whose
GROUP BY leans on SQLite's bare columns."""

from __future__ import annotations

from central.pg.base import PgBase
from central.sqlite.reports import ReportsSqlite, where
from central.store import PERIODS, Filters, MachineUseRow


class ReportsPg(PgBase, ReportsSqlite):
    def machine_use(self, f: Filters) -> list[MachineUseRow]:
        w, params = where(f)
        n = PERIODS[f.period]
        return self._typed(
            f"""SELECT substr(s.started_at, 1, {n}) AS period, s.station_id,
                       MIN(COALESCE(s.machine_id, s.station_id)) AS machine_id,
                       MIN(s.kind) AS kind,
                       COUNT(*) AS sessions,
                       ROUND(SUM(COALESCE(s.duration_s, 0)) / 3600.0, 2) AS hours,
                       ROUND(SUM(COALESCE(s.energy_wh, 0)) / 1000.0, 3) AS energy_kwh
                FROM sessions s WHERE {w} GROUP BY 1, 2 ORDER BY 1, 2""",
            params,
        )
