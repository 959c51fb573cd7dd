"""Pure ingest logic: validate a sync request, the contiguous high-water mark, timestamp repair.

No I/O here, so that every rule of the protocol (docs/sync.md) is testable without a server. A bad
payload raises :class:`BadRequest` whose ``field`` names the first wrong field, e.g.
``events[3].seq``: the HTTP face turns it into a 400, never a 500.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from central.errors import BadRequest, TooLarge
from station.protocol import (
    AT_MAX,
    AT_PATTERN,
    BOOT_ID_MAX,
    COMMAND_ACTIONS,
    ID_MAX,
    PROTOCOL,
    REASON_MAX,
    SEQ_MAX,
    STATE_PATTERN,
    STATUS_DEPTH,
    STATUS_FIELDS,
    STATUS_HEALTH_PARTS,
    STATUS_LIMIT,
    STATUS_TEXT_MAX,
    TYPE_PATTERN,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
"""One encoder for every event: building one per call costs more than the encoding. NaN and
Infinity are not JSON: a browser's JSON.parse stops at them (the live dashboard did)."""


@dataclass(frozen=True)
class Event:
    id: str
    station_id: str
    seq: int
    type: str
    at: str
    clock_synced: bool
    boot_id: str
    mono: float
    data: dict[str, Any]

    def data_json(self) -> str:
        """The data as stored: valid JSON, a number that is not finite becomes null."""
        try:
            return _ENCODER.encode(self.data)
        except ValueError:
            return _ENCODER.encode(finite(self.data))

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "station_id": self.station_id,
            "seq": self.seq,
            "type": self.type,
            "at": self.at,
            "clock_synced": self.clock_synced,
            "boot_id": self.boot_id,
            "mono": self.mono,
            "data": self.data,
        }


@dataclass(frozen=True)
class SyncRequest:
    station_id: str
    events: list[Event]
    roster_version: int
    status: dict[str, Any] = field(default_factory=dict)
    backlog: int = 0


