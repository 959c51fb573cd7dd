"""Power: metering hooks, the finishing phase after a session, and power without permission.

One concern: what the power reading says — how long the machine was quiet, when a finishing
job is done, and a fault when power flows while the relay is open.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from station.clock import Now, iso
from station.events import FinishingEnded, JobField, PowerWithoutPermission
from station.machine_availability import _after_use
from station.machine_common import (
    POWER_FAULT,
    RELAY_SETTLE_S,
    WATCHED_STATES,
    Context,
    Cue,
    Effect,
    JobDone,
    Outcome,
    Record,
    State,
    _decision,
    _set_machine,
    _strip_problem,
)
from station.model import EndReason, MachineState, Member, Role
from station.ports import PowerReading


def _end_finishing(
    state: State, now: Now, ctx: Context, effects: list[Effect], reason: str, by: str | None = None
) -> State:
    f = state.finishing
    assert f is not None
    data: FinishingEnded = {
        "session_id": f.session_id,
        "member_id": f.member_id,
        "reason": reason,
        "by": by,
        "ended_at": iso(now.at_mono(now.mono)),
        "duration_s": round(now.mono - f.started_mono, 3),
    }
    if f.meter is not None:
        totals = f.meter.totals(now.mono).as_event_data()
        data["energy_wh"] = totals["energy_wh"]
        data["active_s"] = totals["active_s"]
        data["idle_s"] = totals["idle_s"]
        data["enabled_s"] = totals["enabled_s"]
        data["unknown_s"] = totals["unknown_s"]
    job = job_totals(f.used, data)
    _add_job_totals(data, job)
    effects.append(Record("finishing_ended", data))
    if reason != "takeover":
        effects.append(JobDone(_job_summary(f.member_id, f.member_name, job, True)))
    state = replace(state, finishing=None)
    check = f.then_check if reason != "takeover" else None
    return _after_use(state, check, now, effects, f"finishing_ended:{reason}", by)


def _current_watts(state: State, now: Now, ctx: Context) -> float | None:
    if state.power is None or ctx.metering is None:
        return None
    if now.mono - state.power[0] > ctx.metering.stale_after_s:
        return None
    return state.power[1]


def _quiet_base(state: State, ctx: Context) -> float | None:
    """Since when the machine has been idle, if the latest reading says so."""
    if state.power is None or ctx.metering is None or state.quiet_since is None:
        return None
    return state.quiet_since


def _quiet_for(state: State, now: Now, ctx: Context, since: float) -> float | None:
    """Seconds idle, counted from ``since`` at the earliest; None when busy or unknown."""
    if _current_watts(state, now, ctx) is None or state.quiet_since is None:
        return None
    return now.mono - max(state.quiet_since, since)


def _power(state: State, reading: PowerReading, now: Now, ctx: Context) -> State:
    busy_watts = ctx.machine.busy_watts
    quiet = state.quiet_since
    if reading.watts > busy_watts:
        quiet = None
    elif quiet is None:
        quiet = now.mono
    since = None
    opened = state.relay_opened_mono
    settled = opened is None or now.mono - opened >= RELAY_SETTLE_S
    if reading.watts > busy_watts and state.machine in WATCHED_STATES and settled:
        since = now.mono if state.unpermitted_since is None else state.unpermitted_since
    state = replace(
        state, power=(now.mono, reading.watts), quiet_since=quiet, unpermitted_since=since
    )
    s = state.session
    if s is not None and s.meter is not None:
        state = replace(state, session=replace(s, meter=s.meter.add(now.mono, reading)))
    f = state.finishing
    if f is not None and f.meter is not None:
        state = replace(state, finishing=replace(f, meter=f.meter.add(now.mono, reading)))
    return state


def idle_off_mono(state: State, ctx: Context) -> float | None:
    """When the session stops for want of work if nothing changes (None: it is not idle)."""
    s, m = state.session, ctx.machine
    base = _quiet_base(state, ctx)
    if s is None or base is None or m.idle_off_min <= 0:
        return None
    return max(base, s.started_mono, s.idle_reset_mono) + m.idle_off_min * 60


def _finishing_due(state: State, now: Now, ctx: Context, effects: list[Effect]) -> State:
    f = state.finishing
    if f is None:
        return state
    quiet = _quiet_for(state, now, ctx, f.started_mono)
    if quiet is not None and quiet >= ctx.machine.finish_idle_s:
        return _end_finishing(state, now, ctx, effects, "idle")
    if now.mono >= f.started_mono + ctx.machine.finish_max_min * 60:
        return _end_finishing(state, now, ctx, effects, "max_time")
    return state


def _permission_watch(state: State, now: Now, ctx: Context, effects: list[Effect]) -> State:
    """Power drawn with the relay open for ``power_without_permission_s`` is a fault."""
    since = state.unpermitted_since
    if since is None:
        return state
    watts = _current_watts(state, now, ctx)
    if state.machine not in WATCHED_STATES or watts is None:
        # Left the watched states, or the meter went silent: nothing is known any more.
        return replace(state, unpermitted_since=None)
    if now.mono < since + ctx.machine.power_without_permission_s:  # the due time, exactly
        return state
    effects.append(
        Record(
            POWER_FAULT,
            PowerWithoutPermission(
                watts=watts,
                seconds=round(now.mono - since, 3),
                busy_watts=ctx.machine.busy_watts,
                machine_state=state.machine.value,
            ),
        )
    )
    return _power_fault(state, now, effects)


def can_clear_power_fault(m: Member) -> bool:
    """A welded relay or a bypass is the technicians' to check: their badge clears the fault
    (or their ``clear_check`` from the technician page or the central store)."""
    return m.role is Role.TECHNICIAN


def _power_fault(state: State, now: Now, effects: list[Effect]) -> State:
    """The alarm, and ``fault`` until staff clear it; a check already pending is kept."""
    effects.append(Cue("alarm"))
    pending = state.reason if state.machine is MachineState.TO_CHECK else None
    state = replace(
        state,
        unpermitted_since=None,
        check_requested=_strip_problem(pending) or state.check_requested,
    )
    return _set_machine(state, MachineState.FAULT, POWER_FAULT, now, effects, POWER_FAULT, None)


def _clear_power_fault(state: State, now: Now, effects: list[Effect], by: str) -> State:
    """Staff checked the relay: back to a pending check or air fault, else available."""
    check = state.check_requested
    state = replace(state, check_requested=None)
    if check is not None and check != "check_after_use":
        check = f"problem_reported:{check}"
    return _after_use(state, check, now, effects, "fault_cleared", by)


JOB_TOTALS = ("duration_s", "enabled_s", "active_s", "idle_s", "unknown_s", "energy_wh")
"""The figures a session and its finishing phase add up to (the job's totals)."""


def _used(data: Mapping[str, Any]) -> dict[str, float]:
    """The session's own totals, from its ``session_ended`` data."""
    return {k: float(data[k]) for k in JOB_TOTALS if isinstance(data.get(k), int | float)}


def job_totals(used: Mapping[str, float], finishing: Mapping[str, Any]) -> dict[str, float]:
    """The whole job's totals: the session's plus its finishing phase's, rounded like events."""
    out: dict[str, float] = {}
    for k in JOB_TOTALS:
        parts = [v for v in (used.get(k), finishing.get(k)) if isinstance(v, int | float)]
        if parts:
            out[k] = round(sum(parts), 3)
    return out


JOB_FIELDS: dict[str, JobField] = {
    "duration_s": "job_duration_s",
    "enabled_s": "job_enabled_s",
    "active_s": "job_active_s",
    "idle_s": "job_idle_s",
    "unknown_s": "job_unknown_s",
    "energy_wh": "job_energy_wh",
}
"""The ``finishing_ended`` field of each job total (names checked against station/events.py)."""


def _add_job_totals(data: FinishingEnded, job: dict[str, float]) -> None:
    """The ``job_*`` fields, in the order of :data:`JOB_TOTALS`."""
    for k, v in job.items():
        data[JOB_FIELDS[k]] = v


def _job_summary(
    member_id: str, member_name: str, totals: Mapping[str, Any], finished: bool
) -> dict[str, Any]:
    """What the end screen says: whose job, how long, how much energy."""
    return {
        "member_id": member_id,
        "member_name": member_name,
        "duration_s": totals.get("duration_s"),
        "energy_wh": totals.get("energy_wh"),
        "after_finishing": finished,
    }


def _tap_own_finishing(
    state: State, m: Member, uid: str, now: Now, ctx: Context, effects: list[Effect]
) -> Outcome:
    """The job's owner taps during finishing: the first tap says the job is hers and still
    running; a second tap within ``finish_stop_window_s`` stops it early."""
    f = state.finishing
    assert f is not None
    if f.stop_armed_until is not None and now.mono < f.stop_armed_until:
        new = _end_finishing(state, now, ctx, effects, EndReason.BADGE_OUT.value, by=m.id)
        return Outcome(new, effects, _decision(True, "session_ended", m, uid))
    until = now.mono + ctx.machine.finish_stop_window_s
    state = replace(state, finishing=replace(f, stop_armed_until=until))
    effects.append(Cue("wait"))
    decision = _decision(True, "finishing_yours", m, uid)
    decision.update(finishing=True, stop_until=iso(now.at_mono(until)))
    return Outcome(state, effects, decision)
