"""Reports on PostgreSQL: the shared queries of ``central/sqlite/reports.py`` run as they are
(the roll-ups' SQL is portable)."""

from __future__ import annotations

from central.pg.base import PgBase
from central.sqlite.reports import ReportsSqlite


class ReportsPg(PgBase, ReportsSqlite):
    pass
