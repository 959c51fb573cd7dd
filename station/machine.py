"""The machine state machine: taps, ticks, buttons and commands in; new state and effects out.

Pure: :func:`handle` takes the current :class:`State`, one input, ``now`` and a :class:`Context`,
and returns an :class:`Outcome`. It does no I/O. The controller writes the outcome's events (in one
transaction) and then makes the relay follow ``state.machine.relay_on`` — the single rule that
decides whether the machine has power.

The grant gesture (learning by teaching). During a supervised session, the supervisor taps their
badge twice (two separate taps within ``grant_window_s``), then the trainee taps theirs within the
same window to accept. Three deliberate taps by two people: no single stray tap can grant a level.
From the supervisor's first tap until ``grant_window_s`` after the gesture lapses, the trainee's
taps never end her session: too early, they are ignored with a word on the kiosk; too late, the
lapse is recorded (``grant_expired``) and the kiosk says the supervisor can start again.

One tap, one meaning: a second tap of the same badge within ``repeat_tap_guard_s`` is ignored, so
a card read twice never ends the session it just started.

Power seen with the relay open (a welded relay, a bypass) for ``power_without_permission_s`` is a
``fault`` that only staff clear; new sessions are refused meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from station.access import (
    Identity,
    can_clear_check,
    can_supervise,
    helpers_for,
    identify,
    level_for,
    mentors_only,
    trainers_for,
)
from station.clock import Now, iso
from station.config import MachineSection
from station.metering import MeteringConfig, SessionMeter
from station.model import Denial, EndReason, Level, MachineState, Member
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


POWER_FAULT = "power_without_permission"
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


Input = Tap | Tick | ButtonPress | ButtonHold | Command | PowerSample | AirSample

# --- outputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """An event to append to the log: its type in the users' words, and its data."""

    type: str
    data: dict[str, Any]


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


# --- handling ---------------------------------------------------------------------------------


def handle(state: State, inp: Input, now: Now, ctx: Context) -> Outcome:
    """Apply one input. Time-driven changes are applied first, so a late tap sees a fresh state."""
    return _with_end_screen(_handle(state, inp, now, ctx))


def _handle(state: State, inp: Input, now: Now, ctx: Context) -> Outcome:
    effects: list[Effect] = []
    if not isinstance(inp, Tick):
        state = _due(state, now, ctx, effects)
    if isinstance(inp, Tick):
        return Outcome(_due(state, now, ctx, effects), effects)
    if isinstance(inp, PowerSample):
        state = _power(state, inp.reading, now, ctx)
        return Outcome(_due(state, now, ctx, effects), effects)
    if isinstance(inp, AirSample):
        state = _air(state, inp.reading, now, ctx, effects)
        return Outcome(_due(state, now, ctx, effects), effects)
    if isinstance(inp, Tap):
        if ctx.verify_badges and inp.verified is not True:
            # A clone is refused every time; it does not arm the repeat guard either.
            who = identify(ctx.roster, inp.uid)
            member = who.member if isinstance(who, Identity) else None
            return _deny(state, Denial.BADGE_INVALID, inp.uid, member, ctx, effects)
        if _is_repeat(state, inp.uid, now, ctx):
            return _ignore_repeat(state, inp.uid, now, ctx, effects)
        out = _tap(state, inp.uid, now, ctx, effects)
        if out.decision is not None and out.decision["action"] != "denied":
            return replace(out, state=_arm_guard(out.state, inp.uid, now, ctx))
        return out
    if isinstance(inp, ButtonPress):
        return _button_press(state, now, ctx, effects)
    if isinstance(inp, ButtonHold):
        return _button_hold(state, now, ctx, effects)
    return _command(state, inp, now, ctx, effects)


def next_due(state: State, ctx: Context) -> float | None:
    """The monotonic time at which something falls due without any input, or None."""
    times: list[float] = []
    if state.waiting:
        times.append(state.waiting.expires_mono)
    if state.grant:
        times.append(state.grant.expires_mono)
    if state.pending:
        times.append(state.pending.expires_mono)
    m = ctx.machine
    if state.unpermitted_since is not None:
        times.append(state.unpermitted_since + m.power_without_permission_s)
    if m.pm25_alarm > 0 and state.air_alarm is None:
        last = state.air[0] if state.air else state.air_watch_since
        if last is not None:
            times.append(last + m.air_lost_s)
    base = _quiet_base(state, ctx)
    f = state.finishing
    if f is not None:
        times.append(f.started_mono + m.finish_max_min * 60)
        if base is not None:
            times.append(max(base, f.started_mono) + m.finish_idle_s)
    s = state.session
    if s and base is not None and m.idle_off_min > 0:
        start = max(base, s.started_mono, s.idle_reset_mono)
        times.append(start + m.idle_off_min * 60)
        if not s.idle_warned and m.idle_warn_min > 0:
            times.append(start + (m.idle_off_min - m.idle_warn_min) * 60)
    if s:
        times.append(s.last_heartbeat_mono + ctx.machine.heartbeat_s)
        times.append(s.ends_mono)
        warn_s = ctx.machine.warn_before_min * 60
        if not s.warned and warn_s > 0:
            times.append(s.ends_mono - warn_s)
    return min(times) if times else None


