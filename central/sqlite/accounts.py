"""Accounts of the web pages: educators, technicians, admins; their logins and sessions."""

from __future__ import annotations

from typing import Any

from central import clock
from central.errors import BadRequest, Conflict, NotFound
from central.sites import DEFAULT_SITE
from central.sqlite.base import SqliteBase
from central.store import ROLES


class AccountsSqlite(SqliteBase):
    """Web accounts: passwords hashed, logins and their sessions."""

    def add_user(
        self,
        username: str,
        password: str,
        role: str,
        *,
        replace: bool = False,
        site_id: str | None = "",
    ) -> bool:
        """Create an account, or with ``replace`` set its password, role and site (and end its
        sessions: a demoted admin's open pages stop at their next request). ``site_id`` None is
        an account of the whole network; '' (the default) is the network for an admin and the
        default site for the others, as the migration to sites made them."""
        from station.accounts import (
            MIN_PASSWORD_LENGTH,
            USERNAME_PATTERN,
            hash_password,
        )

        if not USERNAME_PATTERN.match(username):
            raise BadRequest(
                "a username is 2-32 lower-case letters, digits, '.', '_' or '-'",
                "username",
                code="username_bad",
            )
        if role not in ROLES:
            raise BadRequest(f"role must be one of {', '.join(ROLES)}", "role", code="role_bad")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise BadRequest(
                f"a password has at least {MIN_PASSWORD_LENGTH} characters",
                "password",
                code="password_short",
                min=MIN_PASSWORD_LENGTH,
            )
        hashed = hash_password(password)
        with self._transaction() as conn:
            exists = conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone()
            if exists and not replace:
                raise Conflict(
                    f"user {username} exists already; use --replace",
                    code="user_exists",
                    username=username,
                )
            if site_id == "":
                site_id = None if role == "admin" else DEFAULT_SITE
            if (
                site_id is not None
                and not conn.execute("SELECT 1 FROM sites WHERE id = ?", (site_id,)).fetchone()
            ):
                raise NotFound(
                    f"no site {site_id}: create it with `station-central site add`",
                    code="site_missing",
                    site=site_id,
                )
            conn.execute(
                "INSERT INTO users (username, password_hash, role, created_at, site_id) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(username) DO UPDATE SET "
                "password_hash = excluded.password_hash, role = excluded.role, active = 1, "
                "site_id = excluded.site_id, session_generation = users.session_generation + 1",
                (username, hashed, role, clock.now_iso(), site_id),
            )
        return not exists

    def authenticate(self, username: str, password: str) -> dict[str, Any] | None:
        """The account if the password is right; as slow for an unknown user as for a known
        one, so that the reply's timing does not tell which usernames exist."""
        from station.accounts import verify

        row = self.db.conn.execute(
            "SELECT password_hash, role, session_generation, site_id FROM users"
            " WHERE username = ? AND active = 1",
            (username,),
        ).fetchone()
        if not verify(row[0] if row else None, password):
            return None
        with self._transaction() as conn:
            conn.execute(
                "UPDATE users SET last_login_at = ? WHERE username = ?", (clock.now_iso(), username)
            )
        return {"username": username, "role": row[1], "generation": row[2], "site": row[3]}

    def session_user(self, username: str) -> dict[str, Any] | None:
        """What a request checks of its session's account: role, generation; None if gone."""
        row = self.db.conn.execute(
            "SELECT role, session_generation, site_id FROM users WHERE username = ? AND active = 1",
            (username,),
        ).fetchone()
        if row is None:
            return None
        return {"username": username, "role": row[0], "generation": row[1], "site": row[2]}

    def end_sessions(self, username: str) -> None:
        """Every open session of this account ends (logout, a stolen cookie)."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE users SET session_generation = session_generation + 1 WHERE username = ?",
                (username,),
            )

    def set_user_active(self, username: str, active: bool) -> None:
        """Disable (its sessions end at once) or enable an account."""
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE users SET active = ?, session_generation = session_generation + 1"
                " WHERE username = ?",
                (int(active), username),
            )
            if cur.rowcount == 0:
                raise NotFound(f"no account {username!r}: see `station-central user list`")

    def users(self) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT username, role, active, created_at, last_login_at, site_id FROM users "
            "ORDER BY username"
        )
