"""Commands: the physical buttons and commands from the kiosk, staff pages and central.

One concern: who may ask for what (out of service, clear check, end session…) and its answer.
"""

from __future__ import annotations

from dataclasses import replace

from station.clock import Now
from station.machine_availability import _report_problem
from station.machine_checklist import _cancel_checklist, _confirm_checklist
from station.machine_common import (
    COMMANDS,
    Command,
    Context,
    Effect,
    Outcome,
    State,
    _decision,
    _done,
    _refused,
    _set_machine,
)
from station.machine_plug import is_clearable_fault
from station.machine_power import _clear_power_fault, _end_finishing
from station.machine_session import _end, _extend
from station.model import EndReason, MachineState


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
        return Outcome(
            state,
            effects,
            _refused(cmd, f"unknown action; use one of {COMMANDS}", "unknown_action"),
        )
    if cmd.action == "confirm_checklist":
        return _confirm_checklist(state, cmd, now, ctx, effects)
    if cmd.action == "cancel_checklist":
        return _cancel_checklist(state, cmd, effects)
    if cmd.action == "report_problem":
        return _report_problem(state, cmd, now, ctx, effects)
    if cmd.action == "out_of_service":
        if not cmd.reason.strip():
            return Outcome(state, effects, _refused(cmd, "a reason is required", "reason_missing"))
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
            return Outcome(
                state,
                effects,
                _refused(cmd, "the machine is not out of service", "not_out_of_service"),
            )
        state = _set_machine(state, MachineState.AVAILABLE, None, now, effects, cmd.action, cmd.by)
        return Outcome(state, effects, _done(cmd, state))
    if cmd.action == "clear_check":
        if state.machine is MachineState.FAULT and is_clearable_fault(state.reason):
            state = _clear_power_fault(state, now, effects, cmd.by)
            return Outcome(state, effects, _done(cmd, state))
        if state.machine is not MachineState.TO_CHECK:
            return Outcome(
                state,
                effects,
                _refused(cmd, "the machine is not waiting for a check", "not_to_check"),
            )
        state = _set_machine(
            state, MachineState.AVAILABLE, None, now, effects, "check_cleared", cmd.by
        )
        return Outcome(state, effects, _done(cmd, state))
    # end_session
    if state.session is None and state.finishing is not None:
        state = _end_finishing(state, now, ctx, effects, "technician", by=cmd.by)
        return Outcome(state, effects, _done(cmd, state))
    if state.session is None:
        return Outcome(state, effects, _refused(cmd, "no session is running", "no_session"))
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
