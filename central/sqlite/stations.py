"""Stations and their tokens."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from central import clock
from central.errors import BadRequest, Conflict, NotFound
from central.sites import DEFAULT_SITE
from central.sqlite.base import SqliteBase
from station.config import ID_PATTERN

TOKEN_PREFIX = "fst_"
"""Station tokens start with it (a token pasted in the wrong place is easy to spot)."""


def hash_token(token: str) -> str:
    """Tokens are 256 random bits: a plain SHA-256 is enough (no dictionary to guess from)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class StationsSqlite(SqliteBase):
    """Stations, their tokens (only hashes are kept) and their last contact."""

    def add_station(
        self,
        station_id: str,
        *,
        name: str = "",
        machine_id: str = "",
        kind: str = "",
        site_id: str = DEFAULT_SITE,
    ) -> str:
        """Register a station at a site; return its token (only its hash is stored: print it
        once)."""
        if not ID_PATTERN.match(station_id):
            raise BadRequest(
                f"station id {station_id!r}: use lower-case letters, digits, - and _ (max 63)",
                "id",
                code="station_id_bad",
                id=station_id,
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM stations WHERE id = ?", (station_id,)).fetchone():
                raise Conflict(
                    f"station {station_id} exists already; `station token {station_id}` gives it "
                    "a new token",
                    code="station_exists",
                    id=station_id,
                )
            if not conn.execute("SELECT 1 FROM sites WHERE id = ?", (site_id,)).fetchone():
                raise NotFound(
                    f"no site {site_id}: create it with `station-central site add`",
                    code="site_missing",
                    site=site_id,
                )
            conn.execute(
                "INSERT INTO stations (id, name, machine_id, kind, token_hash, created_at, "
                "site_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    station_id,
                    name,
                    machine_id or station_id,
                    kind,
                    hash_token(token),
                    clock.now_iso(),
                    site_id,
                ),
            )
        return token

    def rotate_token(self, station_id: str) -> str:
        """A new token for a station (the old one stops working); re-activates a revoked one."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE stations SET token_hash = ?, active = 1, revoked_at = NULL WHERE id = ?",
                (hash_token(token), station_id),
            )
            if cur.rowcount == 0:
                raise NotFound(f"no station {station_id}; add it with `station add {station_id}`")
        return token

    def revoke_station(self, station_id: str) -> None:
        """Its token stops working at once; its events stay."""
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE stations SET token_hash = NULL, active = 0, revoked_at = ? WHERE id = ?",
                (clock.now_iso(), station_id),
            )
            if cur.rowcount == 0:
                raise NotFound(f"no station {station_id}")

    def stations(self) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT id, name, machine_id, kind, active, created_at, revoked_at, high_water, held,"
            " syncs, last_contact_at, last_status, backlog, site_id FROM stations ORDER BY id"
        )
        for r in rows:
            r["active"] = bool(r["active"])
            r["last_status"] = json.loads(r["last_status"]) if r["last_status"] else None
        return rows

    def station(self, station_id: str) -> dict[str, Any]:
        for s in self.stations():
            if s["id"] == station_id:
                return s
        raise NotFound(f"no station {station_id}")

    def station_for_token(self, token: str) -> str | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        row = self.db.conn.execute(
            "SELECT id FROM stations WHERE token_hash = ? AND active = 1", (hash_token(token),)
        ).fetchone()
        return row[0] if row else None
