"""What every part of the state machine shares: the state, inputs, effects, outcome and context,
and the small helpers that record a decision, a refusal or a change of machine state.

One concern: the vocabulary. The parts beside it (availability, power, supervision, session,
checklist, taps, air, commands) each handle one concern and import only from parts before them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from station.access import (
    Identity,
    can_supervise,
    helpers_for,
    identify,
    lacks_site_induction,
    level_for,
    mentors_only,
    needs_a_supervisor,
    trainers_for,
)
from station.clock import Now
from station.config import MachineSection
from station.events import AccessDenied, EventType, MachineStateChanged
from station.metering import MeteringConfig, SessionMeter
from station.model import Denial, Level, MachineState, Member
from station.ports import AirReading, PowerReading
from station.roster import Roster

# --- state ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    id: str
    member_id: str
    member_name: str
    started_at: str
    started_mono: float
    ends_mono: float
    last_heartbeat_mono: float
    supervisor_id: str | None = None
    supervisor_name: str | None = None
    warned: bool = False
    extensions: int = 0
    by_supervisor_capable: bool = False
    """The session's member could supervise this kind (a supervised trainee may take it over)."""
    meter: SessionMeter | None = None
    """Energy and active/idle time, when the station has a power meter."""
    idle_warned: bool = False
    idle_reset_mono: float = 0.0
    """A tap during the idle warning restarts the idle count from here."""


@dataclass(frozen=True)
class Finishing:
    """A session ended while the machine was busy: the relay stays on until the job is done."""

    session_id: str
    member_id: str
    member_name: str
    started_mono: float
    meter: SessionMeter | None
    then_check: str | None
    """The ``to_check`` reason to apply once finished, if the machine needs a check."""
    used: dict[str, float] = field(default_factory=dict)
    """The session's own totals (``duration_s``, ``energy_wh``...): the job's are these plus the
    finishing phase's, so the end screen tells the whole job."""
    stop_armed_until: float | None = None
    """The owner tapped once: a second tap before this time stops the job early."""


@dataclass(frozen=True)
class Waiting:
    """A supervised trainee badged; the supervisor has until ``expires_mono`` to badge."""

    member_id: str
    member_name: str
    uid: str
    expires_mono: float


@dataclass(frozen=True)
class GrantStep:
    """The grant gesture in progress: the supervisor's taps so far, until ``expires_mono``.

    ``taps`` 0 means the gesture lapsed: until ``expires_mono`` the trainee's taps are still not
    a badge-out (she may have tapped to accept a second too late).
    """

    supervisor_id: str
    trainee_id: str
    taps: int
    expires_mono: float


@dataclass(frozen=True)
class PendingStart:
    """A granted tap waiting for the safety checklist to be confirmed on the kiosk."""

    member_id: str
    uid: str
    supervisor_id: str | None
    expires_mono: float


@dataclass(frozen=True)
class State:
    machine: MachineState = MachineState.AVAILABLE
    reason: str | None = None
    """Why the machine is out of service, to check or in fault."""
    session: Session | None = None
    waiting: Waiting | None = None
    grant: GrantStep | None = None
    pending: PendingStart | None = None
    check_requested: str | None = None
    """A problem was reported during the session: the machine goes ``to_check`` after it."""
    finishing: Finishing | None = None
    power: tuple[float, float] | None = None
    """The latest power reading: (monotonic time, watts)."""
    quiet_since: float | None = None
    """Since when every power reading has been at or below ``busy_watts`` (None while busy)."""
    air: tuple[float, float] | None = None
    """The latest air reading: (monotonic time, PM2.5 µg/m³)."""
    air_watch_since: float | None = None
    air_alarm: str | None = None
    """``pm25`` (too many particulates) or ``sensor_lost``; new sessions are refused meanwhile."""
    unpermitted_since: float | None = None
    """Since when power has been drawn above ``busy_watts`` with the relay open (None: not)."""
    recent_taps: tuple[tuple[str, float], ...] = ()
    """Taps within the repeat guard (badge UID, monotonic time): a repeat of one is ignored."""
    relay_opened_mono: float | None = None
    """When the relay last opened: a reading within :data:`RELAY_SETTLE_S` of it may still
    average the power drawn before, so it does not count as power without permission."""


