"""The central store's storage: a narrow interface and its SQLite implementation.

:class:`CentralStore` is everything the HTTP face, the CLI and the reports need, in the users'
words, so that a PostgreSQL backend can follow by implementing the same methods. Events are keyed
on ``(station_id, seq)``: a retried or duplicated batch is harmless, and each station's
*high-water mark* (the highest seq up to which every event is held) is what a sync acknowledges.
Projections (sessions, grants, the roster's qualifications, command acknowledgements) are updated
in the same transaction as the events they come from.

:class:`SqliteCentralStore` is shared by every thread and opens one connection per thread
(SQLite connections are not shared across threads).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import math
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from central import scope
from central.alerts import BADGE_SEEN_AT_TWO_STATIONS, BadgeTap, badge_tap, seen_at_two_stations
from central.credentials.storage import CredentialsSqlite, m009_credentials
from central.errors import BadRequest, CentralError, Conflict, NotFound
from central.ingest import (
    Event,
    boot_offset,
    contiguous_high_water,
    iso,
    parse_at,
    parse_status,
    repaired_at,
)
from central.quiz_storage import QuizzesSqlite, m010_quizzes
from central.roster_import import NewerGrant, grants_to_keep, keeping
from station.config import ID_PATTERN
from station.job import finishing_params, finishing_totals_sql, session_totals_sql
from station.model import Level, Role
from station.roster import RosterImport
from station.sqlite import immediate, open_sqlite

ROLES = ("educator", "technician", "admin")
"""Web roles. A technician sees the fleet; an educator manages the roster and reports; an admin
does both and manages accounts and stations."""
TOKEN_PREFIX = "fst_"


def now_iso() -> str:
    return iso(datetime.now(UTC))


def hash_token(token: str) -> str:
    """Tokens are 256 random bits: a plain SHA-256 is enough (no dictionary to guess from)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class CentralStore(Protocol):
    """What the central store keeps. Every method is safe to call from any thread."""

    # stations and tokens
    def add_station(
        self, station_id: str, *, name: str = "", machine_id: str = "", kind: str = ""
    ) -> str: ...
    def rotate_token(self, station_id: str) -> str: ...
    def revoke_station(self, station_id: str) -> None: ...
    def stations(self) -> list[dict[str, Any]]: ...
    def station(self, station_id: str) -> dict[str, Any]: ...
    def station_for_token(self, token: str) -> str | None: ...

    # events
    def ingest(
        self,
        station_id: str,
        events: list[Event],
        *,
        status: dict[str, Any] | None = None,
        backlog: int = 0,
    ) -> dict[str, Any]: ...
    def high_water(self, station_id: str) -> int: ...
    def events(
        self, station_id: str | None = None, after_seq: int = 0, limit: int | None = None
    ) -> Iterator[dict[str, Any]]: ...
    def count_events(self, station_id: str | None = None) -> int: ...

    # roster
    def roster_version(self) -> int: ...
    def roster_changes(self, since: int) -> dict[str, Any] | None: ...
    def import_roster(
        self, roster: RosterImport, *, replace_all: bool = True
    ) -> dict[str, int]: ...
    def roster_rows(self) -> dict[str, list[dict[str, Any]]]: ...
    def set_badge_active(self, uid: str, active: bool) -> None: ...
    def enrol_from_station(
        self,
        station_id: str,
        uid: str,
        by: str,
        *,
        member_id: str | None = None,
        new_name: str | None = None,
    ) -> dict[str, Any]: ...

    # commands
    def add_command(self, station_id: str, command: dict[str, Any], by: str) -> dict[str, Any]: ...
    def pending_commands(self, station_id: str) -> list[dict[str, Any]]: ...
    def commands(self, station_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]: ...

    # accounts of the web pages
    def add_user(
        self, username: str, password: str, role: str, *, replace: bool = False
    ) -> bool: ...
    def authenticate(self, username: str, password: str) -> dict[str, Any] | None: ...
    def session_user(self, username: str) -> dict[str, Any] | None: ...
    def end_sessions(self, username: str) -> None: ...
    def set_user_active(self, username: str, active: bool) -> None: ...

    def close(self) -> None: ...


migrations = Migrations("fabrique-central")


