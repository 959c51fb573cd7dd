"""A trainee's progress: their sessions, their qualification history, their personal links."""

from __future__ import annotations

import sqlite3

from central.sqlite.base import SqliteBase
from central.store import LevelChange, PracticeSession

SESSION_SECONDS = "COALESCE(duration_s, 0)"
"""A session's length as people read it (one place to change if the projection adds a column)."""


def revoke_progress_links(conn: sqlite3.Connection, member_id: str, at: str) -> None:
    """Every personal link given so far stops working (in the caller's transaction)."""
    conn.execute(
        "INSERT INTO progress_links (member_id, generation, revoked_at) VALUES (?, 1, ?) "
        "ON CONFLICT(member_id) DO UPDATE SET generation = progress_links.generation + 1, "
        "revoked_at = excluded.revoked_at",
        (member_id, at),
    )


class ProgressSqlite(SqliteBase):
    """What the progress page reads, and the generations of the personal links."""

    def member_names(self, ids: set[str]) -> dict[str, str]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._rows(f"SELECT id, name FROM members WHERE id IN ({marks})", sorted(ids))
        return {r["id"]: r["name"] for r in rows}

    def practice_sessions(self, member_id: str) -> list[PracticeSession]:
        """The member's sessions with a kind, oldest first."""
        return self._typed(
            f"SELECT kind, started_at, {SESSION_SECONDS} AS seconds, supervisor_id FROM sessions "
            "WHERE member_id = ? AND kind IS NOT NULL ORDER BY started_at",
            [member_id],
        )

    def qualification_history(self, member_id: str) -> list[LevelChange]:
        return self._typed(
            # rowid: the order the store saw the changes (a grant's own time may be older).
            "SELECT kind, level, at, granted_by FROM qualification_history WHERE member_id = ? "
            "ORDER BY rowid",
            [member_id],
        )

    def link_generation(self, member_id: str) -> int:
        value = self._one("SELECT generation FROM progress_links WHERE member_id = ?", (member_id,))
        return int(value) if value is not None else 0

    def link_revoked_at(self, member_id: str) -> str | None:
        value = self._one("SELECT revoked_at FROM progress_links WHERE member_id = ?", (member_id,))
        return str(value) if value else None

    def revoke_links(self, member_id: str, at: str) -> None:
        with self._transaction() as conn:
            revoke_progress_links(conn, member_id, at)
