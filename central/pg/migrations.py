"""The PostgreSQL schema, as versioned migrations, and the small runner that applies them.

Why a runner of our own (about fifty lines) and not a migration tool: the SQLite backend keeps
sqlite-utils' ``Migrations`` (every fablab's store records in it what it has applied), and this
runner has the same contract — named migrations applied in order, each recorded in a table in
the same transaction as its DDL. PostgreSQL's DDL is transactional, so a migration that fails
half-way leaves nothing behind; an advisory lock makes several central processes starting at once
apply each migration exactly once. Alembic would bring SQLAlchemy for one backend's plain SQL.

Times are ISO-8601 text (``2026-12-01T21:42:33.123Z``), as in SQLite, so that both backends return
the same values; ``COLLATE "C"`` keeps their order the order of time whatever the server's locale.
Events are partitioned by the month they were received (``central/pg/partitions.py``); exactly
once on ``(station_id, seq)`` comes from ingest locking the station's row (a unique key of a
partitioned table must hold the partition key).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from central.errors import MigrationError, StorageUnavailable
from central.pg.db import Connection, Database
from central.sites import DEFAULT_SITE
from central.sqlite.migrations import (
    ROLLUP_KEY,
    ROLLUP_SUMS,
    ROLLUPS_TIMEZONE,
    UTC_DAY,
    rollup_select,
)

LOCK_KEY = 7_041_977_013
"""``pg_advisory_xact_lock`` key of the runner: one central process migrates at a time."""

NOW_SQL = """to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""
"""The server's clock in the store's time format, for rows a trigger writes."""


@dataclass(frozen=True)
class Migration:
    name: str
    statements: tuple[str, ...] = ()
    run: Callable[[Connection], None] | None = None
    """For a migration that needs more than fixed statements (data to move)."""

    def apply(self, conn: Connection) -> None:
        for sql in self.statements:
            conn.execute(sql)
        if self.run is not None:
            self.run(conn)


def _history_triggers() -> tuple[str, ...]:
    """Every writer of the roster leaves its trace (as the SQLite triggers do)."""
    return (
        f"""CREATE FUNCTION qualification_history_insert() RETURNS trigger AS $$ BEGIN
            INSERT INTO qualification_history (member_id, kind, level, at, granted_by) VALUES
            (NEW.member_id, NEW.kind, NEW.level, COALESCE(NEW.granted_at, {NOW_SQL}),
             NEW.granted_by);
            RETURN NULL; END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER qualification_history_insert AFTER INSERT ON qualifications
            FOR EACH ROW EXECUTE FUNCTION qualification_history_insert()""",
        f"""CREATE FUNCTION qualification_history_update() RETURNS trigger AS $$ BEGIN
            INSERT INTO qualification_history (member_id, kind, level, at, granted_by) VALUES
            (NEW.member_id, NEW.kind, NEW.level,
             CASE WHEN NEW.granted_at IS DISTINCT FROM OLD.granted_at
                       AND NEW.granted_at IS NOT NULL
                  THEN NEW.granted_at ELSE {NOW_SQL} END, NEW.granted_by);
            RETURN NULL; END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER qualification_history_update AFTER UPDATE OF level ON qualifications
            FOR EACH ROW WHEN (NEW.level IS DISTINCT FROM OLD.level)
            EXECUTE FUNCTION qualification_history_update()""",
        """CREATE FUNCTION role_history_insert() RETURNS trigger AS $$ BEGIN
            INSERT INTO role_history (member_id, role, active, at)
            VALUES (NEW.id, NEW.role, NEW.active, NEW.updated_at);
            RETURN NULL; END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER role_history_insert AFTER INSERT ON members
            FOR EACH ROW EXECUTE FUNCTION role_history_insert()""",
        f"""CREATE FUNCTION role_history_update() RETURNS trigger AS $$ BEGIN
            INSERT INTO role_history (member_id, role, active, at) VALUES
            (NEW.id, NEW.role, NEW.active,
             CASE WHEN NEW.updated_at IS DISTINCT FROM OLD.updated_at THEN NEW.updated_at
                  ELSE {NOW_SQL} END);
            RETURN NULL; END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER role_history_update AFTER UPDATE OF role, active ON members
            FOR EACH ROW WHEN (NEW.role IS DISTINCT FROM OLD.role
                               OR NEW.active IS DISTINCT FROM OLD.active)
            EXECUTE FUNCTION role_history_update()""",
    )