def _due(state: State, now: Now, ctx: Context, effects: list[Effect]) -> State:
    if state.waiting and now.mono >= state.waiting.expires_mono:
        w = state.waiting
        effects.append(
            Record(
                "access_denied",
                {
                    "uid": w.uid,
                    "member_id": w.member_id,
                    "reason": Denial.NEEDS_SUPERVISOR.value,
                    "kind": ctx.machine.kind,
                    "detail": "no supervisor badged in time",
                },
            )
        )
        effects.append(Cue("deny"))
        state = replace(state, waiting=None)
    state = _grant_due(state, now, ctx, effects)
    if state.pending and now.mono >= state.pending.expires_mono:
        p = state.pending
        effects.append(
            Record(
                "checklist_expired",
                {"member_id": p.member_id, "uid": p.uid, "kind": ctx.machine.kind},
            )
        )
        effects.append(Cue("deny"))
        state = replace(state, pending=None)
    state = _air_watch(state, now, ctx, effects)
    state = _permission_watch(state, now, ctx, effects)
    state = _finishing_due(state, now, ctx, effects)
    s = state.session
    if s is None:
        return state
    state = _idle_due(state, now, ctx, effects)
    s = state.session
    if s is None:
        return state
    if now.mono >= s.ends_mono:
        return _end(state, now, ctx, effects, EndReason.TIMEOUT, at_mono=s.ends_mono)
    if now.mono - s.last_heartbeat_mono >= ctx.machine.heartbeat_s:
        effects.append(Record("heartbeat", {"session_id": s.id, "member_id": s.member_id}))
        s = replace(s, last_heartbeat_mono=now.mono)
        state = replace(state, session=s)
    warn_s = ctx.machine.warn_before_min * 60
    if not s.warned and warn_s > 0 and now.mono >= s.ends_mono - warn_s:
        effects.append(
            Record(
                "session_warned",
                {
                    "session_id": s.id,
                    "member_id": s.member_id,
                    "ends_at": iso(now.at_mono(s.ends_mono)),
                    "remaining_s": round(s.ends_mono - now.mono, 3),
                },
            )
        )
        effects.append(Cue("warn"))
        state = replace(state, session=replace(s, warned=True))
    return state


def _tap(state: State, uid: str, now: Now, ctx: Context, effects: list[Effect]) -> Outcome:
    who = identify(ctx.roster, uid)
    if not isinstance(who, Identity):
        return _deny(state, who, uid, None, ctx, effects)
    m = who.member
    kind = ctx.machine.kind
    if state.machine is MachineState.OUT_OF_SERVICE:
        return _deny(state, Denial.OUT_OF_SERVICE, uid, m, ctx, effects)
    if state.machine is MachineState.FAULT:
        if state.reason == POWER_FAULT and m.role.is_staff:
            new = _clear_power_fault(state, now, effects, m.id)
            effects.append(Cue("ok"))
            return Outcome(new, effects, _decision(True, "fault_cleared", m, uid))
        return _deny(state, Denial.FAULT, uid, m, ctx, effects)
    if state.machine is MachineState.TO_CHECK:
        if not can_clear_check(ctx.roster, m, kind, state.reason):
            return _deny(state, Denial.TO_CHECK, uid, m, ctx, effects)
        new = _set_machine(state, MachineState.AVAILABLE, None, now, effects, "check_cleared", m.id)
        effects.append(Cue("ok"))
        return Outcome(new, effects, _decision(True, "check_cleared", m, uid))
    if state.session is not None:
        return _tap_in_use(state, who, now, ctx, effects)
    if state.finishing is not None:
        finishing_name = state.finishing.member_name
        if m.id == state.finishing.member_id:
            return _tap_own_finishing(state, m, uid, now, ctx, effects)
        if m.role.is_staff:
            state = _end_finishing(state, now, ctx, effects, "takeover", by=m.id)
            out = _start(state, m, now, ctx, effects, uid=uid, takeover=True, relay_was_on=True)
            assert out.decision is not None
            out.decision["took_over_from"] = finishing_name
            return out
        outcome = _deny(state, Denial.MACHINE_IN_USE, uid, m, ctx, effects)
        assert outcome.decision is not None
        outcome.decision.update(in_use_by=finishing_name, finishing=True)
        return outcome
    # The machine is available.
    w = state.waiting
    if w is not None and w.member_id != m.id and can_supervise(ctx.roster, m, kind):
        trainee = ctx.roster.member(w.member_id)
        if trainee is not None:
            state = replace(state, waiting=None)
            return _start_or_checklist(state, trainee, now, ctx, effects, uid=w.uid, supervisor=m)
    if _roster_expired(ctx, now) and not m.role.is_staff:
        return _deny(state, Denial.ROSTER_EXPIRED, uid, m, ctx, effects)
    level = level_for(ctx.roster, m, kind)
    if w is not None and w.member_id != m.id and (m.role.is_staff or level is Level.SUPERVISED):
        return _keep_waiting(state, w, m, uid, now, ctx, effects)
    if level in (Level.AUTONOMOUS, Level.MENTOR):
        return _start_or_checklist(replace(state, waiting=None), m, now, ctx, effects, uid=uid)
    if level is Level.SUPERVISED:
        window = ctx.machine.co_badge_window_s
        effects.append(
            Record(
                "supervisor_awaited",
                {"uid": uid, "member_id": m.id, "kind": kind, "window_s": window},
            )
        )
        effects.append(Cue("wait"))
        waiting = Waiting(m.id, m.first_name, uid, now.mono + window)
        decision = _decision(False, "waiting_for_supervisor", m, uid, Denial.NEEDS_SUPERVISOR)
        decision.update(
            waiting=True,
            window_s=window,
            expires_at=iso(now.at_mono(waiting.expires_mono)),
            helpers=helpers_for(ctx.roster, kind),
        )
        return Outcome(replace(state, waiting=waiting), effects, decision)
    return _deny(state, Denial.NOT_QUALIFIED, uid, m, ctx, effects)


def _keep_waiting(
    state: State, w: Waiting, m: Member, uid: str, now: Now, ctx: Context, effects: list[Effect]
) -> Outcome:
    """A tap that cannot supervise the waiting trainee keeps her wait, and says why.

    A technician is staff but not a supervisor; a second supervised trainee must not take the
    first one's place silently. Both may badge again once the wait is over.
    """
    effects.append(Cue("deny"))
    action = "cannot_supervise" if m.role.is_staff else "already_waiting"
    decision = _decision(False, action, m, uid)
    decision.update(
        waiting_name=w.member_name,
        expires_at=iso(now.at_mono(w.expires_mono)),
        helpers=helpers_for(ctx.roster, ctx.machine.kind),
    )
    return Outcome(state, effects, decision)


