"""The station's sync client: push events to the central store, apply what it sends back.

It runs in its own thread with its own SQLite connection, so a slow or absent central store never
delays a tap: the controller only ever gets short messages (reload the roster, a command, an
acknowledgement to record). The protocol is docs/sync.md:

1. read up to ``batch_size`` events after the acknowledged seq and POST them, with this station's
   bearer token and its roster version, to ``/api/v1/sync``;
2. store the ``acked_seq`` the reply carries (the highest contiguous seq the central store holds),
   so a lost reply only means the same events are sent again (the central store keeps each once);
3. once every event is pushed, apply the roster changes (written through this thread's connection,
   then ``controller.reload_roster()``) — not before, so a grant made here and not yet pushed is
   never overwritten by an older roster;
4. apply pending commands with ``controller.call(Command(..., by="central"))`` and acknowledge each
   with a ``command_applied`` event (applied once: the event log is checked first);
5. push the roster's expiry forward (last contact + ``roster_max_age_h``).

Every request has a timeout; failures back off exponentially with jitter.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from station.clock import Clock, iso
from station.config import Config
from station.events import CommandApplied, EventType
from station.finite import finite
from station.machine import Command
from station.protocol import MACHINE_COMMANDS, PROTOCOL, STATUS_KEYS, SYNC_PATH, USER_AGENT
from station.roster_age import Anchor, roster_expiry, upgraded
from station.sqlite import immediate
from station.store import Store

log = logging.getLogger(__name__)

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)

migrations = Migrations("fabrique-station-sync")


@migrations()
def m001_sync_state(db: Database) -> None:
    db.execute("CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


class SyncTarget(Protocol):
    """What the client needs from the controller (a fake in some tests)."""

    clock: Clock

    def call(self, inp: Any, timeout: float = ...) -> Any: ...
    def record(
        self, type_: EventType, data: Mapping[str, Any], timeout: float = ...
    ) -> dict[str, Any]: ...
    def set_roster_expiry(self, expires_mono: float | None) -> None: ...
    def set_sync_status(self, sync: dict[str, Any]) -> None: ...
    def reload_roster(self) -> None: ...


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]


Transport = Callable[[str, bytes, dict[str, str], float], Reply]


class SyncError(Exception):
    """One sync attempt failed; ``kind`` is ``offline``, ``unauthorized`` or ``rejected``."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


