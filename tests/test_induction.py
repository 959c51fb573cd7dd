"""The learning path's first step at the machine: a trainee at level ``none`` who passed the
induction quiz waits for a supervisor like a ``supervised`` one; without it she is told the next
step. Property: nobody at ``none`` ever uses the machine without the induction and a supervisor."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from station.clock import SimulatedClock
from station.machine import Context, State, Tap, Tick, handle
from station.model import Level, MachineState
from station.roster import Roster
from tests.conftest import AMINA, INES, MOUSSA, NOAH, make_config, open_central_store
from tests.test_machine_properties import ROSTER, _check_invariants, inputs


def roster_with(inducted: dict[str, frozenset[str]]) -> Roster:
    members = {
        mid: replace(m, inducted=inducted.get(mid, frozenset()))
        for mid, m in ROSTER.members.items()
    }
    return replace(ROSTER, members=members)


def ctx_for(tmp_path: object, roster: Roster) -> Context:
    config = make_config(tmp_path)  # type: ignore[arg-type]
    counter = itertools.count(1)
    return Context(config.machine, roster, lambda: f"s{next(counter)}", None)


def test_an_inducted_trainee_starts_with_a_mentor(tmp_path: object) -> None:
    ctx = ctx_for(tmp_path, roster_with({"noah": frozenset({"laser"})}))
    clock = SimulatedClock(mono=100.0)
    out = handle(State(), Tap(NOAH), clock.now(), ctx)
    assert out.decision is not None and out.decision["action"] == "waiting_for_supervisor"
    assert out.state.waiting is not None and not out.state.machine.relay_on
    clock.advance(5)
    out = handle(out.state, Tap(MOUSSA), clock.now(), ctx)
    assert out.state.machine is MachineState.IN_USE
    assert out.state.session is not None
    assert (out.state.session.member_id, out.state.session.supervisor_id) == ("noah", "moussa")


def test_without_the_induction_the_denial_names_the_next_step(tmp_path: object) -> None:
    ctx = ctx_for(tmp_path, roster_with({"noah": frozenset({"cnc"})}))  # another kind's quiz
    out = handle(State(), Tap(NOAH), SimulatedClock(mono=100.0).now(), ctx)
    assert out.decision is not None
    assert (out.decision["reason"], out.decision["next_step"]) == ("not_qualified", "induction")
    assert out.state.waiting is None


def test_an_inducted_trainee_alone_is_never_admitted(tmp_path: object) -> None:
    ctx = ctx_for(tmp_path, roster_with({"noah": frozenset({"laser"})}))
    clock = SimulatedClock(mono=100.0)
    state = handle(State(), Tap(NOAH), clock.now(), ctx).state
    clock.advance(ctx.machine.co_badge_window_s + 1)
    out = handle(state, Tick(), clock.now(), ctx)
    assert out.state.waiting is None and out.state.machine is MachineState.AVAILABLE


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.one_of(st.sampled_from([Tap(NOAH), Tap(AMINA), Tap(MOUSSA), Tap(INES)]), inputs),
        max_size=40,
    ),
    noah=st.booleans(),
    amina=st.booleans(),
)
def test_nobody_at_none_uses_the_machine_without_induction_and_supervisor(
    tmp_path_factory: object, steps: list[object], noah: bool, amina: bool
) -> None:
    inducted = {
        "noah": frozenset({"laser"}) if noah else frozenset(),
        "amina": frozenset({"laser"}) if amina else frozenset(),
    }
    roster = roster_with(inducted)
    ctx = ctx_for(tmp_path_factory.mktemp("s"), roster)  # type: ignore[attr-defined]
    clock = SimulatedClock(mono=100.0)
    state = State()
    for step in steps:
        if isinstance(step, tuple) and step[0] == "double":
            step = Tap(step[1])
        if isinstance(step, tuple):
            clock.advance(step[1])
            step = Tick()
        out = handle(state, step, clock.now(), ctx)  # type: ignore[arg-type]
        state = out.state
        _check_invariants(state)
        for e in out.events:
            if e.type != "session_started":
                continue
            member = e.data["member_id"]
            if (
                roster.level(member, "laser") is Level.NONE
                and not roster.member(member).role.is_staff
            ):  # type: ignore[union-attr]
                assert roster.inducted(member, "laser"), f"{member} started without induction"
                assert e.data["supervisor_id"], f"{member} at none started alone"
                event("an inducted trainee started with a supervisor")


def test_a_pass_reaches_the_station_with_the_roster(tmp_path: Path) -> None:
    """Central store → roster changes → the station's roster cache: Noah is inducted on laser."""
    from central.quiz import SAMPLE
    from station.roster import parse_roster_csv
    from station.store import Store
    from station.sync import _write_roster
    from tests.conftest import sample_roster_text

    central = open_central_store(tmp_path / "central.sqlite")
    station = Store(tmp_path / "station.sqlite", "laser-1", "laser-1")
    try:
        central.import_roster(parse_roster_csv(sample_roster_text()))
        full = central.roster_changes(0)
        assert full is not None
        with station._transaction() as conn:
            _write_roster(conn, full)
        assert not station.roster().inducted("noah", "laser")
        version = central.save_quiz("laser", SAMPLE, by="ines", at="t")
        assert central.record_quiz_pass("noah", "laser", at="t", correct=4, total=4,
                                        version=version)  # fmt: skip
        changes = central.roster_changes(full["version"])
        assert changes is not None and not changes["full"]
        assert [(m["id"], m["inducted"]) for m in changes["members"]] == [("noah", ["laser"])]
        with station._transaction() as conn:
            _write_roster(conn, changes)
        roster = station.roster()
        assert roster.inducted("noah", "laser") and not roster.inducted("noah", "cnc")
        assert not roster.inducted("amina", "laser")
    finally:
        central.close()
        station.close()