RELAY_SETTLE_S: Final = 1.0
"""A meter's reading averages about its last second: power without permission is judged on
readings taken at least this long after the relay opened."""

POWER_FAULT: Final = "power_without_permission"
"""The ``fault`` reason (and event type) for power drawn while the relay is open."""


WATCHED_STATES = (MachineState.AVAILABLE, MachineState.TO_CHECK)
"""Relay-open states in which power means a welded relay or a bypass (out of service: the
technician's hands; fault: already stopped)."""


# --- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tap:
    uid: str
    verified: bool | None = None
    """The reader's anti-clone check: True passed, False failed, None not checked."""


@dataclass(frozen=True)
class Tick:
    """Time passed: warnings, timeouts, heartbeats and expired windows fall due."""


@dataclass(frozen=True)
class ButtonPress:
    """A short press of the extend/stop button."""


@dataclass(frozen=True)
class ButtonHold:
    """A long hold of the extend/stop button: stop the session."""


COMMANDS = (
    "out_of_service",
    "back_in_service",
    "clear_check",
    "end_session",
    "confirm_checklist",
    "cancel_checklist",
    "report_problem",
)


STAFF_COMMANDS = ("out_of_service", "back_in_service", "clear_check", "end_session")
"""Commands that only a logged-in technician (or the central store) may send."""


@dataclass(frozen=True)
class Command:
    """An action from the kiosk, the technician page, the CLI or the central store.

    ``by`` names who did it (a member id, ``kiosk`` or ``central``); ``reason`` is the
    out-of-service
    reason or the problem reported; ``to_check`` asks a problem report to block the machine.
    """

    action: str
    by: str
    reason: str = ""
    to_check: bool = False


@dataclass(frozen=True)
class PowerSample:
    """A reading of the machine's energy meter, taken now."""

    reading: PowerReading


@dataclass(frozen=True)
class AirSample:
    """A reading of the particulate sensor, taken now."""

    reading: AirReading


@dataclass(frozen=True)
class PlugFault:
    """The smart plug did not answer, or did what nobody asked (``station/machine_plug.py``):
    ``kind`` is one of :data:`PLUG_FAULT_KINDS`."""

    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


PLUG_FAULT_KINDS = ("no_ack", "unasked_on", "unasked_off", "overpower", "overtemp")


Input = Tap | Tick | ButtonPress | ButtonHold | Command | PowerSample | AirSample | PlugFault


# --- outputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """An event to append to the log: its type in the users' words, and its data."""

    type: EventType
    data: Mapping[str, Any]
    """One of the shapes of ``station/events.py`` (``docs/events.md``)."""


@dataclass(frozen=True)
class Cue:
    """A sound for the buzzer: ``ok``, ``deny``, ``warn``, ``wait``, ``grant``."""

    name: str


@dataclass(frozen=True)
class JobDone:
    """A job is over (a session, or the finishing phase after it): what the end screen shows."""

    summary: dict[str, Any]


Effect = Record | Cue | JobDone


@dataclass(frozen=True)
class Outcome:
    state: State
    effects: list[Effect] = field(default_factory=list)
    decision: dict[str, Any] | None = None
    """For taps and commands: what happened, as the kiosk and ``/sim/badge`` report it."""

    @property
    def events(self) -> list[Record]:
        return [e for e in self.effects if isinstance(e, Record)]


@dataclass(frozen=True)
class Context:
    """What the decision needs besides the state: settings, the roster and an id factory."""

    machine: MachineSection
    roster: Roster
    new_id: Callable[[], str]
    metering: MeteringConfig | None = None
    """Set when the station has a power meter; sessions are then metered."""
    verify_badges: bool = False
    """Only badges that passed the reader's anti-clone check are admitted."""


# --- decisions and helpers shared by the parts ------------------------------------------------


def _strip_problem(check: str | None) -> str | None:
    """``check_requested`` keeps the problem alone; _end adds the ``problem_reported:`` prefix."""
    if check is None:
        return None
    return check.removeprefix("problem_reported:")