@migrations()
def m001_stations_events(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE stations (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL DEFAULT '',
            machine_id TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL DEFAULT '',
            token_hash TEXT UNIQUE,
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            revoked_at TEXT,
            high_water INTEGER NOT NULL DEFAULT 0,
            held INTEGER NOT NULL DEFAULT 0,
            syncs INTEGER NOT NULL DEFAULT 0,
            last_contact_at TEXT,
            last_status TEXT,
            backlog INTEGER NOT NULL DEFAULT 0
        )"""
    )
    db.execute(
        """
        CREATE TABLE events (
            station_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            id TEXT NOT NULL,
            type TEXT NOT NULL,
            at TEXT NOT NULL,
            at_repaired TEXT,
            clock_synced INTEGER NOT NULL,
            boot_id TEXT NOT NULL,
            mono REAL NOT NULL,
            data TEXT NOT NULL,
            received_at TEXT NOT NULL,
            PRIMARY KEY (station_id, seq)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX events_type ON events(type, station_id)")
    db.execute("CREATE INDEX events_unsynced ON events(station_id, boot_id) WHERE clock_synced = 0")
    db.execute(
        """
        CREATE TABLE boots (
            station_id TEXT NOT NULL,
            boot_id TEXT NOT NULL,
            offset_s REAL NOT NULL,
            PRIMARY KEY (station_id, boot_id)
        )"""
    )
    db.execute(
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            station_id TEXT NOT NULL,
            machine_id TEXT,
            kind TEXT,
            member_id TEXT NOT NULL,
            supervisor_id TEXT,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            end_reason TEXT,
            duration_s REAL,
            active_s REAL,
            idle_s REAL,
            energy_wh REAL,
            started_seq INTEGER NOT NULL
        )"""
    )
    db.execute("CREATE INDEX sessions_started ON sessions(started_at)")
    db.execute("CREATE INDEX sessions_member ON sessions(member_id)")
    db.execute(
        """
        CREATE TABLE grants (
            station_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            member_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            level TEXT NOT NULL,
            previous_level TEXT,
            granted_by TEXT,
            granted_at TEXT NOT NULL,
            PRIMARY KEY (station_id, seq)
        )"""
    )


@migrations()
def m002_roster(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE members (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            version INTEGER NOT NULL,
            updated_at TEXT NOT NULL,
            erased_at TEXT
        )"""
    )
    db.execute(
        """
        CREATE TABLE badges (
            uid TEXT PRIMARY KEY,
            member_id TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            version INTEGER NOT NULL
        )"""
    )
    # level 'none' is a tombstone: a withdrawn qualification must reach the stations too.
    db.execute(
        """
        CREATE TABLE qualifications (
            member_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            level TEXT NOT NULL,
            granted_by TEXT,
            granted_at TEXT,
            version INTEGER NOT NULL,
            PRIMARY KEY (member_id, kind)
        )"""
    )
    for t in ("members", "badges", "qualifications"):
        db.execute(f"CREATE INDEX {t}_version ON {t}(version)")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(
        """
        CREATE TABLE commands (
            id TEXT PRIMARY KEY,
            station_id TEXT NOT NULL,
            action TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            uid TEXT,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            applied_at TEXT,
            result TEXT
        )"""
    )
    db.execute("CREATE INDEX commands_pending ON commands(station_id, status)")
    db.execute(
        """
        CREATE TABLE users (
            username TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            last_login_at TEXT
        )"""
    )


@migrations()
def m003_alerts(db: Database) -> None:
    # Taps by badge UID, to see one badge at two stations at once (central/alerts.py).
    db.execute(
        """
        CREATE TABLE badge_taps (
            uid TEXT NOT NULL,
            at TEXT NOT NULL,
            station_id TEXT NOT NULL,
            event_id TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX badge_taps_uid_at ON badge_taps(uid, at)")
    db.execute(
        """
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            created_at TEXT NOT NULL,
            data TEXT NOT NULL,
            UNIQUE (kind, key)
        )"""
    )


NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
"""SQLite's own clock in the store's time format, for rows a trigger writes."""


@migrations()
def m004_scope(db: Database) -> None:
    """Refused events kept as evidence; the roster master's history, to judge grants in time."""
    # applied = 0: kept (exactly once, the high-water mark moves on) but never projected;
    # refused names the scope rule it broke (central/scope.py).
    db.execute("ALTER TABLE events ADD COLUMN applied INTEGER NOT NULL DEFAULT 1")
    db.execute("ALTER TABLE events ADD COLUMN refused TEXT")
    db.execute("CREATE INDEX events_refused ON events(station_id, seq) WHERE applied = 0")
    db.execute(
        """
        CREATE TABLE qualification_history (
            member_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            level TEXT NOT NULL,
            at TEXT NOT NULL
        )"""
    )
    db.execute(
        "CREATE INDEX qualification_history_at ON qualification_history(member_id, kind, at)"
    )
    db.execute(
        """
        CREATE TABLE role_history (
            member_id TEXT NOT NULL,
            role TEXT NOT NULL,
            active INTEGER NOT NULL,
            at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX role_history_at ON role_history(member_id, at)")
    db.execute(
        "INSERT INTO qualification_history SELECT member_id, kind, level, "
        f"COALESCE(granted_at, {NOW_SQL}) FROM qualifications"
    )
    db.execute("INSERT INTO role_history SELECT id, role, active, updated_at FROM members")
    # Triggers, so that every writer of the roster (imports, pages, grants) leaves its trace.
    db.execute(
        f"""CREATE TRIGGER qualification_history_insert AFTER INSERT ON qualifications BEGIN
            INSERT INTO qualification_history VALUES
            (NEW.member_id, NEW.kind, NEW.level, COALESCE(NEW.granted_at, {NOW_SQL})); END"""
    )
    db.execute(
        f"""CREATE TRIGGER qualification_history_update AFTER UPDATE OF level ON qualifications
            WHEN NEW.level IS NOT OLD.level BEGIN
            INSERT INTO qualification_history VALUES (NEW.member_id, NEW.kind, NEW.level,
            CASE WHEN NEW.granted_at IS NOT OLD.granted_at AND NEW.granted_at IS NOT NULL
                 THEN NEW.granted_at ELSE {NOW_SQL} END); END"""
    )
    db.execute(
        """CREATE TRIGGER role_history_insert AFTER INSERT ON members BEGIN
            INSERT INTO role_history VALUES (NEW.id, NEW.role, NEW.active, NEW.updated_at); END"""
    )
    db.execute(
        f"""CREATE TRIGGER role_history_update AFTER UPDATE OF role, active ON members
            WHEN NEW.role IS NOT OLD.role OR NEW.active IS NOT OLD.active BEGIN
            INSERT INTO role_history VALUES (NEW.id, NEW.role, NEW.active,
            CASE WHEN NEW.updated_at IS NOT OLD.updated_at THEN NEW.updated_at
                 ELSE {NOW_SQL} END); END"""
    )
    db.execute(
        """
        CREATE TABLE retention_runs (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            days INTEGER NOT NULL,
            erased INTEGER NOT NULL,
            dry_run INTEGER NOT NULL
        )"""
    )


@migrations()
def m005_user_sessions(db: Database) -> None:
    # A login records its account's generation; logout, a new password, a new role or disabling
    # the account bumps it, and every request checks it: the older sessions end at once.
    db.execute("ALTER TABLE users ADD COLUMN session_generation INTEGER NOT NULL DEFAULT 0")


@migrations()
def m006_station_enrolments(db: Database) -> None:
    # Who gave which badge to whom at a station (a technician at the machine): the audit of the
    # sync API's enrolment route. The badge itself is a roster row like any other.
    db.execute(
        """
        CREATE TABLE station_enrolments (
            uid TEXT NOT NULL,
            member_id TEXT NOT NULL,
            station_id TEXT NOT NULL,
            by TEXT NOT NULL,
            at TEXT NOT NULL,
            created_member INTEGER NOT NULL DEFAULT 0
        )"""
    )


@migrations()
def m007_progress(db: Database) -> None:
    """Who set each level (« Qui a formé qui » shows educators' levels too), and the personal
    progress links an educator can revoke (a new generation voids every older link)."""
    db.execute("ALTER TABLE qualification_history ADD COLUMN granted_by TEXT")
    db.execute(
        "UPDATE qualification_history SET granted_by = (SELECT q.granted_by FROM qualifications q "
        "WHERE q.member_id = qualification_history.member_id "
        "AND q.kind = qualification_history.kind AND q.level = qualification_history.level "
        "AND q.granted_at = qualification_history.at)"
    )
    db.execute("DROP TRIGGER qualification_history_insert")
    db.execute("DROP TRIGGER qualification_history_update")
    db.execute(
        f"""CREATE TRIGGER qualification_history_insert AFTER INSERT ON qualifications BEGIN
            INSERT INTO qualification_history (member_id, kind, level, at, granted_by) VALUES
            (NEW.member_id, NEW.kind, NEW.level, COALESCE(NEW.granted_at, {NOW_SQL}),
             NEW.granted_by); END"""
    )
    db.execute(
        f"""CREATE TRIGGER qualification_history_update AFTER UPDATE OF level ON qualifications
            WHEN NEW.level IS NOT OLD.level BEGIN
            INSERT INTO qualification_history (member_id, kind, level, at, granted_by) VALUES
            (NEW.member_id, NEW.kind, NEW.level,
            CASE WHEN NEW.granted_at IS NOT OLD.granted_at AND NEW.granted_at IS NOT NULL
                 THEN NEW.granted_at ELSE {NOW_SQL} END, NEW.granted_by); END"""
    )
    db.execute(
        """
        CREATE TABLE progress_links (
            member_id TEXT PRIMARY KEY,
            generation INTEGER NOT NULL,
            revoked_at TEXT
        )"""
    )


@migrations()
def m008_whole_job(db: Database) -> None:
    # A session's totals include its finishing phase (station/job.py): keep the phase's figures
    # apart, then project the stored finishing_ended events so older sessions add up too.
    for column in ("finishing_s", "finishing_active_s", "finishing_idle_s", "finishing_energy_wh"):
        db.execute(f"ALTER TABLE sessions ADD COLUMN {column} REAL")
    db.execute("ALTER TABLE sessions ADD COLUMN finished_at TEXT")
    rows = db.execute(
        "SELECT station_id, COALESCE(at_repaired, at), data FROM events "
        "WHERE type = 'finishing_ended' AND applied = 1 ORDER BY station_id, seq"
    ).fetchall()
    for station_id, at, data in rows:
        project_finishing(db.conn, station_id, json.loads(data), at)


migrations()(m009_credentials)
migrations()(m010_quizzes)


SESSION_TOTALS = ("duration_s", "active_s", "idle_s", "energy_wh")
"""The central sessions' totals: each includes the finishing phase (``finishing_*``)."""


def project_finishing(
    conn: sqlite3.Connection, station_id: str, d: dict[str, Any], finished_at: str
) -> None:
    """The end of a session's finishing phase: the session row holds the whole job's totals."""
    if not isinstance(d.get("session_id"), str):
        return
    conn.execute(
        f"UPDATE sessions SET finished_at = :finished_at, {finishing_totals_sql(SESSION_TOTALS)}"
        " WHERE id = :id AND station_id = :station_id",
        {
            "finished_at": finished_at,
            "id": d["session_id"],
            "station_id": station_id,
            **finishing_params(d, SESSION_TOTALS),
        },
    )


def open_central_database(path: Path) -> Database:
    """One connection with the settings every connection needs, schema migrated."""
    return open_sqlite(
        path, migrations, error=CentralError, what="the central store", busy_timeout_s=30.0
    )


class SqliteCentralStore(CredentialsSqlite, QuizzesSqlite):
    """The default backend: one SQLite file, one connection per thread."""

    def __init__(
        self, path: Path, *, two_stations_window_s: float = 10.0, max_ahead: int = 5000
    ) -> None:
        self.path = path
        self.two_stations_window_s = two_stations_window_s
        self.max_ahead = max_ahead
        """How far above its high-water mark a station's seqs may go ([sync] max_batch)."""
        self._local = threading.local()
        self._all: list[Database] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.db  # open (and migrate) now, so that errors show at start  # noqa: B018

    @property
    def db(self) -> Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = open_central_database(self.path)
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                try:
                    db.close()
                except sqlite3.ProgrammingError:
                    pass  # closed from another thread than its own: nothing left to do
            self._all.clear()
        self._local = threading.local()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One writer at a time in this process (cheaper than SQLite's busy retries)."""
        with self._write_lock, immediate(self.db.conn) as conn:
            yield conn

    def _one(self, sql: str, params: Any = ()) -> Any:
        row = self.db.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def _rows(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        cur = self.db.conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    # --- stations -----------------------------------------------------------------------------

    def add_station(
        self, station_id: str, *, name: str = "", machine_id: str = "", kind: str = ""
    ) -> str:
        """Register a station; return its token (only its hash is stored: print it once)."""
        if not ID_PATTERN.match(station_id):
            raise BadRequest(
                f"station id {station_id!r}: use lower-case letters, digits, - and _ (max 63)",
                "id",
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM stations WHERE id = ?", (station_id,)).fetchone():
                raise Conflict(
                    f"station {station_id} exists already; `station token {station_id}` gives it "
                    "a new token"
                )
            conn.execute(
                "INSERT INTO stations (id, name, machine_id, kind, token_hash, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (station_id, name, machine_id or station_id, kind, hash_token(token), now_iso()),
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
                (now_iso(), station_id),
            )
            if cur.rowcount == 0:
                raise NotFound(f"no station {station_id}")

    def stations(self) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT id, name, machine_id, kind, active, created_at, revoked_at, high_water, held,"
            " syncs, last_contact_at, last_status, backlog FROM stations ORDER BY id"
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

    # --- ingest -------------------------------------------------------------------------------

    def ingest(
        self,
        station_id: str,
        events: list[Event],
        *,
        status: dict[str, Any] | None = None,
        backlog: int = 0,
    ) -> dict[str, Any]:
        """Store the events not held yet, update projections and the high-water mark.

        Returns ``{"stored", "duplicates", "high_water", "refused"}``. A seq already held under
        another event id is a :class:`Conflict` (the station's store was reset), and nothing is
        stored; so is a seq further above the high-water mark than one batch can reach
        (:class:`BadRequest`): nothing a token sends can leave a gap that blocks the real station.
        Events outside the station's scope (central/scope.py) are kept but not applied.
        """
        received = now_iso()
        status_error = None
        if status:
            try:
                status = parse_status(status)
            except BadRequest as e:
                status_error = {"error": str(e), "field": e.field}
                self.record_bad_status(station_id, e.field, str(e))
                status = {"refused": e.field}
        try:
            with self._transaction() as conn:
                result = self._ingest(conn, station_id, events, status, backlog, received)
        except Conflict as e:
            self._seq_conflict(station_id, str(e), received)
            raise
        return {**result, "status_error": status_error} if status_error else result

    def _ingest(
        self,
        conn: sqlite3.Connection,
        station_id: str,
        events: list[Event],
        status: dict[str, Any] | None,
        backlog: int,
        received: str,
    ) -> dict[str, int]:
        row = conn.execute(
            "SELECT high_water, kind FROM stations WHERE id = ?", (station_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no station {station_id}")
        hwm, kind = int(row[0]), str(row[1] or "")
        self._check_window(events, hwm)
        new: list[Event] = []
        held: dict[int, str] = {}
        if events:
            lo = min(e.seq for e in events)
            hi = max(e.seq for e in events)
            if lo <= hwm or self._any_above(conn, station_id, hwm, lo, hi):
                held = dict(
                    conn.execute(
                        "SELECT seq, id FROM events WHERE station_id = ? AND seq BETWEEN ? AND ?",
                        (station_id, lo, hi),
                    ).fetchall()
                )
        for e in events:
            known = held.get(e.seq)
            if known is None:
                new.append(e)
            elif known != e.id:
                raise Conflict(
                    f"seq {e.seq} of {station_id} is held already with another event id "
                    f"({known}, not {e.id}): was the station's store reset? Give the station "
                    "a new id, or move its old data aside."
                )
        refused = self._insert(conn, station_id, kind, new, received) if new else 0
        start = hwm
        if new and not held and [e.seq for e in new] == list(range(hwm + 1, hwm + 1 + len(new))):
            start = hwm + len(new)  # the usual batch: the next seqs, in order
        new_hwm = contiguous_high_water(
            start,
            (
                r[0]
                for r in conn.execute(
                    "SELECT seq FROM events WHERE station_id = ? AND seq > ? ORDER BY seq",
                    (station_id, start),
                )
            ),
        )
        conn.execute(
            "UPDATE stations SET high_water = ?, held = held + ?, syncs = syncs + 1, "
            "last_contact_at = ?, last_status = COALESCE(?, last_status), backlog = ? "
            "WHERE id = ?",
            (
                new_hwm,
                len(new),
                received,
                json.dumps(status, ensure_ascii=False) if status else None,
                backlog,
                station_id,
            ),
        )
        return {
            "stored": len(new),
            "duplicates": len(events) - len(new),
            "high_water": new_hwm,
            "refused": refused,
        }

    def _check_window(self, events: list[Event], hwm: int) -> None:
        """A station sends from its acknowledged seq on, one batch at a time: a seq beyond
        ``hwm + max_ahead`` is no station's, and storing it would leave a gap (and a seq the real
        station's event would later collide with)."""
        limit = hwm + self.max_ahead
        for i, e in enumerate(events):
            if e.seq > limit:
                raise BadRequest(
                    f"events[{i}].seq {e.seq} is more than {self.max_ahead} above the last "
                    f"acknowledged seq {hwm}: send the events from seq {hwm + 1} on, in order",
                    f"events[{i}].seq",
                )

    def _seq_conflict(self, station_id: str, message: str, received: str) -> None:
        """A 409 shows on the dashboard: either the station's store was reset, or another holder
        of its token pushed those seqs first (docs/sync.md, "What a stolen token can do")."""
        with self._transaction() as conn:
            hwm = conn.execute(
                "SELECT high_water FROM stations WHERE id = ?", (station_id,)
            ).fetchone()
            conn.execute(
                "INSERT OR IGNORE INTO alerts (kind, key, created_at, data) VALUES (?, ?, ?, ?)",
                (
                    SEQ_CONFLICT,
                    f"{station_id}|{hwm[0] if hwm else 0}",
                    received,
                    json.dumps(
                        {
                            "station_id": station_id,
                            "acked_seq": hwm[0] if hwm else 0,
                            "error": message,
                        },
                        ensure_ascii=False,
                    ),
                ),
            )

    def record_bad_status(self, station_id: str, field: str | None, message: str) -> None:
        """A refused status payload raises a ``bad_status`` alert (once per station and field
        and day), so that the technician learns which station sends it."""
        received = now_iso()
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO alerts (kind, key, created_at, data) VALUES (?, ?, ?, ?)",
                (
                    BAD_STATUS,
                    f"{station_id}|{field}|{received[:10]}",
                    received,
                    json.dumps(
                        {"station_id": station_id, "field": field, "error": message[:300]},
                        ensure_ascii=False,
                    ),
                ),
            )

    @staticmethod
    def _any_above(conn: sqlite3.Connection, station_id: str, hwm: int, lo: int, hi: int) -> bool:
        return (
            conn.execute(
                "SELECT 1 FROM events WHERE station_id = ? AND seq > ? AND seq BETWEEN ? AND ? "
                "LIMIT 1",
                (station_id, hwm, lo, hi),
            ).fetchone()
            is not None
        )

    def _insert(
        self,
        conn: sqlite3.Connection,
        station_id: str,
        kind: str,
        events: list[Event],
        received: str,
    ) -> int:
        """Store, judge and project new events in seq order; return how many were refused."""
        erased = frozenset(
            r[0] for r in conn.execute("SELECT id FROM members WHERE erased_at IS NOT NULL")
        )
        if erased:
            events = [scrub_erased(conn, e, erased) for e in events]
        offsets = self._boot_offsets(conn, station_id, events)
        master = _SqliteMaster(conn)
        verdicts: list[scope.Verdict] = []
        for e in events:
            v = scope.APPLY
            if e.type in JUDGED:
                at = _trusted_at(e, offsets.get(e.boot_id))
                v = scope.check(e.type, e.data, station_id, kind, at, master)
                if v.applied and e.type in PROJECTED:
                    self._project(conn, station_id, e, offsets.get(e.boot_id), kind)
            elif e.type not in scope.STATION_EVENT_TYPES:
                v = scope.check(e.type, e.data, station_id, kind, None, master)
            verdicts.append(v)
        conn.executemany(
            "INSERT INTO events (station_id, seq, id, type, at, at_repaired, clock_synced, "
            "boot_id, mono, data, received_at, applied, refused) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    station_id,
                    e.seq,
                    e.id,
                    e.type,
                    e.at,
                    repaired_at(e, offsets.get(e.boot_id)),
                    int(e.clock_synced),
                    e.boot_id,
                    e.mono,
                    e.data_json(),
                    received,
                    int(v.applied),
                    v.rule,
                )
                for e, v in zip(events, verdicts, strict=True)
            ],
        )
        applied = [e for e, v in zip(events, verdicts, strict=True) if v.applied]
        self._watch_badges(conn, station_id, applied, offsets, received)
        self._watch_power(conn, station_id, applied, received)
        refused = [(e, v) for e, v in zip(events, verdicts, strict=True) if v.alert]
        self._alert_out_of_scope(conn, station_id, refused, received)
        return sum(1 for v in verdicts if not v.applied)

    @staticmethod
    def _watch_power(
        conn: sqlite3.Connection, station_id: str, events: list[Event], received: str
    ) -> None:
        """Power drawn with the relay open (a welded relay, a bypass): a fleet alert."""
        for e in events:
            if e.type != POWER_WITHOUT_PERMISSION:
                continue
            conn.execute(
                "INSERT OR IGNORE INTO alerts (kind, key, created_at, data) VALUES (?, ?, ?, ?)",
                (
                    POWER_WITHOUT_PERMISSION,
                    f"{station_id}|{e.seq}",
                    received,
                    json.dumps(
                        {
                            "station_id": station_id,
                            "seq": e.seq,
                            "at": e.at,
                            "watts": _n(e.data.get("watts")),
                            "seconds": _n(e.data.get("seconds")),
                        }
                    ),
                ),
            )

    @staticmethod
    def _alert_out_of_scope(
        conn: sqlite3.Connection,
        station_id: str,
        refused: list[tuple[Event, scope.Verdict]],
        received: str,
    ) -> None:
        """One ``event_out_of_scope`` alert per batch and rule broken (a flood stays one line)."""
        by_rule: dict[str, list[Event]] = {}
        for e, v in refused:
            by_rule.setdefault(v.rule or "?", []).append(e)
        for rule, evs in by_rule.items():
            conn.execute(
                "INSERT OR IGNORE INTO alerts (kind, key, created_at, data) VALUES (?, ?, ?, ?)",
                (
                    scope.EVENT_OUT_OF_SCOPE,
                    f"{station_id}|{rule}|{evs[0].seq}",
                    received,
                    json.dumps(
                        {
                            "station_id": station_id,
                            "rule": rule,
                            "count": len(evs),
                            "seqs": [e.seq for e in evs[:20]],
                            "types": sorted({e.type for e in evs}),
                        },
                        ensure_ascii=False,
                    ),
                ),
            )

    def _watch_badges(
        self,
        conn: sqlite3.Connection,
        station_id: str,
        events: list[Event],
        offsets: dict[str, float],
        received: str,
    ) -> None:
        """Record each tap by UID and raise an alert when one badge is at two stations at once.

        Only taps whose time can be trusted count: synced, or repaired from their boot's offset.
        """
        window = self.two_stations_window_s
        for e in events:
            at_text = e.at if e.clock_synced else repaired_at(e, offsets.get(e.boot_id))
            if at_text is None:
                continue
            tap = badge_tap(station_id, e.id, e.type, e.data, parse_at(at_text))
            if tap is None:
                continue
            lo = iso(tap.at - timedelta(seconds=window))
            hi = iso(tap.at + timedelta(seconds=window))
            for other_station, other_id, other_at in conn.execute(
                "SELECT station_id, event_id, at FROM badge_taps WHERE uid = ? AND "
                "station_id != ? AND at BETWEEN ? AND ?",
                (tap.uid, station_id, lo, hi),
            ).fetchall():
                other = BadgeTap(tap.uid, other_station, other_id, parse_at(other_at))
                alert = seen_at_two_stations(tap, other, window)
                if alert is not None:
                    conn.execute(
                        "INSERT OR IGNORE INTO alerts (kind, key, created_at, data) "
                        "VALUES (?, ?, ?, ?)",
                        (
                            BADGE_SEEN_AT_TWO_STATIONS,
                            "|".join(sorted((tap.event_id, other_id))),
                            received,
                            json.dumps(alert, ensure_ascii=False),
                        ),
                    )
            conn.execute(
                "INSERT INTO badge_taps (uid, at, station_id, event_id) VALUES (?, ?, ?, ?)",
                (tap.uid, iso(tap.at), station_id, tap.event_id),
            )

    def _boot_offsets(
        self, conn: sqlite3.Connection, station_id: str, events: list[Event]
    ) -> dict[str, float]:
        """Each boot's wall-minus-monotonic offset; a boot seen synced for the first time also
        repairs the unsynced events of that boot stored before."""
        boots = {e.boot_id for e in events}
        offsets: dict[str, float] = {}
        for boot in boots:
            row = conn.execute(
                "SELECT offset_s FROM boots WHERE station_id = ? AND boot_id = ?",
                (station_id, boot),
            ).fetchone()
            if row is not None:
                offsets[boot] = row[0]
        for e in events:
            if e.boot_id in offsets or not e.clock_synced:
                continue
            offset = boot_offset(e)
            assert offset is not None
            offsets[e.boot_id] = offset
            conn.execute(
                "INSERT INTO boots (station_id, boot_id, offset_s) VALUES (?, ?, ?)",
                (station_id, e.boot_id, offset),
            )
            self._repair_stored(conn, station_id, e.boot_id, offset)
        return offsets

    def _repair_stored(
        self, conn: sqlite3.Connection, station_id: str, boot_id: str, offset: float
    ) -> None:
        rows = conn.execute(
            "SELECT seq, id, type, at, mono, data, applied FROM events WHERE station_id = ? AND "
            "boot_id = ? AND clock_synced = 0",
            (station_id, boot_id),
        ).fetchall()
        kind = conn.execute("SELECT kind FROM stations WHERE id = ?", (station_id,)).fetchone()
        for seq, eid, type_, at, mono, data, applied in rows:
            e = Event(eid, station_id, seq, type_, at, False, boot_id, mono, json.loads(data))
            conn.execute(
                "UPDATE events SET at_repaired = ? WHERE station_id = ? AND seq = ?",
                (repaired_at(e, offset), station_id, seq),
            )
            if applied and type_ in ("session_started", "session_ended", "finishing_ended"):
                self._project(conn, station_id, e, offset, kind[0] if kind else "")

    def _project(
        self, conn: sqlite3.Connection, station_id: str, e: Event, offset: float | None, kind: str
    ) -> None:
        d = e.data
        shift = _shift(e, offset)
        at = e.at if shift is None else _shifted(e.at, shift)
        if e.type == "session_started" and isinstance(d.get("session_id"), str):
            st = conn.execute(
                "SELECT machine_id, kind FROM stations WHERE id = ?", (station_id,)
            ).fetchone()
            conn.execute(
                "INSERT INTO sessions (id, station_id, machine_id, kind, member_id, "
                "supervisor_id, started_at, started_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET started_at = excluded.started_at",
                (
                    d["session_id"],
                    station_id,
                    _s(d.get("machine_id")) or (st[0] if st else None),
                    kind or _s(d.get("kind")) or (st[1] if st else None),
                    _s(d.get("member_id")) or "?",
                    _s(d.get("supervisor_id")),
                    at,
                    e.seq,
                ),
            )
        elif e.type == "session_ended" and isinstance(d.get("session_id"), str):
            ended = _s(d.get("ended_at")) or e.at
            if shift is not None:
                ended = _shifted(ended, shift)
            conn.execute(
                "UPDATE sessions SET ended_at = :ended_at, end_reason = :end_reason, "
                f"{session_totals_sql(SESSION_TOTALS)} WHERE id = :id AND station_id = :station_id",
                {
                    "ended_at": ended,
                    "end_reason": _s(d.get("end_reason")),
                    "id": d["session_id"],
                    "station_id": station_id,
                    **{t: _n(d.get(t)) for t in SESSION_TOTALS},
                },
            )
        elif e.type == "finishing_ended":
            finished = _s(d.get("ended_at")) or e.at
            if shift is not None:
                finished = _shifted(finished, shift)
            project_finishing(conn, station_id, d, finished)
        elif e.type == "qualification_granted":
            member, level = _s(d.get("member_id")), _s(d.get("level"))
            kind = kind or _s(d.get("kind")) or ""
            if not (member and kind and level in LEVELS):
                return
            granted_at = _s(d.get("granted_at")) or at
            conn.execute(
                "INSERT OR IGNORE INTO grants (station_id, seq, member_id, kind, level, "
                "previous_level, granted_by, granted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    station_id,
                    e.seq,
                    member,
                    kind,
                    level,
                    _s(d.get("previous_level")),
                    _s(d.get("granted_by")),
                    granted_at,
                ),
            )
            if conn.execute("SELECT 1 FROM members WHERE id = ?", (member,)).fetchone():
                version = self._bump(conn)
                conn.execute(
                    "INSERT INTO qualifications (member_id, kind, level, granted_by, granted_at,"
                    " version) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(member_id, kind) DO UPDATE"
                    " SET level = excluded.level, granted_by = excluded.granted_by,"
                    " granted_at = excluded.granted_at, version = excluded.version",
                    (member, kind, level, _s(d.get("granted_by")), granted_at, version),
                )
        elif e.type == "command_applied" and isinstance(d.get("command_id"), str):
            conn.execute(
                "UPDATE commands SET status = ?, applied_at = ?, result = ? WHERE id = ? AND "
                "station_id = ?",
                (
                    "applied" if d.get("ok") else "failed",
                    at,
                    json.dumps(d.get("result"), ensure_ascii=False),
                    d["command_id"],
                    station_id,
                ),
            )

    def high_water(self, station_id: str) -> int:
        value = self._one("SELECT high_water FROM stations WHERE id = ?", (station_id,))
        if value is None:
            raise NotFound(f"no station {station_id}")
        return int(value)

    def events(
        self, station_id: str | None = None, after_seq: int = 0, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        sql = (
            "SELECT station_id, seq, id, type, at, at_repaired, clock_synced, boot_id, mono, "
            "data, received_at, refused, applied FROM events"
        )
        params: list[Any] = []
        if station_id is not None:
            sql += " WHERE station_id = ? AND seq > ?"
            params += [station_id, after_seq]
        sql += " ORDER BY station_id, seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        for r in self.db.conn.execute(sql, params):
            yield {
                "id": r[2],
                "station_id": r[0],
                "seq": r[1],
                "type": r[3],
                "at": r[4],
                "at_repaired": r[5],
                "clock_synced": bool(r[6]),
                "boot_id": r[7],
                "mono": r[8],
                "data": json.loads(r[9]),
                "received_at": r[10],
                # evidence kept but not applied: the scope rule it broke (central/scope.py)
                "refused": r[11] or (None if r[12] else "?"),
            }

    def count_events(self, station_id: str | None = None) -> int:
        if station_id is None:
            return int(self._one("SELECT COUNT(*) FROM events"))
        return int(self._one("SELECT COUNT(*) FROM events WHERE station_id = ?", (station_id,)))

    # --- roster -------------------------------------------------------------------------------

    @staticmethod
    def _bump(conn: sqlite3.Connection) -> int:
        """The roster's next version (one per transaction that changes it)."""
        row = conn.execute("SELECT value FROM meta WHERE key = 'roster_version'").fetchone()
        version = (int(row[0]) if row else 0) + 1
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('roster_version', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (str(version),),
        )
        return version

    def roster_version(self) -> int:
        value = self._one("SELECT value FROM meta WHERE key = 'roster_version'")
        return int(value) if value else 0

    def roster_changes(self, since: int) -> dict[str, Any] | None:
        """What a station at roster version ``since`` lacks; None when it is up to date.

        A station at version 0 (never synced) or ahead of this store (the store was reset) gets
        the whole roster (``full``). Stations get first names only: they need no more.
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
                    "inducted": sorted(filter(None, (r[4] or "").split(","))),
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
        return {
            "version": current,
            "full": full,
            "members": members,
            "badges": badges,
            "qualifications": quals,
        }

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot across several SELECTs."""
        conn = self.db.conn
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

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
        self, roster: RosterImport, *, replace_all: bool, since: datetime
    ) -> tuple[dict[str, int], list[NewerGrant]]:
        """:meth:`import_roster`, keeping the levels set by a person after ``since`` that the
        file would lower or withdraw (central/roster_import.py); returns them too."""
        kept: list[NewerGrant] = []
        try:
            changed = self._import_roster(roster, replace_all, keep=(since, kept))
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
    ) -> int:
        changed = 0
        with self._transaction() as conn:
            if keep is not None:  # in the transaction: a grant arriving now is seen or after
                since, kept = keep
                kept += grants_to_keep(
                    _qualification_rows(conn), roster, replace_all=replace_all, since=since
                )
                roster = keeping(roster, kept)
            version = self._bump(conn)
            stamp = now_iso()
            ids = {m.id for m in roster.members}
            uids = {b.uid for b in roster.badges}
            for m in roster.members:
                old = conn.execute(
                    "SELECT name, role, active FROM members WHERE id = ?", (m.id,)
                ).fetchone()
                if old != (m.name, m.role.value, int(m.active)):
                    conn.execute(
                        "INSERT INTO members (id, name, role, active, version, updated_at) "
                        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                        "name = excluded.name, role = excluded.role, active = excluded.active, "
                        "version = excluded.version, updated_at = excluded.updated_at",
                        (m.id, m.name, m.role.value, int(m.active), version, stamp),
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
                for (mid,) in conn.execute("SELECT id FROM members WHERE active = 1").fetchall():
                    if mid not in ids:
                        conn.execute(
                            "UPDATE members SET active = 0, version = ?, updated_at = ? "
                            "WHERE id = ?",
                            (version, stamp, mid),
                        )
                        changed += 1
                for (uid,) in conn.execute("SELECT uid FROM badges WHERE active = 1").fetchall():
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
                ("members", "id, name, role, active, version, erased_at"),
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
                    "on the central store's member page"
                )
            created = new_name is not None
            if new_name is not None:
                member_id = self._new_member_id(conn, new_name)
                version = self._bump(conn)
                conn.execute(
                    "INSERT INTO members (id, name, role, active, version, updated_at) "
                    "VALUES (?, ?, 'trainee', 1, ?, ?)",
                    (member_id, new_name, version, now_iso()),
                )
            row = conn.execute(
                "SELECT name, active, erased_at FROM members WHERE id = ?", (member_id,)
            ).fetchone()
            if row is None or row[2] is not None:
                raise NotFound(f"no member {member_id!r} in the roster")
            if not row[1]:
                raise Conflict(f"member {member_id!r} is inactive: an educator reactivates them")
            version = self._bump(conn)
            conn.execute(
                "INSERT INTO badges (uid, member_id, active, version) VALUES (?, ?, 1, ?)",
                (uid, member_id, version),
            )
            conn.execute(
                "INSERT INTO station_enrolments (uid, member_id, station_id, by, at, "
                "created_member) VALUES (?, ?, ?, ?, ?, ?)",
                (uid, member_id, station_id, by, now_iso(), int(created)),
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
                (member_id, kind, level.value, by, now_iso(), version),
            )

    def upsert_member(self, member_id: str, name: str, role: Role, active: bool = True) -> None:
        with self._transaction() as conn:
            version = self._bump(conn)
            conn.execute(
                "INSERT INTO members (id, name, role, active, version, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, "
                "role = excluded.role, active = excluded.active, version = excluded.version, "
                "updated_at = excluded.updated_at",
                (member_id, name, role.value, int(active), version, now_iso()),
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

    # --- commands -----------------------------------------------------------------------------

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
                raise NotFound(f"no active station {station_id}")
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
                    now_iso(),
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

    # --- web accounts -------------------------------------------------------------------------

    def add_user(self, username: str, password: str, role: str, *, replace: bool = False) -> bool:
        """Create an account, or with ``replace`` set its password and role (and end its
        sessions: a demoted admin's open pages stop at their next request)."""
        from station.accounts import (
            MIN_PASSWORD_LENGTH,
            USERNAME_PATTERN,
            hash_password,
        )

        if not USERNAME_PATTERN.match(username):
            raise BadRequest(
                "a username is 2-32 lower-case letters, digits, '.', '_' or '-'", "username"
            )
        if role not in ROLES:
            raise BadRequest(f"role must be one of {', '.join(ROLES)}", "role")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise BadRequest(
                f"a password has at least {MIN_PASSWORD_LENGTH} characters", "password"
            )
        hashed = hash_password(password)
        with self._transaction() as conn:
            exists = conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone()
            if exists and not replace:
                raise Conflict(f"user {username} exists already; use --replace")
            conn.execute(
                "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(username) DO UPDATE SET password_hash = excluded.password_hash, "
                "role = excluded.role, active = 1, "
                "session_generation = users.session_generation + 1",
                (username, hashed, role, now_iso()),
            )
        return not exists

    def authenticate(self, username: str, password: str) -> dict[str, Any] | None:
        """The account if the password is right; as slow for an unknown user as for a known
        one, so that the reply's timing does not tell which usernames exist."""
        from station.accounts import verify

        row = self.db.conn.execute(
            "SELECT password_hash, role, session_generation FROM users"
            " WHERE username = ? AND active = 1",
            (username,),
        ).fetchone()
        if not verify(row[0] if row else None, password):
            return None
        with self._transaction() as conn:
            conn.execute(
                "UPDATE users SET last_login_at = ? WHERE username = ?", (now_iso(), username)
            )
        return {"username": username, "role": row[1], "generation": row[2]}

    def session_user(self, username: str) -> dict[str, Any] | None:
        """What a request checks of its session's account: role, generation; None if gone."""
        row = self.db.conn.execute(
            "SELECT role, session_generation FROM users WHERE username = ? AND active = 1",
            (username,),
        ).fetchone()
        return {"username": username, "role": row[0], "generation": row[1]} if row else None

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
            "SELECT username, role, active, created_at, last_login_at FROM users ORDER BY username"
        )


class BadgeHeld(Conflict):
    """The badge belongs to another member: moving it needs a confirmation."""

    def __init__(self, uid: str, holder: str) -> None:
        super().__init__(f"badge {uid} belongs to {holder}: confirm to move it (they will lose it)")
        self.uid, self.holder = uid, holder


class _NothingChanged(Exception):
    """Raised inside import_roster's transaction to roll back the version bump."""


LEVELS = {lv.value for lv in Level if lv is not Level.NONE}
PROJECTED = frozenset(
    {
        "session_started",
        "session_ended",
        "finishing_ended",
        "qualification_granted",
        "command_applied",
    }
)
JUDGED = PROJECTED
"""Event types whose content the scope rules check; other known types are applied as they are
(they project nothing; the dashboard shows them under their own station)."""
POWER_WITHOUT_PERMISSION = "power_without_permission"
"""The event, and the fleet alert it raises: a machine drew power with its relay open."""
SEQ_CONFLICT = "seq_conflict"
"""The fleet alert of a 409: a seq held with another event id."""
BAD_STATUS = "bad_status"
"""The fleet alert of a refused status payload."""


class _SqliteMaster:
    """The scope rules' questions (central/scope.py), answered inside the ingest transaction,
    so that a session started earlier in the same batch is known."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def _one(self, sql: str, params: tuple[Any, ...]) -> Any:
        return self.conn.execute(sql, params).fetchone()

    def session_station(self, session_id: str) -> str | None:
        row = self._one("SELECT station_id FROM sessions WHERE id = ?", (session_id,))
        return row[0] if row else None

    def level(self, member_id: str, kind: str) -> Level | None:
        if not self._one("SELECT 1 FROM members WHERE id = ?", (member_id,)):
            return None
        row = self._one(
            "SELECT level FROM qualifications WHERE member_id = ? AND kind = ?", (member_id, kind)
        )
        return Level(row[0]) if row and row[0] in LEVELS else Level.NONE

    def could_grant(self, member_id: str, kind: str, at: str | None) -> bool:
        if at is None:
            role = self._one("SELECT role, active FROM members WHERE id = ?", (member_id,))
            level = self._one(
                "SELECT level FROM qualifications WHERE member_id = ? AND kind = ?",
                (member_id, kind),
            )
        else:
            role = self._as_of(
                "SELECT role, active FROM role_history WHERE member_id = ?", (member_id,), at
            )
            level = self._as_of(
                "SELECT level FROM qualification_history WHERE member_id = ? AND kind = ?",
                (member_id, kind),
                at,
            )
        if role is None:
            return False
        return scope.may_grant(role[0], bool(role[1]), level[0] if level else None)

    def _as_of(self, sql: str, params: tuple[Any, ...], at: str) -> Any:
        """The row in force at ``at``; before the history begins, its first row (a station may
        have run on a local roster before the central store had one)."""
        row = self._one(f"{sql} AND at <= ? ORDER BY at DESC, rowid DESC LIMIT 1", (*params, at))
        return row or self._one(f"{sql} ORDER BY at, rowid LIMIT 1", params)

    def command_station(self, command_id: str) -> str | None:
        row = self._one("SELECT station_id FROM commands WHERE id = ?", (command_id,))
        return row[0] if row else None


def _trusted_at(e: Event, offset: float | None) -> str | None:
    """The event's time when it can be trusted (synchronised, or repaired from its boot)."""
    text = e.at if e.clock_synced else repaired_at(e, offset)
    if text is None:
        return None
    try:
        return iso(parse_at(text))
    except BadRequest:
        return None


ID_FIELDS = ("member_id", "supervisor_id", "granted_by", "by", "previous_member_id")
"""Fields of an event's data that hold a member id (central/privacy.py pseudonymises them)."""
UID_FIELDS = ("uid",)
NAME_FIELDS = {"member_id": "member_name", "supervisor_id": "supervisor_name"}


def pseudonym_in(conn: sqlite3.Connection, member_id: str) -> str:
    """``anon-…``: an HMAC of the id with a key kept in the store (one member, one pseudonym)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'pseudonym_key'").fetchone()
    if row is None:
        key = secrets.token_hex(32)
        conn.execute("INSERT INTO meta (key, value) VALUES ('pseudonym_key', ?)", (key,))
    else:
        key = row[0]
    digest = hmac.new(bytes.fromhex(key), member_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"anon-{digest[:12]}"


def scrub_erased(conn: sqlite3.Connection, e: Event, erased: frozenset[str]) -> Event:
    """An event that names an erased member, as erasure would have left it: pseudonym for the
    id, no name, no badge UID. Events a station held while offline arrive after the erasure."""
    data = e.data
    hit = [f for f in ID_FIELDS if isinstance(data.get(f), str) and data[f] in erased]
    if not hit:
        return e
    data = dict(data)
    for f in hit:
        data[f] = pseudonym_in(conn, data[f])
        if f in NAME_FIELDS and NAME_FIELDS[f] in data:
            data[NAME_FIELDS[f]] = None
    for f in UID_FIELDS:
        if f in data:
            data[f] = None
    return dataclasses.replace(e, data=data)


def _qualification_rows(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    cur = conn.execute("SELECT member_id, kind, level, granted_by, granted_at FROM qualifications")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _first_name(name: str, fallback: str) -> str:
    return name.split()[0] if name.strip() else fallback


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _n(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _shift(e: Event, offset: float | None) -> timedelta | None:
    fixed = repaired_at(e, offset)
    if fixed is None:
        return None
    return parse_at(fixed) - parse_at(e.at)


def _shifted(text: str, shift: timedelta) -> str:
    try:
        return iso(parse_at(text) + shift)
    except BadRequest:
        return text


# --- queries for the pages (kept here so that another backend implements them too) -------------


def recent_alerts(store: SqliteCentralStore, limit: int = 20) -> list[dict[str, Any]]:
    """The latest alerts (a badge at two stations at once…), newest first, with the badge's
    current holder's name when the roster knows it."""
    rows = store.db.conn.execute(
        "SELECT a.kind, a.created_at, a.data, m.id, m.name FROM alerts a "
        "LEFT JOIN badges b ON b.uid = json_extract(a.data, '$.uid') "
        "LEFT JOIN members m ON m.id = b.member_id ORDER BY a.id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [
        {"kind": r[0], "at": r[1], "data": json.loads(r[2]), "member_id": r[3], "member_name": r[4]}
        for r in rows
    ]


def recent_events(
    store: SqliteCentralStore, types: tuple[str, ...], limit: int = 20
) -> list[dict[str, Any]]:
    """The latest events of some types across stations (problems, faults), newest first."""
    marks = ",".join("?" * len(types))
    rows = store.db.conn.execute(
        f"SELECT station_id, seq, type, COALESCE(at_repaired, at), data FROM events "
        f"WHERE type IN ({marks}) AND applied = 1 ORDER BY 4 DESC LIMIT ?",
        [*types, limit],
    ).fetchall()
    return [
        {"station_id": r[0], "seq": r[1], "type": r[2], "at": r[3], "data": json.loads(r[4])}
        for r in rows
    ]


def member_detail(store: SqliteCentralStore, member_id: str) -> dict[str, Any]:
    """One member with badges, qualifications (who granted them) and grants they gave."""
    rows = store._rows(
        "SELECT id, name, role, active, version, updated_at, erased_at FROM members WHERE id = ?",
        (member_id,),
    )
    if not rows:
        raise NotFound(f"no member {member_id}")
    member = rows[0]
    member["active"] = bool(member["active"])
    member["badges"] = store._rows(
        "SELECT uid, active FROM badges WHERE member_id = ? ORDER BY uid", (member_id,)
    )
    member["qualifications"] = store._rows(
        "SELECT kind, level, granted_by, granted_at FROM qualifications "
        "WHERE member_id = ? AND level != 'none' ORDER BY kind",
        (member_id,),
    )
    member["grants_given"] = store._rows(
        "SELECT member_id, kind, level, granted_at, station_id FROM grants "
        "WHERE granted_by = ? ORDER BY granted_at DESC LIMIT 50",
        (member_id,),
    )
    return member
