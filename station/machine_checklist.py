"""The checklist before a session: start at once, or wait for the trainee to confirm it.

One concern: the safety checklist a machine may ask for before power.
"""

from __future__ import annotations

from dataclasses import replace

from station.clock import Now, iso
from station.events import ChecklistCancelled, ChecklistConfirmed, ChecklistExpired, ChecklistShown
from station.machine_common import (
    Command,
    Context,
    Cue,
    Effect,
    Outcome,
    PendingStart,
    Record,
    State,
    _decision,
    _deny,
    _done,
    _readmit,
    _refused,
)
from station.machine_session import _start
from station.model import Member


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
            ChecklistShown({"member_id": m.id, "uid": uid, "supervisor_id": pending.supervisor_id}),
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


def _checklist_due(state: State, now: Now, ctx: Context, effects: list[Effect]) -> State:
    """A checklist not confirmed in time: no session, the relay stays open."""
    if state.pending and now.mono >= state.pending.expires_mono:
        p = state.pending
        effects.append(
            Record(
                "checklist_expired",
                ChecklistExpired(
                    {"member_id": p.member_id, "uid": p.uid, "kind": ctx.machine.kind}
                ),
            )
        )
        effects.append(Cue("deny"))
        state = replace(state, pending=None)
    return state


def _confirm_checklist(
    state: State, cmd: Command, now: Now, ctx: Context, effects: list[Effect]
) -> Outcome:
    """The trainee confirmed the checklist: the session starts now."""
    p = state.pending
    if p is None:
        return Outcome(state, effects, _refused(cmd, "no checklist is waiting", "no_checklist"))
    member = ctx.roster.member(p.member_id)
    supervisor = ctx.roster.member(p.supervisor_id) if p.supervisor_id else None
    if member is None:
        return Outcome(
            replace(state, pending=None), effects, _refused(cmd, "unknown member", "unknown_member")
        )
    state = replace(state, pending=None)
    denial = _readmit(ctx, now, p.uid, p.member_id, p.supervisor_id)
    if denial is not None:
        return _deny(state, denial, p.uid, member, ctx, effects)
    effects.append(
        Record("checklist_confirmed", ChecklistConfirmed({"member_id": p.member_id, "by": cmd.by}))
    )
    return _start(
        state,
        member,
        now,
        ctx,
        effects,
        uid=p.uid,
        supervisor=supervisor,
    )


def _cancel_checklist(state: State, cmd: Command, effects: list[Effect]) -> Outcome:
    """The checklist was cancelled: no session, nothing switched on."""
    if state.pending is None:
        return Outcome(state, effects, _refused(cmd, "no checklist is waiting", "no_checklist"))
    effects.append(
        Record(
            "checklist_cancelled",
            ChecklistCancelled({"member_id": state.pending.member_id, "by": cmd.by}),
        )
    )
    state = replace(state, pending=None)
    return Outcome(state, effects, _done(cmd, state))
