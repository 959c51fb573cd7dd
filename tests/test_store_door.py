"""The central store's interface is the only door (issue 12): no SQL and no private member of a
store outside its implementation (``central/sqlite/``), and the implementation has every method
of the protocol. A PostgreSQL backend (issue 13) goes in beside ``central/sqlite/``."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from central import store as protocol
from central.sqlite import SqliteCentralStore

ROOT = Path(__file__).resolve().parent.parent
IMPLEMENTATIONS = ("central/sqlite/", "central/pg/")
"""Where SQL may be written: the storage implementations, one package per backend."""

SQL = re.compile(
    r"\b(SELECT\s+\S.*\bFROM\b|SELECT\s+\d|INSERT\s+(OR\s+\w+\s+)?INTO\b|UPDATE\s+\w+\s+SET\b"
    r"|DELETE\s+FROM\b|(CREATE|DROP|ALTER)\s+(TABLE|INDEX|TRIGGER|VIEW)\b|\bPRAGMA\s+\w)"
)
PRIVATE = re.compile(
    r"\bstore(\(\))?\.(_\w+|db\b)|\.db\.(conn|execute)\b|\b_transaction\(|\bsqlite_utils\b"
)
"""A store's private members, its connection, or the SQLite toolkit."""
DRIVER = re.compile(r"^\s*(import|from)\s+(sqlite3|sqlite_utils|psycopg\w*)\b")
"""A database driver: only the implementation imports one (the pages catch
``store.database_errors``)."""


def _users() -> list[Path]:
    """Every module that reaches the central store through its door: central/ and the central
    web app's pages (``web/central/``)."""
    files = sorted((ROOT / "central").rglob("*.py"))
    files += sorted((ROOT / "web" / "central").rglob("*.py"))
    return [
        f
        for f in files
        if not any(f.relative_to(ROOT).as_posix().startswith(i) for i in IMPLEMENTATIONS)
    ]


def offences(path: Path) -> list[str]:
    """``file:line: what`` for each line with SQL or a private store member."""
    out = []
    rel = path.relative_to(ROOT).as_posix()
    for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if SQL.search(line):
            out.append(f"{rel}:{n}: SQL outside the store's implementation: {line.strip()}")
        if PRIVATE.search(line):
            out.append(f"{rel}:{n}: a private member of the store: {line.strip()}")
        if DRIVER.search(line):
            out.append(f"{rel}:{n}: a database driver outside the store: {line.strip()}")
    return out


def test_no_sql_or_private_store_member_outside_the_implementation() -> None:
    users = _users()
    assert any(p.name == "reports.py" for p in users)  # the scan sees the modules it guards
    found = [o for p in users for o in offences(p)]
    assert found == [], (
        "The central store is reached through central/store.py's CentralStore only: move these "
        "into a method of the concern's protocol and of central/sqlite/<concern>.py:\n"
        + "\n".join(found)
    )


def test_the_scan_finds_sql_and_private_members(tmp_path: Path) -> None:
    """The patterns catch what the modules used to do before the door was real."""
    lines = [
        'rows = store.db.conn.execute("SELECT id, name FROM members", [])',
        "with store._transaction() as conn:",
        '    conn.execute("UPDATE members SET name = ? WHERE id = ?", (n, i))',
        'conn.execute("DELETE FROM badges WHERE uid = ?", (uid,))',
        'conn.execute("INSERT OR IGNORE INTO alerts (kind) VALUES (?)", (k,))',
        "return store._rows(sql)",
        "import sqlite3",
    ]
    fake = ROOT / "central" / "_door_probe.py"
    try:
        fake.write_text("\n".join(lines) + "\n", "utf-8")
        found = offences(fake)
    finally:
        fake.unlink()
    assert [o.split(":")[1] for o in found] == ["1", "1", "2", "3", "4", "5", "6", "7"]
    assert all(o.startswith("central/_door_probe.py:") for o in found)


def test_the_sqlite_store_has_every_method_of_the_protocol() -> None:
    wanted = {
        name
        for name, _ in inspect.getmembers(protocol.CentralStore, inspect.isfunction)
        if not name.startswith("_")
    }
    assert len(wanted) > 50  # every concern's methods, not an empty protocol
    missing = sorted(n for n in wanted if not callable(getattr(SqliteCentralStore, n, None)))
    assert missing == []
