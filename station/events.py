"""Every event a station writes, defined once: its type, its fields and their types.

The event log is the station's memory and what the central store receives, so its shapes are a
contract: the state machine parts and the controller build events through these types (a typo
in a field name fails at type-check), the station store and central ingest read them, and
``docs/events.md`` is generated from this module (``python -m station.events > docs/events.md``).

Rules that keep old logs and central databases valid:

- a field is added, never renamed or removed; a new field is ``NotRequired`` (an event written
  before it existed is still valid);
- units are in the name (``duration_s``, ``energy_wh``, ``watts``);
- a required field is always present, perhaps ``null`` when its type says ``| None``.

:func:`validate` checks the shape (which field, what was expected); what a station *may* change
(its own sessions, grants one level up...) is the trust rule of ``central/scope.py``.
"""

import functools
import sys
import types
from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypedDict, Union, get_args, get_origin, get_type_hints

SCHEMA_VERSION = 1
"""The version of these shapes; it changes only if a field ever had to change meaning."""


class AccessDenied(TypedDict):
    """A badge was refused: unknown, not qualified, machine busy or out of service, no
    supervisor in time... ``reason`` says which (a ``Denial``)."""

    uid: str
    member_id: str | None
    reason: str
    kind: str
    detail: NotRequired[str]


class AirAlarm(TypedDict):
    """The air became dangerous (fine dust above the threshold) or the air sensor was lost."""

    cause: str
    pm25: float | None
    threshold: float
    cuts_power: bool


class AirAlarmCleared(TypedDict):
    """The air is back under the threshold (or the sensor answers again)."""

    cause: str | None
    pm25: float | None


class BadgeEnrolled(TypedDict):
    """A technician gave a badge to a member at the station (or through the central store)."""

    uid: str
    member_id: str
    by: str
    previous_member_id: str | None
    at_central: NotRequired[bool]


class ChecklistCancelled(TypedDict):
    """The safety checklist on the kiosk was cancelled: no session starts."""

    member_id: str
    by: str


class ChecklistConfirmed(TypedDict):
    """The member confirmed the safety checklist on the kiosk: her session starts."""

    member_id: str
    by: str


class ChecklistExpired(TypedDict):
    """Nobody confirmed the safety checklist in time: no session starts."""

    member_id: str
    uid: str
    kind: str


class ChecklistShown(TypedDict):
    """The kiosk shows the safety checklist before a session starts."""

    member_id: str
    uid: str
    supervisor_id: str | None


class CommandApplied(TypedDict):
    """The station applied a command of the central store (lock, unlock, end a session...)."""

    command_id: str
    action: str
    ok: bool
    result: dict[str, Any]


class FinishingEnded(TypedDict):
    """The machine finished the job after the session ended (the relay stayed on while it was
    busy): it is off now. ``job_*`` are the whole job's totals (session plus finishing)."""

    session_id: str
    member_id: str
    reason: str
    by: str | None
    ended_at: str
    duration_s: float
    energy_wh: NotRequired[float]
    active_s: NotRequired[float]
    idle_s: NotRequired[float]
    enabled_s: NotRequired[float]
    unknown_s: NotRequired[float]
    job_duration_s: NotRequired[float]
    job_enabled_s: NotRequired[float]
    job_active_s: NotRequired[float]
    job_idle_s: NotRequired[float]
    job_unknown_s: NotRequired[float]
    job_energy_wh: NotRequired[float]


JobField = Literal[
    "job_duration_s",
    "job_enabled_s",
    "job_active_s",
    "job_idle_s",
    "job_unknown_s",
    "job_energy_wh",
]
"""The whole job's totals in ``finishing_ended`` (a key of a typed ``FinishingEnded``)."""


class GrantExpired(TypedDict):
    """A mentor began the gesture that raises a trainee to autonomous and did not finish it in
    time: nothing changed."""

    session_id: str | None
    member_id: str
    supervisor_id: str
    kind: str
    level: str
    step: int


class Heartbeat(TypedDict):
    """The session is still running (written every minute or so): after a crash the session is
    closed at its last heartbeat."""

    session_id: str
    member_id: str


MachineStateChanged = TypedDict(
    "MachineStateChanged",
    {"from": str, "to": str, "reason": str | None, "why": str, "by": str | None},
)
MachineStateChanged.__doc__ = """The machine changed state (available, in use, to check, out of
service, fault...): ``why`` says what caused it, ``by`` who."""


class PowerBeforeStart(TypedDict):
    """The machine already drew power, with the relay open, when a session started: a warning
    (a bypass or a stuck contact, within the grace of ``power_without_permission_s``)."""

    watts: float
    busy_watts: float
    member_id: str