def _tap_in_use(
    state: State, who: Identity, now: Now, ctx: Context, effects: list[Effect]
) -> Outcome:
    s = state.session
    assert s is not None
    m, uid, kind = who.member, who.uid, ctx.machine.kind
    g = state.grant
    if g is not None and m.id == g.trainee_id == s.member_id:
        if g.taps >= 2:
            return _grant(state, m, now, ctx, effects)
        return _grant_hold(state, m, now, ctx, effects)
    if m.id == s.member_id:
        if s.warned:
            return _extend(state, m, now, ctx, effects, by=m.id)
        if s.idle_warned:
            s = replace(s, idle_warned=False, idle_reset_mono=now.mono)
            effects.append(
                Record(
                    "session_extended",
                    {
                        "session_id": s.id,
                        "member_id": s.member_id,
                        "by": m.id,
                        "idle": True,
                        "ends_at": iso(now.at_mono(s.ends_mono)),
                        "extensions": s.extensions,
                    },
                )
            )
            effects.append(Cue("ok"))
            decision = _decision(True, "idle_extended", m, uid)
            return Outcome(replace(state, session=s), effects, decision)
        new = _end(state, now, ctx, effects, EndReason.BADGE_OUT, by=m.id)
        return Outcome(new, effects, _decision(True, "session_ended", m, uid))
    if m.id == s.supervisor_id:
        if ctx.roster.level(s.member_id, kind) is Level.SUPERVISED:
            return _grant_step(state, m, now, ctx, effects)
        # Already granted (or the trainee is above supervised): the tap changes nothing.
        return Outcome(state, effects, _decision(False, "already_supervising", m, uid))
    trainee_level = level_for(ctx.roster, m, kind)
    if (
        s.supervisor_id is None
        and s.by_supervisor_capable
        and trainee_level is Level.SUPERVISED
        and now.mono - s.started_mono <= ctx.machine.co_badge_window_s
        and not _roster_expired(ctx, now)
    ):
        # The mentor badged first: the session becomes the trainee's, the mentor supervises.
        mentor = ctx.roster.member(s.member_id)
        if mentor is not None:
            return _handover(state, m, mentor, uid, now, ctx, effects)
    if m.role.is_staff:
        state = _end(state, now, ctx, effects, EndReason.TAKEOVER, by=m.id)
        out = _start(state, m, now, ctx, effects, uid=uid, takeover=True, relay_was_on=True)
        assert out.decision is not None
        out.decision["took_over_from"] = s.member_name  # the kiosk tells whose session ended
        return out
    return _deny(state, Denial.MACHINE_IN_USE, uid, m, ctx, effects)


def _grant_step(
    state: State, supervisor: Member, now: Now, ctx: Context, effects: list[Effect]
) -> Outcome:
    s = state.session
    assert s is not None
    g = state.grant
    taps = 1 if g is None or g.supervisor_id != supervisor.id else min(g.taps + 1, 2)
    grant = GrantStep(supervisor.id, s.member_id, taps, now.mono + ctx.machine.grant_window_s)
    effects.append(Cue("wait"))
    action = "grant_confirm_supervisor" if taps == 1 else "grant_awaiting_trainee"
    decision = _decision(True, action, supervisor, None)
    decision.update(
        _grant_words(s, ctx), step=taps, expires_at=iso(now.at_mono(grant.expires_mono))
    )
    return Outcome(replace(state, grant=grant), effects, decision)


def _grant_words(s: Session, ctx: Context) -> dict[str, Any]:
    """What the kiosk needs to teach a grant step: who, to which level, on which machine."""
    return {
        "supervisor_name": s.supervisor_name,
        "trainee_name": s.member_name,
        "level": Level.AUTONOMOUS.value,
        "kind": ctx.machine.kind,
        "window_s": ctx.machine.grant_window_s,
    }


def _grant_hold(
    state: State, trainee: Member, now: Now, ctx: Context, effects: list[Effect]
) -> Outcome:
    """The trainee tapped during (or just after) a grant gesture: never a badge-out."""
    s, g = state.session, state.grant
    assert s is not None and g is not None
    effects.append(Cue("wait"))
    action = "grant_not_yet" if g.taps else "grant_expired"
    decision = _decision(False, action, trainee, None)
    decision.update(_grant_words(s, ctx), step=g.taps, expires_at=iso(now.at_mono(g.expires_mono)))
    return Outcome(state, effects, decision)


def _grant_due(state: State, now: Now, ctx: Context, effects: list[Effect]) -> State:
    """A lapsed gesture is recorded, then guards the trainee's taps for one more window."""
    g = state.grant
    if g is None or now.mono < g.expires_mono:
        return state
    if g.taps > 0:
        s = state.session
        effects.append(
            Record(
                "grant_expired",
                {
                    "session_id": s.id if s else None,
                    "member_id": g.trainee_id,
                    "supervisor_id": g.supervisor_id,
                    "kind": ctx.machine.kind,
                    "level": Level.AUTONOMOUS.value,
                    "step": g.taps,
                },
            )
        )
        effects.append(Cue("deny"))
        g = replace(g, taps=0, expires_mono=g.expires_mono + ctx.machine.grant_window_s)
        state = replace(state, grant=g)
    if now.mono >= g.expires_mono:
        state = replace(state, grant=None)
    return state


