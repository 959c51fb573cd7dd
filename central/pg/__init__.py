"""The central store on PostgreSQL: a network of fablabs, several central processes.

:class:`PgCentralStore` implements :class:`central.store.CentralStore` with the concerns'
classes of ``central/sqlite/`` on :class:`central.pg.base.PgBase` (their SQL is shared; the
statements PostgreSQL spells otherwise are overridden in ``central/pg/<concern>.py``), written
against the small driver protocols of :mod:`central.pg.db`. ``adapters/postgresql.py`` implements
those with psycopg — the one module that imports it.
"""

from __future__ import annotations

from central.pg.ingest import IngestPg
from central.pg.reports import ReportsPg
from central.sqlite.accounts import AccountsSqlite
from central.sqlite.commands import CommandsSqlite
from central.sqlite.credentials import CredentialsSqlite
from central.sqlite.logins import LoginsSqlite
from central.sqlite.privacy import PrivacySqlite
from central.sqlite.progress import ProgressSqlite
from central.sqlite.quizzes import QuizzesSqlite
from central.sqlite.rollups import RollupsSqlite
from central.sqlite.roster import RosterSqlite
from central.sqlite.sites import SitesSqlite
from central.sqlite.stations import StationsSqlite
from central.store import CentralStore

__all__ = ["PgCentralStore"]


class PgCentralStore(
    IngestPg,
    ReportsPg,
    StationsSqlite,
    RosterSqlite,
    CommandsSqlite,
    AccountsSqlite,
    LoginsSqlite,
    ProgressSqlite,
    PrivacySqlite,
    SitesSqlite,
    RollupsSqlite,
    CredentialsSqlite,
    QuizzesSqlite,
):
    """A network's central store: one PostgreSQL database, any number of central processes."""


def _implements(store: PgCentralStore) -> CentralStore:
    """mypy checks here that the PostgreSQL store implements every method of the protocol."""
    return store
