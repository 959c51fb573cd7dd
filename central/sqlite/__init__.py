"""The central store on SQLite: one file, one connection per thread, one module per concern.

:class:`SqliteCentralStore` implements :class:`central.store.CentralStore` by putting the
concerns together: ``stations``, ``ingest`` (with ``alerts``), ``roster``, ``commands``,
``accounts``, ``reports``, ``progress``, ``privacy``, ``credentials``, ``quizzes``; ``base``
holds the connection and the write transaction, ``migrations`` the schema. A new query goes in
the concern's module here and in the concern's protocol in ``central/store.py`` (and so in every
other backend).
"""

from __future__ import annotations

from central.sqlite.accounts import AccountsSqlite
from central.sqlite.changes import ChangesSqlite
from central.sqlite.commands import CommandsSqlite
from central.sqlite.credentials import CredentialsSqlite
from central.sqlite.ingest import IngestSqlite
from central.sqlite.logins import LoginsSqlite
from central.sqlite.migrations import migrations, open_central_database
from central.sqlite.privacy import PrivacySqlite
from central.sqlite.progress import ProgressSqlite
from central.sqlite.quizzes import QuizzesSqlite
from central.sqlite.reports import ReportsSqlite
from central.sqlite.rollups import RollupsSqlite
from central.sqlite.roster import RosterSqlite
from central.sqlite.sites import SitesSqlite
from central.sqlite.stations import StationsSqlite
from central.store import CentralStore

__all__ = ["SqliteCentralStore", "migrations", "open_central_database"]


class SqliteCentralStore(
    StationsSqlite,
    IngestSqlite,
    RosterSqlite,
    CommandsSqlite,
    AccountsSqlite,
    LoginsSqlite,
    ChangesSqlite,
    ReportsSqlite,
    SitesSqlite,
    RollupsSqlite,
    ProgressSqlite,
    PrivacySqlite,
    CredentialsSqlite,
    QuizzesSqlite,
):
    """The default backend: one SQLite file, one connection per thread."""


def _implements(store: SqliteCentralStore) -> CentralStore:
    """mypy checks here that the SQLite store implements every method of the protocol."""
    return store
