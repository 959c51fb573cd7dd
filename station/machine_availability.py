"""Availability and faults: what state the machine is left in after use, and problems reported.

One concern: whether the machine can be used next (available, to check, out of service).
"""

from __future__ import annotations

from dataclasses import replace

from station.clock import Now
from station.events import ProblemReported
from station.machine_common import (
    Command,
    Context,
    Effect,
    Outcome,
    Record,
    State,
    _done,
    _refused,
    _set_machine,
    _strip_problem,
)
from station.model import MachineState


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
            ProblemReported(
                {
                    "problem": problem,
                    "by": cmd.by,
                    "to_check": cmd.to_check,
                    "session_id": s.id if s else None,
                    "member_id": s.member_id if s else None,
                    "machine_state": state.machine.value,
                }
            ),
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
