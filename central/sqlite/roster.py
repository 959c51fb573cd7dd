"""The roster: members, badges, qualifications (with their history), enrolment at a station."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from central import clock
from central.errors import BadgeHeld, BadgesHeldInImport, Conflict, NotFound, OtherSite
from central.roster_import import NewerGrant, grants_to_keep, keeping
from central.sites import DEFAULT_SITE
from central.sqlite.base import SqliteBase
from station.model import Level, Role
from station.roster import RosterImport


class _NothingChanged(Exception):
    """Raised inside import_roster's transaction to roll back the version bump."""


def _qualification_rows(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    cur = conn.execute("SELECT member_id, kind, level, granted_by, granted_at FROM qualifications")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _first_name(name: str, fallback: str) -> str:
    return name.split()[0] if name.strip() else fallback


def _site_induction(conn: Any, station_id: str) -> dict[str, Any] | None:
    """For a station: whether its site asks for its own induction on the station's kind, and
    which members had it there (every kind of the site when the store knows no kind for it)."""
    row = conn.execute("SELECT site_id, kind FROM stations WHERE id = ?", (station_id,)).fetchone()
    if row is None:
        return None
    site, kind = row[0], row[1]
    required = [
        r[0]
        for r in conn.execute(
            "SELECT kind FROM site_kinds WHERE site_id = ? AND induction_required = 1 "
            "ORDER BY kind",
            (site,),
        )
        if not kind or r[0] == kind
    ]
    inducted = [
        [r[0], r[1]]
        for r in conn.execute(
            "SELECT member_id, kind FROM site_inductions WHERE site_id = ? "
            "ORDER BY member_id, kind",
            (site,),
        )
        if r[1] in required
    ]
    return {"site": site, "required": required, "inducted": inducted}


def _silent_moves(conn: Any, roster: RosterImport) -> list[tuple[str, str, str, str]]:
    """Badges the file gives to someone while an active member holds them active, and that
    member is not in the file (so the file does not show the card leaving them): Léa's card must
    not reach Noah because a spreadsheet says so. A card of a member who left (inactive), or a
    revoked card, may be given again."""
    in_file = {m.id: m.name for m in roster.members}
    moves = []
    for b in roster.badges:
        row = conn.execute(
            "SELECT b.member_id, m.name FROM badges b JOIN members m ON m.id = b.member_id "
            "WHERE b.uid = ? AND b.active = 1 AND m.active = 1",
            (b.uid,),
        ).fetchone()
        if row is not None and row[0] != b.member_id and row[0] not in in_file:
            to = conn.execute("SELECT name FROM members WHERE id = ?", (b.member_id,)).fetchone()
            moves.append(
                (b.uid, row[0], row[1], in_file.get(b.member_id) or (to and to[0]) or b.member_id)
            )
    return moves


class RosterSqlite(SqliteBase):
    """Members, badges and qualifications, versioned for the stations' sync."""

    def roster_version(self) -> int:
        value = self._one("SELECT value FROM meta WHERE key = 'roster_version'")
        return int(value) if value else 0

    def roster_changes(self, since: int, station_id: str | None = None) -> dict[str, Any] | None:
        """What a station at roster version ``since`` lacks; None when it is up to date.

        A station at version 0 (never synced) or ahead of this store (the store was reset) gets
        the whole roster (``full``). Stations get first names only: they need no more. With
        ``station_id``, the reply also carries its site's own induction (``site_induction``,
        whole every time: a station keeps no older copy of it).
        """
        with self._read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'roster_version'").fetchone()
            current = int(row[0]) if row else 0
            if current == 0 or since == current:
                return None
            full = since == 0 or since > current
            after = 0 if full else since
            members = [
                {
                    "id": r[0],
                    "name": _first_name(r[1], r[0]),
                    "role": r[2],
                    "active": bool(r[3]),
                    # the kinds whose induction quiz they passed (issue 15); absent: none
                    **({"inducted": sorted(r[4].split(","))} if r[4] else {}),
                }
                for r in conn.execute(
                    "SELECT id, name, role, active, (SELECT group_concat(kind) FROM quiz_passes "
                    "p WHERE p.member_id = m.id) FROM members m WHERE version > ? ORDER BY id",
                    (after,),
                )
            ]
            badges = [
                {"uid": r[0], "member_id": r[1], "active": bool(r[2])}
                for r in conn.execute(
                    "SELECT uid, member_id, active FROM badges WHERE version > ? ORDER BY uid",
                    (after,),
                )
            ]
            quals = [
                {
                    "member_id": r[0],
                    "kind": r[1],
                    "level": r[2],
                    "granted_by": r[3],
                    "granted_at": r[4],
                }
                for r in conn.execute(
                    "SELECT member_id, kind, level, granted_by, granted_at FROM qualifications "
                    "WHERE version > ? AND NOT (? AND level = 'none') ORDER BY member_id, kind",
                    (after, full),
                )
            ]
            site_induction = _site_induction(conn, station_id) if station_id else None
        return {
            "version": current,
            "full": full,
            "members": members,
            "badges": badges,
            "qualifications": quals,
            **({"site_induction": site_induction} if site_induction else {}),
        }

    def import_roster(self, roster: RosterImport, *, replace_all: bool = True) -> dict[str, int]:
        """Store a parsed roster CSV (the stations' format) in one transaction, as one version.

        With ``replace_all`` the file is the whole roster: members missing from it become
        inactive (their history refers to them), their badges too, and qualifications of the
        file's members that the file leaves out are withdrawn.
        """
        try:
            changed = self._import_roster(roster, replace_all)
        except _NothingChanged:
            changed = 0
        return {
            "members": len(roster.members),
            "badges": len(roster.badges),
            "qualifications": len(roster.qualifications),
            "changed": changed,
        }

    def import_roster_keeping_grants(
        self,
        roster: RosterImport,
        *,
        replace_all: bool,
        since: datetime,
        site_id: str | None = None,
    ) -> tuple[dict[str, int], list[NewerGrant]]:
        """:meth:`import_roster`, keeping the levels set by a person after ``since`` that the
        file would lower or withdraw (central/roster_import.py); returns them too."""
        kept: list[NewerGrant] = []
        try:
            changed = self._import_roster(roster, replace_all, keep=(since, kept), site_id=site_id)
        except _NothingChanged:
            changed = 0
        counts = {
            "members": len(roster.members),
            "badges": len(roster.badges),
            "qualifications": len(roster.qualifications),
            "changed": changed,
        }
        return counts, kept

    def grants_an_import_undoes(
        self, roster: RosterImport, *, replace_all: bool, since: datetime
    ) -> list[NewerGrant]:
        """The levels set by a person after ``since`` that importing ``roster`` would undo."""
        with self._read() as conn:
            return grants_to_keep(
                _qualification_rows(conn), roster, replace_all=replace_all, since=since
            )

    def _import_roster(
        self,
        roster: RosterImport,
        replace_all: bool,
        keep: tuple[datetime, list[NewerGrant]] | None = None,
        site_id: str | None = None,
    ) -> int:
        """``site_id``: the import of one site's educator — its new members join that site, a
        member of another site is refused, and a whole roster replaces only that site's."""
        changed = 0
        with self._transaction() as conn:
            if site_id is not None:
                named = {m.id for m in roster.members} | {b.member_id for b in roster.badges}
                named |= {q.member_id for q in roster.qualifications}
                refuse_other_sites(conn, site_id, sorted(named))
            moves = _silent_moves(conn, roster)
            if moves:
                raise BadgesHeldInImport(moves)
            if keep is not None:  # in the transaction: a grant arriving now is seen or after
                since, kept = keep
                kept += grants_to_keep(
                    _qualification_rows(conn), roster, replace_all=replace_all, since=since
                )
                roster = keeping(roster, kept)
            version = self._bump(conn)
            stamp = clock.now_iso()
            ids = {m.id for m in roster.members}
            uids = {b.uid for b in roster.badges}
            for m in roster.members:
                old = conn.execute(
                    "SELECT name, role, active FROM members WHERE id = ?", (m.id,)
                ).fetchone()
                if old != (m.name, m.role.value, int(m.active)):
                    conn.execute(
                        "INSERT INTO members (id, name, role, active, version, updated_at, "
                        "site_id) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                        "name = excluded.name, role = excluded.role, active = excluded.active, "
                        "version = excluded.version, updated_at = excluded.updated_at",
                        (
                            m.id,
                            m.name,
                            m.role.value,
                            int(m.active),
                            version,
                            stamp,
                            site_id or DEFAULT_SITE,
                        ),
                    )
                    changed += 1
            for b in roster.badges:
                old = conn.execute(
                    "SELECT member_id, active FROM badges WHERE uid = ?", (b.uid,)
                ).fetchone()
                if old != (b.member_id, int(b.active)):
                    conn.execute(
                        "INSERT INTO badges (uid, member_id, active, version) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT(uid) DO UPDATE SET member_id = excluded.member_id, "
                        "active = excluded.active, version = excluded.version",
                        (b.uid, b.member_id, int(b.active), version),
                    )
                    changed += 1
            wanted = {(q.member_id, q.kind): q for q in roster.qualifications}
            for q in roster.qualifications:
                old = conn.execute(
                    "SELECT level FROM qualifications WHERE member_id = ? AND kind = ?",
                    (q.member_id, q.kind),
                ).fetchone()
                if old is None or old[0] != q.level.value:
                    conn.execute(
                        "INSERT INTO qualifications (member_id, kind, level, granted_by, "
                        "granted_at, version) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(member_id, "
                        "kind) DO UPDATE SET level = excluded.level, granted_by = "
                        "excluded.granted_by, granted_at = excluded.granted_at, "
                        "version = excluded.version",
                        (
                            q.member_id,
                            q.kind,
                            q.level.value,
                            q.granted_by or "import",
                            stamp,
                            version,
                        ),
                    )
                    changed += 1
            if replace_all:
                scoped, site_params = (
                    ("", ()) if site_id is None else (" AND site_id = ?", (site_id,))
                )
                for (mid,) in conn.execute(
                    f"SELECT id FROM members WHERE active = 1{scoped}", site_params
                ).fetchall():
                    if mid not in ids:
                        conn.execute(
                            "UPDATE members SET active = 0, version = ?, updated_at = ? "
                            "WHERE id = ?",
                            (version, stamp, mid),
                        )
                        changed += 1
                for (uid,) in conn.execute(
                    "SELECT uid FROM badges WHERE active = 1 AND member_id IN "
                    f"(SELECT id FROM members WHERE 1 = 1{scoped})",
                    site_params,
                ).fetchall():
                    if uid not in uids:
                        conn.execute(
                            "UPDATE badges SET active = 0, version = ? WHERE uid = ?",
                            (version, uid),
                        )
                        changed += 1
                for mid, kind in conn.execute(
                    "SELECT member_id, kind FROM qualifications WHERE level != 'none'"
                ).fetchall():
                    if mid in ids and (mid, kind) not in wanted:
                        conn.execute(
                            "UPDATE qualifications SET level = 'none', version = ? "
                            "WHERE member_id = ? AND kind = ?",
                            (version, mid, kind),
                        )
                        changed += 1
            if changed == 0:
                raise _NothingChanged  # roll back the version bump: stations have nothing to do
        return changed

    def roster_rows(self) -> dict[str, list[dict[str, Any]]]:
        with self._read() as conn:
            out = {}
            for table, cols in (
                ("members", "id, name, role, active, version, erased_at, site_id"),
                ("badges", "uid, member_id, active, version"),
                ("qualifications", "member_id, kind, level, granted_by, granted_at, version"),
            ):
                cur = conn.execute(f"SELECT {cols} FROM {table} ORDER BY 1, 2")
                names = [d[0] for d in cur.description]
                out[table] = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        return out

    def enrol_from_station(
        self,
        station_id: str,
        uid: str,
        by: str,
        *,
        member_id: str | None = None,
        new_name: str | None = None,
    ) -> dict[str, Any]:
        """A technician at a station gives an unknown badge to a member (or to a new trainee):
        the badge reaches every station with the next roster sync. A station may only enrol a
        badge no one holds (not even inactive: a revoked badge comes back only by an educator),
        give it to an active trainee or staff member, and create trainees only."""
        with self._transaction() as conn:
            holder = conn.execute("SELECT member_id FROM badges WHERE uid = ?", (uid,)).fetchone()
            if holder is not None:
                raise Conflict(
                    f"badge {uid} is already in the roster: an educator moves or restores it "
                    "on the central store's member page",
                    code="badge_in_roster",
                    uid=uid,
                )
            created = new_name is not None
            if new_name is not None:
                member_id = self._new_member_id(conn, new_name)
                version = self._bump(conn)
                conn.execute(
                    # A newcomer enrolled at a machine belongs to that machine's fablab.
                    "INSERT INTO members (id, name, role, active, version, updated_at, site_id) "
                    "VALUES (?, ?, 'trainee', 1, ?, ?, "
                    "COALESCE((SELECT site_id FROM stations WHERE id = ?), ?))",
                    (member_id, new_name, version, clock.now_iso(), station_id, DEFAULT_SITE),
                )
            row = conn.execute(
                "SELECT name, active, erased_at FROM members WHERE id = ?", (member_id,)
            ).fetchone()
            if row is None or row[2] is not None:
                raise NotFound(
                    f"no member {member_id!r} in the roster",
                    code="member_missing",
                    member=member_id,
                )
            if not row[1]:
                raise Conflict(
                    f"member {member_id!r} is inactive: an educator reactivates them",
                    code="member_inactive",
                    member=member_id,
                )
            version = self._bump(conn)
            conn.execute(
                "INSERT INTO badges (uid, member_id, active, version) VALUES (?, ?, 1, ?)",
                (uid, member_id, version),
            )
            conn.execute(
                "INSERT INTO station_enrolments (uid, member_id, station_id, by, at, "
                "created_member) VALUES (?, ?, ?, ?, ?, ?)",
                (uid, member_id, station_id, by, clock.now_iso(), int(created)),
            )
        return {
            "uid": uid,
            "member_id": member_id,
            "member_name": row[0],
            "created_member": created,
            "roster_version": version,
        }

    @staticmethod
    def _new_member_id(conn: sqlite3.Connection, name: str) -> str:
        """An id from the name, as educators write them (« Zoé Leroy » → ``zoe-leroy``)."""
        import unicodedata

        plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
        base = "-".join("".join(c if c.isalnum() else " " for c in plain).split())[:40] or "membre"
        candidate, n = base, 1
        while conn.execute("SELECT 1 FROM members WHERE id = ?", (candidate,)).fetchone():
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    def station_enrolments(self, limit: int = 50) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT uid, member_id, station_id, by, at, created_member FROM station_enrolments "
            "ORDER BY rowid DESC LIMIT ?",
            (limit,),
        )

    def set_badge_active(self, uid: str, active: bool) -> None:
        """Revoke (or restore) a badge: a roster change every station gets at its next sync."""
        with self._transaction() as conn:
            if not conn.execute("SELECT 1 FROM badges WHERE uid = ?", (uid,)).fetchone():
                raise NotFound(f"no badge {uid}")
            version = self._bump(conn)
            conn.execute(
                "UPDATE badges SET active = ?, version = ? WHERE uid = ?",
                (int(active), version, uid),
            )

    def set_qualification(self, member_id: str, kind: str, level: Level, by: str) -> None:
        """An educator sets a level (``none`` withdraws it); recorded with who granted it."""
        with self._transaction() as conn:
            if not conn.execute("SELECT 1 FROM members WHERE id = ?", (member_id,)).fetchone():
                raise NotFound(f"no member {member_id}")
            version = self._bump(conn)
            conn.execute(
                "INSERT INTO qualifications (member_id, kind, level, granted_by, granted_at, "
                "version) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(member_id, kind) DO UPDATE SET "
                "level = excluded.level, granted_by = excluded.granted_by, "
                "granted_at = excluded.granted_at, version = excluded.version",
                (member_id, kind, level.value, by, clock.now_iso(), version),
            )

    def upsert_member(
        self,
        member_id: str,
        name: str,
        role: Role,
        active: bool = True,
        *,
        site_id: str | None = None,
    ) -> None:
        """Create or change a member. ``site_id``: a new member's site (default: the default
        site); set by a site's educator, an existing member of another site is refused."""
        with self._transaction() as conn:
            if site_id is not None:
                refuse_other_sites(conn, site_id, [member_id])
            version = self._bump(conn)
            conn.execute(
                "INSERT INTO members (id, name, role, active, version, updated_at, site_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, "
                "role = excluded.role, active = excluded.active, version = excluded.version, "
                "updated_at = excluded.updated_at",
                (
                    member_id,
                    name,
                    role.value,
                    int(active),
                    version,
                    clock.now_iso(),
                    site_id or DEFAULT_SITE,
                ),
            )

    def add_badge(self, uid: str, member_id: str, *, move: bool = False) -> None:
        """Give a badge to a member. A badge another member holds moves only with ``move``
        (the educator confirmed it): a typo must not silently take Léa's card away."""
        with self._transaction() as conn:
            if not conn.execute("SELECT 1 FROM members WHERE id = ?", (member_id,)).fetchone():
                raise NotFound(f"no member {member_id}")
            holder = conn.execute("SELECT member_id FROM badges WHERE uid = ?", (uid,)).fetchone()
            if holder is not None and holder[0] != member_id and not move:
                raise BadgeHeld(uid, holder[0])
            version = self._bump(conn)
            conn.execute(
                "INSERT INTO badges (uid, member_id, active, version) VALUES (?, ?, 1, ?) "
                "ON CONFLICT(uid) DO UPDATE SET member_id = excluded.member_id, active = 1, "
                "version = excluded.version",
                (uid, member_id, version),
            )

    def member_detail(self, member_id: str) -> dict[str, Any]:
        """One member with badges, qualifications (who granted them) and grants they gave."""
        rows = self._rows(
            "SELECT id, name, role, active, version, updated_at, erased_at, site_id "
            "FROM members WHERE id = ?",
            (member_id,),
        )
        if not rows:
            raise NotFound(f"no member {member_id}")
        member = rows[0]
        member["active"] = bool(member["active"])
        member["badges"] = self._rows(
            "SELECT uid, active FROM badges WHERE member_id = ? ORDER BY uid", (member_id,)
        )
        member["qualifications"] = self._rows(
            "SELECT kind, level, granted_by, granted_at FROM qualifications "
            "WHERE member_id = ? AND level != 'none' ORDER BY kind",
            (member_id,),
        )
        member["grants_given"] = self._rows(
            "SELECT member_id, kind, level, granted_at, station_id FROM grants "
            "WHERE granted_by = ? ORDER BY granted_at DESC LIMIT 50",
            (member_id,),
        )
        return member


def refuse_other_sites(conn: Any, site_id: str, member_ids: list[str]) -> None:
    """A site's educator cannot change a member of another site (nothing is written)."""
    for i in range(0, len(member_ids), 500):
        chunk = member_ids[i : i + 500]
        row = conn.execute(
            f"SELECT id, site_id FROM members WHERE id IN ({', '.join('?' * len(chunk))}) "
            "AND site_id != ? ORDER BY id LIMIT 1",
            [*chunk, site_id],
        ).fetchone()
        if row is not None:
            raise OtherSite(
                f"member {row[0]} belongs to the site {row[1]}, not {site_id}: their educators "
                "manage them (a network admin can move them)",
                row[0],
            )
