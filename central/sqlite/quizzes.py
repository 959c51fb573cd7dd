"""The induction quizzes (their SQL): one quiz per machine kind, the attempts, one pass per trainee.

The pass is kept once: ``record_quiz_pass`` inserts under the primary key (member, kind), so the
same quiz answered twice at the same instant (two tabs, a double tap on « Valider ») records one
pass and tells the second it was already passed.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from central.sqlite.base import SqliteBase

Row = dict[str, Any]


class QuizzesSqlite(SqliteBase):
    """Quizzes (``central.store.Quizzes``): each kind's quiz, the attempts, the passes."""

    def save_quiz(self, kind: str, source: str, *, by: str, at: str) -> int:
        """Store a checked quiz; its version moves on (a pass records the version it was)."""
        with self._transaction() as conn:
            row = conn.execute("SELECT version FROM quizzes WHERE kind = ?", (kind,)).fetchone()
            version = (int(row[0]) if row else 0) + 1
            conn.execute(
                "INSERT INTO quizzes (kind, source, version, updated_by, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(kind) DO UPDATE SET source = excluded.source, "
                "version = excluded.version, updated_by = excluded.updated_by, "
                "updated_at = excluded.updated_at",
                (kind, source, version, by, at),
            )
        return version

    def quiz(self, kind: str) -> Row | None:
        rows = self._rows(
            "SELECT kind, source, version, updated_by, updated_at FROM quizzes WHERE kind = ?",
            (kind,),
        )
        return rows[0] if rows else None

    def quizzes(self) -> list[Row]:
        return self._rows("SELECT kind, version, updated_by, updated_at FROM quizzes ORDER BY kind")

    def record_quiz_attempt(
        self, member_id: str, kind: str, *, at: str, correct: int, total: int, passed: bool
    ) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO quiz_attempts (member_id, kind, at, correct, total, passed) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (member_id, kind, at, correct, total, int(passed)),
            )

    def record_quiz_pass(
        self, member_id: str, kind: str, *, at: str, correct: int, total: int, version: int
    ) -> bool:
        """True when this is the pass; False when one was recorded already. A pass reaches
        the stations with the roster: its version moves on, and the member's row is sent again
        with the kinds they were inducted on."""
        with self._transaction() as conn:
            new = (
                conn.execute(
                    "INSERT INTO quiz_passes (member_id, kind, passed_at, correct, total, "
                    "quiz_version) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (member_id, kind, at, correct, total, version),
                ).rowcount
                == 1
            )
            if new:
                roster_version = self._bump(conn)
                conn.execute(
                    "UPDATE members SET version = ? WHERE id = ?", (roster_version, member_id)
                )
            return new

    def quiz_passes(self, member_id: str) -> list[Row]:
        return self._rows(
            "SELECT kind, passed_at, correct, total, quiz_version FROM quiz_passes "
            "WHERE member_id = ? ORDER BY kind",
            (member_id,),
        )


def forget_quizzes(conn: sqlite3.Connection, member_id: str) -> None:
    """A member is erased (in the caller's transaction): their attempts and pass go."""
    conn.execute("DELETE FROM quiz_attempts WHERE member_id = ?", (member_id,))
    conn.execute("DELETE FROM quiz_passes WHERE member_id = ?", (member_id,))
