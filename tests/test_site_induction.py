"""A site's own induction (issue 13, item 3), enforced at the station: on a kind whose fablab asks
for it, a member without it is denied with ``site_induction_needed`` whatever their level
elsewhere; staff are not asked. It reaches the station with the roster, over real HTTP, from
either backend. Property: nobody without the site's induction starts a session on such a kind,
unless staff."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from station.clock import SimulatedClock
from station.machine import Context, State, Tap, Tick, handle
from station.model import MachineState
from station.roster import Roster, parse_roster_csv
from station.store import Store
from station.sync import _write_roster
from tests.conftest import (
    AMINA,
    INES,
    LEA,
    MOUSSA,
    NOAH,
    SOFIANE,
    YANIS,
    make_config,
    sample_roster_text,
)
from tests.test_machine_properties import ROSTER, _check_invariants, inputs


def roster_requiring(kinds: set[str], had_it: dict[str, set[str]]) -> Roster:
    """The sample roster at a site that asks for its own induction on ``kinds``."""
    members = {
        mid: replace(m, site_inducted=frozenset(had_it.get(mid, set())))
        for mid, m in ROSTER.members.items()
    }
    return replace(ROSTER, members=members, site_induction_kinds=frozenset(kinds))


def ctx_for(tmp_path: Path, roster: Roster) -> Context:
    config = make_config(tmp_path)
    counter = itertools.count(1)
    return Context(config.machine, roster, lambda: f"s{next(counter)}", None)


def test_an_autonomous_member_without_the_site_induction_is_denied(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path, roster_requiring({"laser"}, {}))
    out = handle(State(), Tap(SOFIANE), SimulatedClock(mono=100.0).now(), ctx)
    assert out.decision is not None
    assert (out.decision["granted"], out.decision["reason"]) == (False, "site_induction_needed")
    assert out.decision["trainers"] == ["Inès"]  # who gives it: the educators
    assert out.state.machine is MachineState.AVAILABLE and not out.state.machine.relay_on
    denied = [e.data for e in out.events if e.type == "access_denied"]
    assert denied and denied[0]["reason"] == "site_induction_needed"


def test_with_the_site_induction_the_same_member_starts(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path, roster_requiring({"laser"}, {"sofiane": {"laser"}}))
    out = handle(State(), Tap(SOFIANE), SimulatedClock(mono=100.0).now(), ctx)
    assert out.state.machine is MachineState.IN_USE


def test_another_kinds_requirement_or_induction_changes_nothing(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path, roster_requiring({"cnc"}, {}))
    assert handle(State(), Tap(SOFIANE), SimulatedClock().now(), ctx).state.session is not None
    ctx = ctx_for(tmp_path, roster_requiring({"laser"}, {"sofiane": {"cnc"}}))
    out = handle(State(), Tap(SOFIANE), SimulatedClock().now(), ctx)
    assert out.decision is not None and out.decision["reason"] == "site_induction_needed"


@pytest.mark.parametrize("uid", [INES, YANIS])
def test_staff_are_not_asked(tmp_path: Path, uid: str) -> None:
    ctx = ctx_for(tmp_path, roster_requiring({"laser"}, {}))
    out = handle(State(), Tap(uid), SimulatedClock(mono=100.0).now(), ctx)
    assert out.state.machine is MachineState.IN_USE


def test_a_supervised_trainee_without_it_does_not_wait_for_a_mentor(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path, roster_requiring({"laser"}, {"moussa": {"laser"}}))
    clock = SimulatedClock(mono=100.0)
    out = handle(State(), Tap(LEA), clock.now(), ctx)
    assert out.decision is not None and out.decision["reason"] == "site_induction_needed"
    assert out.state.waiting is None
    clock.advance(5)
    out = handle(out.state, Tap(MOUSSA), clock.now(), ctx)  # the mentor's tap is his own
    assert out.state.session is not None and out.state.session.member_id == "moussa"


def test_no_handover_to_a_trainee_without_it(tmp_path: Path) -> None:
    """The mentor badged first; the supervised trainee without the induction cannot take over."""
    ctx = ctx_for(tmp_path, roster_requiring({"laser"}, {"moussa": {"laser"}}))
    clock = SimulatedClock(mono=100.0)
    state = handle(State(), Tap(MOUSSA), clock.now(), ctx).state
    clock.advance(5)
    out = handle(state, Tap(LEA), clock.now(), ctx)
    assert out.decision is not None and out.decision["reason"] == "site_induction_needed"
    assert out.state.session is not None and out.state.session.member_id == "moussa"


def test_at_level_none_the_learning_path_comes_first(tmp_path: Path) -> None:
    """Noah has no laser training: his next step is the quiz, not the fablab's induction."""
    ctx = ctx_for(tmp_path, roster_requiring({"laser"}, {}))
    out = handle(State(), Tap(NOAH), SimulatedClock().now(), ctx)
    assert out.decision is not None and out.decision["reason"] == "not_qualified"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.one_of(
            st.sampled_from([Tap(SOFIANE), Tap(LEA), Tap(MOUSSA), Tap(INES), Tap(AMINA)]), inputs
        ),
        max_size=40,
    ),
    had_it=st.sets(st.sampled_from(["sofiane", "lea", "moussa", "amina", "noah"])),
    required=st.booleans(),
)
def test_nobody_without_the_site_induction_starts_a_session_unless_staff(
    tmp_path_factory: Any, steps: list[object], had_it: set[str], required: bool
) -> None:
    roster = roster_requiring({"laser"} if required else set(), {m: {"laser"} for m in had_it})
    ctx = ctx_for(tmp_path_factory.mktemp("s"), roster)
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
            member = roster.member(e.data["member_id"])
            assert member is not None
            if required and not member.role.is_staff:
                assert member.id in had_it, f"{member.id} started without the site's induction"
                event("a site-inducted trainee started")


