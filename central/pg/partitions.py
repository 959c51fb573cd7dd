"""Events partitioned by the month the central store received them.

A month is one table (``events_2026_12``): reports over a period and the removal of old months
touch only their partitions, and a month's indexes stay the size of a month. The partition key is
``received_at`` (the central store's clock), not ``at``: a station without NTP may stamp 1970.
A ``DEFAULT`` partition catches anything no month table covers, so an insert never fails for
want of a partition; :func:`ensure_months` creates the current and next month's tables ahead
(at start and on the first ingest of each month), in a transaction of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from central.pg.db import Connection, Database

LOCK_KEY = 7_041_977_014
"""``pg_advisory_xact_lock`` key: one process creates a month's table at a time."""
_MONTH = re.compile(r"^(\d{4})-(\d{2})")


def month_of(at: str) -> str:
    """``2026-12`` of an ISO time."""
    m = _MONTH.match(at)
    if m is None:
        raise ValueError(f"not an ISO time: {at!r}")
    return f"{m.group(1)}-{m.group(2)}"


def next_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"


def table_name(month: str) -> str:
    return "events_" + month.replace("-", "_")


def ensure_partition(conn: Connection, month: str) -> bool:
    """Create ``month``'s table unless it exists; True if created. Rows of that month already
    in the default partition (a month that was never prepared) stay there: moving them would
    lock ingest for the whole move."""
    name = table_name(month)
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
    if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()[0] is not None:
        return False
    lo, hi = month, next_month(month)
    if conn.execute(
        "SELECT 1 FROM events_default WHERE received_at >= %s AND received_at < %s LIMIT 1",
        (lo, hi),
    ).fetchone():
        return False
    conn.execute(f"CREATE TABLE {name} PARTITION OF events FOR VALUES FROM ('{lo}') TO ('{hi}')")
    return True


def ensure_months(db: Database, months: Iterable[str]) -> list[str]:
    """Create the tables of these months (``2026-12``) that do not exist; return the created."""
    created = []
    for month in sorted(set(months)):
        if not _MONTH.fullmatch(month):
            raise ValueError(f"not a month: {month!r}")
        with db.transaction() as conn:
            if ensure_partition(conn, month):
                created.append(month)
    return created


def partitions(db: Database) -> list[tuple[str, int]]:
    """Each partition of ``events`` with its row count, oldest first (``default`` last)."""
    with db.transaction() as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = to_regclass('events') ORDER BY c.relname"
            ).fetchall()
        ]
        return [(n, int(conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0])) for n in names]