T = 'TEXT COLLATE "C"'
"""A time column: ISO-8601 text ordered byte by byte."""

SQLITE_FUNCTIONS = (
    # SQLite's functions that the SQL shared with central/sqlite/ uses, with SQLite's results.
    """CREATE FUNCTION instr(haystack TEXT, needle TEXT) RETURNS INTEGER
        AS $$ SELECT strpos(haystack, needle) $$ LANGUAGE sql IMMUTABLE STRICT""",
    """CREATE FUNCTION round(x DOUBLE PRECISION, digits INTEGER) RETURNS DOUBLE PRECISION
        AS $$ SELECT round(x::numeric, digits)::double precision $$ LANGUAGE sql IMMUTABLE""",
    """CREATE FUNCTION bool_count(n BIGINT, b BOOLEAN) RETURNS BIGINT
        AS $$ SELECT n + CASE WHEN b THEN 1 ELSE 0 END $$ LANGUAGE sql IMMUTABLE""",
    "CREATE AGGREGATE sum(BOOLEAN) (SFUNC = bool_count, STYPE = BIGINT, INITCOND = '0')",
    # One key of a JSON object kept as text ('$.uid'): all the shared SQL asks of JSON.
    """CREATE FUNCTION json_extract(doc TEXT, path TEXT) RETURNS TEXT
        AS $$ SELECT (doc::jsonb) ->> substr(path, 3) $$ LANGUAGE sql IMMUTABLE STRICT""",
    """CREATE FUNCTION json_set(doc TEXT, path TEXT, value TEXT) RETURNS TEXT
        AS $$ SELECT jsonb_set(doc::jsonb, ARRAY[substr(path, 3)],
                               COALESCE(to_jsonb(value), 'null'::jsonb))::text $$
        LANGUAGE sql IMMUTABLE""",
)
"""The backends share their portable SQL (``central/pg/base.py``); these few functions make
SQLite's spelling of it run here, so that one statement is written once."""

