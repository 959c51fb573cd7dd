"""The central store's SQLite schema: every migration, in order (existing databases must open).

The migration functions' names are recorded in each database (``_sqlite_migrations``): never
rename one; add a new ``m0NN_…`` at the end.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from central.errors import CentralError
from central.sites import DEFAULT_SITE
from station.job import finishing_params, finishing_totals_sql
from station.sqlite import open_sqlite

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


@migrations()
def m009_credentials(db: Database) -> None:
    """Open Badges credentials (issue 15): consents, holders, issued credentials."""
    db.execute(
        """
        CREATE TABLE credential_consents (
            member_id TEXT PRIMARY KEY,
            display_name TEXT NOT NULL,
            minor INTEGER NOT NULL,
            consent_by TEXT NOT NULL,
            recorded_by TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE credential_holders (
            member_id TEXT PRIMARY KEY,
            subject_id TEXT NOT NULL UNIQUE
        )"""
    )
    db.execute(
        """
        CREATE TABLE credentials (
            id TEXT PRIMARY KEY,
            member_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            level TEXT NOT NULL,
            status_index INTEGER NOT NULL UNIQUE,
            kid TEXT NOT NULL,
            issued_at TEXT NOT NULL,
            issued_by TEXT NOT NULL,
            token TEXT,
            revoked_at TEXT,
            revoked_by TEXT,
            revoked_reason TEXT
        )"""
    )
    db.execute(
        "CREATE UNIQUE INDEX credentials_once ON credentials(member_id, kind, level) "
        "WHERE revoked_at IS NULL"
    )
    db.execute("CREATE INDEX credentials_member ON credentials(member_id)")


@migrations()
def m010_quizzes(db: Database) -> None:
    """Induction quizzes (issue 15): one per kind, the attempts, one pass per trainee."""
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
    """One connection with the settings every connection needs, schema migrated, and
    :func:`local_day` (the roll-ups' day key) as a SQL function."""
    db = open_sqlite(
        path, migrations, error=CentralError, what="the central store", busy_timeout_s=30.0
    )
    db.conn.create_function("local_day", 2, local_day, deterministic=True)
    return db


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_day(at: str | None, zone: str | None) -> str | None:
    """The calendar day (``2026-01-01``) in ``zone`` (an IANA name) of the store's time ``at``
    (UTC, ``2025-12-31T23:30:00.000Z``): the day a session counts on in the reports. PostgreSQL
    has the same function (central/pg/migrations.py); a time it cannot read keeps its own
    first ten characters."""
    if at is None:
        return None
    try:
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.astimezone(_zone(zone or "UTC")).date().isoformat()
    except (ValueError, KeyError, OSError):
        return at[:10]


@migrations()
def m009_login_failures(db: Database) -> None:
    """Failed logins, per hashed client address and username (web/common/login.py): in the
    store, so that several central processes on one database count them together."""
    db.execute("CREATE TABLE login_failures (key TEXT NOT NULL, at REAL NOT NULL)")
    db.execute("CREATE INDEX login_failures_key_at ON login_failures(key, at)")
    db.execute("CREATE INDEX login_failures_at ON login_failures(at)")


@migrations()
def m011_sites(db: Database) -> None:
    """A network of fablabs: sites, and each station, member, account and session at one.

    A station and a member belong to one site (a member's home fablab: whose educators manage
    them; their levels count at every site). An account with no site (``site_id`` NULL) is the
    network's: an admin without a site administers every fablab. A site may ask for its own
    induction on a kind before anyone uses its machines of that kind (``site_kinds``), and
    records who had it (``site_inductions``)."""
    db.execute(
        "CREATE TABLE sites (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL)"
    )
    db.execute(
        f"INSERT INTO sites (id, name, created_at) VALUES ('{DEFAULT_SITE}', 'Fablab', {NOW_SQL})"
    )
    for table in ("stations", "members"):
        db.execute(f"ALTER TABLE {table} ADD COLUMN site_id TEXT NOT NULL DEFAULT '{DEFAULT_SITE}'")
    db.execute("ALTER TABLE users ADD COLUMN site_id TEXT")
    db.execute(f"UPDATE users SET site_id = '{DEFAULT_SITE}' WHERE role != 'admin'")
    db.execute("ALTER TABLE sessions ADD COLUMN site_id TEXT")
    db.execute(f"UPDATE sessions SET site_id = '{DEFAULT_SITE}'")
    db.execute("CREATE INDEX stations_site ON stations(site_id)")
    db.execute("CREATE INDEX members_site ON members(site_id)")
    db.execute(
        """CREATE TABLE site_kinds (
            site_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            induction_required INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (site_id, kind)
        )"""
    )
    db.execute(
        """CREATE TABLE site_inductions (
            member_id TEXT NOT NULL,
            site_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            at TEXT NOT NULL,
            by TEXT NOT NULL,
            PRIMARY KEY (member_id, site_id, kind)
        )"""
    )


ROLLUP_KEY = "day, site_id, station_id, machine_id, kind, member_id, supervisor_id"
"""What a roll-up row sums over: one day of one member's sessions on one machine of one site,
with one supervisor ('' for none; '' for an unknown kind)."""
ROLLUP_SUMS = ("sessions", "seconds", "energy_wh", "finishing_energy_wh")


@migrations()
def m012_rollups(db: Database) -> None:
    """The reports' figures, kept by ingest in the same transaction as the sessions they sum
    (central/sqlite/rollups.py), then filled from the sessions already held."""
    db.execute(
        """CREATE TABLE rollups (
            day TEXT NOT NULL,
            site_id TEXT NOT NULL,
            station_id TEXT NOT NULL,
            machine_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            member_id TEXT NOT NULL,
            supervisor_id TEXT NOT NULL,
            sessions INTEGER NOT NULL,
            seconds REAL NOT NULL,
            energy_wh REAL NOT NULL,
            finishing_energy_wh REAL NOT NULL,
            PRIMARY KEY (day, site_id, station_id, machine_id, kind, member_id, supervisor_id)
        )"""
    )
    db.execute("CREATE INDEX rollups_site_day ON rollups(site_id, day)")
    db.execute("CREATE INDEX rollups_member ON rollups(member_id)")
    db.execute(
        f"INSERT INTO rollups ({ROLLUP_KEY}, {', '.join(ROLLUP_SUMS)}) "
        f"{rollup_select(1, day=UTC_DAY)}"
    )


@migrations()
def m013_rollups_timezone(db: Database) -> None:
    """The zone the roll-ups' days are in (m012 built them in UTC): the store rebuilds them
    when ``[site] timezone`` differs (:meth:`RollupsSqlite.set_rollups_timezone`)."""
    db.execute(
        f"INSERT INTO meta (key, value) VALUES ('{ROLLUPS_TIMEZONE}', 'UTC') "
        "ON CONFLICT(key) DO NOTHING"
    )


ROLLUPS_TIMEZONE = "rollups_timezone"
"""The ``meta`` key of the zone the roll-ups' days are in."""
UTC_DAY = "substr(started_at, 1, 10)"
"""The day key the first roll-ups had (UTC): frozen in the migrations that built them."""
LOCAL_DAY = (
    "local_day(started_at, COALESCE((SELECT value FROM meta "
    f"WHERE key = '{ROLLUPS_TIMEZONE}'), 'UTC'))"
)
"""A session's day key: the calendar day it started on in the roll-ups' zone."""


def rollup_select(sign: int, where: str = "1 = 1", *, day: str = LOCAL_DAY) -> str:
    """The roll-up rows of the sessions ``where`` picks, each sum times ``sign`` (+1 to add
    them, -1 to take them away): portable SQL, the same on both backends (each has
    ``local_day``)."""
    return f"""SELECT {day}, COALESCE(site_id, ''), station_id,
                   COALESCE(machine_id, station_id), COALESCE(kind, ''), member_id,
                   COALESCE(supervisor_id, ''), {sign} * COUNT(*),
                   {sign} * SUM(COALESCE(duration_s, 0)), {sign} * SUM(COALESCE(energy_wh, 0)),
                   {sign} * SUM(COALESCE(finishing_energy_wh, 0))
               FROM sessions WHERE {where} GROUP BY 1, 2, 3, 4, 5, 6, 7"""