def _grant(state: State, trainee: Member, now: Now, ctx: Context, effects: list[Effect]) -> Outcome:
    s, g = state.session, state.grant
    assert s is not None and g is not None
    effects.append(
        Record(
            "qualification_granted",
            {
                "member_id": trainee.id,
                "kind": ctx.machine.kind,
                "level": Level.AUTONOMOUS.value,
                "previous_level": Level.SUPERVISED.value,
                "granted_by": g.supervisor_id,
                "granted_at": now.iso(),
                "session_id": s.id,
            },
        )
    )
    effects.append(Cue("grant"))
    decision = _decision(True, "qualification_granted", trainee, None)
    decision.update(
        level=Level.AUTONOMOUS.value, granted_by=s.supervisor_name, kind=ctx.machine.kind
    )
    return Outcome(replace(state, grant=None), effects, decision)


def _extend(
    state: State, m: Member | None, now: Now, ctx: Context, effects: list[Effect], by: str
) -> Outcome:
    s = state.session
    assert s is not None
    ends = s.ends_mono + ctx.machine.extend_min * 60
    s = replace(s, ends_mono=ends, warned=False, extensions=s.extensions + 1)
    effects.append(
        Record(
            "session_extended",
            {
                "session_id": s.id,
                "member_id": s.member_id,
                "by": by,
                "ends_at": iso(now.at_mono(ends)),
                "extensions": s.extensions,
            },
        )
    )
    effects.append(Cue("ok"))
    decision = _decision(True, "session_extended", m, None)
    decision["ends_at"] = iso(now.at_mono(ends))
    return Outcome(replace(state, session=s), effects, decision)


def _start_or_checklist(
    state: State,
    m: Member,
    now: Now,
    ctx: Context,
    effects: list[Effect],
    *,
    uid: str,
    supervisor: Member | None = None,
) -> Outcome:
    """With a safety checklist configured, the relay closes only once it is confirmed."""
    if not ctx.machine.checklist:
        return _start(state, m, now, ctx, effects, uid=uid, supervisor=supervisor)
    pending = PendingStart(
        m.id, uid, supervisor.id if supervisor else None, now.mono + ctx.machine.checklist_timeout_s
    )
    effects.append(
        Record(
            "checklist_shown",
            {"member_id": m.id, "uid": uid, "supervisor_id": pending.supervisor_id},
        )
    )
    effects.append(Cue("wait"))
    decision = _decision(False, "checklist", m, uid)
    decision.update(
        checklist=list(ctx.machine.checklist),
        expires_at=iso(now.at_mono(pending.expires_mono)),
        supervisor_name=supervisor.first_name if supervisor else None,
    )
    return Outcome(replace(state, pending=pending), effects, decision)


def _start(
    state: State,
    m: Member,
    now: Now,
    ctx: Context,
    effects: list[Effect],
    *,
    uid: str,
    supervisor: Member | None = None,
    takeover: bool = False,
    relay_was_on: bool = False,
) -> Outcome:
    """``relay_was_on``: a takeover or handover of a running machine, whose power is expected."""
    max_s = ctx.machine.max_session_min * 60
    watts = _current_watts(state, now, ctx)
    if watts is not None and watts > ctx.machine.busy_watts and not relay_was_on:
        # The machine draws power before its relay closes: a bypassed relay or a stuck contact.
        effects.append(
            Record(
                "power_before_start",
                {"watts": watts, "busy_watts": ctx.machine.busy_watts, "member_id": m.id},
            )
        )
        effects.append(Cue("warn"))
    meter = None
    if ctx.metering is not None:
        last = (state.power[0], PowerReading(watts=state.power[1])) if state.power else None
        meter = SessionMeter.begin(now.mono, ctx.metering, last=last)
    s = Session(
        id=ctx.new_id(),
        member_id=m.id,
        member_name=m.first_name,
        started_at=now.iso(),
        started_mono=now.mono,
        ends_mono=now.mono + max_s,
        last_heartbeat_mono=now.mono,
        supervisor_id=supervisor.id if supervisor else None,
        supervisor_name=supervisor.first_name if supervisor else None,
        by_supervisor_capable=supervisor is None and can_supervise(ctx.roster, m, ctx.machine.kind),
        meter=meter,
        idle_reset_mono=now.mono,
    )
    effects.append(
        Record(
            "session_started",
            {
                "session_id": s.id,
                "member_id": m.id,
                "member_name": m.first_name,
                "supervisor_id": s.supervisor_id,
                "supervisor_name": s.supervisor_name,
                "uid": uid,
                "kind": ctx.machine.kind,
                "machine_id": ctx.machine.id,
                "ends_at": iso(now.at_mono(s.ends_mono)),
                "max_session_s": max_s,
            },
        )
    )
    state = replace(state, session=s, grant=None, pending=None)
    state = _set_machine(state, MachineState.IN_USE, None, now, effects, "session_started", m.id)
    effects.append(Cue("ok"))
    action = "takeover" if takeover else "session_started"
    decision = _decision(True, action, m, uid)
    decision.update(
        session_id=s.id,
        ends_at=iso(now.at_mono(s.ends_mono)),
        supervisor_name=s.supervisor_name,
    )
    return Outcome(state, effects, decision)


