"""Availability and faults: what state the machine is left in after use, and problems reported.

One concern: whether the machine can be used next (available, to check, out of service).
"""

from __future__ import annotations

from dataclasses import replace

from station.access import STAFF_ONLY_CHECKS
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
        return Outcome(
            state, effects, _refused(cmd, "say which problem (reason)", "reason_missing")
        )
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
        state = _ask_check(state, problem, now, effects, cmd.by)
    return Outcome(state, effects, _done(cmd, state))


def _ask_check(state: State, problem: str, now: Now, effects: list[Effect], by: str) -> State:
    """A report that asks for a check reaches the machine whatever its state, and a report
    only staff may clear (« J'ai cassé quelque chose ») is never replaced by a lighter one:
    otherwise a mentor could clear it after a second report, or after the job's end."""
    asked = f"problem_reported:{problem}"
    if state.machine is MachineState.AVAILABLE:
        return _set_machine(
            state, MachineState.TO_CHECK, asked, now, effects, "problem_reported", by
        )
    if state.machine is MachineState.TO_CHECK:
        reason = _heavier_check(state.reason, asked)
        return _set_machine(
            state, MachineState.TO_CHECK, reason, now, effects, "problem_reported", by
        )
    if state.finishing is not None and state.session is None:
        f = state.finishing
        return replace(state, finishing=replace(f, then_check=_heavier_check(f.then_check, asked)))
    if state.machine is MachineState.OUT_OF_SERVICE:
        return state  # in the technician's hands: back in service is a staff decision
    # In use, or in fault: the check applies when the session ends or the fault is cleared.
    current = state.check_requested
    full = current if current in (None, "check_after_use") else f"problem_reported:{current}"
    return replace(state, check_requested=_strip_problem(_heavier_check(full, asked)))


def _heavier_check(current: str | None, asked: str) -> str:
    """The ``to_check`` reason to keep: one only staff clear wins over any other."""
    if current in STAFF_ONLY_CHECKS and asked not in STAFF_ONLY_CHECKS:
        return current
    return asked