class PlugFault(TypedDict):
    """The smart plug did not answer, or did what the station did not ask: ``kind`` is
    ``no_ack``, ``unasked_on``, ``unasked_off``, ``overpower`` or ``overtemp``
    (docs/smart-plugs.md). A running session ends with reason ``fault``."""

    kind: str
    device: NotRequired[str]
    asked: NotRequired[str]
    why: NotRequired[str]
    cause: NotRequired[str]
    errors: NotRequired[list[str]]


class PowerWithoutPermission(TypedDict):
    """The machine drew power with its relay open (a welded relay, a bypass), or a smart plug
    switched on by itself (``source`` ``plug``, ``cause`` ``button``): a fault. ``watts`` is
    ``null`` when no meter said it."""

    watts: float | None
    seconds: float
    busy_watts: float
    machine_state: str
    source: NotRequired[str]
    cause: NotRequired[str]
    device: NotRequired[str]


class ProblemReported(TypedDict):
    """Someone reported a problem on the kiosk (« J'ai cassé quelque chose »...)."""

    problem: str
    by: str
    to_check: bool
    session_id: str | None
    member_id: str | None
    machine_state: str


class QualificationGranted(TypedDict):
    """A mentor raised a trainee one level (supervised to autonomous) at the machine."""

    member_id: str
    kind: str
    level: str
    previous_level: str
    granted_by: str
    granted_at: str
    session_id: str


class SessionEnded(TypedDict):
    """A session ended (badge out, time out, idle, takeover, a stop...): ``end_reason`` says
    how, with its duration and, with a power meter, its energy. ``finishing``: the relay stays
    on until the job is done (a ``finishing_ended`` follows)."""

    session_id: str
    member_id: str
    supervisor_id: str | None
    end_reason: str
    by: str | None
    started_at: str
    ended_at: str
    duration_s: float
    enabled_s: float
    extensions: int
    energy_wh: NotRequired[float]
    active_s: NotRequired[float]
    idle_s: NotRequired[float]
    unknown_s: NotRequired[float]
    finishing: NotRequired[bool]


class SessionExtended(TypedDict):
    """The session was extended (a tap near its end, or during the idle warning: ``idle``)."""

    session_id: str
    member_id: str
    by: str | None
    ends_at: str
    extensions: int
    idle: NotRequired[bool]


class SessionIdleWarned(TypedDict):
    """The machine has been idle for a while: the session ends in ``ends_in_s`` unless someone
    taps."""

    session_id: str
    member_id: str
    idle_s: float
    ends_in_s: float


class SessionStarted(TypedDict):
    """A session started: the relay is switched on for this member (and her supervisor)."""

    session_id: str
    member_id: str
    member_name: str
    supervisor_id: str | None
    supervisor_name: str | None
    uid: str
    kind: str
    machine_id: str
    ends_at: str
    max_session_s: float


class SessionWarned(TypedDict):
    """The session ends soon (``remaining_s``): the kiosk warns, a tap extends it."""

    session_id: str
    member_id: str
    ends_at: str
    remaining_s: float


class StationStarted(TypedDict):
    """The station started (after a boot, an update or a crash)."""

    version: str
    backend: str
    machine_id: str
    kind: str


class SupervisorAwaited(TypedDict):
    """A supervised trainee badged: the station waits ``window_s`` for a supervisor's badge."""

    uid: str
    member_id: str
    kind: str
    window_s: float


EventType = Literal[
    "access_denied",
    "air_alarm",
    "air_alarm_cleared",
    "badge_enrolled",
    "checklist_cancelled",
    "checklist_confirmed",
    "checklist_expired",
    "checklist_shown",
    "command_applied",
    "finishing_ended",
    "grant_expired",
    "heartbeat",
    "machine_state_changed",
    "plug_fault",
    "power_before_start",
    "power_without_permission",
    "problem_reported",
    "qualification_granted",
    "session_ended",
    "session_extended",
    "session_idle_warned",
    "session_started",
    "session_warned",
    "station_started",
    "supervisor_awaited",
]
"""Every event type a station writes (a typo in a ``Record``'s type fails at type-check)."""

EVENTS: dict[str, Any] = {
    "access_denied": AccessDenied,
    "air_alarm": AirAlarm,
    "air_alarm_cleared": AirAlarmCleared,
    "badge_enrolled": BadgeEnrolled,
    "checklist_cancelled": ChecklistCancelled,
    "checklist_confirmed": ChecklistConfirmed,
    "checklist_expired": ChecklistExpired,
    "checklist_shown": ChecklistShown,
    "command_applied": CommandApplied,
    "finishing_ended": FinishingEnded,
    "grant_expired": GrantExpired,
    "heartbeat": Heartbeat,
    "machine_state_changed": MachineStateChanged,
    "plug_fault": PlugFault,
    "power_before_start": PowerBeforeStart,
    "power_without_permission": PowerWithoutPermission,
    "problem_reported": ProblemReported,
    "qualification_granted": QualificationGranted,
    "session_ended": SessionEnded,
    "session_extended": SessionExtended,
    "session_idle_warned": SessionIdleWarned,
    "session_started": SessionStarted,
    "session_warned": SessionWarned,
    "station_started": StationStarted,
    "supervisor_awaited": SupervisorAwaited,
}
"""Each event type and its shape."""

