"""Privacy: what the store holds about a member, their erasure (pseudonymisation), retention.

The rules (which fields name a member, what erasure keeps) are central/privacy.py's; this module
finds and rewrites the rows.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from central import clock
from central.privacy_fields import ERASED_NAME, ID_FIELDS, NAME_FIELDS, UID_FIELDS
from central.sqlite.base import SqliteBase
from central.sqlite.credentials import forget_credentials
from central.sqlite.ingest import mark_erased_uids, pseudonym_in
from central.sqlite.progress import revoke_progress_links
from central.sqlite.quizzes import forget_quizzes
from central.sqlite.rollups import add_sessions
from central.store import Erasure, GrantRecord, RetentionRun, SessionRecord, StoredEvent


class PrivacySqlite(SqliteBase):
    """A member's rows for the right of access, their erasure, the retention runs."""

    def pseudonym(self, member_id: str) -> str:
        with self._transaction() as conn:
            return pseudonym_in(conn, member_id)

    def sessions_of(self, member_id: str) -> list[SessionRecord]:
        return self._typed(
            "SELECT id, station_id, machine_id, kind, member_id, supervisor_id, started_at,"
            " ended_at, end_reason, duration_s, energy_wh FROM sessions WHERE member_id = ? OR "
            "supervisor_id = ? ORDER BY started_at",
            (member_id, member_id),
        )

    def grants_of(self, member_id: str) -> list[GrantRecord]:
        return self._typed(
            "SELECT station_id, member_id, kind, level, previous_level, granted_by, granted_at "
            "FROM grants WHERE member_id = ? OR granted_by = ? ORDER BY granted_at",
            (member_id, member_id),
        )

    def events_naming(self, member_id: str) -> list[StoredEvent]:
        return [
            {"station_id": r[0], "seq": r[1], "type": r[2], "at": r[4] or r[3], "data": r[5]}
            for r in self._mentions(member_id)
        ]

    def _mentions(
        self, member_id: str, uids: tuple[str, ...] = (), conn: Any = None
    ) -> list[tuple[Any, ...]]:
        """Events whose data names the member or one of their badges (a cheap text filter, then
        an exact check)."""
        needles = [json.dumps(v, ensure_ascii=False) for v in (member_id, *uids)]
        where = " OR ".join("instr(data, ?) > 0" for _ in needles)
        rows = (
            (conn or self.db.conn)
            .execute(
                f"SELECT station_id, seq, type, at, at_repaired, data FROM events WHERE {where}",
                needles,
            )
            .fetchall()
        )
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

    def erase_member(self, member_id: str) -> Erasure:
        anon = self.pseudonym(member_id)
        with self._transaction() as conn:  # what to erase is read in it: no event slips by
            uids = _uids_of(conn, member_id)
            mentions = self._mentions(member_id, tuple(sorted(uids)), conn)
            # A badge the member had before (lost, replaced) is in her events, not in badges.
            for *_, data in mentions:
                if any(data.get(f) == member_id for f in ID_FIELDS):
                    uids |= {v.upper() for f in UID_FIELDS if isinstance(v := data.get(f), str)}
            uids -= _held_by_others(conn, member_id, uids)
            version = self._bump(conn)
            conn.execute(
                "UPDATE members SET name = ?, active = 0, erased_at = COALESCE(erased_at, ?), "
                "version = ?, updated_at = ? WHERE id = ?",
                (ERASED_NAME, clock.now_iso(), version, clock.now_iso(), member_id),
            )
            _forget_badges(conn, tuple(sorted(uids)))
            conn.execute(
                "UPDATE qualifications SET level = 'none', granted_by = NULL, version = ? "
                "WHERE member_id = ?",
                (version, member_id),
            )
            conn.execute(
                "UPDATE qualifications SET granted_by = ? WHERE granted_by = ?", (anon, member_id)
            )
            # The roll-ups name the pseudonym too (their sums do not change).
            named = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM sessions WHERE member_id = ? OR supervisor_id = ?",
                    (member_id, member_id),
                ).fetchall()
            ]
            for i in range(0, len(named), 500):
                chunk = named[i : i + 500]
                add_sessions(conn, -1, f"id IN ({', '.join('?' * len(chunk))})", chunk)
            sessions = conn.execute(
                "UPDATE sessions SET member_id = ? WHERE member_id = ?", (anon, member_id)
            ).rowcount
            sessions += conn.execute(
                "UPDATE sessions SET supervisor_id = ? WHERE supervisor_id = ?", (anon, member_id)
            ).rowcount
            for i in range(0, len(named), 500):
                chunk = named[i : i + 500]
                add_sessions(conn, 1, f"id IN ({', '.join('?' * len(chunk))})", chunk)
            conn.execute("UPDATE grants SET member_id = ? WHERE member_id = ?", (anon, member_id))
            conn.execute("UPDATE grants SET granted_by = ? WHERE granted_by = ?", (anon, member_id))
            conn.execute(
                "UPDATE qualification_history SET granted_by = ? WHERE granted_by = ?",
                (anon, member_id),
            )
            # An old personal link shows nothing.
            revoke_progress_links(conn, member_id, clock.now_iso())
            forget_credentials(conn, member_id, clock.now_iso())  # revoked; others untouched
            forget_quizzes(conn, member_id)
            for station_id, seq, _type, _at, _fixed, data in mentions:
                for f in ID_FIELDS:
                    if data.get(f) == member_id:
                        data[f] = anon
                        if f in NAME_FIELDS and NAME_FIELDS[f] in data:
                            data[NAME_FIELDS[f]] = None
                for f in UID_FIELDS:
                    if isinstance(data.get(f), str) and data[f].upper() in uids:
                        data[f] = None
                conn.execute(
                    "UPDATE events SET data = ? WHERE station_id = ? AND seq = ?",
                    (json.dumps(data, ensure_ascii=False, separators=(",", ":")), station_id, seq),
                )
            _scrub_uids(conn, uids)  # anywhere else: evidence, alerts, statuses, results
            mark_erased_uids(conn, uids)  # and in whatever a station sends later
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

    def retention_candidates(self, cutoff: str) -> list[str]:
        rows = self.db.conn.execute(
            """SELECT m.id FROM members m WHERE m.active = 0 AND m.erased_at IS NULL
               AND m.updated_at < ? AND NOT EXISTS (
                   SELECT 1 FROM sessions s WHERE s.member_id = m.id AND s.started_at >= ?)
               ORDER BY m.id""",
            (cutoff, cutoff),
        ).fetchall()
        return [r[0] for r in rows]

    def record_retention_run(self, days: int, erased: int, *, dry_run: bool) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO retention_runs (at, days, erased, dry_run) VALUES (?, ?, ?, ?)",
                (clock.now_iso(), days, erased, int(dry_run)),
            )

    def retention_runs(self, limit: int = 20) -> list[RetentionRun]:
        return self._typed(
            "SELECT at, days, erased, dry_run FROM retention_runs ORDER BY id DESC LIMIT ?",
            (limit,),
        )


