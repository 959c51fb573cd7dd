"""Backups of a SQLite central store: SQLite's online backup (consistent while it runs)."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

from central.errors import CentralError


def backup_file(db_path: Path, target: Path) -> Path:
    if not db_path.exists():
        raise CentralError(f"no central store at {db_path}: nothing to back up")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with closing(sqlite3.connect(db_path)) as src, closing(sqlite3.connect(partial)) as dst:
        src.backup(dst)
    partial.replace(target)
    return target


def restore_file(source: Path, db_path: Path) -> None:
    """Put a backup in place of a store that does not exist (stop the service first)."""
    if not source.is_file():
        raise CentralError(f"{source}: no such backup file")
    if db_path.exists():
        raise CentralError(
            f"{db_path} exists: stop the central store and move it aside before a restore"
        )
    with closing(sqlite3.connect(source)) as conn:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise CentralError(f"{source} is damaged (integrity_check): take an older backup")
    db_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, db_path)