def _end(
    state: State,
    now: Now,
    ctx: Context,
    effects: list[Effect],
    reason: EndReason,
    *,
    by: str | None = None,
    at_mono: float | None = None,
) -> State:
    s = state.session
    assert s is not None
    end_mono = now.mono if at_mono is None else min(at_mono, now.mono)
    duration = max(0.0, end_mono - s.started_mono)
    busy = (_current_watts(state, now, ctx) or 0.0) > ctx.machine.busy_watts
    finish = (
        ctx.machine.keep_on_while_busy
        and busy
        and reason in (EndReason.BADGE_OUT, EndReason.TIMEOUT)
        and not (state.air_alarm and ctx.machine.air_alarm_cuts_power)
    )
    data: dict[str, Any] = {
        "session_id": s.id,
        "member_id": s.member_id,
        "supervisor_id": s.supervisor_id,
        "end_reason": reason.value,
        "by": by,
        "started_at": s.started_at,
        "ended_at": iso(now.at_mono(end_mono)),
        "duration_s": round(duration, 3),
        "enabled_s": round(duration, 3),
        "extensions": s.extensions,
    }
    if s.meter is not None:
        totals = s.meter.totals(end_mono).as_event_data()
        data.update({k: v for k, v in totals.items() if k != "enabled_s"})
    if finish:
        data["finishing"] = True
    else:
        effects.append(JobDone(_job_summary(s.member_id, s.member_name, data, False)))
    effects.append(Record("session_ended", data))
    if reason not in (EndReason.TAKEOVER, EndReason.HANDOVER):
        # A timeout while the machine is busy warns instead of cutting.
        effects.append(Cue("warn" if finish and reason is EndReason.TIMEOUT else "ok"))
    check = None
    if reason not in (EndReason.TAKEOVER, EndReason.HANDOVER):
        if state.check_requested:
            check = f"problem_reported:{state.check_requested}"
        elif ctx.machine.needs_check_after_use:
            check = "check_after_use"
    state = replace(state, session=None, grant=None, check_requested=None)
    why = f"session_ended:{reason.value}"
    if finish:
        meter = None
        if ctx.metering is not None:
            last = (state.power[0], PowerReading(watts=state.power[1])) if state.power else None
            meter = SessionMeter.begin(now.mono, ctx.metering, last=last)
        state = replace(
            state,
            finishing=Finishing(
                s.id, s.member_id, s.member_name, now.mono, meter, check, used=_used(data)
            ),
        )
        return _set_machine(state, MachineState.FINISHING, None, now, effects, why, by)
    return _after_use(state, check, now, effects, why, by)


def _after_use(
    state: State, check: str | None, now: Now, effects: list[Effect], why: str, by: str | None
) -> State:
    """Where the machine goes once it stops: fault (air alarm), to_check, or available."""
    if state.air_alarm is not None:
        state = replace(state, check_requested=_strip_problem(check))
        return _set_machine(
            state, MachineState.FAULT, f"air_{state.air_alarm}", now, effects, why, by
        )
    if check is not None:
        return _set_machine(state, MachineState.TO_CHECK, check, now, effects, why, by)
    return _set_machine(state, MachineState.AVAILABLE, None, now, effects, why, by)


def _strip_problem(check: str | None) -> str | None:
    """``check_requested`` keeps the problem alone; _end adds the ``problem_reported:`` prefix."""
    if check is None:
        return None
    return check.removeprefix("problem_reported:")


def _end_finishing(
    state: State, now: Now, ctx: Context, effects: list[Effect], reason: str, by: str | None = None
) -> State:
    f = state.finishing
    assert f is not None
    data: dict[str, Any] = {
        "session_id": f.session_id,
        "member_id": f.member_id,
        "reason": reason,
        "by": by,
        "ended_at": iso(now.at_mono(now.mono)),
        "duration_s": round(now.mono - f.started_mono, 3),
    }
    if f.meter is not None:
        data.update(f.meter.totals(now.mono).as_event_data())
    job = job_totals(f.used, data)
    data.update({f"job_{k}": v for k, v in job.items()})
    effects.append(Record("finishing_ended", data))
    if reason != "takeover":
        effects.append(JobDone(_job_summary(f.member_id, f.member_name, job, True)))
    state = replace(state, finishing=None)
    check = f.then_check if reason != "takeover" else None
    return _after_use(state, check, now, effects, f"finishing_ended:{reason}", by)


def _current_watts(state: State, now: Now, ctx: Context) -> float | None:
    if state.power is None or ctx.metering is None:
        return None
    if now.mono - state.power[0] > ctx.metering.stale_after_s:
        return None
    return state.power[1]


def _quiet_base(state: State, ctx: Context) -> float | None:
    """Since when the machine has been idle, if the latest reading says so."""
    if state.power is None or ctx.metering is None or state.quiet_since is None:
        return None
    return state.quiet_since


def _quiet_for(state: State, now: Now, ctx: Context, since: float) -> float | None:
    """Seconds idle, counted from ``since`` at the earliest; None when busy or unknown."""
    if _current_watts(state, now, ctx) is None or state.quiet_since is None:
        return None
    return now.mono - max(state.quiet_since, since)


def _power(state: State, reading: PowerReading, now: Now, ctx: Context) -> State:
    busy_watts = ctx.machine.busy_watts
    quiet = state.quiet_since
    if reading.watts > busy_watts:
        quiet = None
    elif quiet is None:
        quiet = now.mono
    since = None
    if reading.watts > busy_watts and state.machine in WATCHED_STATES:
        since = now.mono if state.unpermitted_since is None else state.unpermitted_since
    state = replace(
        state, power=(now.mono, reading.watts), quiet_since=quiet, unpermitted_since=since
    )
    s = state.session
    if s is not None and s.meter is not None:
        state = replace(state, session=replace(s, meter=s.meter.add(now.mono, reading)))
    f = state.finishing
    if f is not None and f.meter is not None:
        state = replace(state, finishing=replace(f, meter=f.meter.add(now.mono, reading)))
    return state


def idle_off_mono(state: State, ctx: Context) -> float | None:
    """When the session stops for want of work if nothing changes (None: it is not idle)."""
    s, m = state.session, ctx.machine
    base = _quiet_base(state, ctx)
    if s is None or base is None or m.idle_off_min <= 0:
        return None
    return max(base, s.started_mono, s.idle_reset_mono) + m.idle_off_min * 60


