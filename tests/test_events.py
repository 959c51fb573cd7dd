"""station/events.py: every event the station writes has its one definition, and docs follow it."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, get_args

from hypothesis import HealthCheck, settings

from station import events
from station.controller import Controller, restart_records
from station.machine import State, Tap, Tick, handle
from tests.conftest import SOFIANE, UNKNOWN
from tests.test_machine_properties import random_config, random_context, scenarios

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "events.md"


def test_the_record_type_names_exactly_the_defined_events() -> None:
    """``Record``'s type is the Literal ``EventType``: mypy refuses a type not defined here."""
    assert set(get_args(events.EventType)) == set(events.EVENTS) == events.EVENT_TYPES
    assert {"session_started", "station_started", "command_applied"} <= events.EVENT_TYPES


def test_every_event_type_says_when_it_is_written_and_has_fields() -> None:
    for type_, td in events.EVENTS.items():
        assert td.__doc__ and len(td.__doc__.split()) >= 5, f"{type_} needs a docstring"
        assert events.fields(type_), type_


def test_validate_names_the_field_and_what_was_expected() -> None:
    ok = {"session_id": "s1", "member_id": "lea"}
    assert events.validate("heartbeat", ok, complete=True) == []
    (problem,) = events.validate("heartbeat", {"session_id": 42, "member_id": "lea"})
    assert "heartbeat.session_id" in problem and "text" in problem and "42" in problem
    (problem,) = events.validate("heartbeat", {"member_id": "lea"}, complete=True)
    assert problem == "heartbeat.session_id is missing (expected text)"
    assert "is not an event type" in events.validate("heartbeat_forged", ok)[0]


def test_validate_lets_through_what_a_station_may_legitimately_send() -> None:
    # Fields it does not know (a newer station), null (a NaN the station scrubbed), whole numbers
    # where a number is expected, and an event written before an optional field existed.
    assert events.validate("heartbeat", {**{"session_id": "s1"}, "new_field": [1]}) == []
    assert events.validate("power_without_permission", {"watts": None, "seconds": 3}) == []
    ended = {
        "session_id": "s1",
        "member_id": "lea",
        "supervisor_id": None,
        "end_reason": "badge_out",
        "by": "lea",
        "started_at": "2026-03-02T10:00:00.000Z",
        "ended_at": "2026-03-02T10:30:00.000Z",
        "duration_s": 1800,
        "enabled_s": 1800.0,
        "extensions": 0,
    }
    assert events.validate("session_ended", ended, complete=True) == []
    # ...but not a bool for a number, nor null where the station always writes a value.
    assert events.validate("session_ended", {**ended, "duration_s": True})
    assert events.validate("session_ended", {**ended, "member_id": None}, complete=True)
    assert events.validate("session_ended", {**ended, "member_id": None}) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@scenarios
def test_every_event_the_state_machine_writes_has_its_shape(
    steps: list[object], check_after_use: bool, checklist: bool, sensors: bool, cuts: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = random_config(Path(tmp), check_after_use, checklist, sensors, cuts)
    ctx, clock = random_context(config, sensors)
    state = State()
    for step in steps:
        if isinstance(step, tuple) and step[0] == "double":
            todo: list[Any] = [Tap(step[1]), Tap(step[1])]
        elif isinstance(step, tuple):
            clock.advance(step[1])
            todo = [Tick()]
        else:
            todo = [step]
        for inp in todo:
            out = handle(state, inp, clock.now(), ctx)
            state = out.state
            for e in out.events:
                assert events.validate(e.type, e.data, complete=True) == [], (e.type, e.data)


def test_the_controller_writes_its_own_events_complete(controller: Controller) -> None:
    from station.enrol import enrol_badge

    enrol_badge(controller, UNKNOWN, "lea", by="yanis")
    assert controller.call(Tap(SOFIANE))["granted"]
    controller.clock.advance(30)  # type: ignore[attr-defined]
    assert controller.call(Tap(SOFIANE))["action"] == "session_ended"
    store = controller.store
    assert store is not None
    written = controller.run_in_loop(lambda: list(store.events()))
    assert {"station_started", "badge_enrolled", "session_started", "session_ended"} <= {
        e["type"] for e in written
    }
    for e in written:
        assert events.validate(e["type"], e["data"], complete=True) == [], e


def test_a_session_a_crash_left_open_is_closed_with_complete_events() -> None:
    open_session = {
        "id": "s1",
        "member_id": "lea",
        "supervisor_id": None,
        "started_at": "2026-03-02T10:00:00.000Z",
        "last_heartbeat_at": "2026-03-02T10:05:00.000Z",
        "extensions": 1,
    }
    for needs_check in (False, True):
        for type_, data in restart_records(open_session, needs_check):
            assert events.validate(type_, data, complete=True) == [], (type_, data)


def test_docs_events_md_is_generated_from_the_module() -> None:
    fresh = subprocess.run(
        [sys.executable, "-m", "station.events"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert DOC.read_text("utf-8") == fresh, (
        "docs/events.md is stale: run `python -m station.events > docs/events.md`"
    )
    for type_ in events.EVENT_TYPES:
        assert f"## `{type_}`" in fresh
    assert "| `duration_s` | number | yes |" in fresh
