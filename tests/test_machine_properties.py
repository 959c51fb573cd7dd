"""Property tests: random taps, ticks, buttons and commands never break the station's promises.

- the relay is on only in ``in_use`` (or ``finishing``), and a session exists exactly then;
- every session that starts ends exactly once, none is lost or duplicated;
- machine state changes chain (each ``from`` is the previous ``to``);
- stored through the real SQLite store, ``seq`` is gap-free and projections agree with the log;
- the relay is never on in ``fault``; only staff clear a power-without-permission fault;
- a repeat tap within the guard changes nothing; a trainee's tap during a grant gesture never
  ends her session; a supervised session never starts without its checklist when there is one.
"""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station.clock import SimulatedClock
from station.config import Config
from station.machine import (
    POWER_FAULT,
    WATCHED_STATES,
    AirSample,
    ButtonHold,
    ButtonPress,
    Command,
    Context,
    Outcome,
    PowerSample,
    State,
    Tap,
    Tick,
    handle,
)
from station.metering import MeteringConfig
from station.model import MachineState
from station.ports import AirReading, PowerReading
from station.roster import Roster, parse_roster_csv
from station.store import Store
from tests.conftest import (
    AMINA,
    INES,
    LEA,
    MOUSSA,
    NOAH,
    SOFIANE,
    UNKNOWN,
    YANIS,
    make_config,
    sample_roster_text,
)

UIDS = [SOFIANE, LEA, MOUSSA, INES, YANIS, AMINA, NOAH, UNKNOWN]

inputs = st.one_of(
    st.sampled_from(UIDS).map(Tap),
    st.sampled_from(UIDS).map(lambda uid: ("double", uid)),
    st.floats(min_value=0, max_value=4000, allow_nan=False).map(lambda s: ("wait", s)),
    st.just(ButtonPress()),
    st.floats(min_value=0, max_value=500).map(lambda w: PowerSample(PowerReading(watts=w))),
    st.floats(min_value=0, max_value=120).map(lambda p: AirSample(AirReading(pm25=p))),
    st.just(ButtonHold()),
    st.sampled_from(
        [
            Command("out_of_service", by="yanis", reason="panne"),
            Command("back_in_service", by="yanis"),
            Command("clear_check", by="yanis"),
            Command("end_session", by="yanis"),
            Command("confirm_checklist", by="kiosk"),
            Command("cancel_checklist", by="kiosk"),
            Command("report_problem", by="kiosk", reason="noise", to_check=True),
        ]
    ),
)


def _roster() -> Roster:
    parsed = parse_roster_csv(sample_roster_text())
    return Roster(
        {m.id: m for m in parsed.members},
        {b.uid: b for b in parsed.badges},
        {(q.member_id, q.kind): q for q in parsed.qualifications},
    )


ROSTER = _roster()


def _check_invariants(state: State) -> None:
    assert state.machine.relay_on == (
        state.machine in (MachineState.IN_USE, MachineState.FINISHING)
    )
    assert (state.session is not None) == (state.machine is MachineState.IN_USE)
    assert (state.finishing is not None) == (state.machine is MachineState.FINISHING)
    if state.waiting is not None or state.pending is not None:
        assert state.machine is MachineState.AVAILABLE
    if state.machine is MachineState.FAULT:
        assert not state.machine.relay_on and state.session is None
    if state.unpermitted_since is not None:
        assert state.machine in WATCHED_STATES and not state.machine.relay_on


def _member_of(uid: str) -> str | None:
    badge = ROSTER.badge(uid)
    return badge.member_id if badge else None


def _check_step(before: State, inp: object, out: Outcome, checklist: bool) -> None:
    """Promises about one input: what it may change, given the state it met."""
    types = [e.type for e in out.events]
    if before.machine is MachineState.FAULT and before.reason == POWER_FAULT:
        if out.state.machine is not MachineState.FAULT:
            staff_tap = isinstance(inp, Tap) and inp.uid in (INES, YANIS)
            command = isinstance(inp, Command) and inp.action == "clear_check"
            assert staff_tap or command, "only staff clear a power-without-permission fault"
    if isinstance(inp, Tap) and before.grant is not None:
        if _member_of(inp.uid) == before.grant.trainee_id and before.session is not None:
            ended = [e.data for e in out.events if e.type == "session_ended"]
            assert not ended, "a tap during a grant gesture ended the trainee's session"
    if checklist:
        for i, e in enumerate(out.events):
            if e.type == "session_started" and e.data["supervisor_id"] is not None:
                assert "checklist_confirmed" in types[:i], (
                    "a supervised start skipped its checklist"
                )


