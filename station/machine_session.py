"""The session: start, extend, end (on idle too) and the end screen.

One concern: a session's life; it switches the relay on at start and off at the end.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypedDict

from station.access import (
    can_supervise,
)
from station.clock import Now, iso
from station.events import (
    Heartbeat,
    PowerBeforeStart,
    SessionEnded,
    SessionExtended,
    SessionIdleWarned,
    SessionStarted,
    SessionWarned,
)
from station.machine_availability import _after_use
from station.machine_common import (
    Context,
    Cue,
    Effect,
    Finishing,
    JobDone,
    Outcome,
    Record,
    Session,
    State,
    _decision,
    _set_machine,
)
from station.machine_power import _current_watts, _job_summary, _quiet_for, _used
from station.metering import SessionMeter
from station.model import EndReason, MachineState, Member
from station.ports import PowerReading


class _IdleFlag(TypedDict, total=False):
    idle: bool


def _extended(s: Session, by: str, now: Now, *, idle: bool = False) -> Record:
    """The ``session_extended`` event: a tap near the end, or during the idle warning."""
    flag: _IdleFlag = {"idle": True} if idle else {}
    data: SessionExtended = {
        "session_id": s.id,
        "member_id": s.member_id,
        "by": by,
        **flag,
        "ends_at": iso(now.at_mono(s.ends_mono)),
        "extensions": s.extensions,
    }
    return Record("session_extended", data)


def _extend(
    state: State, m: Member | None, now: Now, ctx: Context, effects: list[Effect], by: str
) -> Outcome:
    s = state.session
    assert s is not None
    ends = s.ends_mono + ctx.machine.extend_min * 60
    s = replace(s, ends_mono=ends, warned=False, extensions=s.extensions + 1)
    effects.append(_extended(s, by, now))
    effects.append(Cue("ok"))
    decision = _decision(True, "session_extended", m, None)
    decision["ends_at"] = iso(now.at_mono(ends))
    return Outcome(replace(state, session=s), effects, decision)


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
) -> Outcome:
    """Power already drawn with the relay open (a reading taken after it opened, within the
    grace of ``power_without_permission_s``) is recorded as ``power_before_start``. A takeover or
    a handover of a running machine, or a reading taken while a session had the relay closed,
    is not: only readings with the relay open start that watch (``unpermitted_since``)."""
    max_s = ctx.machine.max_session_min * 60
    watts = _current_watts(state, now, ctx)
    if state.unpermitted_since is not None and watts is not None:
        # The machine draws power before its relay closes: a bypassed relay or a stuck contact.
        effects.append(
            Record(
                "power_before_start",
                PowerBeforeStart(
                    {"watts": watts, "busy_watts": ctx.machine.busy_watts, "member_id": m.id}
                ),
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
            SessionStarted(
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
                }
            ),
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
    data: SessionEnded = {
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
        data["energy_wh"] = totals["energy_wh"]
        data["active_s"] = totals["active_s"]
        data["idle_s"] = totals["idle_s"]
        data["unknown_s"] = totals["unknown_s"]
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
                SessionIdleWarned(
                    {
                        "session_id": s.id,
                        "member_id": s.member_id,
                        "idle_s": round(quiet, 3),
                        "ends_in_s": round(m.idle_off_min * 60 - quiet, 3),
                    }
                ),
            )
        )
        effects.append(Cue("warn"))
        state = replace(state, session=replace(s, idle_warned=True))
    return state


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


def _session_due(state: State, now: Now, ctx: Context, effects: list[Effect]) -> State:
    """The session's deadlines: idle stop, time limit, heartbeat, the warning before the end."""
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
        effects.append(
            Record("heartbeat", Heartbeat({"session_id": s.id, "member_id": s.member_id}))
        )
        s = replace(s, last_heartbeat_mono=now.mono)
        state = replace(state, session=s)
    warn_s = ctx.machine.warn_before_min * 60
    if not s.warned and warn_s > 0 and now.mono >= s.ends_mono - warn_s:
        effects.append(
            Record(
                "session_warned",
                SessionWarned(
                    {
                        "session_id": s.id,
                        "member_id": s.member_id,
                        "ends_at": iso(now.at_mono(s.ends_mono)),
                        "remaining_s": round(s.ends_mono - now.mono, 3),
                    }
                ),
            )
        )
        effects.append(Cue("warn"))
        state = replace(state, session=replace(s, warned=True))
    return state
