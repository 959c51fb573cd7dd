"""What a station's token may change: the scope rules of ingest, in one place. Pure: no I/O.

A station's token lives on a Pi that teenagers can reach, so the envelope (a valid token, the
right ``station_id``) says nothing about the content. Every event is kept (exactly once on
``(station_id, seq)``, so the high-water mark moves on and the real station is never blocked),
but only an event within the station's scope is *applied* (projected into sessions, grants, the
roster, commands). Anything else is kept as evidence with the rule it broke and raises an
``event_out_of_scope`` alert on the fleet dashboard.

The rules (docs/sync.md, "Scope"):

- the type is one a station writes (:data:`STATION_EVENT_TYPES`) and its data has the shape of
  that type (``station/events.py``, ``docs/events.md``: a present field has its type);
- ``session_started`` is for the station's own machine kind, with a session id no other station
  holds; ``session_ended`` and ``finishing_ended`` end a session (or its finishing phase) this
  station started;
- ``qualification_granted`` is for the station's own kind, raises a member of the roster master
  exactly one level above their current level, and was given by another member who, at the time
  of the event, was ``mentor`` for that kind or an educator (active); and it is a grant a machine
  makes: ``supervised`` → ``autonomous``, in a session of this station where the granter
  supervised the member (``station/machine_supervision.py``). Without that last rule a token
  could chain three grants "by" an educator (none → supervised → autonomous → mentor) and power
  the laser for someone who never trained; the other levels are given on the member's page.
- ``command_applied`` acknowledges a command sent to this station.

The shapes are ``station/events.py``'s (one definition for the station and the central store);
the trust rules are here. The store answers the questions (:class:`Master`) from its tables;
these functions decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from station.events import EVENT_TYPES, validate
from station.model import LEVEL_ORDER, Level, Role

EVENT_OUT_OF_SCOPE = "event_out_of_scope"
"""The fleet alert raised when a station pushes an event outside its scope."""

STATION_EVENT_TYPES = EVENT_TYPES
"""Every event type a station writes: ``station/events.py`` defines them."""

RULES = {
    "unknown_type": "a station never writes this event type",
    "bad_data": "the event's data does not have the shape of its type (docs/events.md)",
    "wrong_kind": "the event is for another machine kind than the station's",
    "other_station_session": "the session belongs to another station",
    "unknown_session": "the station never started this session",
    "unknown_member": "no such member in the roster",
    "not_one_level_up": "a grant raises a member exactly one level",
    "not_a_machine_grant": "a machine grants only supervised to autonomous",
    "not_in_session": "the granter did not supervise the member in a session of this station",
    "self_grant": "a member cannot grant themselves",
    "granter_not_allowed": "the granter was not a mentor for this kind or an educator then",
    "other_station_command": "the command was not sent to this station",
}
"""Each rule an event can break, with what it means (shown on the dashboard's alert)."""

MACHINE_GRANT = Level.AUTONOMOUS
"""The one level a machine grants (from supervised, by the session's supervisor)."""

ALREADY_HELD = "already_held"
"""A grant of the level the member holds already: nothing to apply, and no alert (a station that
was offline while an educator raised the member is not an attacker)."""


@dataclass(frozen=True)
class Verdict:
    applied: bool
    rule: str | None = None
    alert: bool = False
    detail: str | None = None
    """What exactly was wrong (``bad_data``: which field, what was expected)."""


APPLY = Verdict(True)


@dataclass(frozen=True)
class SessionFacts:
    """Who a session (as the central store holds it) belongs to."""

    station_id: str
    member_id: str
    supervisor_id: str | None


class Master(Protocol):
    """What the scope rules ask the central store (answers as of the event being checked)."""

    def session_station(self, session_id: str) -> str | None: ...
    def session(self, session_id: str) -> SessionFacts | None: ...
    def level(self, member_id: str, kind: str) -> Level | None:
        """The member's current level; None when the roster master has no such member."""
        ...

    def could_grant(self, member_id: str, kind: str, at: str | None) -> bool:
        """Whether the member was, at ``at`` (None: now), an active educator or mentor."""
        ...

    def command_station(self, command_id: str) -> str | None: ...


def check(
    type_: str, data: dict[str, Any], station_id: str, kind: str, at: str | None, master: Master
) -> Verdict:
    """Whether a station may apply this event; ``at`` is its trusted time (None: unknown)."""
    if type_ not in STATION_EVENT_TYPES:
        return _refuse("unknown_type")
    problems = validate(type_, data)
    if problems:
        return Verdict(False, "bad_data", alert=True, detail="; ".join(problems)[:500])
    if type_ == "session_started":
        return _session_started(data, station_id, kind, master)
    if type_ in ("session_ended", "finishing_ended"):
        return _session_ended(data, station_id, master)
    if type_ == "qualification_granted":
        return _grant(data, station_id, kind, at, master)
    if type_ == "command_applied":
        cid = data.get("command_id")
        if isinstance(cid, str) and master.command_station(cid) != station_id:
            return _refuse("other_station_command")
    return APPLY


def _refuse(rule: str) -> Verdict:
    return Verdict(False, rule, alert=True)


def _session_started(data: dict[str, Any], station_id: str, kind: str, master: Master) -> Verdict:
    claimed = data.get("kind")
    if kind and claimed is not None and claimed != kind:
        return _refuse("wrong_kind")
    sid = data.get("session_id")
    if isinstance(sid, str) and master.session_station(sid) not in (None, station_id):
        return _refuse("other_station_session")
    return APPLY


def _session_ended(data: dict[str, Any], station_id: str, master: Master) -> Verdict:
    sid = data.get("session_id")
    if not isinstance(sid, str):
        return APPLY  # nothing to project
    owner = master.session_station(sid)
    if owner is None:
        return _refuse("unknown_session")
    if owner != station_id:
        return _refuse("other_station_session")
    return APPLY


def _grant(
    data: dict[str, Any], station_id: str, kind: str, at: str | None, master: Master
) -> Verdict:
    member, granter = data.get("member_id"), data.get("granted_by")
    if not kind or data.get("kind") != kind:
        return _refuse("wrong_kind")
    if not isinstance(member, str) or not member:
        return _refuse("unknown_member")
    current = master.level(member, kind)
    if current is None:
        return _refuse("unknown_member")
    try:
        level = Level(str(data.get("level")))
    except ValueError:
        return _refuse("not_one_level_up")
    if level is current:
        return Verdict(False, ALREADY_HELD)
    if current is Level.MENTOR or level is not LEVEL_ORDER[current.rank + 1]:
        return _refuse("not_one_level_up")
    if level is not MACHINE_GRANT:
        return _refuse("not_a_machine_grant")
    if not isinstance(granter, str) or not granter:
        return _refuse("granter_not_allowed")
    if granter == member:
        return _refuse("self_grant")
    if not master.could_grant(granter, kind, at):
        return _refuse("granter_not_allowed")
    sid = data.get("session_id")
    facts = master.session(sid) if isinstance(sid, str) and sid else None
    if (
        facts is None
        or facts.station_id != station_id
        or facts.member_id != member
        or facts.supervisor_id != granter
    ):
        return _refuse("not_in_session")
    return APPLY


def may_grant(role: str | None, active: bool, level: str | None) -> bool:
    """The granter rule: an active educator, or an active member at ``mentor`` for the kind."""
    return active and (role == Role.EDUCATOR.value or level == Level.MENTOR.value)
