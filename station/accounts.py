"""Technician accounts for the station's technician page: local, few, passwords hashed with scrypt.

The accounts live in their own table of the station's SQLite file, created by their own
``Migrations`` set so that the event store's schema stays independent. Open one connection per
thread (per web request): SQLite connections are not shared across threads.

    db = open_accounts(config.db_path)
    add_technician(db, "yanis", "a long passphrase")
    authenticate(db, "yanis", "a long passphrase")  # True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from station.errors import StationError
from station.store import open_database

migrations = Migrations("fabrique-station-accounts")

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
MIN_PASSWORD_LENGTH = 10
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
"""About 16 MiB and a few tens of milliseconds per check on a Raspberry Pi 4."""


class AccountError(StationError, ValueError):
    """A username or password is not acceptable; the message says what to fix."""


@migrations()
def m001_technicians(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE technicians (
            username TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            password_changed_at TEXT NOT NULL,
            last_login_at TEXT
        )"""
    )


@migrations()
def m002_session_generation(db: Database) -> None:
    # A login records the account's generation; logout or a new password bumps it, and every
    # request checks it: a copied cookie ends with the session it was copied from.
    db.execute("ALTER TABLE technicians ADD COLUMN session_generation INTEGER NOT NULL DEFAULT 0")


def open_accounts(path: Path) -> Database:
    """A new connection to the station's store with the accounts table in place."""
    db = open_database(path)
    migrations.apply(db)
    return db


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(stored: str, password: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        digest = hashlib.scrypt(
            password.encode("utf-8"),
            salt=salt,
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
"""Checked against when the username is unknown, so a reply's timing does not reveal usernames."""


def verify(stored_hash: str | None, password: str) -> bool:
    """Check ``password`` in the same time whether the account exists (``None``) or not."""
    if stored_hash is None:
        check_password(_DUMMY_HASH, password)
        return False
    return check_password(stored_hash, password)


def validate_username(username: str) -> str:
    if not USERNAME_PATTERN.match(username):
        raise AccountError(
            f"username {username!r}: use 2 to 32 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return username


def validate_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters "
            "(a few words make a good one)"
        )
    return password


def add_technician(db: Database, username: str, password: str, *, replace: bool = False) -> bool:
    """Create an account (or, with ``replace``, set a new password). True if it was created."""
    validate_username(username)
    validate_password(password)
    now = _now()
    exists = (
        db.execute("SELECT 1 FROM technicians WHERE username = ?", [username]).fetchone()
        is not None
    )
    if exists and not replace:
        raise AccountError(f"technician {username!r} exists already; use --replace to reset")
    db.execute(
        "INSERT INTO technicians (username, password_hash, active, created_at, password_changed_at)"
        " VALUES (?, ?, 1, ?, ?) ON CONFLICT(username) DO UPDATE SET"
        " password_hash = excluded.password_hash, active = 1,"
        " password_changed_at = excluded.password_changed_at,"
        " session_generation = technicians.session_generation + 1",
        [username, hash_password(password), now, now],
    )
    return not exists


def authenticate(db: Database, username: str, password: str) -> bool:
    row = db.execute(
        "SELECT password_hash FROM technicians WHERE username = ? AND active = 1", [username]
    ).fetchone()
    if not verify(row[0] if row else None, password):
        return False
    db.execute("UPDATE technicians SET last_login_at = ? WHERE username = ?", [_now(), username])
    return True


def session_generation(db: Database, username: str) -> int | None:
    """The generation a session of this account must carry; None if the account is gone."""
    row = db.execute(
        "SELECT session_generation FROM technicians WHERE username = ? AND active = 1",
        [username],
    ).fetchone()
    return int(row[0]) if row else None


def end_sessions(db: Database, username: str) -> None:
    """Every open session of this account ends (logout, a new password)."""
    db.execute(
        "UPDATE technicians SET session_generation = session_generation + 1 WHERE username = ?",
        [username],
    )


def is_active(db: Database, username: str) -> bool:
    row = db.execute("SELECT active FROM technicians WHERE username = ?", [username]).fetchone()
    return bool(row and row[0])


def list_technicians(db: Database) -> list[dict[str, object]]:
    return list(
        db.query(
            "SELECT username, active, created_at, last_login_at FROM technicians ORDER BY username"
        )
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
