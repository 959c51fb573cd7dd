"""Sites: the fablabs of a network, the station and member each belongs to, the accounts each
is limited to, and the inductions a site asks for on its own machines."""

from __future__ import annotations

from typing import Any

from central import clock
from central.errors import NotFound
from central.sites import check_site_id
from central.sqlite.base import SqliteBase


class SitesSqlite(SqliteBase):
    """The network's sites and who and what belongs to which."""

    def sites(self) -> list[dict[str, Any]]:
        """Every site with how many stations and members it has."""
        return self._rows(
            """SELECT s.id, s.name, s.created_at,
                      (SELECT COUNT(*) FROM stations t WHERE t.site_id = s.id) AS stations,
                      (SELECT COUNT(*) FROM members m WHERE m.site_id = s.id
                       AND m.active = 1) AS members
               FROM sites s ORDER BY s.id"""
        )

    def add_site(self, site_id: str, name: str) -> bool:
        """Create a site, or rename it; True if it is new."""
        check_site_id(site_id)
        name = name.strip()[:120] or site_id
        with self._transaction() as conn:
            exists = conn.execute("SELECT 1 FROM sites WHERE id = ?", (site_id,)).fetchone()
            if exists:
                conn.execute("UPDATE sites SET name = ? WHERE id = ?", (name, site_id))
            else:
                conn.execute(
                    "INSERT INTO sites (id, name, created_at) VALUES (?, ?, ?)",
                    (site_id, name, clock.now_iso()),
                )
        return not exists

    def _site_exists(self, conn: Any, site_id: str) -> None:
        if not conn.execute("SELECT 1 FROM sites WHERE id = ?", (site_id,)).fetchone():
            raise NotFound(
                f"no site {site_id}: create it with `station-central site add`",
                code="site_missing",
                site=site_id,
            )

    def move_station(self, station_id: str, site_id: str) -> None:
        """The station belongs to ``site_id`` from now on; its past sessions stay counted at
        the site where they happened."""
        with self._transaction() as conn:
            self._site_exists(conn, site_id)
            cur = conn.execute(
                "UPDATE stations SET site_id = ? WHERE id = ?", (site_id, station_id)
            )
            if cur.rowcount == 0:
                raise NotFound(f"no station {station_id}")
            self._bump(conn)  # its roster now carries the new site's own inductions

    def move_member(self, member_id: str, site_id: str) -> None:
        """A member's home site changes (who manages them); their levels count everywhere."""
        with self._transaction() as conn:
            self._site_exists(conn, site_id)
            cur = conn.execute("UPDATE members SET site_id = ? WHERE id = ?", (site_id, member_id))
            if cur.rowcount == 0:
                raise NotFound(f"no member {member_id}")

    def set_user_site(self, username: str, site_id: str | None) -> None:
        """Limit an account to one site, or (None) give it the whole network; its open
        sessions end (the new scope applies from its next login)."""
        with self._transaction() as conn:
            if site_id is not None:
                self._site_exists(conn, site_id)
            cur = conn.execute(
                "UPDATE users SET site_id = ?, session_generation = session_generation + 1 "
                "WHERE username = ?",
                (site_id, username),
            )
            if cur.rowcount == 0:
                raise NotFound(f"no account {username!r}: see `station-central user list`")

    def member_site(self, member_id: str) -> str | None:
        """The member's site, None if there is no such member."""
        row = self.db.conn.execute(
            "SELECT site_id FROM members WHERE id = ?", (member_id,)
        ).fetchone()
        return str(row[0]) if row else None

    def set_induction_required(self, site_id: str, kind: str, required: bool) -> None:
        """Whether ``site_id`` asks for its own induction before its machines of ``kind``."""
        with self._transaction() as conn:
            self._site_exists(conn, site_id)
            conn.execute(
                "INSERT INTO site_kinds (site_id, kind, induction_required) VALUES (?, ?, ?) "
                "ON CONFLICT (site_id, kind) DO UPDATE SET "
                "induction_required = excluded.induction_required",
                (site_id, kind, int(required)),
            )
            self._bump(conn)  # the stations' rosters carry it

    def record_site_induction(self, member_id: str, site_id: str, kind: str, by: str) -> None:
        """``member_id`` had ``site_id``'s own induction on ``kind``."""
        with self._transaction() as conn:
            self._site_exists(conn, site_id)
            if not conn.execute("SELECT 1 FROM members WHERE id = ?", (member_id,)).fetchone():
                raise NotFound(f"no member {member_id}")
            conn.execute(
                "INSERT INTO site_inductions (member_id, site_id, kind, at, by) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (member_id, site_id, kind) DO NOTHING",
                (member_id, site_id, kind, clock.now_iso(), by),
            )
            self._bump(conn)

    def site_inductions(self, site_id: str) -> dict[str, Any]:
        """What a station of ``site_id`` needs to decide: the kinds that ask for the site's
        own induction, and who had it on which kind."""
        required = self._rows(
            "SELECT kind FROM site_kinds WHERE site_id = ? AND induction_required = 1 "
            "ORDER BY kind",
            (site_id,),
        )
        inducted = self._rows(
            "SELECT member_id, kind FROM site_inductions WHERE site_id = ? ORDER BY 1, 2",
            (site_id,),
        )
        return {
            "induction_required": [r["kind"] for r in required],
            "inducted": [[r["member_id"], r["kind"]] for r in inducted],
        }