# The roster reply carries it: the store, the station's tables, old and new on either side.


def _station_roster(tmp_path: Path, *replies: dict[str, Any]) -> Roster:
    store = Store(tmp_path / "station.sqlite", "laser-s1", "laser-1")
    try:
        for reply in replies:
            with store.db.conn:
                _write_roster(store.db.conn, reply)
        return store.roster()
    finally:
        store.close()


def _central_at_two_sites(central_store: Any) -> None:
    central_store.import_roster(parse_roster_csv(sample_roster_text()))
    central_store.add_site("sarcelles", "Fablab de Sarcelles")
    central_store.add_station("laser-s1", kind="laser")
    central_store.move_station("laser-s1", "sarcelles")
    central_store.add_station("laser-g1", kind="laser")  # at the default site


def test_the_roster_says_what_the_stations_site_asks_for(central_store: Any) -> None:
    _central_at_two_sites(central_store)
    central_store.set_induction_required("sarcelles", "laser", True)
    central_store.set_induction_required("sarcelles", "cnc", True)
    central_store.record_site_induction("sofiane", "sarcelles", "laser", "ines")
    central_store.record_site_induction("lea", "sarcelles", "cnc", "ines")
    at_sarcelles = central_store.roster_changes(0, "laser-s1")["site_induction"]
    assert at_sarcelles == {
        "site": "sarcelles",
        "required": ["laser"],
        "inducted": [["sofiane", "laser"]],
    }
    at_gonesse = central_store.roster_changes(0, "laser-g1")["site_induction"]
    assert at_gonesse == {"site": "default", "required": [], "inducted": []}
    assert "site_induction" not in central_store.roster_changes(0)  # no station: nothing


def test_a_site_induction_moves_the_roster_version(central_store: Any) -> None:
    _central_at_two_sites(central_store)
    central_store.set_induction_required("sarcelles", "laser", True)
    before = central_store.roster_version()
    central_store.record_site_induction("lea", "sarcelles", "laser", "ines")
    after = central_store.roster_version()
    assert after > before
    changes = central_store.roster_changes(before, "laser-s1")
    assert changes["site_induction"]["inducted"] == [["lea", "laser"]]


def test_the_station_keeps_it_and_an_old_store_asks_nothing_extra(
    tmp_path: Path, central_store: Any
) -> None:
    _central_at_two_sites(central_store)
    central_store.set_induction_required("sarcelles", "laser", True)
    central_store.record_site_induction("sofiane", "sarcelles", "laser", "ines")
    full = central_store.roster_changes(0, "laser-s1")
    roster = _station_roster(tmp_path / "a", full)
    assert roster.site_induction_kinds == {"laser"}
    assert roster.site_inducted("sofiane", "laser") and not roster.site_inducted("lea", "laser")
    # The same reply from a store before sites (no field): the station requires nothing extra.
    old = {k: v for k, v in full.items() if k != "site_induction"}
    roster = _station_roster(tmp_path / "b", full, old)
    assert roster.site_induction_kinds == frozenset()
    assert roster.site_inducted("lea", "laser")


def test_bad_site_induction_fields_are_dropped_not_fatal(tmp_path: Path) -> None:
    full = {
        "version": 1,
        "full": True,
        "members": [{"id": "lea", "name": "Léa", "role": "trainee"}],
        "site_induction": {"required": ["laser", 3, "a,b"], "inducted": [["lea"], "x", ["lea", 4]]},
    }
    roster = _station_roster(tmp_path, full)
    assert roster.site_induction_kinds == {"laser"}
    assert not roster.site_inducted("lea", "laser")


def test_an_old_station_database_gains_the_column(tmp_path: Path) -> None:
    path = tmp_path / "station.sqlite"
    Store(path, "laser-s1", "laser-1").close()
    with sqlite3.connect(path) as db:
        columns = {r[1] for r in db.execute("PRAGMA table_info(members)")}
    assert "site_inducted" in columns


# Over real HTTP: a station syncing with a central test server, then the tap decision.


@pytest.fixture
def server(tmp_path: Path, central_store: Any) -> Iterator[Any]:
    from tests.test_central_helpers import CentralServer, central_config

    s = CentralServer(central_config(tmp_path), central_store)
    try:
        yield s
    finally:
        s.stop()


def test_over_http_the_station_enforces_its_sites_induction(tmp_path: Path, server: Any) -> None:
    from tests.test_central_helpers import station_config, wait_for
    from tests.test_sync_station import Station

    store = server.store
    store.import_roster(parse_roster_csv(sample_roster_text()))
    store.add_site("sarcelles", "Fablab de Sarcelles")
    token = store.add_station("laser-s1", kind="laser")
    store.move_station("laser-s1", "sarcelles")
    store.set_induction_required("sarcelles", "laser", True)
    station = Station(station_config(tmp_path, "laser-s1", server.url, token, interval=1.0))
    try:
        wait_for(lambda: station.roster_version() == store.roster_version(), 10, "a first sync")
        decision = station.tap(SOFIANE)
        assert (decision["granted"], decision["reason"]) == (False, "site_induction_needed")
        station.controller.advance(5)  # past the repeat-tap guard
        assert station.tap(INES)["granted"]  # staff are not asked
        station.controller.advance(5)
        assert station.tap(INES)["action"] == "session_ended"
        station.controller.advance(5)
        store.record_site_induction("sofiane", "sarcelles", "laser", "ines")
        wait_for(lambda: station.roster_version() == store.roster_version(), 10, "the induction")
        decision = station.tap(SOFIANE)
        assert decision["granted"], decision
    finally:
        station.stop()
