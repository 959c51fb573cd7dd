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

The state machine in parts, one concern each (``station/machine_<part>.py``, kept flat beside
this module so every tool that reads ``station/*.py`` still sees them), composed here by
:func:`handle`: ``common`` (state, inputs, effects, decisions), ``availability`` (after use,
problems), ``power`` (metering, finishing, power without permission), ``supervision`` (co-badge
wait and grant), ``session``, ``checklist``, ``taps`` (routing a tap, the repeat guard), ``air``
(the air alarm) and ``commands`` (buttons and commands). Each part imports only from the parts
before it; every public name is re-exported here.
"""

from __future__ import annotations

from dataclasses import replace

from station.access import Identity, identify
from station.clock import Now
from station.machine_air import _air, _air_watch
from station.machine_checklist import _checklist_due
from station.machine_commands import _button_hold, _button_press, _command, station_stopped
from station.machine_common import (
    COMMANDS,
    POWER_FAULT,
    STAFF_COMMANDS,
    WATCHED_STATES,
    AirSample,
    ButtonHold,
    ButtonPress,
    Command,
    Context,
    Cue,
    Effect,
    Finishing,
    GrantStep,
    Input,
    JobDone,
    Outcome,
    PendingStart,
    PlugFault,
    PowerSample,
    Record,
    Session,
    State,
    Tap,
    Tick,
    Waiting,
    _deny,
)
from station.machine_plug import _plug_fault
from station.machine_power import (
    JOB_TOTALS,
    _finishing_due,
    _permission_watch,
    _power,
    _quiet_base,
    idle_off_mono,
    job_totals,
)
from station.machine_session import _session_due, _with_end_screen
from station.machine_supervision import _grant_due, _waiting_due
from station.machine_taps import _arm_guard, _ignore_repeat, _is_repeat, _tap
from station.model import Denial

__all__ = [
    "COMMANDS",
    "JOB_TOTALS",
    "POWER_FAULT",
    "STAFF_COMMANDS",
    "WATCHED_STATES",
    "AirSample",
    "ButtonHold",
    "ButtonPress",
    "Command",
    "Context",
    "Cue",
    "Effect",
    "Finishing",
    "GrantStep",
    "Input",
    "JobDone",
    "Outcome",
    "PendingStart",
    "PlugFault",
    "PowerSample",
    "Record",
    "Session",
    "State",
    "Tap",
    "Tick",
    "Waiting",
    "handle",
    "idle_off_mono",
    "job_totals",
    "next_due",
    "station_stopped",
]


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
    if isinstance(inp, PlugFault):
        return _plug_fault(state, inp, now, ctx, effects)
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
    quiet: list[float] = []  # due only while the latest reading still says "quiet"
    f = state.finishing
    if f is not None:
        times.append(f.started_mono + m.finish_max_min * 60)
        if base is not None:
            quiet.append(max(base, f.started_mono) + m.finish_idle_s)
    s = state.session
    if s and base is not None and m.idle_off_min > 0:
        start = max(base, s.started_mono, s.idle_reset_mono)
        quiet.append(start + m.idle_off_min * 60)
        if not s.idle_warned and m.idle_warn_min > 0:
            quiet.append(start + (m.idle_off_min - m.idle_warn_min) * 60)
    if quiet and state.power is not None and ctx.metering is not None:
        # A meter gone silent makes "quiet" unknown: such a time never falls due (the
        # controller would tick on it for ever); the next reading sets the times again.
        stale_at = state.power[0] + ctx.metering.stale_after_s
        times += [t for t in quiet if t <= stale_at]
    if s:
        times.append(s.last_heartbeat_mono + ctx.machine.heartbeat_s)
        times.append(s.ends_mono)
        warn_s = ctx.machine.warn_before_min * 60
        if not s.warned and warn_s > 0:
            times.append(s.ends_mono - warn_s)
    return min(times) if times else None


def _due(state: State, now: Now, ctx: Context, effects: list[Effect]) -> State:
    """Every deadline reached by ``now``, each part in turn (the order is part of the rules)."""
    state = _waiting_due(state, now, ctx, effects)
    state = _grant_due(state, now, ctx, effects)
    state = _checklist_due(state, now, ctx, effects)
    state = _air_watch(state, now, ctx, effects)
    state = _permission_watch(state, now, ctx, effects)
    state = _finishing_due(state, now, ctx, effects)
    return _session_due(state, now, ctx, effects)
