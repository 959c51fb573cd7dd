"""The smart plug's faults: a plug that does not answer, or does what nobody asked, stops the
machine and waits for staff.

One concern. The driver (``hardware/smart_plug.py``) reports a :class:`PlugFault`:

- ``unasked_on`` — the plug went on while the relay was to be open (someone pressed its
  button): that is power without permission, the fault the safety rules already define
  (``power_without_permission``), recorded at once, with ``source`` saying it was the plug;
  the driver has already switched it off again.
- ``no_ack``, ``unasked_off``, ``overpower``, ``overtemp`` — a ``plug_fault`` event; a running
  session (or finishing job) ends with reason ``fault`` and the machine goes ``fault`` with the
  reason ``plug_<kind>`` until a technician clears it (``clear_check``), as for a power fault.

Outside the states where a fault applies (out of service, already in fault) the event is
still recorded: nothing is lost, nothing else changes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from station.clock import Now
from station.events import PlugFault as PlugFaultData
from station.events import PowerWithoutPermission
from station.machine_common import (
    POWER_FAULT,
    WATCHED_STATES,
    Context,
    Cue,
    Effect,
    Outcome,
    PlugFault,
    Record,
    State,
    _set_machine,
    _strip_problem,
)
from station.machine_power import _end_finishing, _power_fault
from station.machine_session import _end
from station.model import EndReason, MachineState

PLUG_FAULT = "plug_fault"
"""The event type of a plug's fault (its ``kind`` in the data)."""
PLUG_REASON_PREFIX = "plug_"


def is_clearable_fault(reason: str | None) -> bool:
    """Faults staff clear with ``clear_check``: power without permission and the plug's."""
    return reason == POWER_FAULT or (reason or "").startswith(PLUG_REASON_PREFIX)


def _plug_fault(
    state: State, inp: PlugFault, now: Now, ctx: Context, effects: list[Effect]
) -> Outcome:
    if inp.kind == "unasked_on" and state.session is None and state.finishing is None:
        return Outcome(_unasked_on(state, inp, now, ctx, effects), effects)
    data = PlugFaultData(kind=inp.kind)
    data.update(_known(inp.detail))  # type: ignore[typeddict-item]
    effects.append(Record("plug_fault", data))
    if state.machine in (MachineState.OUT_OF_SERVICE, MachineState.FAULT):
        return Outcome(state, effects)
    effects.append(Cue("alarm"))
    if state.session is not None:
        state = _end(state, now, ctx, effects, EndReason.FAULT)
    if state.finishing is not None:
        state = _end_finishing(state, now, ctx, effects, "fault")
    pending = state.reason if state.machine is MachineState.TO_CHECK else None
    state = replace(state, check_requested=_strip_problem(pending) or state.check_requested)
    reason = PLUG_REASON_PREFIX + inp.kind
    state = _set_machine(state, MachineState.FAULT, reason, now, effects, PLUG_FAULT, None)
    return Outcome(state, effects)


def _known(detail: dict[str, Any]) -> dict[str, Any]:
    """The driver's detail, only the fields ``station/events.py`` defines for a plug."""
    keep = ("device", "asked", "why", "cause", "errors")
    return {k: detail[k] for k in keep if k in detail}


def _unasked_on(
    state: State, inp: PlugFault, now: Now, ctx: Context, effects: list[Effect]
) -> State:
    detail = _known(inp.detail)
    data = PowerWithoutPermission(
        watts=state.power[1] if state.power else None,
        seconds=0.0,
        busy_watts=ctx.machine.busy_watts,
        machine_state=state.machine.value,
        source="plug",
    )
    for key in ("cause", "device"):
        if key in detail:
            data[key] = detail[key]  # type: ignore[literal-required]
    effects.append(Record(POWER_FAULT, data))
    if state.machine not in WATCHED_STATES:
        return state
    return _power_fault(state, now, effects)