def urllib_transport(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Reply:
    """POST with the standard library; the timeout bounds the connect and every read."""
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Reply(resp.status, _json(resp.read()))
    except urllib.error.HTTPError as e:
        try:
            payload = _json(e.read())
        except (OSError, ValueError):
            payload = {}
        finally:
            e.close()
        return Reply(e.code, payload)
    except (OSError, ValueError, http.client.HTTPException) as e:
        # URLError, timeouts, resets, a truncated reply (IncompleteRead), garbage (BadStatusLine)
        raise SyncError("offline", f"{type(e).__name__}: {e}") from None


def _json(raw: bytes) -> dict[str, Any]:
    body = json.loads(raw.decode("utf-8")) if raw else {}
    if not isinstance(body, dict):
        raise ValueError("the reply is not a JSON object")
    return body


class SyncClient:
    """The sync thread. ``start()``/``stop()``; ``wake()`` asks for a sync now."""

    def __init__(
        self,
        config: Config,
        target: SyncTarget,
        *,
        transport: Transport = urllib_transport,
        store_factory: Callable[[], Store] | None = None,
        rng: random.Random | None = None,
        max_backoff_s: float = 120.0,
    ) -> None:
        if not config.central.url:
            raise ValueError("no [central] url: nothing to sync with")
        self.config = config
        self.central = config.central
        self.target = target
        self.transport = transport
        self._store_factory = store_factory or (
            lambda: Store(config.db_path, config.station.id, config.machine.id)
        )
        self.rng = rng or random.Random()
        self.max_backoff_s = max(max_backoff_s, 1.0)
        self.url = config.central.url.rstrip("/") + SYNC_PATH
        self.batch_size = config.central.batch_size
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.store: Store | None = None
        self.failures = 0
        self.syncs = 0
        self.status: dict[str, Any] = {"state": "starting"}

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        """Loop until stopped. No failure ends it: each one backs off and the next try starts
        afresh (a new connection to the store if opening it failed)."""
        try:
            while not self._stop.is_set():
                delay = self._attempt()
                if delay > 0:
                    self._wake.wait(delay)
                    self._wake.clear()
        finally:
            if self.store is not None:
                self.store.close()

    def _open(self) -> None:
        """This thread's own connection, and the state a restart needs (once, on success)."""
        store = self._store_factory()
        try:
            migrations.apply(store.db)
            # This connection only writes what a power cut may lose harmlessly: the acknowledged
            # seq (events are then sent again, and ignored) and roster changes (asked for again,
            # the roster version being written with them). One fsync less per batch.
            store.db.conn.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            store.close()
            raise
        self.store = store
        try:
            self._restore()
        except BaseException:
            self.store = None
            store.close()
            raise

    def _attempt(self) -> float:
        """One sync; returns how long to wait before the next one (0: more to push now).

        Any failure of one attempt — the network, a truncated or garbled reply, a reply that
        does not fit, the store — backs off and retries: the thread itself never ends on one.
        """
        try:
            if self.store is None:
                self._open()
            more = self.sync_once()
        except SyncError as e:
            return self._failed(e.kind, str(e))
        except Exception as e:
            # The traceback once per outage: a repeated fault must not fill the SD card.
            log.warning("sync attempt failed unexpectedly", exc_info=self.failures == 0)
            return self._failed("error", f"{type(e).__name__}: {e}")
        finally:
            self._refresh_age_safely()
        self.failures = 0
        return 0.0 if more else self.central.sync_interval_s

    def _refresh_age_safely(self) -> None:
        if self.store is None or self.failures == 0:
            return  # online: each contact renews the anchor
        try:
            self._refresh_age()
        except Exception:
            log.warning("could not re-derive the roster's age", exc_info=True)

    def _failed(self, kind: str, message: str) -> float:
        self.failures += 1
        delay = self.backoff(self.failures)
        if kind == "unauthorized":
            delay = max(delay, min(self.max_backoff_s, 60.0))
        log.log(
            logging.INFO if self.failures == 1 else logging.DEBUG,
            "sync failed (%s): %s; next try in %.1f s",
            kind,
            message,
            delay,
        )
        try:
            self._publish(
                state=kind,
                last_error=message,
                failures=self.failures,
                next_attempt_in_s=round(delay, 1),
            )
        except Exception:
            log.warning("could not publish the sync status", exc_info=True)
        return delay

    def backoff(self, failures: int) -> float:
        """Exponential from the sync interval, capped, with ±50 % jitter so stations spread."""
        base = min(self.max_backoff_s, self.central.sync_interval_s * 2 ** min(failures - 1, 16))
        return base * self.rng.uniform(0.5, 1.5)

    # --- one sync -----------------------------------------------------------------------------

    def sync_once(self) -> bool:
        """Push one batch and apply the reply; True when more events wait to be pushed."""
        store = self.store
        assert store is not None, "sync_once runs on the sync thread (start())"
        acked = self._get_int("acked_seq")
        last = store.last_seq()
        backlog = max(0, last - acked)
        events, count = self._batch_json(acked)
        head = {
            "protocol": PROTOCOL,
            "station_id": self.config.station.id,
            "roster_version": self._get_int("roster_version"),
            "backlog": max(0, backlog - count),
            "status": finite(self._station_status(backlog)),
        }
        data = (_ENCODER.encode(head)[:-1] + ',"events":[' + events + "]}").encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.central.token}",
            "User-Agent": USER_AGENT,
        }
        reply = self.transport(self.url, data, headers, self.central.timeout_s)
        if reply.status in (401, 403):
            raise SyncError("unauthorized", _error(reply), reply.status)
        if reply.status == 413 and self.batch_size > 1:
            self.batch_size = max(1, self.batch_size // 2)
            raise SyncError("rejected", f"{_error(reply)} (batch now {self.batch_size})", 413)
        if reply.status != 200:
            kind = "offline" if reply.status >= 500 else "rejected"
            raise SyncError(kind, _error(reply), reply.status)
        new_acked = reply.body.get("acked_seq")
        if isinstance(new_acked, bool) or not isinstance(new_acked, int):
            raise SyncError("rejected", "the reply has no acked_seq")
        if new_acked > last:
            raise SyncError(
                "rejected",
                f"the central store holds seq {new_acked} but this station's last is {last}: "
                "was the station's store reset?",
            )
        self._contact(new_acked)
        self.syncs += 1
        if isinstance(reply.body.get("roster"), dict):
            self._apply_roster(reply.body["roster"], new_acked)
        applied = 0
        commands = reply.body.get("commands")
        if isinstance(commands, list):
            for c in commands:
                if isinstance(c, dict):
                    applied += self._apply_command(c)
        remaining = max(0, store.last_seq() - new_acked)
        self._publish(
            state="ok",
            last_error=None,
            failures=0,
            acked_seq=new_acked,
            backlog=remaining,
            roster_version=self._get_int("roster_version"),
            next_attempt_in_s=None,
        )
        # More to push now if this batch made progress (a gap the central store keeps refusing
        # must not turn into a busy loop), or if commands were just applied: their
        # acknowledgements go up at once, so the dashboard shows them applied.
        return remaining > 0 and (new_acked > acked or applied > 0)

    def _station_status(self, backlog: int) -> dict[str, Any]:
        status_fn = getattr(self.target, "status", None)
        out: dict[str, Any] = {"backlog": backlog}
        if callable(status_fn):
            try:
                s = status_fn()
            except Exception:
                return out
            for key in STATUS_KEYS:
                if key in s:
                    out[key] = s[key]
        return out

    # --- the roster ---------------------------------------------------------------------------

    def _apply_roster(self, roster: dict[str, Any], acked: int) -> None:
        """Write the changes in one transaction, only if every local event is pushed."""
        store = self.store
        assert store is not None
        version = roster.get("version")
        if isinstance(version, bool) or not isinstance(version, int):
            return
        conn = store.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            (last,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
            if last > acked:
                conn.execute("ROLLBACK")
                return  # a local event (maybe a grant) is not at the central store yet
            _write_roster(conn, roster)
            _bump_roster_version(conn)
            conn.execute(
                "INSERT INTO sync_state (key, value) VALUES ('roster_version', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(version),),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        self.target.reload_roster()

    # --- commands -----------------------------------------------------------------------------

    def _apply_command(self, c: dict[str, Any]) -> bool:
        """Apply one command unless its acknowledgement is in the log; True if applied now."""
        store = self.store
        assert store is not None
        cid, action = c.get("id"), c.get("action")
        if not isinstance(cid, str) or not isinstance(action, str):
            return False
        done = store.db.execute(
            "SELECT 1 FROM events WHERE type = 'command_applied' AND "
            "json_extract(data, '$.command_id') = ?",
            [cid],
        ).fetchone()
        if done:
            return False  # applied already; the acknowledgement is on its way
        reason = c.get("reason") if isinstance(c.get("reason"), str) else ""
        result: dict[str, Any]
        if action in MACHINE_COMMANDS:
            if action == "lock" and not reason:
                reason = "locked from the central store"
            result = self.target.call(
                Command(MACHINE_COMMANDS[action], by="central", reason=reason or "")
            )
        elif action == "revoke_badge" and isinstance(c.get("uid"), str):
            with immediate(store.db.conn) as conn:
                n = conn.execute("UPDATE badges SET active = 0 WHERE uid = ?", (c["uid"],)).rowcount
                _bump_roster_version(conn)
            self.target.reload_roster()
            result = {"ok": True, "action": action, "badges": n}
        else:
            result = {
                "ok": False,
                "action": action,
                "error": "unknown action",
                "code": "unknown_action",
            }
        self.target.record(
            "command_applied",
            CommandApplied(
                command_id=cid,
                action=action,
                ok=bool(result.get("ok")) if isinstance(result, dict) else False,
                result=result,
            ),
        )
        return True

    # --- contact and expiry -------------------------------------------------------------------

    def _contact(self, acked: int) -> None:
        """Store the acknowledgement, the time of contact and the roster's new anchor (its age
        starts again from now), then push the expiry."""
        assert self.store is not None
        now = self.target.clock.now()
        self._set_many({"acked_seq": acked, "last_contact_at": now.iso()})
        self.store.set_roster_anchor(Anchor.taken(now, self.target.clock.boot_id))
        self.target.set_roster_expiry(now.mono + self.central.roster_max_age_h * 3600)
        self.status["last_success_at"] = now.iso()
        self.status["last_success_mono"] = now.mono
        self.status["boot_id"] = self.target.clock.boot_id

    def _restore(self) -> None:
        """After a restart: the roster's age as known (station/roster_age.py), the last success
        and the acknowledged seq for the status."""
        self._refresh_age()
        last = self._get("last_contact_at")
        self._publish(state="starting", last_success_at=last, acked_seq=self._get_int("acked_seq"))

    def _refresh_age(self) -> None:
        """Re-derive the roster's expiry from its anchor; give the anchor a trusted wall time
        once NTP answers on its own boot. While offline this runs at every attempt, so an age
        unknown after a reboot becomes known as soon as the wall clock can be trusted."""
        assert self.store is not None
        clock = self.target.clock
        now, boot = clock.now(), clock.boot_id
        anchor = self.store.roster_anchor()
        better = upgraded(anchor, now, boot)
        if better is not None:
            self.store.set_roster_anchor(better)
            anchor = better
        max_age_s = self.central.roster_max_age_h * 3600
        self.target.set_roster_expiry(roster_expiry(anchor, now, boot, max_age_s))

    # --- small helpers ------------------------------------------------------------------------

    def _get(self, key: str) -> str | None:
        assert self.store is not None
        row = self.store.db.execute("SELECT value FROM sync_state WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def _get_int(self, key: str) -> int:
        value = self._get(key)
        return int(value) if value else 0

    def _set_many(self, values: dict[str, Any]) -> None:
        assert self.store is not None
        conn = self.store.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT INTO sync_state (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [(k, str(v)) for k, v in values.items()],
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _batch_json(self, acked: int) -> tuple[str, int]:
        """The next batch as JSON text, each event's ``data`` copied as stored (no decode and
        encode again: at a few thousand events a second that is most of the client's work)."""
        assert self.store is not None
        rows = self.store.db.conn.execute(
            "SELECT id, seq, type, at, clock_synced, boot_id, mono, data FROM events "
            "WHERE seq > ? ORDER BY seq LIMIT ?",
            (acked, self.batch_size),
        ).fetchall()
        enc = _ENCODER.encode
        station = enc(self.config.station.id)
        parts = [
            f'{{"id":{enc(r[0])},"station_id":{station},"seq":{r[1]},"type":{enc(r[2])},'
            f'"at":{enc(r[3])},"clock_synced":{"true" if r[4] else "false"},'
            f'"boot_id":{enc(r[5])},"mono":{enc(float(r[6]))},"data":{_finite_text(r[7])}}}'
            for r in rows
        ]
        return ",".join(parts), len(parts)

    def _publish(self, **changes: Any) -> None:
        self.status.update(changes)
        self.status["last_attempt_at"] = iso(self.target.clock.now().at)
        self.status["syncs"] = self.syncs
        self.status["checked_mono"] = time.monotonic()
        try:
            self.target.set_sync_status(dict(self.status))
        except Exception:
            log.warning("could not publish the sync status", exc_info=True)


def _bump_roster_version(conn: Any) -> None:
    """The local roster version moves with every change: the controller reloads on it."""
    (local,) = conn.execute(
        "SELECT COALESCE(MAX(CAST(value AS INTEGER)), 0) FROM roster_meta WHERE key = 'version'"
    ).fetchone()
    conn.execute(
        "INSERT INTO roster_meta (key, value) VALUES ('version', ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (str(local + 1),),
    )


def _write_roster(conn: Any, roster: dict[str, Any]) -> None:
    """Apply a roster reply to the station's roster tables (inside the caller's transaction)."""
    full = bool(roster.get("full"))
    members = [m for m in roster.get("members", []) if _valid_member(m)]
    badges = [b for b in roster.get("badges", []) if _valid_badge(b)]
    quals = [q for q in roster.get("qualifications", []) if _valid_qual(q)]
    if full:
        ids = [m["id"] for m in members]
        uids = [b["uid"] for b in badges]
        conn.execute(f"UPDATE members SET active = 0 WHERE id NOT IN ({_marks(ids)})", ids)
        conn.execute(f"UPDATE badges SET active = 0 WHERE uid NOT IN ({_marks(uids)})", uids)
        conn.execute("DELETE FROM qualifications")
    for m in members:
        conn.execute(
            "INSERT INTO members (id, name, role, active, inducted) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET name = excluded.name, role = excluded.role, "
            "active = excluded.active, inducted = excluded.inducted",
            (m["id"], m["name"], m["role"], int(bool(m.get("active", True))), _inducted(m)),
        )
    known = {r[0] for r in conn.execute("SELECT id FROM members")}
    for b in badges:
        if b["member_id"] not in known:
            continue
        conn.execute(
            "INSERT INTO badges (uid, member_id, active) VALUES (?, ?, ?) "
            "ON CONFLICT(uid) DO UPDATE SET member_id = excluded.member_id, "
            "active = excluded.active",
            (b["uid"], b["member_id"], int(bool(b.get("active", True)))),
        )
    for q in quals:
        if q["level"] == "none":
            conn.execute(
                "DELETE FROM qualifications WHERE member_id = ? AND kind = ?",
                (q["member_id"], q["kind"]),
            )
        elif q["member_id"] in known:
            conn.execute(
                "INSERT INTO qualifications (member_id, kind, level, granted_by, granted_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(member_id, kind) DO UPDATE SET "
                "level = excluded.level, granted_by = excluded.granted_by, "
                "granted_at = excluded.granted_at",
                (q["member_id"], q["kind"], q["level"], q.get("granted_by"), q.get("granted_at")),
            )
    _write_site_induction(conn, roster.get("site_induction"))


def _write_site_induction(conn: Any, site_induction: Any) -> None:
    """The site's own induction, whole in every reply: a central store that sends none (before
    issue 13's sites) asks for nothing extra, so the station then requires nothing extra."""
    required: set[str] = set()
    inducted: dict[str, set[str]] = {}
    if isinstance(site_induction, dict):
        kinds = site_induction.get("required")
        required = {k for k in kinds if _plain_kind(k)} if isinstance(kinds, list) else set()
        pairs = site_induction.get("inducted")
        for pair in pairs if isinstance(pairs, list) else []:
            if (
                isinstance(pair, list)
                and len(pair) == 2
                and isinstance(pair[0], str)
                and _plain_kind(pair[1])
            ):
                inducted.setdefault(pair[0], set()).add(pair[1])
    conn.execute(
        "INSERT INTO roster_meta (key, value) VALUES ('site_induction_kinds', ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (",".join(sorted(required)),),
    )
    conn.execute("UPDATE members SET site_inducted = ''")
    for member_id, kinds in inducted.items():
        conn.execute(
            "UPDATE members SET site_inducted = ? WHERE id = ?",
            (",".join(sorted(kinds)), member_id),
        )


def _plain_kind(kind: Any) -> bool:
    """A kind as stored in a comma-separated column."""
    return isinstance(kind, str) and bool(kind) and "," not in kind


ROLES = ("trainee", "educator", "technician")
LEVELS = ("none", "supervised", "autonomous", "mentor")


def _valid_member(m: Any) -> bool:
    return (
        isinstance(m, dict)
        and isinstance(m.get("id"), str)
        and isinstance(m.get("name"), str)
        and m.get("role") in ROLES
    )


def _inducted(m: dict[str, Any]) -> str:
    """The kinds whose induction quiz the member passed (``inducted``, optional: a central store
    before issue 15 sends none), as stored: comma-separated, anything else dropped."""
    kinds = m.get("inducted")
    if not isinstance(kinds, list):
        return ""
    return ",".join(sorted({k for k in kinds if isinstance(k, str) and k and "," not in k}))


def _valid_badge(b: Any) -> bool:
    return (
        isinstance(b, dict)
        and isinstance(b.get("uid"), str)
        and isinstance(b.get("member_id"), str)
    )


def _valid_qual(q: Any) -> bool:
    return (
        isinstance(q, dict)
        and isinstance(q.get("member_id"), str)
        and isinstance(q.get("kind"), str)
        and q.get("level") in LEVELS
    )


def _finite_text(data: str) -> str:
    """An event's stored JSON as sent: one stored before NaN was refused is cleaned on the way."""
    if "NaN" not in data and "Infinity" not in data:
        return data
    return _ENCODER.encode(finite(json.loads(data)))


def _marks(values: list[str]) -> str:
    return ",".join("?" * len(values)) or "NULL"


def _error(reply: Reply) -> str:
    message = reply.body.get("error") if isinstance(reply.body, dict) else None
    return f"HTTP {reply.status}: {message or 'no message'}"


def start_sync(config: Config, controller: SyncTarget) -> SyncClient | None:
    """The hook ``station run`` calls: a running client when ``[central] url`` is set."""
    if not config.central.url:
        return None
    client = SyncClient(config, controller)
    client.start()
    return client
