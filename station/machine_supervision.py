"""Supervision and grant: the co-badge wait and the three-tap grant gesture.

One concern: a supervisor's taps — waiting for a co-badge, and granting a level (the supervisor
taps twice, the trainee accepts within ``grant_window_s``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from station.access import (
    helpers_for,
)
from station.clock import Now, iso
from station.events import AccessDenied, GrantExpired, QualificationGranted
from station.machine_common import (
    Context,
    Cue,
    Effect,
    GrantStep,
    Outcome,
    Record,
    Session,
    State,
    Waiting,
    _decision,
)
from station.model import Denial, Level, Member


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
                GrantExpired(
                    {
                        "session_id": s.id if s else None,
                        "member_id": g.trainee_id,
                        "supervisor_id": g.supervisor_id,
                        "kind": ctx.machine.kind,
                        "level": Level.AUTONOMOUS.value,
                        "step": g.taps,
                    }
                ),
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
            QualificationGranted(
                {
                    "member_id": trainee.id,
                    "kind": ctx.machine.kind,
                    "level": Level.AUTONOMOUS.value,
                    "previous_level": Level.SUPERVISED.value,
                    "granted_by": g.supervisor_id,
                    "granted_at": now.iso(),
                    "session_id": s.id,
                }
            ),
        )
    )
    effects.append(Cue("grant"))
    decision = _decision(True, "qualification_granted", trainee, None)
    decision.update(
        level=Level.AUTONOMOUS.value, granted_by=s.supervisor_name, kind=ctx.machine.kind
    )
    return Outcome(replace(state, grant=None), effects, decision)


def _waiting_due(state: State, now: Now, ctx: Context, effects: list[Effect]) -> State:
    """A co-badge wait that lapsed: the trainee is refused, no supervisor came."""
    if state.waiting and now.mono >= state.waiting.expires_mono:
        w = state.waiting
        effects.append(
            Record(
                "access_denied",
                AccessDenied(
                    {
                        "uid": w.uid,
                        "member_id": w.member_id,
                        "reason": Denial.NEEDS_SUPERVISOR.value,
                        "kind": ctx.machine.kind,
                        "detail": "no supervisor badged in time",
                    }
                ),
            )
        )
        effects.append(Cue("deny"))
        state = replace(state, waiting=None)
    return state
