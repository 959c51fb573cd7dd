"""The sync protocol between a station and the central store, defined once (docs/sync.md).

The station's sync client (``station/sync.py``), central ingest (``central/ingest.py``) and the
OpenAPI description (``web/central/openapi.py``) all read the version, the paths, the limits and
the payload shapes from here, so that a limit changed on one side is changed on both. It lives
in ``station/`` because the central store imports from ``station/``, never the other way. Pure:
constants, and the JSON Schema of each payload derived from them. The events themselves are
``station/events.py``.
"""

from __future__ import annotations

import re
from typing import Any

PROTOCOL = 1
"""The protocol version: every request and reply carries it; another one gets 400."""

SYNC_PATH = "/api/v1/sync"
ENROL_PATH = "/api/v1/enrol"
HEALTH_PATH = "/api/v1/health"
USER_AGENT = f"fabrique-station-sync/{PROTOCOL}"

# --- limits -------------------------------------------------------------------------------------

BATCH_SIZE = 500
"""Most events a station pushes in one request (``[central] batch_size``; a 413 halves it)."""
MAX_BATCH = 5000
"""Most events the central store takes in one request (``[sync] max_batch``); also how far
above its high-water mark a station's seqs may go (further ahead is a reset station: 409)."""
MAX_REQUEST_KB = 8192
"""The largest request body the central store reads (``[server] max_request_kb``)."""
SEQ_MAX = 2**62
"""The largest seq, roster version or backlog (an SQLite integer with room to spare)."""
ID_MAX = 64
"""The longest event id, event type and ``by`` of an enrolment."""
BOOT_ID_MAX = 128
AT_MAX = 40
TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
"""An event type: lower-case letters, digits and ``_``."""
AT_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})$")
"""The one time format stations write (``2026-03-02T10:00:00.000Z``); others are checked slowly."""

STATUS_LIMIT = 16 * 1024
"""The largest status, encoded (a real one is under 2 KiB)."""
STATUS_TEXT_MAX = 500
STATUS_DEPTH = 8
STATE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_TEXT = (str, type(None))
STATUS_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "machine": {"state": (str,), "reason": _TEXT, "kind": _TEXT, "relay_on": (bool,)},
    "session": {
        "member_name": _TEXT,
        "supervisor_name": _TEXT,
        "started_at": _TEXT,
        "ends_at": _TEXT,
    },
    "health": {"controller": _TEXT, "failure": _TEXT},
}
"""The status fields the dashboard reads, with their types; others are kept as they come."""
STATUS_HEALTH_PARTS = ("reader", "power_meter", "air_sensor")
"""Parts of ``status.health`` that are objects (or null)."""
STATUS_KEYS = ("machine", "session", "health", "air", "roster_expired", "now", "station")
"""What a station copies from its own status into the request (plus ``backlog``); ``air`` is the
last reading beside an air alarm on the fleet dashboard."""

# --- commands -----------------------------------------------------------------------------------

COMMAND_ACTIONS = ("lock", "unlock", "clear_check", "end_session", "revoke_badge")
"""What the central store can ask a station to do (docs/sync.md, "Commands")."""
MACHINE_COMMANDS = {
    "lock": "out_of_service",
    "unlock": "back_in_service",
    "clear_check": "clear_check",
    "end_session": "end_session",
}
"""The central commands that are machine commands, and the machine command each one is;
``revoke_badge`` is applied to the roster."""
REASON_MAX = 200
"""The longest reason of a command (a lock's reason is shown on the kiosk)."""

# --- enrolment ----------------------------------------------------------------------------------

UID_MAX = 40
NAME_MAX = 100
"""The longest name of a trainee created by an enrolment."""

# --- the payloads, as JSON Schema (OpenAPI 3.0) ---------------------------------------------------

EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "seq", "type", "at", "clock_synced", "boot_id", "mono"],
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": ID_MAX},
        "station_id": {"type": "string"},
        "seq": {"type": "integer", "minimum": 1},
        "type": {"type": "string", "pattern": TYPE_PATTERN.pattern},
        "at": {"type": "string", "format": "date-time"},
        "clock_synced": {"type": "boolean"},
        "boot_id": {"type": "string", "minLength": 1, "maxLength": BOOT_ID_MAX},
        "mono": {"type": "number"},
        "data": {"type": "object", "description": "its type's fields (docs/events.md)"},
    },
}