M001_SCHEMA = Migration(
    "m001_schema",
    (
        *SQLITE_FUNCTIONS,
        f"""CREATE TABLE stations (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL DEFAULT '',
            machine_id TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL DEFAULT '',
            token_hash TEXT UNIQUE,
            active INTEGER NOT NULL DEFAULT 1,
            created_at {T} NOT NULL,
            revoked_at {T},
            high_water BIGINT NOT NULL DEFAULT 0,
            held BIGINT NOT NULL DEFAULT 0,
            syncs BIGINT NOT NULL DEFAULT 0,
            last_contact_at {T},
            last_status TEXT,
            backlog BIGINT NOT NULL DEFAULT 0
        )""",
        f"""CREATE TABLE events (
            station_id TEXT NOT NULL,
            seq BIGINT NOT NULL,
            id TEXT NOT NULL,
            type TEXT NOT NULL,
            at {T} NOT NULL,
            at_repaired {T},
            clock_synced INTEGER NOT NULL,
            boot_id TEXT NOT NULL,
            mono DOUBLE PRECISION NOT NULL,
            data TEXT NOT NULL,
            received_at {T} NOT NULL,
            applied INTEGER NOT NULL DEFAULT 1,
            refused TEXT,
            PRIMARY KEY (station_id, seq, received_at)
        ) PARTITION BY RANGE (received_at)""",
        "CREATE TABLE events_default PARTITION OF events DEFAULT",
        "CREATE INDEX events_type ON events (type, station_id)",
        "CREATE INDEX events_unsynced ON events (station_id, boot_id) WHERE clock_synced = 0",
        "CREATE INDEX events_refused ON events (station_id, seq) WHERE applied = 0",
        """CREATE TABLE boots (
            station_id TEXT NOT NULL,
            boot_id TEXT NOT NULL,
            offset_s DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (station_id, boot_id)
        )""",
        f"""CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            station_id TEXT NOT NULL,
            machine_id TEXT,
            kind TEXT,
            member_id TEXT NOT NULL,
            supervisor_id TEXT,
            started_at {T} NOT NULL,
            ended_at {T},
            end_reason TEXT,
            duration_s DOUBLE PRECISION,
            active_s DOUBLE PRECISION,
            idle_s DOUBLE PRECISION,
            energy_wh DOUBLE PRECISION,
            started_seq BIGINT NOT NULL,
            finishing_s DOUBLE PRECISION,
            finishing_active_s DOUBLE PRECISION,
            finishing_idle_s DOUBLE PRECISION,
            finishing_energy_wh DOUBLE PRECISION,
            finished_at {T}
        )""",
        "CREATE INDEX sessions_started ON sessions (started_at)",
        "CREATE INDEX sessions_member ON sessions (member_id)",
        f"""CREATE TABLE grants (
            station_id TEXT NOT NULL,
            seq BIGINT NOT NULL,
            member_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            level TEXT NOT NULL,
            previous_level TEXT,
            granted_by TEXT,
            granted_at {T} NOT NULL,
            PRIMARY KEY (station_id, seq)
        )""",
        f"""CREATE TABLE members (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            version BIGINT NOT NULL,
            updated_at {T} NOT NULL,
            erased_at {T}
        )""",
        """CREATE TABLE badges (
            uid TEXT PRIMARY KEY,
            member_id TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            version BIGINT NOT NULL
        )""",
        f"""CREATE TABLE qualifications (
            member_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            level TEXT NOT NULL,
            granted_by TEXT,
            granted_at {T},
            version BIGINT NOT NULL,
            PRIMARY KEY (member_id, kind)
        )""",
        "CREATE INDEX members_version ON members (version)",
        "CREATE INDEX badges_version ON badges (version)",
        "CREATE INDEX qualifications_version ON qualifications (version)",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"""CREATE TABLE commands (
            rowid BIGINT GENERATED ALWAYS AS IDENTITY,
            id TEXT PRIMARY KEY,
            station_id TEXT NOT NULL,
            action TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            uid TEXT,
            created_at {T} NOT NULL,
            created_by TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            applied_at {T},
            result TEXT
        )""",
        "CREATE INDEX commands_pending ON commands (station_id, status, rowid)",
        f"""CREATE TABLE users (
            username TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            created_at {T} NOT NULL,
            last_login_at {T},
            session_generation BIGINT NOT NULL DEFAULT 0
        )""",
        f"""CREATE TABLE badge_taps (
            uid TEXT NOT NULL,
            at {T} NOT NULL,
            station_id TEXT NOT NULL,
            event_id TEXT NOT NULL
        )""",
        "CREATE INDEX badge_taps_uid_at ON badge_taps (uid, at)",
        f"""CREATE TABLE alerts (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            created_at {T} NOT NULL,
            data TEXT NOT NULL,
            UNIQUE (kind, key)
        )""",
        f"""CREATE TABLE qualification_history (
            rowid BIGINT GENERATED ALWAYS AS IDENTITY,
            member_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            level TEXT NOT NULL,
            at {T} NOT NULL,
            granted_by TEXT
        )""",
        "CREATE INDEX qualification_history_at ON qualification_history (member_id, kind, at)",
        f"""CREATE TABLE role_history (
            rowid BIGINT GENERATED ALWAYS AS IDENTITY,
            member_id TEXT NOT NULL,
            role TEXT NOT NULL,
            active INTEGER NOT NULL,
            at {T} NOT NULL
        )""",
        "CREATE INDEX role_history_at ON role_history (member_id, at)",
        *_history_triggers(),
        f"""CREATE TABLE retention_runs (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at {T} NOT NULL,
            days INTEGER NOT NULL,
            erased INTEGER NOT NULL,
            dry_run INTEGER NOT NULL
        )""",
        f"""CREATE TABLE station_enrolments (
            rowid BIGINT GENERATED ALWAYS AS IDENTITY,
            uid TEXT NOT NULL,
            member_id TEXT NOT NULL,
            station_id TEXT NOT NULL,
            by TEXT NOT NULL,
            at {T} NOT NULL,
            created_member INTEGER NOT NULL DEFAULT 0
        )""",
        f"""CREATE TABLE progress_links (
            member_id TEXT PRIMARY KEY,
            generation BIGINT NOT NULL,
            revoked_at {T}
        )""",
    ),
)

