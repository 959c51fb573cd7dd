"""PostgreSQL for the tests: a database of its own per test run, a schema of its own per test.

The server is the one on 127.0.0.1:5432 with trust authentication (CI and the development
machines; ``FABRIQUE_TEST_PG`` names another admin DSN). The run creates
``fabrique_test_<random>`` and drops it at the end; each test gets a fresh schema in it (a DSN
whose ``search_path`` is that schema), which is much faster than a database per test.

Without a server the PostgreSQL tests skip, saying why and how to run them; with ``CI=true``
they fail instead: CI must never pass by skipping the backend it is meant to test.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from typing import Any, NoReturn
from urllib.parse import quote

import pytest

ADMIN_DSN = os.environ.get("FABRIQUE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
HOW = (
    "to run them, start PostgreSQL on 127.0.0.1:5432 with trust authentication for local TCP "
    "(Debian: sudo apt-get install postgresql, then see docs/install.md, 'Tests'), or set "
    "FABRIQUE_TEST_PG to a DSN of a user allowed to CREATE DATABASE"
)
_schemas = itertools.count(1)


def unavailable(reason: str) -> NoReturn:
    """Skip on a laptop; fail in CI."""
    message = f"PostgreSQL tests: {reason}; {HOW}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: a missing server is a failure, not a skip)")
    pytest.skip(message)


def with_database(dsn: str, name: str) -> str:
    base = dsn.split("?", 1)[0].rsplit("/", 1)[0]
    return f"{base}/{name}"


def with_schema(dsn: str, schema: str) -> str:
    # synchronous_commit=off: a test's commits need not wait for the disk (about 10 ms each).
    return f"{dsn}?options={quote(f'-csearch_path={schema} -csynchronous_commit=off')}"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """The DSN of this run's own database, dropped when the run ends."""
    try:
        import psycopg
    except ImportError:
        unavailable("psycopg is not installed (pip install -e '.[dev]')")
    try:
        admin = psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        unavailable(f"no server answers at {ADMIN_DSN} ({str(e).strip().splitlines()[0]})")
    name = f"fabrique_test_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f"CREATE DATABASE {name}")
        try:
            yield with_database(ADMIN_DSN, name)
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_dsn(pg_database: str) -> Iterator[str]:
    """A DSN on a fresh, empty schema of this run's database (not migrated)."""
    import psycopg

    schema = f"t{next(_schemas)}_{secrets.token_hex(3)}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield with_schema(pg_database, schema)
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(scope="session")
def pg_shared_schema(pg_database: str) -> str:
    """A schema migrated once for the run (migrating costs about half a second)."""
    import psycopg

    from adapters.postgresql import open_database
    from central.pg.migrations import migrate

    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA stores")
    dsn = with_schema(pg_database, "stores")
    db = open_database(dsn, None, pool_size=1)
    try:
        migrate(db)
    finally:
        db.close()
    return dsn


@pytest.fixture
def pg_store_dsn(pg_shared_schema: str) -> str:
    """A DSN on the run's migrated schema, emptied for this test (DELETE: much faster than a
    new schema or TRUNCATE on a slow disk)."""
    import psycopg

    with psycopg.connect(pg_shared_schema) as conn:
        tables = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'stores' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
            "AND c.relname != 'schema_migrations'"
        ).fetchall()
        for (table,) in tables:
            conn.execute(f'DELETE FROM "{table}"')
        # What the migrations write, as a freshly migrated store holds it.
        conn.execute(
            "INSERT INTO stores.sites (id, name, created_at) "
            "VALUES ('default', 'Fablab', '2026-01-01T00:00:00.000Z')"
        )
    return pg_shared_schema


@pytest.fixture
def pg_db(pg_dsn: str) -> Iterator[Any]:
    """A pool (``central.pg.db.Database``) on a fresh schema, migrated."""
    from adapters.postgresql import open_database
    from central.pg.migrations import migrate

    db = open_database(pg_dsn, None, pool_size=4)
    migrate(db)
    yield db
    db.close()
