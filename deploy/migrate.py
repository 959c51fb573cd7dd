"""Back up a station's SQLite store, then bring its schema up to date.

Run by ``deploy.sh upgrade`` with the installed venv's Python, as the ``station`` user, while the
service is stopped:

    migrate.py --config /etc/fabrique-station/station.toml \
        --backup-dir /var/lib/fabrique-station/backups

The backup uses SQLite's online backup API, so it is consistent even with a WAL file beside the
database. Opening the store applies every pending ``sqlite_utils`` migration, each in a
transaction (see station/store.py).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path


def backup(db_path: Path, backup_dir: Path) -> Path:
    backup_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = backup_dir / f"{db_path.stem}-{stamp}.sqlite"
    src = sqlite3.connect(db_path)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--backup-dir", required=True)
    args = parser.parse_args(argv)

    from station.config import load_config
    from station.errors import StationError
    from station.store import open_database

    try:
        config = load_config(args.config)
    except StationError as e:
        print(f"migrate: {e}", file=sys.stderr)
        return 2
    db_path = config.db_path
    if db_path.exists():
        print(f"migrate: backup of {db_path} in {backup(db_path, Path(args.backup_dir))}")
    else:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    open_database(db_path).close()
    print(f"migrate: {db_path} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
