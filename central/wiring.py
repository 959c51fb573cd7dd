"""The central store's storage, chosen by name from config (like ``station/wiring.py``).

``[storage] backend = "sqlite"`` is the embedded default; ``"postgresql"`` imports the driver
adapter (``adapters/postgresql.py``, the one module that imports psycopg) by name here, so that
``central/`` never imports a driver and a SQLite install never needs psycopg.
"""

from __future__ import annotations

import importlib
from typing import Any

from central.config import CentralConfig
from central.errors import CentralConfigError
from central.pg.db import Database

DRIVERS = {"postgresql": "adapters.postgresql"}


def open_database(config: CentralConfig) -> Database:
    """A connection pool on ``[storage] dsn`` (``postgresql`` only), checked now: a wrong DSN or
    a server down is a :class:`StorageUnavailable` naming the server, never the password."""
    if config.storage.backend not in DRIVERS:
        raise CentralConfigError(
            f"{config.path}: storage.backend = {config.storage.backend!r} has no database "
            'server; this needs backend = "postgresql"'
        )
    try:
        module: Any = importlib.import_module(DRIVERS[config.storage.backend])
    except ImportError as e:
        raise CentralConfigError(
            f'{config.path}: storage.backend = "postgresql" needs psycopg ({e.name} is '
            "missing): pip install 'fabrique-station[postgresql]' (deploy.sh install-central "
            "--postgresql does it)"
        ) from None
    db: Database = module.open_database(
        config.storage.dsn, config.db_password(), pool_size=config.storage.pool_size
    )
    return db


def migrate(config: CentralConfig, *, dry_run: bool = False) -> tuple[list[str], list[str]]:
    """Apply (or with ``dry_run`` only list) the pending migrations: ``(pending, applied)``."""
    if config.storage.backend == "sqlite":
        return _migrate_sqlite(config, dry_run=dry_run)
    from central.pg import migrations

    db = open_database(config)
    try:
        todo = migrations.pending(db)
        done = [] if dry_run else migrations.migrate(db)
        return todo, migrations.applied(db) if not dry_run else done
    finally:
        db.close()


def _migrate_sqlite(config: CentralConfig, *, dry_run: bool) -> tuple[list[str], list[str]]:
    from sqlite_utils import Database as SqliteDatabase

    from central.store import migrations, open_central_database

    config.db_path.parent.mkdir(parents=True, exist_ok=True)
    probe = SqliteDatabase(config.db_path)
    try:
        todo = [m.name for m in migrations.pending(probe)]
    finally:
        probe.close()
    if dry_run:
        return todo, []
    db = open_central_database(config.db_path)  # applies them, each in a transaction
    try:
        return todo, [m.name for m in migrations.applied(db)]
    finally:
        db.close()
