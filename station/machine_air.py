"""The air alarm: the air sensor's readings, the alarm raised, lost readings, the alarm cleared.

One concern: the air quality watch; it may cut power when ``air_alarm_cuts_power``.
"""

from __future__ import annotations

from dataclasses import replace

from station.clock import Now
from station.events import AirAlarm, AirAlarmCleared
from station.machine_common import Context, Cue, Effect, Record, State, _set_machine, _strip_problem
from station.machine_power import _end_finishing
from station.machine_session import _end
from station.model import EndReason, MachineState
from station.ports import AirReading


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
            AirAlarm(
                {
                    "cause": cause,
                    "pm25": state.air[1] if state.air else None,
                    "threshold": ctx.machine.pm25_alarm,
                    "cuts_power": ctx.machine.air_alarm_cuts_power,
                }
            ),
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
            AirAlarmCleared(
                {"cause": state.air_alarm, "pm25": state.air[1] if state.air else None}
            ),
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