def _idle_due(state: State, now: Now, ctx: Context, effects: list[Effect]) -> State:
    s = state.session
    m = ctx.machine
    if s is None or m.idle_off_min <= 0:
        return state
    quiet = _quiet_for(state, now, ctx, max(s.started_mono, s.idle_reset_mono))
    if quiet is None:
        if s.idle_warned:
            state = replace(state, session=replace(s, idle_warned=False))
        return state
    if quiet >= m.idle_off_min * 60:
        return _end(state, now, ctx, effects, EndReason.IDLE)
    if (
        not s.idle_warned
        and m.idle_warn_min > 0
        and quiet >= (m.idle_off_min - m.idle_warn_min) * 60
    ):
        effects.append(
            Record(
                "session_idle_warned",
                {
                    "session_id": s.id,
                    "member_id": s.member_id,
                    "idle_s": round(quiet, 3),
                    "ends_in_s": round(m.idle_off_min * 60 - quiet, 3),
                },
            )
        )
        effects.append(Cue("warn"))
        state = replace(state, session=replace(s, idle_warned=True))
    return state


def _finishing_due(state: State, now: Now, ctx: Context, effects: list[Effect]) -> State:
    f = state.finishing
    if f is None:
        return state
    quiet = _quiet_for(state, now, ctx, f.started_mono)
    if quiet is not None and quiet >= ctx.machine.finish_idle_s:
        return _end_finishing(state, now, ctx, effects, "idle")
    if now.mono >= f.started_mono + ctx.machine.finish_max_min * 60:
        return _end_finishing(state, now, ctx, effects, "max_time")
    return state


def _air(state: State, reading: AirReading, now: Now, ctx: Context, effects: list[Effect]) -> State:
    state = replace(state, air=(now.mono, reading.pm25))
    alarm_at = ctx.machine.pm25_alarm
    if alarm_at <= 0:
        return state
    if reading.pm25 >= alarm_at and state.air_alarm != "pm25":
        return _raise_air_alarm(state, "pm25", now, ctx, effects)
    if state.air_alarm == "sensor_lost" or (
        state.air_alarm == "pm25" and reading.pm25 < alarm_at * 0.8
    ):
        return _clear_air_alarm(state, now, ctx, effects)
    return state


def _air_watch(state: State, now: Now, ctx: Context, effects: list[Effect]) -> State:
    """With an air alarm configured, a silent sensor is a fault: nobody watches the fumes."""
    if ctx.machine.pm25_alarm <= 0:
        return state
    if state.air_watch_since is None:
        state = replace(state, air_watch_since=now.mono)
    last = state.air[0] if state.air else state.air_watch_since
    assert last is not None
    if state.air_alarm is None and now.mono - last >= ctx.machine.air_lost_s:
        return _raise_air_alarm(state, "sensor_lost", now, ctx, effects)
    return state


def _raise_air_alarm(
    state: State, cause: str, now: Now, ctx: Context, effects: list[Effect]
) -> State:
    effects.append(
        Record(
            "air_alarm",
            {
                "cause": cause,
                "pm25": state.air[1] if state.air else None,
                "threshold": ctx.machine.pm25_alarm,
                "cuts_power": ctx.machine.air_alarm_cuts_power,
            },
        )
    )
    effects.append(Cue("alarm"))
    state = replace(state, air_alarm=cause)
    cuts = ctx.machine.air_alarm_cuts_power
    if state.session is not None:
        return _end(state, now, ctx, effects, EndReason.FAULT) if cuts else state
    if state.finishing is not None:
        return _end_finishing(state, now, ctx, effects, "fault") if cuts else state
    if state.machine in (MachineState.AVAILABLE, MachineState.TO_CHECK):
        pending = state.reason if state.machine is MachineState.TO_CHECK else None
        state = replace(
            state,
            waiting=None,
            pending=None,
            check_requested=_strip_problem(pending) or state.check_requested,
        )
        return _set_machine(
            state, MachineState.FAULT, f"air_{cause}", now, effects, "air_alarm", None
        )
    return state


def _clear_air_alarm(state: State, now: Now, ctx: Context, effects: list[Effect]) -> State:
    effects.append(
        Record(
            "air_alarm_cleared",
            {"cause": state.air_alarm, "pm25": state.air[1] if state.air else None},
        )
    )
    was_fault = state.machine is MachineState.FAULT and (state.reason or "").startswith("air_")
    state = replace(state, air_alarm=None)
    if not was_fault:
        return state
    check = state.check_requested
    state = replace(state, check_requested=None)
    if check is not None:
        reason = check if check == "check_after_use" else f"problem_reported:{check}"
        return _set_machine(
            state, MachineState.TO_CHECK, reason, now, effects, "air_alarm_cleared", None
        )
    return _set_machine(
        state, MachineState.AVAILABLE, None, now, effects, "air_alarm_cleared", None
    )


def _permission_watch(state: State, now: Now, ctx: Context, effects: list[Effect]) -> State:
    """Power drawn with the relay open for ``power_without_permission_s`` is a fault."""
    since = state.unpermitted_since
    if since is None:
        return state
    watts = _current_watts(state, now, ctx)
    if state.machine not in WATCHED_STATES or watts is None:
        # Left the watched states, or the meter went silent: nothing is known any more.
        return replace(state, unpermitted_since=None)
    if now.mono < since + ctx.machine.power_without_permission_s:  # the due time, exactly
        return state
    effects.append(
        Record(
            POWER_FAULT,
            {
                "watts": watts,
                "seconds": round(now.mono - since, 3),
                "busy_watts": ctx.machine.busy_watts,
                "machine_state": state.machine.value,
            },
        )
    )
    effects.append(Cue("alarm"))
    pending = state.reason if state.machine is MachineState.TO_CHECK else None
    state = replace(
        state,
        unpermitted_since=None,
        check_requested=_strip_problem(pending) or state.check_requested,
    )
    return _set_machine(state, MachineState.FAULT, POWER_FAULT, now, effects, POWER_FAULT, None)


