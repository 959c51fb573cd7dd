"""The pure state machine: access decisions, sessions, supervision, grants, checks, commands."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from station.clock import SimulatedClock
from station.machine import (
    ButtonHold,
    ButtonPress,
    Command,
    Context,
    Input,
    Outcome,
    State,
    Tap,
    Tick,
    handle,
    next_due,
)
from station.model import Badge, MachineState, Member, Role
from station.roster import Roster
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
    make_context,
)


class Sim:
    """Drives the pure state machine with a simulated clock and keeps every event."""

    def __init__(self, ctx: Context, clock: SimulatedClock, state: State | None = None) -> None:
        self.ctx, self.clock = ctx, clock
        self.state = state or State()
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.cues: list[str] = []

    def send(self, inp: Input) -> Outcome:
        out = handle(self.state, inp, self.clock.now(), self.ctx)
        self.state = out.state
        self.events += [(e.type, e.data) for e in out.events]
        self.cues += [e.name for e in out.effects if hasattr(e, "name")]
        return out

    def tap(self, uid: str) -> dict[str, Any]:
        decision = self.send(Tap(uid)).decision
        assert decision is not None
        return decision

    def wait(self, seconds: float) -> None:
        """Advance, delivering a tick at every due time on the way (as the controller does)."""
        target = self.clock.now().mono + seconds
        while (due := next_due(self.state, self.ctx)) is not None and due <= target:
            self.clock.advance(max(0.0, due - self.clock.now().mono))
            self.send(Tick())
        self.clock.advance(target - self.clock.now().mono)
        self.send(Tick())

    def types(self) -> list[str]:
        return [t for t, _ in self.events]

    def last(self, type_: str) -> dict[str, Any]:
        return [d for t, d in self.events if t == type_][-1]


@pytest.fixture
def sim(tmp_path: Path, roster: Roster, clock: SimulatedClock) -> Sim:
    return Sim(make_context(make_config(tmp_path), roster), clock)


def sim_with(tmp_path: Path, roster: Roster, clock: SimulatedClock, **machine: Any) -> Sim:
    return Sim(make_context(make_config(tmp_path, **machine), roster), clock)


# --- access decisions ---------------------------------------------------------------------------


def test_autonomous_trainee_starts_a_session(sim: Sim) -> None:
    d = sim.tap(SOFIANE)
    assert d["granted"] is True and d["action"] == "session_started"
    assert sim.state.machine is MachineState.IN_USE and sim.state.machine.relay_on
    assert sim.state.session is not None and sim.state.session.member_id == "sofiane"
    assert sim.types() == ["session_started", "machine_state_changed"]
    assert d["member_name"] == "Sofiane"  # first name only: it reaches a public screen


@pytest.mark.parametrize(
    ("uid", "reason"),
    [(UNKNOWN, "unknown_badge"), (NOAH, "not_qualified"), (AMINA, "not_qualified")],
)
def test_denials(sim: Sim, uid: str, reason: str) -> None:
    d = sim.tap(uid)
    assert d["granted"] is False and d["reason"] == reason
    assert sim.state.machine is MachineState.AVAILABLE
    assert sim.last("access_denied")["reason"] == reason
    assert sim.cues == ["deny"]


def test_not_qualified_names_who_can_help(sim: Sim) -> None:
    d = sim.tap(NOAH)
    # The mentor for lasers first, then educators: the kiosk says whom to ask.
    assert d["helpers"] == ["Moussa", "Inès"]


def test_inactive_badge_and_member(tmp_path: Path, roster: Roster, clock: SimulatedClock) -> None:
    badges = dict(roster.badges)
    badges[SOFIANE] = replace(badges[SOFIANE], active=False)
    members = dict(roster.members)
    members["moussa"] = replace(members["moussa"], active=False)
    r = replace(roster, badges=badges, members=members)
    sim = Sim(make_context(make_config(tmp_path), r), clock)
    assert sim.tap(SOFIANE)["reason"] == "badge_inactive"
    assert sim.tap(MOUSSA)["reason"] == "member_inactive"


def test_staff_may_use_any_machine(sim: Sim) -> None:
    assert sim.tap(YANIS)["granted"] is True
    assert sim.state.session is not None and sim.state.session.member_id == "yanis"


def test_roster_expired_admits_staff_only(sim: Sim) -> None:
    sim.ctx = replace(sim.ctx, roster=replace(sim.ctx.roster, expires_mono=0.0))
    assert sim.tap(SOFIANE)["reason"] == "roster_expired"
    assert sim.tap(INES)["granted"] is True


# --- sessions -----------------------------------------------------------------------------------


def test_tap_again_ends_the_session(sim: Sim) -> None:
    sim.tap(SOFIANE)
    sim.wait(125)
    d = sim.tap(SOFIANE)
    assert d["action"] == "session_ended"
    assert sim.state.machine is MachineState.AVAILABLE and not sim.state.machine.relay_on
    ended = sim.last("session_ended")
    assert ended["end_reason"] == "badge_out" and ended["duration_s"] == 125
    assert sim.types().count("heartbeat") == 4  # every 30 s while the session runs


def test_warning_then_timeout(sim: Sim) -> None:
    sim.tap(SOFIANE)
    sim.wait(55 * 60 - 1)
    assert "session_warned" not in sim.types()
    sim.wait(1)
    assert sim.last("session_warned")["remaining_s"] == 300
    assert sim.state.session is not None and sim.state.session.warned
    sim.wait(300)
    assert sim.last("session_ended")["end_reason"] == "timeout"
    assert sim.last("session_ended")["duration_s"] == 3600
    assert sim.state.machine is MachineState.AVAILABLE


def test_timeout_is_recorded_at_the_due_time_even_when_ticks_are_late(sim: Sim) -> None:
    sim.tap(SOFIANE)
    sim.clock.advance(2 * 3600)  # the station was busy; one late tick
    sim.send(Tick())
    assert sim.last("session_ended")["duration_s"] == 3600


def test_tap_during_warning_extends(sim: Sim) -> None:
    sim.tap(SOFIANE)
    sim.wait(56 * 60)
    d = sim.tap(SOFIANE)
    assert d["action"] == "session_extended"
    assert sim.state.session is not None and not sim.state.session.warned
    sim.wait(4 * 60 + 25 * 60)  # past the first end, before the extended one's warning
    assert sim.state.machine is MachineState.IN_USE
    sim.wait(10 * 60)
    assert sim.last("session_ended")["end_reason"] == "timeout"
    assert sim.last("session_ended")["duration_s"] == 90 * 60


def test_button_extends_during_warning_and_hold_stops(sim: Sim) -> None:
    sim.tap(SOFIANE)
    assert sim.send(ButtonPress()).events == []  # no warning yet: a press does nothing
    sim.wait(56 * 60)
    sim.send(ButtonPress())
    assert sim.last("session_extended")["by"] == "button"
    sim.send(ButtonHold())
    assert sim.last("session_ended")["end_reason"] == "badge_out"
    assert sim.last("session_ended")["by"] == "button"


def test_other_trainee_cannot_take_over(sim: Sim) -> None:
    sim.tap(SOFIANE)
    d = sim.tap(MOUSSA)
    assert d["reason"] == "machine_in_use" and d["in_use_by"] == "Sofiane"
    assert sim.state.session is not None and sim.state.session.member_id == "sofiane"


def test_staff_takeover(sim: Sim) -> None:
    sim.tap(SOFIANE)
    d = sim.tap(YANIS)
    assert d["action"] == "takeover"
    assert sim.last("session_ended")["end_reason"] == "takeover"
    assert sim.state.session is not None and sim.state.session.member_id == "yanis"
    assert sim.state.machine is MachineState.IN_USE


# --- supervision ----------------------------------------------------------------------------------


def test_supervised_trainee_waits_for_mentor(sim: Sim) -> None:
    d = sim.tap(LEA)
    assert d["granted"] is False and d["reason"] == "needs_supervisor" and d["waiting"]
    assert sim.state.machine is MachineState.AVAILABLE and sim.state.waiting is not None
    sim.wait(30)
    d = sim.tap(MOUSSA)
    assert d["granted"] is True
    s = sim.state.session
    assert s is not None and s.member_id == "lea" and s.supervisor_id == "moussa"
    assert sim.last("session_started")["supervisor_id"] == "moussa"


def test_educator_may_supervise(sim: Sim) -> None:
    sim.tap(LEA)
    sim.tap(INES)
    assert sim.state.session is not None and sim.state.session.supervisor_id == "ines"


def test_co_badge_window_expires(sim: Sim) -> None:
    sim.tap(LEA)
    sim.wait(61)
    assert sim.state.waiting is None
    assert sim.last("access_denied")["reason"] == "needs_supervisor"
    d = sim.tap(MOUSSA)  # too late: the mentor's tap is now their own session
    assert d["granted"] and sim.state.session is not None
    assert sim.state.session.member_id == "moussa"


def test_a_non_mentor_cannot_supervise(sim: Sim) -> None:
    sim.tap(LEA)
    sim.tap(SOFIANE)  # autonomous, not a mentor: starts their own session instead
    assert sim.state.session is not None and sim.state.session.member_id == "sofiane"
    assert sim.state.session.supervisor_id is None


def test_mentor_first_then_trainee_hands_the_session_over(sim: Sim) -> None:
    sim.tap(MOUSSA)
    sim.wait(20)
    d = sim.tap(LEA)
    assert d["granted"] is True
    s = sim.state.session
    assert s is not None and s.member_id == "lea" and s.supervisor_id == "moussa"
    assert sim.last("session_ended")["end_reason"] == "handover"
    assert sim.state.machine is MachineState.IN_USE


def test_handover_only_within_the_window(sim: Sim) -> None:
    sim.tap(MOUSSA)
    sim.wait(61)
    assert sim.tap(LEA)["reason"] == "machine_in_use"


# --- the grant gesture -------------------------------------------------------------------------


def test_grant_needs_two_supervisor_taps_then_the_trainee(sim: Sim) -> None:
    sim.tap(LEA)
    sim.tap(MOUSSA)
    d1 = sim.tap(MOUSSA)
    assert d1["action"] == "grant_confirm_supervisor"
    d2 = sim.tap(MOUSSA)
    assert d2["action"] == "grant_awaiting_trainee" and d2["trainee_name"] == "Léa"
    d3 = sim.tap(LEA)
    assert d3["action"] == "qualification_granted"
    g = sim.last("qualification_granted")
    assert (g["member_id"], g["kind"], g["level"], g["granted_by"]) == (
        "lea",
        "laser",
        "autonomous",
        "moussa",
    )
    assert sim.state.machine is MachineState.IN_USE  # the session goes on


def test_trainee_tap_after_one_supervisor_tap_ends_the_session_not_grants(sim: Sim) -> None:
    sim.tap(LEA)
    sim.tap(MOUSSA)
    sim.tap(MOUSSA)
    sim.tap(LEA)
    assert "qualification_granted" not in sim.types()
    assert sim.last("session_ended")["end_reason"] == "badge_out"


def test_grant_steps_expire(sim: Sim) -> None:
    sim.tap(LEA)
    sim.tap(MOUSSA)
    sim.tap(MOUSSA)
    sim.tap(MOUSSA)
    sim.wait(21)
    assert sim.state.grant is None
    sim.tap(LEA)
    assert "qualification_granted" not in sim.types()


# --- to_check, out of service, commands ----------------------------------------------------------


def test_check_after_use(tmp_path: Path, roster: Roster, clock: SimulatedClock) -> None:
    sim = sim_with(tmp_path, roster, clock, needs_check_after_use=True)
    sim.tap(SOFIANE)
    sim.tap(SOFIANE)
    assert sim.state.machine is MachineState.TO_CHECK
    assert sim.tap(SOFIANE)["reason"] == "to_check"
    assert sim.tap(MOUSSA)["action"] == "check_cleared"  # a mentor for lasers may clear it
    assert sim.state.machine is MachineState.AVAILABLE
    assert sim.last("machine_state_changed")["by"] == "moussa"


def test_out_of_service_ends_the_session_and_refuses_taps(sim: Sim) -> None:
    sim.tap(SOFIANE)
    r = sim.send(Command("out_of_service", by="yanis", reason="Lentille fendue")).decision
    assert r is not None and r["ok"]
    assert sim.last("session_ended")["end_reason"] == "technician"
    assert sim.state.machine is MachineState.OUT_OF_SERVICE
    assert sim.state.reason == "Lentille fendue"
    d = sim.tap(YANIS)
    assert d["reason"] == "out_of_service" and d["machine_reason"] == "Lentille fendue"
    sim.send(Command("back_in_service", by="yanis"))
    assert sim.state.machine is MachineState.AVAILABLE


def test_commands_refuse_what_does_not_apply(sim: Sim) -> None:
    for cmd in (
        Command("out_of_service", by="yanis"),
        Command("back_in_service", by="yanis"),
        Command("clear_check", by="yanis"),
        Command("end_session", by="yanis"),
        Command("reboot", by="yanis"),
    ):
        out = sim.send(cmd)
        assert out.decision is not None and out.decision["ok"] is False and out.decision["error"]
        assert out.events == []


def test_problem_report_blocks_after_the_session(sim: Sim) -> None:
    sim.tap(SOFIANE)
    sim.send(Command("report_problem", by="kiosk", reason="broke_something", to_check=True))
    assert sim.last("problem_reported")["session_id"] is not None
    assert sim.state.machine is MachineState.IN_USE  # never cut a job for a report
    sim.tap(SOFIANE)
    assert sim.state.machine is MachineState.TO_CHECK
    assert sim.state.reason == "problem_reported:broke_something"


def test_checklist_before_the_relay_closes(
    tmp_path: Path, roster: Roster, clock: SimulatedClock
) -> None:
    sim = sim_with(tmp_path, roster, clock, checklist=["Lunettes", "Aspiration en marche"])
    d = sim.tap(SOFIANE)
    assert d["action"] == "checklist" and d["checklist"] == ["Lunettes", "Aspiration en marche"]
    assert not sim.state.machine.relay_on
    sim.send(Command("confirm_checklist", by="kiosk"))
    assert sim.state.machine.relay_on and sim.state.session is not None
    sim.tap(SOFIANE)
    sim.tap(SOFIANE)
    sim.wait(91)
    assert sim.last("checklist_expired")["member_id"] == "sofiane"
    assert not sim.state.machine.relay_on


def test_unknown_member_behind_a_badge_is_unknown(tmp_path: Path, clock: SimulatedClock) -> None:
    r = Roster({"a": Member("a", "A", Role.TRAINEE)}, {"01020304": Badge("01020304", "ghost")})
    sim = Sim(make_context(make_config(tmp_path), r), clock)
    assert sim.tap("01020304")["reason"] == "unknown_badge"


def test_badge_check_when_configured(sim: Sim) -> None:
    sim.ctx = replace(sim.ctx, verify_badges=True)
    d = sim.send(Tap(SOFIANE, verified=False)).decision
    assert d is not None and d["reason"] == "badge_invalid" and d["member_id"] == "sofiane"
    d = sim.send(Tap(SOFIANE)).decision  # a reader that did not check: not admitted either
    assert d is not None and d["reason"] == "badge_invalid"
    d = sim.send(Tap(SOFIANE, verified=True)).decision
    assert d is not None and d["granted"] is True
