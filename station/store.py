"""The station's SQLite store: the append-only event log, its projections and the roster cache.

The ``events`` table is the source of truth. Projections (``sessions``, ``machine``, the roster's
``qualifications`` after a grant) are updated from the events in the same transaction, so a crash
leaves either both or neither. WAL mode with ``synchronous=FULL``: a committed event survives a
power cut, which is what lets the controller commit *before* it switches the relay on.
"""

from __future__ import annotations

import errno
import json
import sqlite3
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, cast

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from station.clock import Now
from station.errors import StoreError
from station.events import (
    BadgeEnrolled,
    MachineStateChanged,
    QualificationGranted,
    SessionExtended,
    SessionStarted,
)
from station.finite import finite
from station.job import finishing_params, finishing_totals_sql, session_totals_sql
from station.model import Badge, Level, MachineState, Member, Qualification, Role
from station.roster import Roster, RosterImport
from station.roster_age import Anchor
from station.sqlite import immediate, open_sqlite

migrations = Migrations("fabrique-station")


@migrations()
def m001_events(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE events (
            id TEXT PRIMARY KEY,
            station_id TEXT NOT NULL,
            seq INTEGER NOT NULL UNIQUE,
            type TEXT NOT NULL,
            at TEXT NOT NULL,
            clock_synced INTEGER NOT NULL,
            boot_id TEXT NOT NULL,
            mono REAL NOT NULL,
            data TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX events_type ON events(type)")
    # Append-only: the log is evidence; projections are rebuilt from it, never the other way.
    db.execute(
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
    )
    db.execute(
        "CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
    )


@migrations()
def m002_projections(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            member_id TEXT NOT NULL,
            member_name TEXT,
            supervisor_id TEXT,
            supervisor_name TEXT,
            started_at TEXT NOT NULL,
            ends_at TEXT,
            ended_at TEXT,
            end_reason TEXT,
            duration_s REAL,
            enabled_s REAL,
            active_s REAL,
            idle_s REAL,
            energy_wh REAL,
            extensions INTEGER NOT NULL DEFAULT 0,
            last_heartbeat_at TEXT,
            started_seq INTEGER NOT NULL,
            ended_seq INTEGER
        )"""
    )
    db.execute("CREATE INDEX sessions_open ON sessions(ended_at)")
    db.execute(
        """
        CREATE TABLE machine (
            id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            reason TEXT,
            changed_at TEXT NOT NULL,
            changed_by TEXT
        )"""
    )


@migrations()
def m003_roster(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE members (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('trainee', 'educator', 'technician')),
            active INTEGER NOT NULL DEFAULT 1
        )"""
    )
    db.execute(
        """
        CREATE TABLE badges (
            uid TEXT PRIMARY KEY,
            member_id TEXT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
            active INTEGER NOT NULL DEFAULT 1
        )"""
    )
    db.execute(
        """
        CREATE TABLE qualifications (
            member_id TEXT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            level TEXT NOT NULL CHECK (level IN ('supervised', 'autonomous', 'mentor')),
            granted_by TEXT,
            granted_at TEXT,
            PRIMARY KEY (member_id, kind)
        )"""
    )
    db.execute("CREATE TABLE roster_meta (key TEXT PRIMARY KEY, value TEXT)")


@migrations()
def m004_sensors(db: Database) -> None:
    db.execute("ALTER TABLE sessions ADD COLUMN unknown_s REAL")
    db.execute("ALTER TABLE sessions ADD COLUMN finishing_s REAL")
    db.execute("ALTER TABLE sessions ADD COLUMN finishing_energy_wh REAL")
    # Per-minute aggregates: raw samples are never written (SD cards wear out).
    db.execute(
        """
        CREATE TABLE samples (
            minute TEXT PRIMARY KEY,
            power_samples INTEGER NOT NULL,
            watts_min REAL,
            watts_mean REAL,
            watts_max REAL,
            energy_wh REAL,
            air_samples INTEGER NOT NULL,
            pm25_mean REAL,
            pm25_max REAL,
            pm10_mean REAL,
            pm10_max REAL
        )"""
    )


@migrations()
def m005_whole_job(db: Database) -> None:
    # A session's totals include its finishing phase (station/job.py): keep each phase figure
    # apart, then project the stored ends again so older sessions add up too.
    for phase in ("finishing_enabled_s", "finishing_active_s", "finishing_idle_s"):
        db.execute(f"ALTER TABLE sessions ADD COLUMN {phase} REAL")
    db.execute("ALTER TABLE sessions ADD COLUMN finishing_unknown_s REAL")
    db.execute("ALTER TABLE sessions ADD COLUMN finished_at TEXT")
    rows = db.execute(
        "SELECT type, at, seq, data FROM events WHERE type IN ('session_ended', "
        "'finishing_ended') AND json_extract(data, '$.session_id') IN (SELECT json_extract("
        "data, '$.session_id') FROM events WHERE type = 'finishing_ended') ORDER BY seq"
    ).fetchall()
    for type_, at, seq, data in rows:
        project_job(db.conn, type_, json.loads(data), at, seq)


@migrations()
def m006_inductions(db: Database) -> None:
    # The kinds whose induction quiz a member passed (comma-separated), from the central store.
    db.execute("ALTER TABLE members ADD COLUMN inducted TEXT NOT NULL DEFAULT ''")


@migrations()
def m007_site_induction(db: Database) -> None:
    # The kinds on which a member had this station's site's own induction (comma-separated);
    # the kinds the site asks it for are in roster_meta ('site_induction_kinds').
    db.execute("ALTER TABLE members ADD COLUMN site_inducted TEXT NOT NULL DEFAULT ''")


SESSION_TOTALS = ("duration_s", "enabled_s", "active_s", "idle_s", "unknown_s", "energy_wh")


def project_job(conn: sqlite3.Connection, type_: str, d: dict[str, Any], at: str, seq: int) -> None:
    """A session's end, or the end of its finishing phase: the row holds the whole job's totals."""
    if type_ == "session_ended":
        conn.execute(
            "UPDATE sessions SET ended_at = :ended_at, end_reason = :end_reason, ended_seq = :seq,"
            f" {session_totals_sql(SESSION_TOTALS)} WHERE id = :id",
            {
                "ended_at": d.get("ended_at", at),
                "end_reason": d["end_reason"],
                "seq": seq,
                "id": d["session_id"],
                **{t: d.get(t) for t in SESSION_TOTALS},
            },
        )
    else:
        # The job that ran on after badge-out belongs to the session that started it.
        conn.execute(
            f"UPDATE sessions SET finished_at = :finished_at, "
            f"{finishing_totals_sql(SESSION_TOTALS)} WHERE id = :id",
            {
                "finished_at": d.get("ended_at", at),
                "id": d["session_id"],
                **finishing_params(d, SESSION_TOTALS),
            },
        )


def store_problem(e: BaseException, path: Path) -> str | None:
    """One sentence saying what is wrong with the store and what to do, for the failures an
    operator can fix (a full disk, a damaged file, a missing folder); None for the others."""
    text = str(e).lower()
    if isinstance(e, sqlite3.Error | OSError | StoreError):
        if "disk is full" in text or getattr(e, "errno", None) == errno.ENOSPC:
            return (
                f"the disk holding the store {path} is full: free some space on the SD card "
                '(see docs/operations.md, "When the disk is full"), then start the station again'
            )
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return (
                f"the store {path} is damaged: stop the station, move the file (and its -wal and "
                "-shm files) aside and restore the last backup (see docs/operations.md, Restore)"
            )
        if "disk i/o error" in text or getattr(e, "errno", None) in (errno.EIO, errno.EFBIG):
            return (
                f"the SD card refused a write to the store {path} (disk I/O error): free some "
                'space (see docs/operations.md, "When the disk is full"); if that is not it, the '
                "card is failing: restore the last backup on a new card, then start the station "
                "again"
            )
        if "unable to open" in text or "readonly" in text or "permission" in text:
            return (
                f"cannot write the store {path}: check that its folder exists and belongs to "
                "the station's user (see docs/install.md)"
            )
    return None


def open_database(path: Path) -> Database:
    """Open (creating if needed) with the per-connection settings every connection needs."""
    return open_sqlite(path, migrations, error=StoreError)


class Store:
    """One connection, used by one thread (SQLite connections are not shared across threads)."""

    def __init__(self, path: Path, station_id: str, machine_id: str) -> None:
        self.path = path
        self.station_id = station_id
        self.machine_id = machine_id
        self.db = open_database(path)

    def close(self) -> None:
        self.db.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """BEGIN IMMEDIATE: take the write lock up front, so seq never races another writer."""
        return immediate(self.db.conn)

    # --- events -------------------------------------------------------------------------------

    def append(
        self, records: Sequence[tuple[str, Mapping[str, Any]]], now: Now, boot_id: str
    ) -> list[dict[str, Any]]:
        """Append events and update projections in one transaction; return the stored events."""
        if not records:
            return []
        stored: list[dict[str, Any]] = []
        with self._transaction() as conn:
            (last,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
            for i, (type_, data) in enumerate(records, start=1):
                event = {
                    "id": str(uuid.uuid4()),
                    "station_id": self.station_id,
                    "seq": last + i,
                    "type": type_,
                    "at": now.iso(),
                    "clock_synced": now.synced,
                    "boot_id": boot_id,
                    "mono": now.mono,
                    "data": data,
                }
                conn.execute(
                    "INSERT INTO events (id, station_id, seq, type, at, clock_synced, boot_id, "
                    "mono, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        event["id"],
                        self.station_id,
                        event["seq"],
                        type_,
                        event["at"],
                        int(now.synced),
                        boot_id,
                        now.mono,
                        json.dumps(
                            finite(data), ensure_ascii=False, separators=(",", ":"), allow_nan=False
                        ),
                    ),
                )
                self._project(conn, event)
                stored.append(event)
        return stored

    def _project(self, conn: sqlite3.Connection, e: dict[str, Any]) -> None:
        d, t, at = e["data"], e["type"], e["at"]
        if t == "session_started":
            started = cast(SessionStarted, d)
            conn.execute(
                "INSERT INTO sessions (id, member_id, member_name, supervisor_id, supervisor_name,"
                " started_at, ends_at, last_heartbeat_at, started_seq) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    started["session_id"],
                    started["member_id"],
                    started.get("member_name"),
                    started.get("supervisor_id"),
                    started.get("supervisor_name"),
                    at,
                    started.get("ends_at"),
                    at,
                    e["seq"],
                ),
            )
        elif t == "heartbeat" and d.get("session_id"):
            conn.execute(
                "UPDATE sessions SET last_heartbeat_at = ? WHERE id = ? AND ended_at IS NULL",
                (at, d["session_id"]),
            )
        elif t == "session_extended":
            extended = cast(SessionExtended, d)
            conn.execute(
                "UPDATE sessions SET ends_at = ?, extensions = ? WHERE id = ?",
                (extended["ends_at"], extended.get("extensions", 0), extended["session_id"]),
            )
        elif t in ("session_ended", "finishing_ended"):
            project_job(conn, t, d, at, e["seq"])
        elif t == "machine_state_changed":
            changed = cast(MachineStateChanged, d)
            conn.execute(
                "INSERT INTO machine (id, state, reason, changed_at, changed_by) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET state = excluded.state, "
                "reason = excluded.reason, changed_at = excluded.changed_at, "
                "changed_by = excluded.changed_by",
                (self.machine_id, changed["to"], changed.get("reason"), at, changed.get("by")),
            )
        elif t == "badge_enrolled":
            enrolled = cast(BadgeEnrolled, d)
            conn.execute(
                "INSERT INTO badges (uid, member_id, active) VALUES (?, ?, 1) "
                "ON CONFLICT(uid) DO UPDATE SET member_id = excluded.member_id, active = 1",
                (enrolled["uid"], enrolled["member_id"]),
            )
        elif t == "qualification_granted":
            granted = cast(QualificationGranted, d)
            conn.execute(
                "INSERT INTO qualifications (member_id, kind, level, granted_by, granted_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(member_id, kind) DO UPDATE SET "
                "level = excluded.level, granted_by = excluded.granted_by, "
                "granted_at = excluded.granted_at",
                (
                    granted["member_id"],
                    granted["kind"],
                    granted["level"],
                    granted.get("granted_by"),
                    granted.get("granted_at"),
                ),
            )

    def events(self, after_seq: int = 0, limit: int | None = None) -> Iterator[dict[str, Any]]:
        sql = (
            "SELECT id, station_id, seq, type, at, clock_synced, boot_id, mono, data "
            "FROM events WHERE seq > ? ORDER BY seq"
        )
        params: list[Any] = [after_seq]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        for row in self.db.execute(sql, params):
            yield _event_row(row)

    def last_events(self, count: int) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT id, station_id, seq, type, at, clock_synced, boot_id, mono, data FROM events "
            "ORDER BY seq DESC LIMIT ?",
            [count],
        ).fetchall()
        return [_event_row(r) for r in reversed(rows)]

    def write_samples(self, rows: list[dict[str, Any]]) -> None:
        """Per-minute rows in one transaction; a minute written again replaces the older row."""
        if not rows:
            return
        columns = list(rows[0])
        sql = (
            f"INSERT OR REPLACE INTO samples ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})"
        )
        with self._transaction() as conn:
            conn.executemany(sql, [[row[c] for c in columns] for row in rows])

    def samples(self, limit: int = 60) -> list[dict[str, Any]]:
        return list(self.db["samples"].rows_where(order_by="minute DESC", limit=limit))

    def last_seq(self) -> int:
        return int(self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])

    def acked_seq(self) -> int:
        """The highest seq the central store acknowledged (0 before any sync)."""
        try:
            row = self.db.execute("SELECT value FROM sync_state WHERE key = 'acked_seq'").fetchone()
        except sqlite3.OperationalError:  # no sync_state table: this station never synced
            return 0
        return int(row[0]) if row else 0

    # --- projections --------------------------------------------------------------------------

    def machine_state(self) -> tuple[MachineState, str | None]:
        row = self.db.execute(
            "SELECT state, reason FROM machine WHERE id = ?", [self.machine_id]
        ).fetchone()
        if row is None:
            return MachineState.AVAILABLE, None
        return MachineState(row[0]), row[1]

    def open_session(self) -> dict[str, Any] | None:
        rows = list(self.db["sessions"].rows_where("ended_at IS NULL", order_by="started_seq"))
        return rows[-1] if rows else None

    def sessions(self, limit: int = 100) -> list[dict[str, Any]]:
        return list(self.db["sessions"].rows_where(order_by="started_seq DESC", limit=limit))

    # --- roster -------------------------------------------------------------------------------

    def import_roster(
        self,
        roster: RosterImport,
        *,
        replace_all: bool = True,
        fresh: Anchor | None = None,
    ) -> dict[str, int]:
        """Store a parsed CSV in one transaction.

        With ``replace_all`` the file is the whole roster: members missing from it are kept (their
        history refers to them) but made inactive, and their badges deactivated. ``fresh`` (when
        and on which boot the import ran) restarts the roster's age (station/roster_age.py).
        """
        with self._transaction() as conn:
            if fresh is not None:
                _write_anchor(conn, fresh)
            if replace_all:
                ids = [m.id for m in roster.members]
                uids = [b.uid for b in roster.badges]
                conn.execute(f"UPDATE members SET active = 0 WHERE id NOT IN ({_marks(ids)})", ids)
                conn.execute(
                    f"UPDATE badges SET active = 0 WHERE uid NOT IN ({_marks(uids)})", uids
                )
                # The file is the master: its qualifications replace those stored for its members.
                conn.execute(f"DELETE FROM qualifications WHERE member_id IN ({_marks(ids)})", ids)
            for m in roster.members:
                conn.execute(
                    "INSERT INTO members (id, name, role, active) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET name = excluded.name, role = excluded.role, "
                    "active = excluded.active",
                    (m.id, m.name, m.role.value, int(m.active)),
                )
            for b in roster.badges:
                conn.execute(
                    "INSERT INTO badges (uid, member_id, active) VALUES (?, ?, ?) "
                    "ON CONFLICT(uid) DO UPDATE SET member_id = excluded.member_id, "
                    "active = excluded.active",
                    (b.uid, b.member_id, int(b.active)),
                )
            for q in roster.qualifications:
                conn.execute(
                    "INSERT INTO qualifications (member_id, kind, level, granted_by, granted_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT(member_id, kind) DO UPDATE SET "
                    "level = excluded.level",
                    (q.member_id, q.kind, q.level.value, q.granted_by, q.granted_at),
                )
            (version,) = conn.execute(
                "SELECT COALESCE(CAST(value AS INTEGER), 0) FROM roster_meta WHERE key='version'"
            ).fetchone() or (0,)
            conn.execute(
                "INSERT INTO roster_meta (key, value) VALUES ('version', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(version + 1),),
            )
        return {
            "members": len(roster.members),
            "badges": len(roster.badges),
            "qualifications": len(roster.qualifications),
        }

    def roster_anchor(self) -> Anchor | None:
        """The last instant the roster was known current (None: never, or unreadable)."""
        rows = self.db.execute(
            "SELECT key, value FROM roster_meta WHERE key LIKE 'fresh_%'"
        ).fetchall()
        return Anchor.from_rows({k: v for k, v in rows})

    def set_roster_anchor(self, anchor: Anchor) -> None:
        with self._transaction() as conn:
            _write_anchor(conn, anchor)

    def roster_version(self) -> int:
        """The stored roster's version; every writer of the roster tables raises it."""
        row = self.db.execute("SELECT value FROM roster_meta WHERE key = 'version'").fetchone()
        return int(row[0]) if row else 0

    def roster(self) -> Roster:
        members = {
            r[0]: Member(
                r[0],
                r[1],
                Role(r[2]),
                bool(r[3]),
                frozenset(filter(None, r[4].split(","))),
                frozenset(filter(None, r[5].split(","))),
            )
            for r in self.db.execute(
                "SELECT id, name, role, active, inducted, site_inducted FROM members"
            )
        }
        badges = {
            r[0]: Badge(r[0], r[1], bool(r[2]))
            for r in self.db.execute("SELECT uid, member_id, active FROM badges")
        }
        quals = {
            (r[0], r[1]): Qualification(r[0], r[1], Level(r[2]), r[3], r[4])
            for r in self.db.execute(
                "SELECT member_id, kind, level, granted_by, granted_at FROM qualifications"
            )
        }
        row = self.db.execute("SELECT value FROM roster_meta WHERE key = 'version'").fetchone()
        kinds = self.db.execute(
            "SELECT value FROM roster_meta WHERE key = 'site_induction_kinds'"
        ).fetchone()
        return Roster(
            members,
            badges,
            quals,
            version=int(row[0]) if row else 0,
            site_induction_kinds=frozenset(filter(None, kinds[0].split(",")))
            if kinds
            else frozenset(),
        )


def _write_anchor(conn: sqlite3.Connection, anchor: Anchor) -> None:
    conn.executemany(
        "INSERT INTO roster_meta (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        list(anchor.as_rows().items()),
    )


def _marks(values: list[str]) -> str:
    """SQL placeholders for an IN list; ``NULL`` keeps an empty list valid (matches nothing)."""
    return ",".join("?" * len(values)) or "NULL"


def _event_row(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "id": row[0],
        "station_id": row[1],
        "seq": row[2],
        "type": row[3],
        "at": row[4],
        "clock_synced": bool(row[5]),
        "boot_id": row[6],
        "mono": row[7],
        "data": json.loads(row[8]),
    }