def _clear_power_fault(state: State, now: Now, effects: list[Effect], by: str) -> State:
    """Staff checked the relay: back to a pending check or air fault, else available."""
    check = state.check_requested
    state = replace(state, check_requested=None)
    if check is not None and check != "check_after_use":
        check = f"problem_reported:{check}"
    return _after_use(state, check, now, effects, "fault_cleared", by)


def _is_repeat(state: State, uid: str, now: Now, ctx: Context) -> bool:
    guard = ctx.machine.repeat_tap_guard_s
    return any(u == uid and 0 <= now.mono - t < guard for u, t in state.recent_taps)


def _arm_guard(state: State, uid: str, now: Now, ctx: Context) -> State:
    """A tap that did something arms the guard (denials do not: a retry is just a retry)."""
    guard = ctx.machine.repeat_tap_guard_s
    if guard <= 0:
        return state
    kept = tuple((u, t) for u, t in state.recent_taps if u != uid and 0 <= now.mono - t < guard)
    return replace(state, recent_taps=(*kept, (uid, now.mono)))


def _ignore_repeat(
    state: State, uid: str, now: Now, ctx: Context, effects: list[Effect]
) -> Outcome:
    """The same badge again within the guard: a double read, not a second meaning.

    The guard slides: a card left on the reader is never read as a second tap.
    """
    state = _arm_guard(state, uid, now, ctx)
    who = identify(ctx.roster, uid)
    member = who.member if isinstance(who, Identity) else None
    decision = _decision(False, "repeat_tap", member, uid)
    decision["guard_s"] = ctx.machine.repeat_tap_guard_s
    return Outcome(state, effects, decision)


def _handover(
    state: State,
    trainee: Member,
    mentor: Member,
    uid: str,
    now: Now,
    ctx: Context,
    effects: list[Effect],
) -> Outcome:
    """The mentor badged first: the trainee's session, after her own checklist if there is one.

    Under an air alarm a handover is a new session, so it is refused; the mentor's goes on.
    """
    if state.air_alarm is not None:
        return _deny(state, Denial.FAULT, uid, trainee, ctx, effects)
    state = _end(state, now, ctx, effects, EndReason.HANDOVER, by=trainee.id)
    if ctx.machine.checklist:
        return _start_or_checklist(state, trainee, now, ctx, effects, uid=uid, supervisor=mentor)
    return _start(state, trainee, now, ctx, effects, uid=uid, supervisor=mentor, relay_was_on=True)


def _button_press(state: State, now: Now, ctx: Context, effects: list[Effect]) -> Outcome:
    s = state.session
    if s is not None and s.warned:
        return _extend(state, ctx.roster.member(s.member_id), now, ctx, effects, by="button")
    return Outcome(state, effects)


def _button_hold(state: State, now: Now, ctx: Context, effects: list[Effect]) -> Outcome:
    s = state.session
    if s is None:
        return Outcome(state, effects)
    member = ctx.roster.member(s.member_id)
    new = _end(state, now, ctx, effects, EndReason.BADGE_OUT, by="button")
    return Outcome(new, effects, _decision(True, "session_ended", member, None))


def _command(state: State, cmd: Command, now: Now, ctx: Context, effects: list[Effect]) -> Outcome:
    if cmd.action not in COMMANDS:
        return Outcome(state, effects, _refused(cmd, f"unknown action; use one of {COMMANDS}"))
    if cmd.action == "confirm_checklist":
        p = state.pending
        if p is None:
            return Outcome(state, effects, _refused(cmd, "no checklist is waiting"))
        member = ctx.roster.member(p.member_id)
        supervisor = ctx.roster.member(p.supervisor_id) if p.supervisor_id else None
        if member is None:
            return Outcome(replace(state, pending=None), effects, _refused(cmd, "unknown member"))
        effects.append(Record("checklist_confirmed", {"member_id": p.member_id, "by": cmd.by}))
        return _start(
            replace(state, pending=None),
            member,
            now,
            ctx,
            effects,
            uid=p.uid,
            supervisor=supervisor,
        )
    if cmd.action == "cancel_checklist":
        if state.pending is None:
            return Outcome(state, effects, _refused(cmd, "no checklist is waiting"))
        effects.append(
            Record("checklist_cancelled", {"member_id": state.pending.member_id, "by": cmd.by})
        )
        state = replace(state, pending=None)
        return Outcome(state, effects, _done(cmd, state))
    if cmd.action == "report_problem":
        return _report_problem(state, cmd, now, ctx, effects)
    if cmd.action == "out_of_service":
        if not cmd.reason.strip():
            return Outcome(state, effects, _refused(cmd, "a reason is required"))
        if state.session is not None:
            state = _end(state, now, ctx, effects, EndReason.TECHNICIAN, by=cmd.by)
        if state.finishing is not None:
            state = _end_finishing(state, now, ctx, effects, "technician", by=cmd.by)
        state = _set_machine(
            state, MachineState.OUT_OF_SERVICE, cmd.reason.strip(), now, effects, cmd.action, cmd.by
        )
        return Outcome(replace(state, waiting=None, pending=None), effects, _done(cmd, state))
    if cmd.action == "back_in_service":
        if state.machine is not MachineState.OUT_OF_SERVICE:
            return Outcome(state, effects, _refused(cmd, "the machine is not out of service"))
        state = _set_machine(state, MachineState.AVAILABLE, None, now, effects, cmd.action, cmd.by)
        return Outcome(state, effects, _done(cmd, state))
    if cmd.action == "clear_check":
        if state.machine is MachineState.FAULT and state.reason == POWER_FAULT:
            state = _clear_power_fault(state, now, effects, cmd.by)
            return Outcome(state, effects, _done(cmd, state))
        if state.machine is not MachineState.TO_CHECK:
            return Outcome(state, effects, _refused(cmd, "the machine is not waiting for a check"))
        state = _set_machine(
            state, MachineState.AVAILABLE, None, now, effects, "check_cleared", cmd.by
        )
        return Outcome(state, effects, _done(cmd, state))
    # end_session
    if state.session is None and state.finishing is not None:
        state = _end_finishing(state, now, ctx, effects, "technician", by=cmd.by)
        return Outcome(state, effects, _done(cmd, state))
    if state.session is None:
        return Outcome(state, effects, _refused(cmd, "no session is running"))
    state = _end(state, now, ctx, effects, EndReason.TECHNICIAN, by=cmd.by)
    return Outcome(state, effects, _done(cmd, state))


