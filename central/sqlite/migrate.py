"""``station-central migrate`` on SQLite: what is pending, then sqlite-utils applies it (each
migration in a transaction with its record, as every open of the store does)."""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database

from central.sqlite.migrations import migrations, open_central_database


def migrate_file(path: Path, *, dry_run: bool = False) -> tuple[list[str], list[str]]:
    """``(pending, applied)``: the migrations pending before, and all applied after."""
    path.parent.mkdir(parents=True, exist_ok=True)
    probe = Database(path)
    try:
        todo = [m.name for m in migrations.pending(probe)]
    finally:
        probe.close()
    if dry_run:
        return todo, []
    db = open_central_database(path)
    try:
        return todo, [m.name for m in migrations.applied(db)]
    finally:
        db.close()
