"""Credentials: consents, holders' pseudonymous ids, issued credentials (their SQL).

Issuing happens in one write transaction
(``add_credential``): the status index and the holder's id are chosen, the credential signed and
stored together, and a unique index on (member, kind, level) among unrevoked credentials makes a
second issue at the same instant fail instead of issuing twice.
"""

from __future__ import annotations

import secrets
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any

from central.credentials import status_list
from central.credentials.errors import CredentialError
from central.errors import Conflict
from central.sqlite.base import SqliteBase

Row = dict[str, Any]


def forget_credentials(conn: sqlite3.Connection, member_id: str, at: str) -> int:
    """A member is erased (in the caller's transaction): every credential of theirs is revoked
    — its bit set, so a copy anyone kept now says « révoqué » — and what named them is deleted
    (the signed token, the chosen name, the consent). Others' credentials keep their own bits."""
    n = conn.execute(
        "UPDATE credentials SET revoked_at = COALESCE(revoked_at, ?), "
        "revoked_by = COALESCE(revoked_by, 'erasure'), "
        "revoked_reason = COALESCE(revoked_reason, 'erased'), token = NULL WHERE member_id = ?",
        (at, member_id),
    ).rowcount
    conn.execute("DELETE FROM credential_consents WHERE member_id = ?", (member_id,))
    conn.execute("DELETE FROM credential_holders WHERE member_id = ?", (member_id,))
    return n


COLUMNS = (
    "id, member_id, kind, level, status_index, kid, issued_at, issued_by, token, revoked_at, "
    "revoked_by, revoked_reason"
)


