"""Simulated-time stepping: advance a simulated clock through every due time in order.

One concern: under a :class:`~station.clock.SimulatedClock` (tests, the demo), jump from one due
time of the state machine to the next (and every sensor step), ticking at each, so a long wait
takes no real time and no deadline is skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from station.clock import SimulatedClock
from station.machine import Tick, next_due

if TYPE_CHECKING:
    from station.controller import Controller


def advance(ctl: Controller, seconds: float) -> dict[str, Any]:
    """Step a simulated clock to each due time (and, with sensors, every sensor step)."""
    clock = ctl.clock
    assert isinstance(clock, SimulatedClock)
    target = clock.now().mono + seconds
    polled = ctl._polled_sensors()
    steps = 0
    while True:
        steps += 1
        mono = clock.now().mono
        due = next_due(ctl.state, ctl._context())
        nxt = target
        if due is not None and due < nxt:
            nxt = due
        if polled:
            nxt = min(nxt, mono + ctl.sensor_step_s)
        clock.advance(max(0.0, nxt - mono))
        ctl._poll_sensors()
        ctl._step(Tick())
        if clock.now().mono >= target:
            break
        if due is not None and due <= mono and next_due(ctl.state, ctl._context()) == due:
            raise RuntimeError(f"a due time ({due}) does not move after a tick")
        if steps >= 10_000_000:
            raise RuntimeError("too many steps while advancing the clock")
    return {"now": clock.now().iso(), "state": ctl.state.machine.value, "ticks": steps}
