"""The central store's storage, chosen by name from config (like ``station/wiring.py``).

``[storage] backend = "sqlite"`` is the embedded default; ``"postgresql"`` imports the driver
adapter (``adapters/postgresql.py``, the one module that imports psycopg) by name here, so that
``central/`` never imports a driver and a SQLite install never needs psycopg.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from central.config import CentralConfig
from central.errors import CentralConfigError
from central.pg.db import Database
from central.sites import DEFAULT_SITE
from central.store import CentralStore

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


def open_store(config: CentralConfig) -> CentralStore:
    """The configured backend's store, its schema migrated (errors show at start), its
    default site named by ``[site] name``, its reports' days in ``[site] timezone`` (the
    roll-ups rebuilt when the zone changed)."""
    store = _open_backend(config)
    try:
        name_default_site(store, config.site.name)
        store.set_rollups_timezone(config.site.timezone)
    except BaseException:
        store.close()
        raise
    return store


def name_default_site(store: CentralStore, name: str) -> None:
    """``[site] name`` names the default site (written only when it differs)."""
    if name and all(s["name"] != name for s in store.sites() if s["id"] == DEFAULT_SITE):
        store.add_site(DEFAULT_SITE, name)


def _open_backend(config: CentralConfig) -> CentralStore:
    window = config.sync.badge_two_stations_s
    if config.storage.backend == "sqlite":
        from central.sqlite import SqliteCentralStore

        return SqliteCentralStore(config.db_path, two_stations_window_s=window)
    from central.pg import PgCentralStore

    db = open_database(config)
    try:
        return PgCentralStore(db, two_stations_window_s=window)
    except BaseException:
        db.close()
        raise


def migrate(config: CentralConfig, *, dry_run: bool = False) -> tuple[list[str], list[str]]:
    """Apply (or with ``dry_run`` only list) the pending migrations: ``(pending, applied)``."""
    if config.storage.backend == "sqlite":
        return _migrate_sqlite(config, dry_run=dry_run)
    from central.pg import migrations

    db = open_database(config)
    try:
        todo = migrations.pending(db)
        if dry_run:
            return todo, []
        migrations.migrate(db)
        return todo, migrations.applied(db)
    finally:
        db.close()


def _migrate_sqlite(config: CentralConfig, *, dry_run: bool) -> tuple[list[str], list[str]]:
    from central.sqlite.migrate import migrate_file

    return migrate_file(config.db_path, dry_run=dry_run)


def backup(config: CentralConfig, target: Path | None = None) -> Path:
    """A consistent copy of the store: ``pg_dump`` (custom format) or SQLite's online backup,
    by default in ``<data_dir>/backups/`` with the date and time in its name."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    if config.storage.backend == "sqlite":
        from central.sqlite.backup import backup_file

        return backup_file(
            config.db_path, target or config.data_path / "backups" / f"central-{stamp}.sqlite"
        )
    from central.pg.backup import backup as pg_backup

    target = target or config.data_path / "backups" / f"central-{stamp}.dump"
    return pg_backup(config.storage.dsn, config.db_password(), target)


def restore(config: CentralConfig, source: Path) -> None:
    """A backup into a store that holds nothing yet (a new server, an emptied database)."""
    if config.storage.backend == "sqlite":
        from central.sqlite.backup import restore_file

        restore_file(source, config.db_path)
        return
    from central.pg.backup import restore as pg_restore

    pg_restore(config.storage.dsn, config.db_password(), source)


def move_to_postgresql(source: CentralConfig, target: CentralConfig) -> dict[str, int]:
    """Every row of ``source``'s SQLite store into ``target``'s empty PostgreSQL one, in one
    transaction, counts checked table by table (stop the central store first)."""
    if source.storage.backend != "sqlite" or target.storage.backend != "postgresql":
        raise CentralConfigError(
            f"migrate-to-postgresql moves a sqlite store ({source.path}: storage.backend = "
            f"{source.storage.backend!r}) into a postgresql one ({target.path}: "
            f"storage.backend = {target.storage.backend!r})"
        )
    from central.pg.load import load
    from central.sqlite.dump import SqliteDump

    try:
        dump = SqliteDump(source.db_path)
    except FileNotFoundError as e:
        raise CentralConfigError(f"{source.path}: {e}") from None
    try:
        db = open_database(target)
        try:
            return load(db, dump)
        finally:
            db.close()
    finally:
        dump.close()
