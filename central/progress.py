"""A trainee's progress: the ladder per machine kind, the hours since the current level, who helped.

Also « Qui a formé qui » (levels granted at the machine *and* set by educators on the pages, from
``qualification_history``) and the generations of the personal progress links: an educator revokes
every link given so far by moving a member's generation on.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from typing import Any

from central.reports import Filters, _rows
from central.store import SqliteCentralStore, member_detail
from station.model import LEVEL_ORDER, Level

LADDER = [lv.value for lv in LEVEL_ORDER]
"""aucun → supervisé → autonome → mentor, drawn for each machine kind."""

HOURS_AT_LEVEL = {Level.NONE: 0.0, Level.SUPERVISED: 5.0, Level.AUTONOMOUS: 20.0, Level.MENTOR: 0.0}
"""Hours of practice *at* a level before the next one is worth asking for (a guide the educators
can change here); counted from the moment the level was reached, not over all hours."""

SESSION_SECONDS = "COALESCE(duration_s, 0)"
"""A session's length as people read it (one place to change if the projection adds a column)."""

IMPORT = "import"
"""``granted_by`` of levels a roster import set: nobody trained anybody there."""


def first_name(name: str | None, fallback: str) -> str:
    """A trainee's page names people by first name only."""
    return (name or "").split()[0] if (name or "").strip() else fallback


def _names(store: SqliteCentralStore, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = _rows(store, f"SELECT id, name FROM members WHERE id IN ({marks})", sorted(ids))
    return {r["id"]: r["name"] for r in rows}


def _level_since(history: list[dict[str, Any]], level: str) -> dict[str, Any] | None:
    """The history row where the member last *reached* ``level`` (a re-import of the same level
    is no new start)."""
    since, previous = None, None
    for row in history:
        if row["level"] != previous and row["level"] == level:
            since = row
        previous = row["level"]
    return since


def progress(store: SqliteCentralStore, member_id: str) -> dict[str, Any]:
    """A trainee's own page: per kind, the ladder, hours since the level and what comes next."""
    member = member_detail(store, member_id)
    sessions = _rows(
        store,
        f"SELECT kind, started_at, {SESSION_SECONDS} AS seconds, supervisor_id FROM sessions "
        "WHERE member_id = ? AND kind IS NOT NULL ORDER BY started_at",
        [member_id],
    )
    history = _rows(
        store,
        # rowid: the order the store saw the changes (a grant's own time may be older).
        "SELECT kind, level, at, granted_by FROM qualification_history WHERE member_id = ? "
        "ORDER BY rowid",
        [member_id],
    )
    levels = {q["kind"]: q for q in member["qualifications"]}
    kinds = sorted({s["kind"] for s in sessions} | set(levels))
    people = {s["supervisor_id"] for s in sessions if s["supervisor_id"]}
    people |= {q["granted_by"] for q in levels.values() if q["granted_by"]}
    names = _names(store, people)
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
    sessions: list[dict[str, Any]],
    history: list[dict[str, Any]],
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


def who_trained(store: SqliteCentralStore, f: Filters, limit: int = 5000) -> list[dict[str, Any]]:
    """Every level given in the range, newest first: at a machine (a mentor's or educator's
    grant) and on the pages (an educator set it; ``granted_by`` is then their account, not a
    member id). Roster imports are not teaching: left out."""
    gwhere, gparams = f.where("g.granted_at")
    machine = _rows(
        store,
        f"""SELECT g.granted_at, g.member_id, COALESCE(m.name, g.member_id) AS name,
                   g.kind, g.previous_level, g.level, g.granted_by,
                   COALESCE(b.name, g.granted_by) AS granted_by_name, 'machine' AS place,
                   g.station_id
            FROM grants g LEFT JOIN members m ON m.id = g.member_id
                          LEFT JOIN members b ON b.id = g.granted_by
            WHERE {gwhere.replace("s.kind", "g.kind")} ORDER BY g.granted_at DESC LIMIT ?""",
        [*gparams, limit],
    )
    hwhere, hparams = f.where("h.at")
    pages = _rows(
        store,
        f"""SELECT h.at AS granted_at, h.member_id, COALESCE(m.name, h.member_id) AS name, h.kind,
                   (SELECT p.level FROM qualification_history p
                    WHERE p.member_id = h.member_id AND p.kind = h.kind
                      AND (p.at < h.at OR (p.at = h.at AND p.rowid < h.rowid))
                    ORDER BY p.at DESC, p.rowid DESC LIMIT 1) AS previous_level,
                   h.level, h.granted_by, h.granted_by AS granted_by_name,
                   'educator' AS place, NULL AS station_id
            FROM qualification_history h LEFT JOIN members m ON m.id = h.member_id
            WHERE {hwhere.replace("s.kind", "h.kind")} AND h.granted_by IS NOT NULL
              AND h.granted_by != ? AND h.level != 'none'
              AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.member_id = h.member_id
                              AND g.kind = h.kind AND g.granted_at = h.at)
            ORDER BY h.at DESC LIMIT ?""",
        [*hparams, IMPORT, limit],
    )
    rows = sorted(machine + pages, key=lambda r: r["granted_at"], reverse=True)[:limit]
    return [{**r, "gain": _is_gain(r["previous_level"], r["level"])} for r in rows]


def _is_gain(previous: str | None, level: str) -> bool:
    try:
        return Level(level).rank > Level(previous or "none").rank
    except ValueError:
        return False


# --- personal links --------------------------------------------------------------------------


def link_generation(store: SqliteCentralStore, member_id: str) -> int:
    """The generation a new personal link carries (0 until the first revocation)."""
    row = store.db.conn.execute(
        "SELECT generation FROM progress_links WHERE member_id = ?", (member_id,)
    ).fetchone()
    return int(row[0]) if row else 0


def link_revoked_at(store: SqliteCentralStore, member_id: str) -> str | None:
    row = store.db.conn.execute(
        "SELECT revoked_at FROM progress_links WHERE member_id = ?", (member_id,)
    ).fetchone()
    return str(row[0]) if row and row[0] else None


def revoke_progress_links(conn: sqlite3.Connection, member_id: str, at: str) -> None:
    """Every personal link given so far stops working (in the caller's transaction)."""
    conn.execute(
        "INSERT INTO progress_links (member_id, generation, revoked_at) VALUES (?, 1, ?) "
        "ON CONFLICT(member_id) DO UPDATE SET generation = generation + 1, "
        "revoked_at = excluded.revoked_at",
        (member_id, at),
    )


def revoke_links(store: SqliteCentralStore, member_id: str, at: str) -> None:
    member_detail(store, member_id)  # NotFound for an unknown member
    with store._transaction() as conn:
        revoke_progress_links(conn, member_id, at)


def expires_on(issued: date, days: int) -> date:
    return issued + timedelta(days=days)
