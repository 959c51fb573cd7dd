"""Failed logins in the database (SQL shared by both backends), so that the login limiter
holds across every central process on one store."""

from __future__ import annotations

from central.sqlite.base import SqliteBase


class LoginsSqlite(SqliteBase):
    def login_failures(self, keys: list[str], since: float) -> int:
        if not keys:
            return 0
        marks = ",".join("?" * len(keys))
        value = self._one(
            f"SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM login_failures "
            f"WHERE key IN ({marks}) AND at > ? GROUP BY key) AS counts",
            (*keys, since),
        )
        return int(value or 0)

    def record_login_failure(self, keys: list[str], at: float, forget_before: float) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM login_failures WHERE at <= ?", (forget_before,))
            conn.executemany(
                "INSERT INTO login_failures (key, at) VALUES (?, ?)", [(k, at) for k in keys]
            )

    def clear_login_failures(self, keys: list[str]) -> None:
        if not keys:
            return
        marks = ",".join("?" * len(keys))
        with self._transaction() as conn:
            conn.execute(f"DELETE FROM login_failures WHERE key IN ({marks})", keys)