_NAMES = {str: "string", bool: "boolean"}


def _status_part(fields: dict[str, tuple[type, ...]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, types in fields.items():
        (kind,) = (t for t in types if t is not type(None))
        schema: dict[str, Any] = {"type": _NAMES[kind]}
        if type(None) in types:
            schema.update(nullable=True, maxLength=STATUS_TEXT_MAX)
        out[name] = schema
    return out


def _status_schema() -> dict[str, Any]:
    machine = _status_part(STATUS_FIELDS["machine"])
    machine["state"]["pattern"] = STATE_PATTERN.pattern
    health = _status_part(STATUS_FIELDS["health"])
    for part in STATUS_HEALTH_PARTS:
        health[part] = {"type": "object", "nullable": True}
    return {
        "type": "object",
        "description": "A snapshot for the dashboard; a bad one is refused (status_error in the "
        "reply) and the events are still held. Numbers must be finite.",
        "properties": {
            "machine": {"type": "object", "properties": machine},
            "session": {
                "type": "object",
                "nullable": True,
                "properties": _status_part(STATUS_FIELDS["session"]),
            },
            "health": {"type": "object", "properties": health},
            "roster_expired": {"type": "boolean"},
        },
    }


STATUS_SCHEMA = _status_schema()

SYNC_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["protocol", "station_id"],
    "properties": {
        "protocol": {"type": "integer", "enum": [PROTOCOL]},
        "station_id": {"type": "string"},
        "events": {"type": "array", "items": EVENT_SCHEMA, "maxItems": MAX_BATCH},
        "roster_version": {"type": "integer", "minimum": 0},
        "backlog": {"type": "integer", "minimum": 0},
        "status": {"$ref": "#/components/schemas/Status"},
    },
}
"""The request head (``protocol``, ``station_id``, ``roster_version``, ``backlog``,
``status``) and its ``events``."""

ROSTER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "nullable": True,
    "description": "what the station lacks since its roster_version (null: up to date)",
    "properties": {
        "version": {"type": "integer"},
        "full": {"type": "boolean"},
        "members": {"type": "array", "items": {"type": "object"}},
        "badges": {"type": "array", "items": {"type": "object"}},
        "qualifications": {"type": "array", "items": {"type": "object"}},
        "site_induction": {
            "type": "object",
            "description": "the station's site's own induction on its kind (issue 13), whole "
            "in every reply; absent from a store before sites: the station requires nothing extra",
            "properties": {
                "site": {"type": "string"},
                "required": {"type": "array", "items": {"type": "string"}},
                "inducted": {
                    "type": "array",
                    "items": {"type": "array", "items": {"type": "string"}},
                    "description": "[member_id, kind] pairs",
                },
            },
        },
    },
}

COMMAND_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "action": {"type": "string", "enum": list(COMMAND_ACTIONS)},
        "reason": {"type": "string", "maxLength": REASON_MAX},
        "uid": {"type": "string"},
        "created_at": {"type": "string"},
        "created_by": {"type": "string"},
    },
}

SYNC_REPLY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["protocol", "acked_seq", "roster", "commands"],
    "properties": {
        "protocol": {"type": "integer"},
        "acked_seq": {"type": "integer"},
        "stored": {"type": "integer"},
        "duplicates": {"type": "integer"},
        "refused": {"type": "integer", "description": "events held but outside the scope"},
        "status_error": {
            "type": "object",
            "nullable": True,
            "properties": {"error": {"type": "string"}, "field": {"type": "string"}},
        },
        "roster": ROSTER_SCHEMA,
        "commands": {"type": "array", "items": COMMAND_SCHEMA},
        "sync_interval_s": {"type": "number"},
    },
}

ENROL_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["uid", "by"],
    "properties": {
        "uid": {"type": "string", "maxLength": UID_MAX},
        "by": {"type": "string", "minLength": 1, "maxLength": ID_MAX},
        "member_id": {"type": "string", "minLength": 1, "maxLength": ID_MAX},
        "new_member": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX}},
        },
    },
    "description": "exactly one of member_id and new_member",
}
ENROL_REPLY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "protocol": {"type": "integer"},
        "uid": {"type": "string"},
        "member_id": {"type": "string"},
        "member_name": {"type": "string"},
        "created_member": {"type": "boolean"},
        "roster_version": {"type": "integer"},
    },
}
