"""A trainee's progress: the ladder per machine kind, the hours since the current level, who helped.

Also « Qui a formé qui » (levels granted at the machine *and* set by educators on the pages, from
``qualification_history``) and the generations of the personal progress links: an educator revokes
every link given so far by moving a member's generation on.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from central.store import CentralStore, Filters, LevelChange, PracticeSession
from station.model import LEVEL_ORDER, Level

LADDER = [lv.value for lv in LEVEL_ORDER]
"""aucun → supervisé → autonome → mentor, drawn for each machine kind."""

HOURS_AT_LEVEL = {Level.NONE: 0.0, Level.SUPERVISED: 5.0, Level.AUTONOMOUS: 20.0, Level.MENTOR: 0.0}
"""Hours of practice *at* a level before the next one is worth asking for (a guide the educators
can change here); counted from the moment the level was reached, not over all hours."""

IMPORT = "import"
"""``granted_by`` of levels a roster import set: nobody trained anybody there."""


def first_name(name: str | None, fallback: str) -> str:
    """A trainee's page names people by first name only."""
    return (name or "").split()[0] if (name or "").strip() else fallback


def _level_since(history: list[LevelChange], level: str) -> LevelChange | None:
    """The history row where the member last *reached* ``level`` (a re-import of the same level
    is no new start)."""
    since, previous = None, None
    for row in history:
        if row["level"] != previous and row["level"] == level:
            since = row
        previous = row["level"]
    return since


def progress(store: CentralStore, member_id: str) -> dict[str, Any]:
    """A trainee's own page: per kind, the ladder, hours since the level and what comes next."""
    member = store.member_detail(member_id)
    sessions = store.practice_sessions(member_id)
    history = store.qualification_history(member_id)
    levels = {q["kind"]: q for q in member["qualifications"]}
    kinds = sorted({s["kind"] for s in sessions} | set(levels))
    people = {s["supervisor_id"] for s in sessions if s["supervisor_id"]}
    people |= {q["granted_by"] for q in levels.values() if q["granted_by"]}
    names = store.member_names(people)
    out = [
        _kind_progress(
            kind,
            levels.get(kind),
            [s for s in sessions if s["kind"] == kind],
            [h for h in history if h["kind"] == kind],
            names,
        )
        for kind in kinds
    ]
    return {
        "member": {"id": member["id"], "name": member["name"], "role": member["role"]},
        "kinds": out,
        "grants_given": len(member["grants_given"]),
        "erased": member["erased_at"] is not None,
    }


def _kind_progress(
    kind: str,
    q: dict[str, Any] | None,
    sessions: list[PracticeSession],
    history: list[LevelChange],
    names: dict[str, str],
) -> dict[str, Any]:
    level = Level(q["level"]) if q else Level.NONE
    reached = _level_since(history, level.value) if level is not Level.NONE else None
    since = reached["at"] if reached else None
    at_level = [s for s in sessions if since is None or s["started_at"] >= since]
    hours_at_level = round(sum(s["seconds"] for s in at_level) / 3600.0, 2)
    granted_by = q["granted_by"] if q and q["granted_by"] != IMPORT else None
    mentors = sorted(
        {
            first_name(names.get(s["supervisor_id"]), s["supervisor_id"])
            for s in sessions
            if s["supervisor_id"]
        }
    )
    rank = level.rank
    return {
        "kind": kind,
        "level": level.value,
        "ladder": [
            {"level": v, "state": "done" if i < rank else "current" if i == rank else "next"}
            for i, v in enumerate(LADDER)
        ],
        "since": since,
        "granted_by": first_name(names.get(granted_by), granted_by) if granted_by else None,
        "sessions": len(sessions),
        "hours": round(sum(s["seconds"] for s in sessions) / 3600.0, 2),
        "hours_at_level": hours_at_level,
        "next_level": LADDER[rank + 1] if level is not Level.MENTOR else None,
        "hours_needed": max(0.0, round(HOURS_AT_LEVEL[level] - hours_at_level, 2)),
        "mentors": mentors,
    }


def who_trained(store: CentralStore, f: Filters, limit: int = 5000) -> list[dict[str, Any]]:
    """Every level given in the range, newest first: at a machine (a mentor's or educator's
    grant) and on the pages (an educator set it; ``granted_by`` is then their account, not a
    member id). Roster imports are not teaching: left out."""
    machine: list[dict[str, Any]] = [
        {k: v for k, v in r.items() if k != "station_id"}
        | {"place": "machine", "station_id": r["station_id"]}
        for r in store.grants_at_machines(f, limit)
    ]
    pages: list[dict[str, Any]] = [
        r | {"place": "educator", "station_id": None}
        for r in store.levels_set_on_pages(f, limit, except_by=IMPORT)
    ]
    rows = sorted(machine + pages, key=lambda r: r["granted_at"], reverse=True)[:limit]
    return [{**r, "gain": _is_gain(r["previous_level"], r["level"])} for r in rows]


def _is_gain(previous: str | None, level: str) -> bool:
    try:
        return Level(level).rank > Level(previous or "none").rank
    except ValueError:
        return False


# --- personal links --------------------------------------------------------------------------


def link_generation(store: CentralStore, member_id: str) -> int:
    """The generation a new personal link carries (0 until the first revocation)."""
    return store.link_generation(member_id)


def link_revoked_at(store: CentralStore, member_id: str) -> str | None:
    return store.link_revoked_at(member_id)


def revoke_links(store: CentralStore, member_id: str, at: str) -> None:
    store.member_detail(member_id)  # NotFound for an unknown member
    store.revoke_links(member_id, at)


def expires_on(issued: date, days: int) -> date:
    return issued + timedelta(days=days)