def _uids_of(conn: Any, member_id: str) -> set[str]:
    """The member's badges, and the badges stations enrolled for her."""
    uids = {r[0] for r in conn.execute("SELECT uid FROM badges WHERE member_id = ?", (member_id,))}
    uids |= {
        r[0]
        for r in conn.execute(
            "SELECT uid FROM station_enrolments WHERE member_id = ?", (member_id,)
        ).fetchall()
    }
    return {u.upper() for u in uids}


def _held_by_others(conn: Any, member_id: str, uids: set[str]) -> set[str]:
    """A former badge of hers that someone else holds now names that person: it stays."""
    if not uids:
        return set()
    marks = ",".join("?" * len(uids))
    rows = conn.execute(
        f"SELECT uid FROM badges WHERE uid IN ({marks}) AND member_id != ?",
        (*sorted(uids), member_id),
    ).fetchall()
    return {r[0] for r in rows}


SCRUBBED = (
    ("events", "station_id, seq", "data"),
    ("alerts", "id", "data"),
    ("stations", "id", "last_status"),
    ("commands", "id", "result"),
)
"""Every text column that may carry a badge UID inside JSON (by table: its key, the column)."""


def _scrub_uids(conn: Any, uids: set[str]) -> None:
    """No trace of ``uids`` in any JSON the store keeps: a value that is the UID becomes null, a
    text that quotes it (an alert's detail) loses it."""
    if not uids:
        return

    def clean(text: str) -> str | None:
        if text.upper() in uids:
            return None
        for uid in uids:
            text = text.replace(uid, "…").replace(uid.lower(), "…")
        return text

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return clean(value)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    for table, key, column in SCRUBBED:
        keys = [k.strip() for k in key.split(",")]
        found: dict[tuple[Any, ...], str] = {}
        for uid in sorted(uids):
            for needle in (uid, uid.lower()):
                for r in conn.execute(
                    f"SELECT {key}, {column} FROM {table} WHERE instr({column}, ?) > 0", (needle,)
                ).fetchall():
                    found[tuple(r[:-1])] = r[-1]
        for row_key, text in found.items():
            try:
                new = json.dumps(walk(json.loads(text)), ensure_ascii=False, separators=(",", ":"))
            except ValueError:
                new = clean(text) or ""
            where = " AND ".join(f"{k} = ?" for k in keys)
            conn.execute(f"UPDATE {table} SET {column} = ? WHERE {where}", (new, *row_key))


def _forget_badges(conn: sqlite3.Connection, uids: tuple[str, ...]) -> None:
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