def parse_sync_request(body: Any, station_id: str, max_batch: int) -> SyncRequest:
    """Validate a decoded JSON body from ``station_id`` (known from its token)."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", "body")
    protocol = body.get("protocol")
    if protocol != PROTOCOL:
        raise BadRequest(
            f"protocol must be {PROTOCOL} (this central store speaks version {PROTOCOL}); "
            f"found {protocol!r}",
            "protocol",
        )
    sent_id = body.get("station_id")
    if sent_id != station_id:
        raise BadRequest(
            f"station_id {sent_id!r} does not match the token's station {station_id!r}",
            "station_id",
        )
    raw_events = body.get("events", [])
    if not isinstance(raw_events, list):
        raise BadRequest("events must be a list", "events")
    if len(raw_events) > max_batch:
        raise TooLarge(
            f"events holds {len(raw_events)} events; send at most {max_batch} per request",
            "events",
        )
    roster_version = _int(body.get("roster_version", 0), "roster_version", minimum=0)
    status = body.get("status", {})
    if not isinstance(status, dict):
        raise BadRequest("status must be an object", "status")
    backlog = _int(body.get("backlog", 0), "backlog", minimum=0)
    events = [parse_event(e, i, station_id) for i, e in enumerate(raw_events)]
    seen: set[int] = set()
    for i, e in enumerate(events):
        if e.seq in seen:
            raise BadRequest(f"seq {e.seq} appears twice in this batch", f"events[{i}].seq")
        seen.add(e.seq)
    return SyncRequest(station_id, events, roster_version, status, backlog)


def parse_event(raw: Any, i: int, station_id: str) -> Event:
    """One event; the common case (every field right) is checked inline, for speed."""
    if type(raw) is dict:
        eid, seq, type_, at = raw.get("id"), raw.get("seq"), raw.get("type"), raw.get("at")
        synced, boot_id = raw.get("clock_synced"), raw.get("boot_id")
        mono: Any = raw.get("mono")
        data = raw.get("data", {})
        if (
            type(eid) is str
            and 0 < len(eid) <= ID_MAX
            and type(seq) is int
            and 0 < seq <= SEQ_MAX
            and type(type_) is str
            and TYPE_PATTERN.match(type_)
            and type(at) is str
            and AT_PATTERN.match(at)
            and type(synced) is bool
            and type(boot_id) is str
            and 0 < len(boot_id) <= BOOT_ID_MAX
            and type(mono) in (float, int)
            and math.isfinite(mono)
            and type(data) is dict
            and raw.get("station_id", station_id) == station_id
        ):
            try:
                datetime.fromisoformat(at)  # the pattern lets 2026-13-45 through
            except ValueError:
                pass
            else:
                return Event(eid, station_id, seq, type_, at, synced, boot_id, float(mono), data)
    return _parse_event_slowly(raw, i, station_id)


def _parse_event_slowly(raw: Any, i: int, station_id: str) -> Event:
    """Every check one by one, so that the error names the first wrong field."""
    where = f"events[{i}]"
    if not isinstance(raw, dict):
        raise BadRequest(f"{where} must be an object", where)
    eid = _str(raw.get("id"), f"{where}.id", ID_MAX)
    if raw.get("station_id", station_id) != station_id:
        raise BadRequest(f"{where}.station_id must be {station_id!r}", f"{where}.station_id")
    seq = _int(raw.get("seq"), f"{where}.seq", minimum=1)
    type_ = _str(raw.get("type"), f"{where}.type", ID_MAX)
    if not TYPE_PATTERN.match(type_):
        raise BadRequest(
            f"{where}.type {type_!r} must be lower-case letters, digits and _", f"{where}.type"
        )
    at = _str(raw.get("at"), f"{where}.at", AT_MAX)
    parse_at(at, f"{where}.at")
    synced = raw.get("clock_synced")
    if not isinstance(synced, bool):
        raise BadRequest(f"{where}.clock_synced must be true or false", f"{where}.clock_synced")
    boot_id = _str(raw.get("boot_id"), f"{where}.boot_id", BOOT_ID_MAX)
    mono = raw.get("mono")
    if isinstance(mono, bool) or not isinstance(mono, int | float) or not math.isfinite(mono):
        raise BadRequest(f"{where}.mono must be a finite number", f"{where}.mono")
    data = raw.get("data", {})
    if not isinstance(data, dict):
        raise BadRequest(f"{where}.data must be an object", f"{where}.data")
    return Event(eid, station_id, seq, type_, at, synced, boot_id, float(mono), data)


def parse_at(text: str, where: str = "at") -> datetime:
    """A UTC ISO-8601 time with its zone (``2026-03-01T10:00:00.000Z``)."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{where} {text!r} is not an ISO-8601 time", where) from None
    if at.tzinfo is None:
        raise BadRequest(f"{where} {text!r} has no time zone (end it with Z)", where)
    return at.astimezone(UTC)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _int(value: Any, where: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{where} must be a whole number", where)
    if value < minimum:
        raise BadRequest(f"{where} must be at least {minimum}", where)
    if value > SEQ_MAX:
        raise BadRequest(f"{where} is too large", where)
    return value


def _str(value: Any, where: str, max_len: int) -> str:
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{where} must be a non-empty string", where)
    if len(value) > max_len:
        raise BadRequest(f"{where} is longer than {max_len} characters", where)
    return value


# --- the status a station sends for the dashboard ----------------------------------------------


def parse_status(raw: Any) -> dict[str, Any]:
    """A station's status snapshot, checked where the dashboard reads it.

    Raises :class:`BadRequest` naming the first wrong field (``status.machine.state``). Fields
    the dashboard does not read may be anything JSON allows, except numbers that are not finite.
    """
    if not isinstance(raw, dict):
        raise BadRequest("status must be an object", "status")
    _check_finite(raw, "status", depth=0)
    try:
        size = len(_ENCODER.encode(raw))
    except ValueError:  # pragma: no cover - _check_finite found it first
        raise BadRequest("status holds a number that is not finite", "status") from None
    if size > STATUS_LIMIT:
        raise BadRequest(f"status is larger than {STATUS_LIMIT} bytes", "status")
    for part, fields in STATUS_FIELDS.items():
        value = raw.get(part)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise BadRequest(f"status.{part} must be an object", f"status.{part}")
        for name, types in fields.items():
            where = f"status.{part}.{name}"
            if name in value and not isinstance(value[name], types):
                raise BadRequest(f"{where} has the wrong type", where)
            if isinstance(value.get(name), str) and len(value[name]) > STATUS_TEXT_MAX:
                raise BadRequest(f"{where} is longer than {STATUS_TEXT_MAX} characters", where)
    machine = raw.get("machine") or {}
    if "state" in machine and not STATE_PATTERN.match(machine["state"]):
        raise BadRequest(
            "status.machine.state must be a state such as available", "status.machine.state"
        )
    health = raw.get("health") or {}
    for part in STATUS_HEALTH_PARTS:
        if health.get(part) is not None and not isinstance(health[part], dict):
            raise BadRequest(f"status.health.{part} must be an object", f"status.health.{part}")
    if "roster_expired" in raw and not isinstance(raw["roster_expired"], bool):
        raise BadRequest("status.roster_expired must be true or false", "status.roster_expired")
    return raw


def _check_finite(value: Any, where: str, depth: int) -> None:
    if depth > STATUS_DEPTH:
        raise BadRequest(f"{where} is nested too deep", where)
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRequest(f"{where} must be a finite number (not NaN or Infinity)", where)
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, f"{where}.{k}", depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_finite(v, f"{where}[{i}]", depth + 1)


def finite(value: Any) -> Any:
    """``value`` with every number that is not finite replaced by None (valid JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


# --- the high-water mark ---------------------------------------------------------------------


def contiguous_high_water(current: int, held: Iterable[int]) -> int:
    """The highest seq such that every seq from 1 to it is held, given ``current`` and seqs above.

    ``held`` are the seqs above ``current`` that the store holds, in increasing order.
    """
    hwm = current
    for seq in held:
        if seq != hwm + 1:
            break
        hwm = seq
    return hwm


# --- timestamp repair --------------------------------------------------------------------------


def boot_offset(event: Event) -> float | None:
    """Wall time minus monotonic time, from an event whose wall clock was synchronised.

    Within one boot the monotonic clock does not jump, so this offset dates every event of the
    same boot, including those taken before NTP caught up.
    """
    if not event.clock_synced:
        return None
    return (parse_at(event.at) - EPOCH).total_seconds() - event.mono


def repaired_at(event: Event, offset: float | None) -> str | None:
    """The event's time as repaired from its boot's offset; None when it needs no repair."""
    if event.clock_synced or offset is None:
        return None
    return iso(EPOCH + timedelta(seconds=offset + event.mono))


# --- commands ---------------------------------------------------------------------------------


def parse_command(body: Any) -> dict[str, Any]:
    """A command an operator sends to a station: ``{"action": "lock", "reason": "…"}``."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", "body", code="body_bad")
    action = body.get("action")
    if action not in COMMAND_ACTIONS:
        raise BadRequest(
            f"action must be one of {', '.join(COMMAND_ACTIONS)}", "action", code="action_bad"
        )
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > REASON_MAX:
        raise BadRequest(
            f"reason must be a string of at most {REASON_MAX} characters",
            "reason",
            code="reason_long",
            max=REASON_MAX,
        )
    if action == "lock" and not reason.strip():
        raise BadRequest(
            "a lock needs a reason (shown on the kiosk)", "reason", code="reason_missing"
        )
    out: dict[str, Any] = {"action": action, "reason": reason.strip()}
    if action == "revoke_badge":
        uid = body.get("uid")
        if not isinstance(uid, str) or not uid:
            raise BadRequest("revoke_badge needs the badge's uid", "uid", code="uid_missing")
        from station.roster import normalise_uid

        try:
            out["uid"] = normalise_uid(uid)
        except ValueError as e:
            raise BadRequest(str(e), "uid", code="uid_bad", uid=uid) from None
    return out