class CredentialsSqlite(SqliteBase):
    """Credentials (``central.store.Credentials``): consents, holders, issued credentials."""

    def consent(self, member_id: str) -> Row | None:
        rows = self._rows(
            "SELECT member_id, display_name, minor, consent_by, recorded_by, recorded_at "
            "FROM credential_consents WHERE member_id = ?",
            (member_id,),
        )
        if not rows:
            return None
        return {**rows[0], "minor": bool(rows[0]["minor"])}

    def record_consent(
        self,
        member_id: str,
        *,
        display_name: str,
        minor: bool,
        consent_by: str,
        by: str,
        at: str,
    ) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO credential_consents (member_id, display_name, minor, consent_by, "
                "recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(member_id) DO UPDATE SET display_name = excluded.display_name, "
                "minor = excluded.minor, consent_by = excluded.consent_by, "
                "recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at",
                (member_id, display_name, int(minor), consent_by, by, at),
            )

    def withdraw_consent(self, member_id: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM credential_consents WHERE member_id = ?", (member_id,))

    def add_credential(
        self,
        member_id: str,
        kind: str,
        level: str,
        *,
        by: str,
        at: str,
        sign: Callable[[str, str, int], tuple[str, str]],
    ) -> Row:
        """Issue in one transaction: ``sign(credential_id, subject_id, status_index)`` returns
        the signed token and the key's name; nothing is stored if it raises."""
        try:
            with self._transaction() as conn:
                if conn.execute(
                    "SELECT 1 FROM credentials WHERE member_id = ? AND kind = ? AND level = ? "
                    "AND revoked_at IS NULL",
                    (member_id, kind, level),
                ).fetchone():
                    raise _already(member_id, kind, level)
                subject = _subject_id(conn, member_id)
                index = _free_index(conn)
                credential_id = f"urn:uuid:{uuid.uuid4()}"
                token, kid = sign(credential_id, subject, index)
                conn.execute(
                    f"INSERT INTO credentials ({COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
                    (credential_id, member_id, kind, level, index, kid, at, by, token),
                )
        except (sqlite3.IntegrityError, Conflict):  # the unique index, on either backend
            raise _already(member_id, kind, level) from None
        found = self._rows(f"SELECT {COLUMNS} FROM credentials WHERE id = ?", (credential_id,))
        return found[0]

    def credential(self, credential_id: str) -> Row | None:
        rows = self._rows(f"SELECT {COLUMNS} FROM credentials WHERE id = ?", (credential_id,))
        return rows[0] if rows else None

    def credentials_of(self, member_id: str) -> list[Row]:
        return self._rows(
            f"SELECT {COLUMNS} FROM credentials WHERE member_id = ? ORDER BY issued_at DESC",
            (member_id,),
        )

    def revoke_credential(self, credential_id: str, *, by: str, at: str, reason: str) -> Row:
        with self._transaction() as conn:
            changed = conn.execute(
                "UPDATE credentials SET revoked_at = ?, revoked_by = ?, revoked_reason = ? "
                "WHERE id = ? AND revoked_at IS NULL",
                (at, by, reason, credential_id),
            ).rowcount
            if (
                not changed
                and not conn.execute(
                    "SELECT 1 FROM credentials WHERE id = ?", (credential_id,)
                ).fetchone()
            ):
                raise CredentialError(
                    "unknown_credential", f"no credential {credential_id} was issued here"
                )
        rows = self._rows(f"SELECT {COLUMNS} FROM credentials WHERE id = ?", (credential_id,))
        return rows[0]

    def revoked_indices(self) -> list[int]:
        return [
            int(r["status_index"])
            for r in self._rows("SELECT status_index FROM credentials WHERE revoked_at IS NOT NULL")
        ]

    def credential_at_index(self, index: int) -> Row | None:
        rows = self._rows(f"SELECT {COLUMNS} FROM credentials WHERE status_index = ?", (index,))
        return rows[0] if rows else None

    def credential_figures(self, member_id: str, kind: str) -> Row:
        """The evidence's figures: hours and sessions on this kind (finishing included), those
        with a supervisor, and the peers this member trained on this kind (supervised at least one
        of their sessions, or raised their level at the machine)."""
        practice = self._rows(
            "SELECT COUNT(*) AS sessions, COALESCE(SUM(COALESCE(duration_s, 0)), 0) AS seconds, "
            "COALESCE(SUM(CASE WHEN supervisor_id IS NOT NULL THEN 1 ELSE 0 END), 0) "
            "AS supervised FROM sessions WHERE member_id = ? AND kind = ?",
            (member_id, kind),
        )[0]
        peers = self._rows(
            "SELECT COUNT(*) AS n FROM (SELECT member_id FROM grants WHERE granted_by = :m "
            "AND kind = :k UNION SELECT member_id FROM sessions WHERE supervisor_id = :m "
            "AND kind = :k AND member_id != :m) AS peers",
            {"m": member_id, "k": kind},
        )[0]["n"]
        return {
            "sessions": int(practice["sessions"]),
            "hours": float(practice["seconds"]) / 3600.0,
            "supervised_sessions": int(practice["supervised"]),
            "peers_trained": int(peers),
        }


def _already(member_id: str, kind: str, level: str) -> CredentialError:
    return CredentialError(
        "already_issued",
        f"{member_id} already has a credential for {kind} at level {level}; download it from "
        "their page (revoke it first to issue a new one)",
        kind=kind,
        level=level,
    )


def _subject_id(conn: sqlite3.Connection, member_id: str) -> str:
    """The holder's id at this issuer: random, the same on all their credentials."""
    row = conn.execute(
        "SELECT subject_id FROM credential_holders WHERE member_id = ?", (member_id,)
    ).fetchone()
    if row:
        return str(row[0])
    subject = f"urn:uuid:{uuid.uuid4()}"
    conn.execute(
        "INSERT INTO credential_holders (member_id, subject_id) VALUES (?, ?)", (member_id, subject)
    )
    return subject


def _free_index(conn: sqlite3.Connection) -> int:
    """A random unused index: the order of issue does not show in the list (herd privacy)."""
    for _ in range(1000):
        index = secrets.randbelow(status_list.MIN_BITS)
        if not conn.execute(
            "SELECT 1 FROM credentials WHERE status_index = ?", (index,)
        ).fetchone():
            return index
    raise CredentialError("status_list_full", "the status list has no free index left")