M002_SHARED_STATE = Migration(
    "m002_shared_state",
    (
        # Failed logins per account and per client address, shared by every central process
        # behind one address (web/common/login.py's limits, in the database).
        """CREATE TABLE login_failures (
            key TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX login_failures_key_at ON login_failures (key, at)",
        "CREATE INDEX login_failures_at ON login_failures (at)",
    ),
)

M003_SITES = Migration(
    "m003_sites",
    (
        # As the SQLite store's m011_sites (central/sqlite/migrations.py): every existing
        # station, member, session and non-admin account at the default site.
        f"CREATE TABLE sites (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at {T} NOT NULL)",
        f"INSERT INTO sites (id, name, created_at) VALUES ('{DEFAULT_SITE}', 'Fablab', {NOW_SQL})",
        f"ALTER TABLE stations ADD COLUMN site_id TEXT NOT NULL DEFAULT '{DEFAULT_SITE}'",
        f"ALTER TABLE members ADD COLUMN site_id TEXT NOT NULL DEFAULT '{DEFAULT_SITE}'",
        "ALTER TABLE users ADD COLUMN site_id TEXT",
        f"UPDATE users SET site_id = '{DEFAULT_SITE}' WHERE role != 'admin'",
        "ALTER TABLE sessions ADD COLUMN site_id TEXT",
        f"UPDATE sessions SET site_id = '{DEFAULT_SITE}'",
        "CREATE INDEX stations_site ON stations (site_id)",
        "CREATE INDEX members_site ON members (site_id)",
        """CREATE TABLE site_kinds (
            site_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            induction_required INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (site_id, kind)
        )""",
        f"""CREATE TABLE site_inductions (
            member_id TEXT NOT NULL,
            site_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            at {T} NOT NULL,
            by TEXT NOT NULL,
            PRIMARY KEY (member_id, site_id, kind)
        )""",
    ),
)

M004_ROLLUPS = Migration(
    "m004_rollups",
    (
        f"""CREATE TABLE rollups (
            day {T} NOT NULL,
            site_id TEXT NOT NULL,
            station_id TEXT NOT NULL,
            machine_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            member_id TEXT NOT NULL,
            supervisor_id TEXT NOT NULL,
            sessions BIGINT NOT NULL,
            seconds DOUBLE PRECISION NOT NULL,
            energy_wh DOUBLE PRECISION NOT NULL,
            finishing_energy_wh DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (day, site_id, station_id, machine_id, kind, member_id, supervisor_id)
        )""",
        "CREATE INDEX rollups_site_day ON rollups (site_id, day)",
        "CREATE INDEX rollups_member ON rollups (member_id)",
        f"INSERT INTO rollups ({ROLLUP_KEY}, {', '.join(ROLLUP_SUMS)}) "
        f"{rollup_select(1, day=UTC_DAY)}",
    ),
)

M005_CREDENTIALS = Migration(
    "m005_credentials",
    (
        f"""CREATE TABLE credential_consents (
            member_id TEXT PRIMARY KEY,
            display_name TEXT NOT NULL,
            minor INTEGER NOT NULL,
            consent_by TEXT NOT NULL,
            recorded_by TEXT NOT NULL,
            recorded_at {T} NOT NULL
        )""",
        """CREATE TABLE credential_holders (
            member_id TEXT PRIMARY KEY,
            subject_id TEXT NOT NULL UNIQUE
        )""",
        f"""CREATE TABLE credentials (
            id TEXT PRIMARY KEY,
            member_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            level TEXT NOT NULL,
            status_index INTEGER NOT NULL UNIQUE,
            kid TEXT NOT NULL,
            issued_at {T} NOT NULL,
            issued_by TEXT NOT NULL,
            token TEXT,
            revoked_at {T},
            revoked_by TEXT,
            revoked_reason TEXT
        )""",
        "CREATE UNIQUE INDEX credentials_once ON credentials (member_id, kind, level) "
        "WHERE revoked_at IS NULL",
        "CREATE INDEX credentials_member ON credentials (member_id)",
    ),
)
"""Open Badges credentials (issue 15), as SQLite's ``m009_credentials``."""

M006_QUIZZES = Migration(
    "m006_quizzes",
    (
        f"""CREATE TABLE quizzes (
            kind TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            version INTEGER NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at {T} NOT NULL
        )""",
        f"""CREATE TABLE quiz_attempts (
            member_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            at {T} NOT NULL,
            correct INTEGER NOT NULL,
            total INTEGER NOT NULL,
            passed INTEGER NOT NULL
        )""",
        "CREATE INDEX quiz_attempts_member ON quiz_attempts (member_id, kind)",
        f"""CREATE TABLE quiz_passes (
            member_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            passed_at {T} NOT NULL,
            correct INTEGER NOT NULL,
            total INTEGER NOT NULL,
            quiz_version INTEGER NOT NULL,
            PRIMARY KEY (member_id, kind)
        )""",
    ),
)
"""Induction quizzes (issue 15), as SQLite's ``m010_quizzes``."""

M007_GROUP_CONCAT = Migration(
    "m007_group_concat",
    (
        """CREATE FUNCTION group_concat_step(acc TEXT, value TEXT) RETURNS TEXT
            AS $$ SELECT CASE WHEN value IS NULL THEN acc WHEN acc IS NULL THEN value
                              ELSE acc || ',' || value END $$ LANGUAGE sql IMMUTABLE""",
        "CREATE AGGREGATE group_concat(TEXT) (SFUNC = group_concat_step, STYPE = TEXT)",
    ),
)
"""SQLite's ``group_concat`` (the roster's inducted kinds, issue 15): one more of
:data:`SQLITE_FUNCTIONS`, so that the shared statement runs here too."""

M008_LOCAL_DAY = Migration(
    "m008_local_day",
    (
        # SQLite's is central.sqlite.migrations.local_day (Python's zoneinfo): same results.
        """CREATE FUNCTION local_day(at TEXT, zone TEXT) RETURNS TEXT
            AS $$ SELECT to_char(at::timestamptz AT TIME ZONE COALESCE(zone, 'UTC'),
                                 'YYYY-MM-DD') $$ LANGUAGE sql STABLE""",
        f"""INSERT INTO meta (key, value) VALUES ('{ROLLUPS_TIMEZONE}', 'UTC')
            ON CONFLICT (key) DO NOTHING""",
    ),
)
"""The roll-ups' day key in the fablab's zone (``central/sqlite/migrations.py``
``rollup_select``), and the zone m004 built them in (UTC): the store rebuilds them when
``[site] timezone`` differs."""

MIGRATIONS: tuple[Migration, ...] = (
    M001_SCHEMA,
    M002_SHARED_STATE,
    M003_SITES,
    M004_ROLLUPS,
    M005_CREDENTIALS,
    M006_QUIZZES,
    M007_GROUP_CONCAT,
    M008_LOCAL_DAY,
)


def _prepare(conn: Connection) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, "
        f"applied_at {T} NOT NULL)"
    )


def applied(db: Database) -> list[str]:
    """The names of the migrations applied to this database, in order."""
    with db.transaction() as conn:
        _prepare(conn)
        rows = conn.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()
    return [r[0] for r in rows]


def pending(db: Database, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    done = set(applied(db))
    return [m.name for m in migrations if m.name not in done]


def migrate(db: Database, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply the pending migrations, each in its own transaction; return their names.

    A migration that fails is rolled back whole (:class:`MigrationError` names it); the ones
    before it stay applied. A database migrated by a newer version of the code is refused:
    running older code on it could write what the newer schema forbids.
    """
    known = {m.name for m in migrations}
    unknown = [name for name in applied(db) if name not in known]
    if unknown:
        raise MigrationError(
            f"the database {db.where} has migration {unknown[0]} that this version of "
            "fabrique-station does not know: upgrade this central process (every process on "
            "one database runs the same version)."
        )
    done: list[str] = []
    for m in migrations:
        try:
            with db.transaction() as conn:
                _prepare(conn)
                if conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE name = %s", (m.name,)
                ).fetchone():
                    continue  # another process applied it while we waited for the lock
                m.apply(conn)
                conn.execute(
                    f"INSERT INTO schema_migrations (name, applied_at) VALUES (%s, {NOW_SQL})",
                    (m.name,),
                )
        except StorageUnavailable:
            raise
        except Exception as e:  # a driver's SQL error too: rolled back by the transaction
            raise MigrationError(_failed(m.name, db, e)) from e
        done.append(m.name)
    return done


def _failed(name: str, db: Database, e: Exception) -> str:
    return (
        f"migration {name} failed on {db.where} and was rolled back whole (the schema is as "
        f"before it): {e}. Fix the cause, then run `station-central migrate` again."
    )