EVENT_TYPES = frozenset(EVENTS)
"""Every event type a station writes: the central store knows each one (``central/scope.py``)."""


# --- the shape of each field ------------------------------------------------------------------


@functools.cache
def fields(type_: str) -> dict[str, tuple[Any, bool]]:
    """``{name: (type, required)}`` for an event type, in the order the station writes them."""
    td = EVENTS[type_]
    hints = get_type_hints(td)
    return {name: (hint, name in td.__required_keys__) for name, hint in hints.items()}


def _unions(hint: Any) -> tuple[Any, ...]:
    if get_origin(hint) in (Union, types.UnionType):
        return get_args(hint)
    return (hint,)


def _json_types(hint: Any) -> frozenset[type]:
    """The Python types a JSON value of this field decodes to (``bool`` is never a number)."""
    out: set[type] = set()
    for h in _unions(hint):
        if h is float:
            out |= {float, int}
        elif get_origin(h) is dict:
            out.add(dict)
        else:
            out.add(h)
    return frozenset(out)


@functools.cache
def _checks(type_: str) -> tuple[tuple[str, frozenset[type], bool, Any], ...]:
    """Per field: its name, the exact types it may hold, whether required, its hint (compiled
    once: ingest checks every event of every batch)."""
    return tuple(
        (name, _json_types(hint), required, hint)
        for name, (hint, required) in fields(type_).items()
    )


def type_name(hint: Any) -> str:
    """A field's type in the words of JSON: ``text``, ``number``, ``whole number``..."""
    names = {str: "text", float: "number", int: "whole number", bool: "true/false"}
    parts = []
    for h in _unions(hint):
        if h is type(None):
            parts.append("null")
        elif get_origin(h) is dict:
            parts.append("object")
        else:
            parts.append(names.get(h, getattr(h, "__name__", str(h))))
    return " or ".join(parts)


def validate(type_: str, data: Mapping[str, Any], *, complete: bool = False) -> list[str]:
    """What is wrong with an event's data, one sentence per field (empty: nothing).

    A present field must have its type; a field this module does not know is let through (a
    newer station may add fields). ``null`` is accepted for any field unless ``complete``:
    a station replaces a number that is not finite by ``null`` before it pushes, and central
    ingest must not refuse that. ``complete`` (the station's own tests) also requires every
    required field and refuses ``null`` where the type does not allow it.
    """
    if type_ not in EVENTS:
        return [f"{type_!r} is not an event type a station writes (docs/events.md)"]
    problems = []
    for name, allowed, required, hint in _checks(type_):
        value = data.get(name, _ABSENT)
        if type(value) in allowed or (value is None and not complete):
            continue
        if value is _ABSENT:
            if complete and required:
                problems.append(f"{type_}.{name} is missing (expected {type_name(hint)})")
            continue
        problems.append(
            f"{type_}.{name} must be {type_name(hint)}, found {_show(value)} (docs/events.md)"
        )
    return problems


_ABSENT = object()


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- docs/events.md ---------------------------------------------------------------------------


def markdown() -> str:
    """``docs/events.md``: every event type, when it is written, its fields."""
    out = [
        "# Events",
        "",
        "<!-- Generated by `python -m station.events > docs/events.md`: do not edit by hand. -->",
        "",
        "Every event a station writes to its log (`station events --json`) and pushes to the "
        "central store, defined once in `station/events.py`. "
        f"Schema version {SCHEMA_VERSION}.",
        "",
        "Every event has `id`, `seq`, `type`, `at`, `clock_synced`, `boot_id`, `mono` and "
        "`data` (docs/sync.md); this page lists each type's `data`. A *required* field is "
        "always written (perhaps `null` when its type allows it); an optional one may be "
        "absent (older events, or only in some cases). Fields are added, never renamed or "
        "removed; the central store keeps fields it does not know.",
        "",
    ]
    for type_, td in EVENTS.items():
        doc = " ".join((td.__doc__ or "").split()).replace("``", "`")
        out += [f"## `{type_}`", "", doc, "", "| field | type | required |", "|---|---|---|"]
        for name, (hint, required) in fields(type_).items():
            out.append(f"| `{name}` | {type_name(hint)} | {'yes' if required else 'no'} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(markdown())
