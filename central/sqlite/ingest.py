"""Ingest: events keyed on ``(station_id, seq)``, judged by central/scope.py, projected into
sessions, grants, qualifications and command acknowledgements in the same transaction.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import nullcontext
from datetime import timedelta
from typing import Any

from central import clock, scope
from central.errors import BadRequest, Conflict, NotFound
from central.ingest import (
    Event,
    boot_offset,
    contiguous_high_water,
    iso,
    parse_at,
    parse_status,
    repaired_at,
)
from central.privacy_fields import ID_FIELDS, NAME_FIELDS, UID_FIELDS
from central.sites import DEFAULT_SITE
from central.sqlite.alerts import AlertsSqlite, _n
from central.sqlite.migrations import SESSION_TOTALS, project_finishing
from central.sqlite.rollups import rollup_change
from central.store import StoredEvent
from station.job import session_totals_sql
from station.model import Level

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
SESSION_EVENTS = frozenset({"session_started", "session_ended", "finishing_ended"})
"""The projected types that change a session (and so its roll-ups)."""


def batch_sessions(events: list[Event]) -> list[str]:
    """The session ids a batch's session events name (its roll-ups move around the batch). At
    most one per event of a batch (``MAX_BATCH``, 5,000): within SQLite's 32,766 parameters a
    statement (since 3.32) and PostgreSQL's 65,535."""
    ids = {
        e.data["session_id"]
        for e in events
        if e.type in SESSION_EVENTS and isinstance(e.data.get("session_id"), str)
    }
    return sorted(ids)


"""Event types whose content the scope rules check; other known types are applied as they are
(they project nothing; the dashboard shows them under their own station)."""


def stored_event(r: Sequence[Any]) -> dict[str, Any]:
    """A row of ``SELECT station_id, seq, id, type, at, at_repaired, clock_synced, boot_id, mono,
    data, received_at, refused, applied FROM events`` as both backends return it."""
    return {
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


class IngestSqlite(AlertsSqlite):
    """Events in, projections updated in the same transaction, events out."""

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
        stored; a seq that would leave a gap above the high-water mark is a :class:`BadRequest`,
        and nothing is stored either: a token cannot plant a seq ahead that the real station's
        later pushes would trip on.
        Events outside the station's scope (central/scope.py) are kept but not applied.
        """
        received = clock.now_iso()
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
        if status:
            marks = erased_uid_keys(conn)
            if marks:
                status = without_strings(status, _erased_uid_test(conn, marks))
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

    @staticmethod
    def _check_window(events: list[Event], hwm: int) -> None:
        """A station sends from its acknowledged seq on, in order, without a gap: the seqs above
        ``hwm`` must be ``hwm + 1``, ``hwm + 2``… A seq past a gap is no station's, and storing
        it would plant a seq that the real station's later event would collide with (409)."""
        expected = hwm + 1
        for i, e in sorted(enumerate(events), key=lambda ie: ie[1].seq):
            if e.seq <= hwm:
                continue
            if e.seq != expected:
                raise BadRequest(
                    f"events[{i}].seq {e.seq} leaves a gap after the last acknowledged seq "
                    f"{hwm}: send the events from seq {hwm + 1} on, in order, without a gap",
                    f"events[{i}].seq",
                )
            expected += 1

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
            marks = erased_uid_keys(conn)
            events = [scrub_erased(conn, e, erased, marks) for e in events]
        offsets = self._boot_offsets(conn, station_id, events)
        master = _SqliteMaster(conn)
        verdicts: list[scope.Verdict] = []
        # The batch's sessions leave the roll-ups once before it and come back once after it
        # (two statements a batch, not two a session event).
        touched = batch_sessions(events)
        where = f"station_id = ? AND id IN ({', '.join('?' * len(touched))})"
        with rollup_change(conn, where, [station_id, *touched]) if touched else nullcontext():
            for e in events:
                v = scope.APPLY
                if e.type in JUDGED:
                    at = _trusted_at(e, offsets.get(e.boot_id))
                    v = scope.check(e.type, e.data, station_id, kind, at, master)
                    if v.applied and e.type in PROJECTED:
                        self._project_one(conn, station_id, e, offsets.get(e.boot_id), kind)
                else:  # unknown types and the shape of the others (station/events.py)
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
        """Project one event on its own (a stored event whose time is repaired); a session's
        change moves its roll-ups in the same transaction."""
        sid = e.data.get("session_id")
        if e.type in SESSION_EVENTS and isinstance(sid, str):
            with rollup_change(conn, "id = ? AND station_id = ?", (sid, station_id)):
                self._project_one(conn, station_id, e, offset, kind)
        else:
            self._project_one(conn, station_id, e, offset, kind)

    def _project_one(
        self, conn: sqlite3.Connection, station_id: str, e: Event, offset: float | None, kind: str
    ) -> None:
        d = e.data
        shift = _shift(e, offset)
        at = e.at if shift is None else _shifted(e.at, shift)
        if e.type == "session_started" and isinstance(d.get("session_id"), str):
            st = conn.execute(
                "SELECT machine_id, kind, site_id FROM stations WHERE id = ?", (station_id,)
            ).fetchone()
            # The session counts at the site its station was at when it started: moving a
            # station later leaves the old site's figures as they were.
            conn.execute(
                "INSERT INTO sessions (id, station_id, machine_id, kind, member_id, "
                "supervisor_id, started_at, started_seq, site_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
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
                    st[2] if st else DEFAULT_SITE,
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
                "INSERT INTO grants (station_id, seq, member_id, kind, level, previous_level, "
                "granted_by, granted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (station_id, seq) DO NOTHING",
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
            yield stored_event(r)

    def count_events(self, station_id: str | None = None) -> int:
        if station_id is None:
            return int(self._one("SELECT COUNT(*) FROM events"))
        return int(self._one("SELECT COUNT(*) FROM events WHERE station_id = ?", (station_id,)))

    def recent_events(self, types: tuple[str, ...], limit: int = 20) -> list[StoredEvent]:
        """The latest events of some types across stations (problems, faults), newest first."""
        marks = ",".join("?" * len(types))
        rows = self.db.conn.execute(
            f"SELECT station_id, seq, type, COALESCE(at_repaired, at), data FROM events "
            f"WHERE type IN ({marks}) AND applied = 1 ORDER BY 4 DESC LIMIT ?",
            [*types, limit],
        ).fetchall()
        return [
            {"station_id": r[0], "seq": r[1], "type": r[2], "at": r[3], "data": json.loads(r[4])}
            for r in rows
        ]


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

    def session(self, session_id: str) -> scope.SessionFacts | None:
        row = self._one(
            "SELECT station_id, member_id, supervisor_id FROM sessions WHERE id = ?", (session_id,)
        )
        return scope.SessionFacts(row[0], row[1], row[2]) if row else None

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


ERASED_UID = "erased_uid:"
"""``meta`` keys that mark an erased member's badge UIDs, as a keyed hash (never the UID): so
that a UID an offline station sends after the erasure is not stored again."""


UID_TEXT = re.compile(r"(?:[0-9A-Fa-f]{8}|[0-9A-Fa-f]{14}|[0-9A-Fa-f]{20})")
"""What a badge UID looks like in an event (station/roster.py normalises them)."""


def _pseudonym_key(conn: sqlite3.Connection) -> bytes:
    pseudonym_in(conn, "")  # makes the key on first use
    row = conn.execute("SELECT value FROM meta WHERE key = 'pseudonym_key'").fetchone()
    return bytes.fromhex(row[0])


def erased_uid_key(key: bytes, uid: str) -> str:
    """The ``meta`` key that marks ``uid`` as an erased member's: an HMAC with the pseudonym
    key, so whoever reads the database cannot list the UIDs."""
    digest = hmac.new(key, f"uid:{uid.upper()}".encode(), hashlib.sha256).hexdigest()
    return f"{ERASED_UID}{digest[:32]}"


def mark_erased_uids(conn: sqlite3.Connection, uids: Iterable[str]) -> None:
    key = _pseudonym_key(conn)
    for uid in uids:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, '') ON CONFLICT (key) DO NOTHING",
            (erased_uid_key(key, uid),),
        )