def _set_machine(
    state: State,
    target: MachineState,
    reason: str | None,
    now: Now,
    effects: list[Effect],
    why: str,
    by: str | None,
) -> State:
    if state.machine is target and state.reason == reason:
        return state
    if target is not MachineState.AVAILABLE:
        # Co-badge waits and checklists belong to an available machine only.
        state = replace(state, waiting=None, pending=None)
    if target not in WATCHED_STATES:
        state = replace(state, unpermitted_since=None)
    if state.machine.relay_on and not target.relay_on:
        state = replace(state, relay_opened_mono=now.mono)
    changed: MachineStateChanged = {
        "from": state.machine.value,
        "to": target.value,
        "reason": reason,
        "why": why,
        "by": by,
    }
    effects.append(Record("machine_state_changed", changed))
    return replace(state, machine=target, reason=reason)


def _deny(
    state: State,
    reason: Denial,
    uid: str,
    m: Member | None,
    ctx: Context,
    effects: list[Effect],
) -> Outcome:
    effects.append(
        Record(
            "access_denied",
            AccessDenied(
                uid=uid,
                member_id=m.id if m else None,
                reason=reason.value,
                kind=ctx.machine.kind,
            ),
        )
    )
    effects.append(Cue("deny"))
    decision = _decision(False, "denied", m, uid, reason)
    if reason in (Denial.NEEDS_SUPERVISOR, Denial.ROSTER_EXPIRED):
        decision["helpers"] = helpers_for(ctx.roster, ctx.machine.kind)
    if reason is Denial.NOT_QUALIFIED:
        # A co-badge cannot admit her: she needs a first training, which the educators arrange.
        decision["trainers"] = trainers_for(ctx.roster)
        decision["mentors"] = mentors_only(ctx.roster, ctx.machine.kind)
        # The learning path's next step: the induction quiz, then a supervised session.
        decision["next_step"] = "induction"
    if reason is Denial.SITE_INDUCTION_NEEDED:
        decision["trainers"] = trainers_for(ctx.roster)  # educators give the site's induction
    if reason is Denial.MACHINE_IN_USE and state.session:
        decision["in_use_by"] = state.session.member_name
    if reason in (Denial.OUT_OF_SERVICE, Denial.TO_CHECK, Denial.FAULT):
        decision["machine_reason"] = state.reason
    return Outcome(state, effects, decision)


def _decision(
    granted: bool, action: str, m: Member | None, uid: str | None, reason: Denial | None = None
) -> dict[str, Any]:
    return {
        "granted": granted,
        "reason": reason.value if reason else None,
        "action": action,
        "uid": uid,
        "member_id": m.id if m else None,
        "member_name": m.first_name if m else None,
    }


def _done(cmd: Command, state: State) -> dict[str, Any]:
    return {"ok": True, "action": cmd.action, "by": cmd.by, "machine": state.machine.value}


def _refused(cmd: Command, error: str, code: str) -> dict[str, Any]:
    """``error`` is the English (logs, the API); ``code`` a stable word a page says in its
    reader's language (``tech.refused.<code>``)."""
    return {"ok": False, "action": cmd.action, "by": cmd.by, "error": error, "code": code}


def _roster_expired(ctx: Context, now: Now) -> bool:
    exp = ctx.roster.expires_mono
    return exp is not None and now.mono >= exp


def _readmit(
    ctx: Context, now: Now, uid: str, member_id: str, supervisor_id: str | None
) -> Denial | None:
    """A start decided earlier (a co-badge wait, a checklist on screen) is judged again on
    today's roster when it happens: a badge revoked, a member deactivated or a level lowered
    meanwhile (``station roster import``, a sync), or a roster that expired, admits no one."""
    who = identify(ctx.roster, uid)
    if not isinstance(who, Identity):
        return who
    m, kind = who.member, ctx.machine.kind
    if m.id != member_id:
        return Denial.UNKNOWN_BADGE  # the badge is someone else's now
    if _roster_expired(ctx, now) and not m.role.is_staff:
        return Denial.ROSTER_EXPIRED
    if lacks_site_induction(ctx.roster, m, kind):
        return Denial.SITE_INDUCTION_NEEDED
    if level_for(ctx.roster, m, kind) in (Level.AUTONOMOUS, Level.MENTOR):
        return None
    if supervisor_id is None or not needs_a_supervisor(ctx.roster, m, kind):
        return Denial.NOT_QUALIFIED
    supervisor = ctx.roster.member(supervisor_id)
    if (
        supervisor is None
        or not supervisor.active
        or not can_supervise(ctx.roster, supervisor, kind)
    ):
        return Denial.NEEDS_SUPERVISOR
    return None