scenarios = given(
    steps=st.lists(inputs, max_size=40),
    check_after_use=st.booleans(),
    checklist=st.booleans(),
    sensors=st.booleans(),
    cuts=st.booleans(),
)
"""Random inputs on a random station (:func:`random_config`)."""


def random_config(
    tmp: Path, check_after_use: bool, checklist: bool, sensors: bool, cuts: bool
) -> Config:
    """A station with or without a checklist, a check after use, sensors and an air alarm."""
    return make_config(
        tmp,
        needs_check_after_use=check_after_use,
        checklist=["Lunettes"] if checklist else [],
        max_session_min=30,
        warn_before_min=5,
        sensors=(
            {"power_meter": "pzem-emulated", "air_sensor": "sds011-emulated"} if sensors else None
        ),
        **(
            {
                "idle_off_min": 10,
                "keep_on_while_busy": True,
                "pm25_alarm": 50.0,
                "air_alarm_cuts_power": cuts,
            }
            if sensors
            else {}
        ),
    )


def random_context(config: Config, sensors: bool) -> tuple[Context, SimulatedClock]:
    """The decision context of a station from :func:`random_config`, and its clock."""
    counter = itertools.count(1)
    metering = MeteringConfig(busy_watts=config.machine.busy_watts) if sensors else None
    ctx = Context(config.machine, ROSTER, lambda: f"s{next(counter)}", metering)
    return ctx, SimulatedClock(mono=100.0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@scenarios
def test_random_inputs_keep_the_promises(
    steps: list[object], check_after_use: bool, checklist: bool, sensors: bool, cuts: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = random_config(Path(tmp), check_after_use, checklist, sensors, cuts)
        ctx, clock = random_context(config, sensors)
        store = Store(config.db_path, "laser-1", "laser-1")
        try:
            state = State()
            events: list[tuple[str, dict]] = []

            def apply(inp: object) -> Outcome:
                nonlocal state
                before = state
                out = handle(state, inp, clock.now(), ctx)  # type: ignore[arg-type]
                state = out.state
                _check_invariants(state)
                _check_step(before, inp, out, checklist)
                records = [(e.type, e.data) for e in out.events]
                store.append(records, clock.now(), clock.boot_id)
                events.extend(records)
                return out

            for step in steps:
                if isinstance(step, tuple) and step[0] == "double":
                    first = apply(Tap(step[1]))
                    before = state
                    again = apply(Tap(step[1]))  # the same card, read again at once
                    assert first.decision is not None and again.decision is not None
                    if first.decision["action"] != "denied":
                        assert again.decision["action"] == "repeat_tap"
                        assert again.events == [] and again.effects == []
                        assert replace(again.state, recent_taps=()) == replace(
                            before, recent_taps=()
                        ), "a repeat tap within the guard changed the state"
                elif isinstance(step, tuple):
                    clock.advance(step[1])
                    apply(Tick())
                else:
                    apply(step)

            started = [d["session_id"] for t, d in events if t == "session_started"]
            ended = [d["session_id"] for t, d in events if t == "session_ended"]
            assert len(started) == len(set(started)), "a session id was reused"
            assert len(ended) == len(set(ended)), "a session ended twice"
            open_ids = set(started) - set(ended)
            assert set(ended) <= set(started), "a session ended that never started"
            assert len(open_ids) == (1 if state.session else 0)
            if state.session:
                assert open_ids == {state.session.id}

            finishing = {
                d["session_id"] for t, d in events if t == "session_ended" and d.get("finishing")
            }
            finished = [d["session_id"] for t, d in events if t == "finishing_ended"]
            assert len(finished) == len(set(finished)) and set(finished) <= finishing
            assert len(finishing - set(finished)) == (1 if state.finishing else 0)

            previous = "available"
            for t, d in events:
                if t == "machine_state_changed":
                    assert d["from"] == previous
                    previous = d["to"]
            assert previous == state.machine.value

            seqs = [e["seq"] for e in store.events()]
            assert seqs == list(range(1, len(events) + 1))
            rows = store.sessions(limit=10_000)
            assert {r["id"] for r in rows} == set(started)
            assert {r["id"] for r in rows if r["ended_at"] is None} == open_ids
            assert store.machine_state()[0] is state.machine
        finally:
            store.close()
