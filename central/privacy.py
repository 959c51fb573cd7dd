"""Privacy for minors: a member's data exported as JSON, erased on request or after retention.

Erasure keeps the events (hours, energy and peer-teaching credit still add up in the reports) but
pseudonymises them: the member's id is replaced everywhere by ``anon-…`` (an HMAC of the id with a
key kept in the store, so one member stays one pseudonym) and names are dropped. The member's row
stays as a tombstone under its old id, without a name, inactive, with its qualifications withdrawn:
that is how every station learns, at its next sync, to forget the name it cached and to refuse the
member (``member_inactive``). Stations only ever cache first names (docs/sync.md).

Erasure cannot be undone: the badge UIDs (the physical card that would tie the pseudonymised history
back to a person) go too. The badge rows are deleted, the UIDs are taken out of the events, the taps
and the alerts, and the member's roster history (central/scope.py's "at that time") is deleted.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from central.credentials.storage import forget_credentials
from central.errors import NotFound
from central.progress import revoke_progress_links
from central.quiz_storage import forget_quizzes
from central.store import (
    ID_FIELDS,
    NAME_FIELDS,
    UID_FIELDS,
    SqliteCentralStore,
    member_detail,
    now_iso,
    pseudonym_in,
)

ERASED_NAME = "(effacé)"


def pseudonym(store: SqliteCentralStore, member_id: str) -> str:
    with store._transaction() as conn:
        return pseudonym_in(conn, member_id)


def _mentions(
    store: SqliteCentralStore, member_id: str, uids: tuple[str, ...] = ()
) -> list[tuple[Any, ...]]:
    """Events whose data names the member or one of their badges (a cheap text filter, then an
    exact check)."""
    needles = [json.dumps(v, ensure_ascii=False) for v in (member_id, *uids)]
    where = " OR ".join("instr(data, ?) > 0" for _ in needles)
    rows = store.db.conn.execute(
        f"SELECT station_id, seq, type, at, at_repaired, data FROM events WHERE {where}",
        needles,
    ).fetchall()
    out = []
    for r in rows:
        data = json.loads(r[5])
        if not isinstance(data, dict):
            continue
        if any(data.get(f) == member_id for f in ID_FIELDS) or any(
            data.get(f) in uids for f in UID_FIELDS
        ):
            out.append((*r[:5], data))
    return out


def _badges_of(store: SqliteCentralStore, member_id: str) -> tuple[str, ...]:
    rows = store.db.conn.execute("SELECT uid FROM badges WHERE member_id = ?", (member_id,))
    return tuple(r[0] for r in rows.fetchall())


def export_member(store: SqliteCentralStore, member_id: str) -> dict[str, Any]:
    """Everything the central store holds about a member (the right of access), as JSON."""
    detail = member_detail(store, member_id)
    sessions = store._rows(
        "SELECT id, station_id, machine_id, kind, member_id, supervisor_id, started_at, ended_at,"
        " end_reason, duration_s, energy_wh FROM sessions WHERE member_id = ? OR "
        "supervisor_id = ? ORDER BY started_at",
        (member_id, member_id),
    )
    grants = store._rows(
        "SELECT station_id, member_id, kind, level, previous_level, granted_by, granted_at "
        "FROM grants WHERE member_id = ? OR granted_by = ? ORDER BY granted_at",
        (member_id, member_id),
    )
    events = [
        {"station_id": r[0], "seq": r[1], "type": r[2], "at": r[4] or r[3], "data": r[5]}
        for r in _mentions(store, member_id)
    ]
    return {
        "exported_at": now_iso(),
        "member": {k: detail[k] for k in ("id", "name", "role", "active", "erased_at")},
        "badges": detail["badges"],
        "qualifications": detail["qualifications"],
        "sessions": sessions,
        "grants": grants,
        "events": events,
    }


def erase_member(store: SqliteCentralStore, member_id: str) -> dict[str, Any]:
    """Pseudonymise a member everywhere; idempotent. Returns the pseudonym and what changed."""
    member_detail(store, member_id)  # NotFound if there is no such member
    anon = pseudonym(store, member_id)
    uids = _badges_of(store, member_id)
    mentions = _mentions(store, member_id, uids)
    with store._transaction() as conn:
        version = store._bump(conn)
        conn.execute(
            "UPDATE members SET name = ?, active = 0, erased_at = COALESCE(erased_at, ?), "
            "version = ?, updated_at = ? WHERE id = ?",
            (ERASED_NAME, now_iso(), version, now_iso(), member_id),
        )
        _forget_badges(conn, uids)
        conn.execute(
            "UPDATE qualifications SET level = 'none', granted_by = NULL, version = ? "
            "WHERE member_id = ?",
            (version, member_id),
        )
        conn.execute(
            "UPDATE qualifications SET granted_by = ? WHERE granted_by = ?", (anon, member_id)
        )
        sessions = conn.execute(
            "UPDATE sessions SET member_id = ? WHERE member_id = ?", (anon, member_id)
        ).rowcount
        sessions += conn.execute(
            "UPDATE sessions SET supervisor_id = ? WHERE supervisor_id = ?", (anon, member_id)
        ).rowcount
        conn.execute("UPDATE grants SET member_id = ? WHERE member_id = ?", (anon, member_id))
        conn.execute("UPDATE grants SET granted_by = ? WHERE granted_by = ?", (anon, member_id))
        conn.execute(
            "UPDATE qualification_history SET granted_by = ? WHERE granted_by = ?",
            (anon, member_id),
        )
        revoke_progress_links(conn, member_id, now_iso())  # an old personal link shows nothing
        forget_credentials(conn, member_id, now_iso())  # revoked, their bits set; others intact
        forget_quizzes(conn, member_id)
        for station_id, seq, _type, _at, _fixed, data in mentions:
            for f in ID_FIELDS:
                if data.get(f) == member_id:
                    data[f] = anon
                    if f in NAME_FIELDS and NAME_FIELDS[f] in data:
                        data[NAME_FIELDS[f]] = None
            for f in UID_FIELDS:
                if data.get(f) in uids:
                    data[f] = None
            conn.execute(
                "UPDATE events SET data = ? WHERE station_id = ? AND seq = ?",
                (json.dumps(data, ensure_ascii=False, separators=(",", ":")), station_id, seq),
            )
        # Last: the updates above left their trace in the history through its triggers.
        conn.execute("DELETE FROM role_history WHERE member_id = ?", (member_id,))
        conn.execute("DELETE FROM qualification_history WHERE member_id = ?", (member_id,))
    return {
        "member_id": member_id,
        "pseudonym": anon,
        "events": len(mentions),
        "sessions": sessions,
        "badges": len(uids),
    }


def _forget_badges(conn: Any, uids: tuple[str, ...]) -> None:
    """No UID of the member stays: not in the badges, taps, alerts or commands.

    Stations refuse the member from the tombstone (``member_inactive``), and a station that gets
    the whole roster again marks the badge inactive, as every badge the roster leaves out.
    """
    marks = ",".join("?" * len(uids))
    if not uids:
        return
    conn.execute(f"DELETE FROM badges WHERE uid IN ({marks})", uids)
    conn.execute(f"DELETE FROM badge_taps WHERE uid IN ({marks})", uids)
    conn.execute(f"DELETE FROM station_enrolments WHERE uid IN ({marks})", uids)
    conn.execute(
        "UPDATE alerts SET data = json_set(data, '$.uid', NULL) "
        f"WHERE json_extract(data, '$.uid') IN ({marks})",
        uids,
    )
    conn.execute(f"UPDATE commands SET uid = NULL WHERE uid IN ({marks})", uids)


def retention_candidates(
    store: SqliteCentralStore, days: int, now: datetime | None = None
) -> list[str]:
    """Inactive members, not erased yet, unchanged and without a session for ``days``."""
    if days <= 0:
        return []
    cutoff = ((now or datetime.now(UTC)) - timedelta(days=days)).isoformat()
    rows = store.db.conn.execute(
        """SELECT m.id FROM members m WHERE m.active = 0 AND m.erased_at IS NULL
           AND m.updated_at < ? AND NOT EXISTS (
               SELECT 1 FROM sessions s WHERE s.member_id = m.id AND s.started_at >= ?)
           ORDER BY m.id""",
        (cutoff, cutoff),
    ).fetchall()
    return [r[0] for r in rows]


def apply_retention(
    store: SqliteCentralStore, days: int, *, dry_run: bool = False, now: datetime | None = None
) -> list[str]:
    """Erase the members past retention; every run is recorded (``retention_runs``: when, the
    setting, how many), so that an educator can show the rule is applied. No ids are kept."""
    ids = retention_candidates(store, days, now)
    erased = 0
    if not dry_run:
        for member_id in ids:
            try:
                erase_member(store, member_id)
            except NotFound:
                continue
            erased += 1
    with store._transaction() as conn:
        conn.execute(
            "INSERT INTO retention_runs (at, days, erased, dry_run) VALUES (?, ?, ?, ?)",
            (now_iso(), days, len(ids) if dry_run else erased, int(dry_run)),
        )
    return ids


def retention_runs(store: SqliteCentralStore, limit: int = 20) -> list[dict[str, Any]]:
    """The latest retention runs, newest first."""
    return store._rows(
        "SELECT at, days, erased, dry_run FROM retention_runs ORDER BY id DESC LIMIT ?", (limit,)
    )