def station_stopped(state: State, now: Now, ctx: Context) -> Outcome:
    """A clean stop: the session (and a job still finishing) ends now with its true totals."""
    effects: list[Effect] = []
    if state.session is not None:
        state = _end(state, now, ctx, effects, EndReason.STATION_STOPPED)
    if state.finishing is not None:
        state = _end_finishing(state, now, ctx, effects, EndReason.STATION_STOPPED.value)
    return Outcome(replace(state, waiting=None, grant=None, pending=None), effects)


def _report_problem(
    state: State, cmd: Command, now: Now, ctx: Context, effects: list[Effect]
) -> Outcome:
    problem = cmd.reason.strip()
    if not problem:
        return Outcome(state, effects, _refused(cmd, "say which problem (reason)"))
    s = state.session
    effects.append(
        Record(
            "problem_reported",
            {
                "problem": problem,
                "by": cmd.by,
                "to_check": cmd.to_check,
                "session_id": s.id if s else None,
                "member_id": s.member_id if s else None,
                "machine_state": state.machine.value,
            },
        )
    )
    if cmd.to_check:
        if state.machine is MachineState.AVAILABLE:
            state = _set_machine(
                state,
                MachineState.TO_CHECK,
                f"problem_reported:{problem}",
                now,
                effects,
                "problem_reported",
                cmd.by,
            )
        elif s is not None:
            state = replace(state, check_requested=problem)
    return Outcome(state, effects, _done(cmd, state))


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
    effects.append(
        Record(
            "machine_state_changed",
            {
                "from": state.machine.value,
                "to": target.value,
                "reason": reason,
                "why": why,
                "by": by,
            },
        )
    )
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
            {
                "uid": uid,
                "member_id": m.id if m else None,
                "reason": reason.value,
                "kind": ctx.machine.kind,
            },
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


def _refused(cmd: Command, error: str) -> dict[str, Any]:
    return {"ok": False, "action": cmd.action, "by": cmd.by, "error": error}


def _roster_expired(ctx: Context, now: Now) -> bool:
    exp = ctx.roster.expires_mono
    return exp is not None and now.mono >= exp


# --- the whole job: a session and the finishing phase after it --------------------------------

JOB_TOTALS = ("duration_s", "enabled_s", "active_s", "idle_s", "unknown_s", "energy_wh")
"""The figures a session and its finishing phase add up to (the job's totals)."""


def _used(data: dict[str, Any]) -> dict[str, float]:
    """The session's own totals, from its ``session_ended`` data."""
    return {k: float(data[k]) for k in JOB_TOTALS if isinstance(data.get(k), int | float)}


def job_totals(used: dict[str, float], finishing: dict[str, Any]) -> dict[str, float]:
    """The whole job's totals: the session's plus its finishing phase's, rounded like events."""
    out: dict[str, float] = {}
    for k in JOB_TOTALS:
        parts = [v for v in (used.get(k), finishing.get(k)) if isinstance(v, int | float)]
        if parts:
            out[k] = round(sum(parts), 3)
    return out


def _job_summary(
    member_id: str, member_name: str, totals: dict[str, Any], finished: bool
) -> dict[str, Any]:
    """What the end screen says: whose job, how long, how much energy."""
    return {
        "member_id": member_id,
        "member_name": member_name,
        "duration_s": totals.get("duration_s"),
        "energy_wh": totals.get("energy_wh"),
        "after_finishing": finished,
    }


def _with_end_screen(out: Outcome) -> Outcome:
    """A job that ended shows its totals: on the badge-out's decision, or (a finishing job that
    ended on its own) as a decision of its own, so the kiosk shows the end screen then."""
    done = [e.summary for e in out.effects if isinstance(e, JobDone)]
    d = out.decision
    f = out.state.finishing
    if not done and d is not None and d.get("action") == "session_ended" and f is not None:
        # Badge-out while the job runs on: the kiosk says it goes on, and whose it is.
        return replace(out, decision={**d, "finishing": True, "job": None})
    if not done:
        return out
    if d is None:
        s = done[-1]
        if not s["after_finishing"]:
            return out  # a timeout or idle end keeps the screens it had (the state's own)
        d = {
            "granted": True,
            "reason": None,
            "action": "session_ended",
            "uid": None,
            "member_id": s["member_id"],
            "member_name": s["member_name"],
        }
    elif d.get("action") != "session_ended":
        return out
    return replace(out, decision={**d, "job": done[-1]})


def _tap_own_finishing(
    state: State, m: Member, uid: str, now: Now, ctx: Context, effects: list[Effect]
) -> Outcome:
    """The job's owner taps during finishing: the first tap says the job is hers and still
    running; a second tap within ``finish_stop_window_s`` stops it early."""
    f = state.finishing
    assert f is not None
    if f.stop_armed_until is not None and now.mono < f.stop_armed_until:
        new = _end_finishing(state, now, ctx, effects, EndReason.BADGE_OUT.value, by=m.id)
        return Outcome(new, effects, _decision(True, "session_ended", m, uid))
    until = now.mono + ctx.machine.finish_stop_window_s
    state = replace(state, finishing=replace(f, stop_armed_until=until))
    effects.append(Cue("wait"))
    decision = _decision(True, "finishing_yours", m, uid)
    decision.update(finishing=True, stop_until=iso(now.at_mono(until)))
    return Outcome(state, effects, decision)
