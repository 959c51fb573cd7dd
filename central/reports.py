"""Reports for educators and funders, from the projections ingest keeps (sessions, grants).

Hours of practice per trainee, per machine kind and per period; qualifications earned and who
trained whom (peer-teaching credit); energy and occupancy per machine. Each report is a list of
plain rows (the page draws a chart from them, the CSV export writes them). A trainee's progress
is in ``central/progress.py``, the funders' report in ``central/programme.py``.

The queries read the ``sessions`` and ``grants`` tables, never the raw events, so they stay fast
over millions of events (docs/benchmarks.md, "Central store"). Times are the repaired ones.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from central.errors import BadRequest
from central.store import PERIODS, CentralStore, Filters, Row
from station.roster import csv_cell

__all__ = [
    "PERIODS",
    "BadRequest",
    "Filters",
    "energy_per_trainee",
    "grants",
    "hours",
    "machines",
    "mentors",
    "to_csv",
    "today",
]


def hours(store: CentralStore, f: Filters) -> list[Row]:
    """Hours of practice and energy per trainee, kind and period (supervised sessions count for
    the trainee; the supervisor's credit is in :func:`mentors`). A session's hours and energy
    are the whole job's: a print that ran on after badge-out counts in full (``finishing``)."""
    return plain(store.hours_by_period(f))


def energy_per_trainee(store: CentralStore, f: Filters) -> list[Row]:
    """Per trainee over the filters: sessions, hours and energy of their whole jobs (finishing
    included), the most first: what each trainee's making cost the fablab."""
    return plain(store.energy_by_trainee(f))


def mentors(store: CentralStore, f: Filters) -> list[Row]:
    """Peer-teaching credit: per mentor, sessions supervised (and their hours) and grants given."""
    return plain(store.mentor_credit(f))


def grants(store: CentralStore, f: Filters) -> list[Row]:
    """Qualifications earned at the machines: who, which kind and level, granted by whom."""
    return plain(store.grants_at_machines(f, 5000))


def machines(store: CentralStore, f: Filters) -> list[Row]:
    """Energy and occupancy per machine and period. Occupancy is the share of the period's
    hours the machine was in a session (24 h a day: the fablab's own opening hours vary; 23
    or 25 on the days its clocks change)."""
    zone = store.rollups_timezone()
    return [
        {**r, "occupancy_pct": round(100.0 * r["hours"] / _period_hours(r["period"], zone), 2)}
        for r in store.machine_use(f)
    ]


def plain(rows: Sequence[Mapping[str, Any]]) -> list[Row]:
    """Typed rows as the plain rows pages draw and CSV exports write."""
    return [dict(r) for r in rows]


def _period_hours(period: str, zone: str = "UTC") -> float:
    """How long the day, month or year ``period`` lasts in ``zone``, in hours."""
    try:
        if len(period) == 10:
            first = date.fromisoformat(period)
            nxt = first + timedelta(days=1)
        elif len(period) == 7:
            first = date.fromisoformat(period + "-01")
            nxt = (first + timedelta(days=32)).replace(day=1)
        elif len(period) == 4:
            first, nxt = date(int(period), 1, 1), date(int(period) + 1, 1, 1)
        else:
            return 24.0
        tz = ZoneInfo(zone)
        start, end = (datetime.combine(d, time(), tzinfo=tz).astimezone(UTC) for d in (first, nxt))
    except (ValueError, KeyError):
        return 24.0
    return (end - start).total_seconds() / 3600.0


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    if not rows:
        return ""
    w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows({k: csv_cell(v) for k, v in r.items()} for r in rows)
    return out.getvalue()


def today(zone: str = "UTC", now: datetime | None = None) -> date:
    """Today's date (or ``now``'s) in ``zone`` (the fablab's: ``[site] timezone``)."""
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(zone)).date()
