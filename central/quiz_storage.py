"""The induction quizzes' tables: one quiz per machine kind, the attempts, one pass per trainee.

The pass is kept once: ``record_quiz_pass`` inserts under the primary key (member, kind), so the
same quiz answered twice at the same instant (two tabs, a double tap on « Valider ») records one
pass and tells the second it was already passed.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from typing import Any, Protocol

from sqlite_utils import Database

Row = dict[str, Any]


def m010_quizzes(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE quizzes (
            kind TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            version INTEGER NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE quiz_attempts (
            member_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            at TEXT NOT NULL,
            correct INTEGER NOT NULL,
            total INTEGER NOT NULL,
            passed INTEGER NOT NULL
        )"""
    )
    db.execute("CREATE INDEX quiz_attempts_member ON quiz_attempts(member_id, kind)")
    db.execute(
        """
        CREATE TABLE quiz_passes (
            member_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            passed_at TEXT NOT NULL,
            correct INTEGER NOT NULL,
            total INTEGER NOT NULL,
            quiz_version INTEGER NOT NULL,
            PRIMARY KEY (member_id, kind)
        )"""
    )


class Quizzes(Protocol):
    def save_quiz(self, kind: str, source: str, *, by: str, at: str) -> int: ...
    def quiz(self, kind: str) -> Row | None: ...
    def quizzes(self) -> list[Row]: ...
    def record_quiz_attempt(
        self, member_id: str, kind: str, *, at: str, correct: int, total: int, passed: bool
    ) -> None: ...
    def record_quiz_pass(
        self, member_id: str, kind: str, *, at: str, correct: int, total: int, version: int
    ) -> bool: ...
    def quiz_passes(self, member_id: str) -> list[Row]: ...


class _Base(Protocol):
    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...
    @staticmethod
    def _bump(conn: sqlite3.Connection) -> int: ...
    def _rows(self, sql: str, params: Any = ()) -> list[Row]: ...


class QuizzesSqlite:
    """The SQLite side of :class:`Quizzes` (mixed into the store)."""

    def save_quiz(self: _Base, kind: str, source: str, *, by: str, at: str) -> int:
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

    def quiz(self: _Base, kind: str) -> Row | None:
        rows = self._rows(
            "SELECT kind, source, version, updated_by, updated_at FROM quizzes WHERE kind = ?",
            (kind,),
        )
        return rows[0] if rows else None

    def quizzes(self: _Base) -> list[Row]:
        return self._rows("SELECT kind, version, updated_by, updated_at FROM quizzes ORDER BY kind")

    def record_quiz_attempt(
        self: _Base, member_id: str, kind: str, *, at: str, correct: int, total: int, passed: bool
    ) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO quiz_attempts (member_id, kind, at, correct, total, passed) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (member_id, kind, at, correct, total, int(passed)),
            )

    def record_quiz_pass(
        self: _Base, member_id: str, kind: str, *, at: str, correct: int, total: int, version: int
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

    def quiz_passes(self: _Base, member_id: str) -> list[Row]:
        return self._rows(
            "SELECT kind, passed_at, correct, total, quiz_version FROM quiz_passes "
            "WHERE member_id = ? ORDER BY kind",
            (member_id,),
        )


def forget_quizzes(conn: sqlite3.Connection, member_id: str) -> None:
    """A member is erased (in the caller's transaction): their attempts and pass go."""
    conn.execute("DELETE FROM quiz_attempts WHERE member_id = ?", (member_id,))
    conn.execute("DELETE FROM quiz_passes WHERE member_id = ?", (member_id,))
