"""Badge taps: which part a tap goes to, and the repeat guard (one tap, one meaning).

One concern: routing a tap — to a start, to the session in use, to a grant or a handover.
"""

from __future__ import annotations

from dataclasses import replace

from station.access import (
    Identity,
    can_clear_check,
    can_supervise,
    helpers_for,
    identify,
    lacks_site_induction,
    level_for,
    needs_a_supervisor,
)
from station.clock import Now, iso
from station.events import SupervisorAwaited
from station.machine_checklist import _start_or_checklist
from station.machine_common import (
    POWER_FAULT,
    Context,
    Cue,
    Effect,
    Outcome,
    Record,
    State,
    Waiting,
    _decision,
    _deny,
    _readmit,
    _roster_expired,
    _set_machine,
)
from station.machine_power import (
    _clear_power_fault,
    _end_finishing,
    _tap_own_finishing,
    can_clear_power_fault,
)
from station.machine_session import _end, _extend, _extended, _start
from station.machine_supervision import _grant, _grant_hold, _grant_step, _keep_waiting
from station.model import Denial, EndReason, Level, MachineState, Member


def _tap(state: State, uid: str, now: Now, ctx: Context, effects: list[Effect]) -> Outcome:
    who = identify(ctx.roster, uid)
    if not isinstance(who, Identity):
        return _deny(state, who, uid, None, ctx, effects)
    m = who.member
    kind = ctx.machine.kind
    if state.machine is MachineState.OUT_OF_SERVICE:
        return _deny(state, Denial.OUT_OF_SERVICE, uid, m, ctx, effects)
    if state.machine is MachineState.FAULT:
        if state.reason == POWER_FAULT and can_clear_power_fault(m):
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
            out = _start(state, m, now, ctx, effects, uid=uid, takeover=True)
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
        if trainee is not None and not lacks_site_induction(ctx.roster, trainee, kind):
            state = replace(state, waiting=None)
            denial = _readmit(ctx, now, w.uid, w.member_id, m.id)
            if denial is not None:  # revoked or deactivated while she waited
                out = _deny(state, denial, w.uid, trainee, ctx, effects)
                assert out.decision is not None
                out.decision["for_waiting"] = True  # the kiosk names her: not the tapper's card
                return out
            return _start_or_checklist(state, trainee, now, ctx, effects, uid=w.uid, supervisor=m)
    if _roster_expired(ctx, now) and not m.role.is_staff:
        return _deny(state, Denial.ROSTER_EXPIRED, uid, m, ctx, effects)
    level = level_for(ctx.roster, m, kind)
    supervised = needs_a_supervisor(ctx.roster, m, kind)
    admissible = supervised or level in (Level.AUTONOMOUS, Level.MENTOR)
    if admissible and lacks_site_induction(ctx.roster, m, kind):
        return _deny(state, Denial.SITE_INDUCTION_NEEDED, uid, m, ctx, effects)
    if w is not None and w.member_id != m.id and (m.role.is_staff or supervised):
        return _keep_waiting(state, w, m, uid, now, ctx, effects)
    if level in (Level.AUTONOMOUS, Level.MENTOR):
        return _start_or_checklist(replace(state, waiting=None), m, now, ctx, effects, uid=uid)
    if supervised:
        window = ctx.machine.co_badge_window_s
        effects.append(
            Record(
                "supervisor_awaited",
                SupervisorAwaited(
                    {"uid": uid, "member_id": m.id, "kind": kind, "window_s": window}
                ),
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
            effects.append(_extended(s, m.id, now, idle=True))
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
        if lacks_site_induction(ctx.roster, m, kind):
            return _deny(state, Denial.SITE_INDUCTION_NEEDED, uid, m, ctx, effects)
        mentor = ctx.roster.member(s.member_id)
        if mentor is not None:
            return _handover(state, m, mentor, uid, now, ctx, effects)
    if m.role.is_staff:
        state = _end(state, now, ctx, effects, EndReason.TAKEOVER, by=m.id)
        out = _start(state, m, now, ctx, effects, uid=uid, takeover=True)
        assert out.decision is not None
        out.decision["took_over_from"] = s.member_name  # the kiosk tells whose session ended
        return out
    return _deny(state, Denial.MACHINE_IN_USE, uid, m, ctx, effects)


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
    return _start(state, trainee, now, ctx, effects, uid=uid, supervisor=mentor)
