"""The checklist before a session: start at once, or wait for the trainee to confirm it.

One concern: the safety checklist a machine may ask for before power.
"""

from __future__ import annotations

from dataclasses import replace

from station.clock import Now, iso
from station.machine.common import (
    Context,
    Cue,
    Effect,
    Outcome,
    PendingStart,
    Record,
    State,
    _decision,
)
from station.machine.session import _start
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
