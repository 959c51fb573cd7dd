"""Commands to stations (lock, unlock, end a session…) and their acknowledgements."""

from __future__ import annotations

import uuid
from typing import Any

from central import clock
from central.errors import NotFound
from central.sqlite.base import SqliteBase


class CommandsSqlite(SqliteBase):
    """Commands queued for a station until it acknowledges them."""

    def add_command(self, station_id: str, command: dict[str, Any], by: str) -> dict[str, Any]:
        """Queue a command for a station; it gets it in its next sync reply.

        ``revoke_badge`` also deactivates the badge in the roster, so that every station stops
        admitting it (the roster change), not only the one the command is sent to.
        """
        cid = str(uuid.uuid4())
        with self._transaction() as conn:
            if not conn.execute(
                "SELECT 1 FROM stations WHERE id = ? AND active = 1", (station_id,)
            ).fetchone():
                raise NotFound(
                    f"no active station {station_id}", code="station_inactive", id=station_id
                )
            if (
                command["action"] == "revoke_badge"
                and conn.execute("SELECT 1 FROM badges WHERE uid = ?", (command["uid"],)).fetchone()
            ):
                version = self._bump(conn)
                conn.execute(
                    "UPDATE badges SET active = 0, version = ? WHERE uid = ?",
                    (version, command["uid"]),
                )
            conn.execute(
                "INSERT INTO commands (id, station_id, action, reason, uid, created_at, "
                "created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    cid,
                    station_id,
                    command["action"],
                    command.get("reason", ""),
                    command.get("uid"),
                    clock.now_iso(),
                    by,
                ),
            )
        return {"id": cid, "station_id": station_id, **command, "status": "pending"}

    def pending_commands(self, station_id: str) -> list[dict[str, Any]]:
        rows = self._rows(
            # rowid: the order they were sent in (a timestamp ties within a millisecond)
            "SELECT id, action, reason, uid, created_at, created_by FROM commands "
            "WHERE station_id = ? AND status = 'pending' ORDER BY rowid",
            (station_id,),
        )
        return [{k: v for k, v in r.items() if v is not None} for r in rows]

    def commands(self, station_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        where, params = ("WHERE station_id = ?", [station_id]) if station_id else ("", [])
        return self._rows(
            f"SELECT id, station_id, action, reason, uid, created_at, created_by, status, "
            f"applied_at, result FROM commands {where} ORDER BY rowid DESC LIMIT ?",
            [*params, limit],
        )