def erased_uid_keys(conn: sqlite3.Connection) -> frozenset[str]:
    rows = conn.execute("SELECT key FROM meta WHERE key LIKE ?", (f"{ERASED_UID}%",))
    return frozenset(r[0] for r in rows.fetchall())


def without_strings(value: Any, gone: Any) -> Any:
    """``value`` with every string for which ``gone(s)`` holds replaced by None, at any depth."""
    if isinstance(value, str):
        return None if gone(value) else value
    if isinstance(value, dict):
        return {k: without_strings(v, gone) for k, v in value.items()}
    if isinstance(value, list):
        return [without_strings(v, gone) for v in value]
    return value


def _erased_uid_test(conn: sqlite3.Connection, marks: frozenset[str]) -> Any:
    """Whether a string is an erased member's badge UID that nobody holds again since."""
    held: dict[str, bool] = {}
    key = _pseudonym_key(conn)

    def gone(text: str) -> bool:
        if not UID_TEXT.fullmatch(text) or erased_uid_key(key, text) not in marks:
            return False
        if text not in held:
            row = conn.execute("SELECT 1 FROM badges WHERE uid = ?", (text.upper(),)).fetchone()
            held[text] = row is not None
        return not held[text]

    return gone


def scrub_erased(
    conn: sqlite3.Connection, e: Event, erased: frozenset[str], marks: frozenset[str] = frozenset()
) -> Event:
    """An event that names an erased member, as erasure would have left it: pseudonym for the
    id, no name, no badge UID; and no erased member's UID in any event (an unknown badge's tap,
    a command's result). Events a station held while offline arrive after the erasure."""
    data = e.data
    hit = [f for f in ID_FIELDS if isinstance(data.get(f), str) and data[f] in erased]
    if hit:
        data = dict(data)
        for f in hit:
            data[f] = pseudonym_in(conn, data[f])
            if f in NAME_FIELDS and NAME_FIELDS[f] in data:
                data[NAME_FIELDS[f]] = None
        for f in UID_FIELDS:
            if f in data:
                data[f] = None
    if marks:
        data = without_strings(data, _erased_uid_test(conn, marks))
    return e if data is e.data else dataclasses.replace(e, data=data)


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


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
