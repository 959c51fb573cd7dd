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


def test_not_qualified_names_who_can_train_not_who_can_co_badge(sim: Sim) -> None:
    d = sim.tap(NOAH)
    # A co-badge cannot admit a trainee at level none: no "ask X to join you" list. The
    # educators arrange a first training; the laser's mentors teach at the machine.
    assert "helpers" not in d
    assert d["trainers"] == ["Inès"] and d["mentors"] == ["Moussa"]


def test_a_technician_cannot_supervise_and_the_wait_goes_on(sim: Sim) -> None:
    sim.tap(LEA)
    d = sim.tap(YANIS)  # a technician: staff, but not a supervisor
    assert d["action"] == "cannot_supervise" and d["waiting_name"] == "Léa"
    assert d["helpers"] == ["Moussa", "Inès"]
    assert sim.state.session is None and sim.state.waiting is not None
    assert sim.state.waiting.member_id == "lea"
    sim.wait(5)
    assert sim.tap(MOUSSA)["action"] == "session_started"
    assert sim.state.session is not None and sim.state.session.member_id == "lea"


def test_a_second_supervised_trainee_does_not_replace_the_first_wait(
    tmp_path: Path, roster: Roster, clock: SimulatedClock
) -> None:
    second = "04B9B9B9"
    badges = {**roster.badges, second: replace(roster.badges[LEA], uid=second, member_id="zoe")}
    members = {**roster.members, "zoe": replace(roster.members["lea"], id="zoe", name="Zoé B")}
    quals = dict(roster.qualifications)
    quals[("zoe", "laser")] = replace(quals[("lea", "laser")], member_id="zoe")
    roster = replace(roster, badges=badges, members=members, qualifications=quals)
    sim = Sim(make_context(make_config(tmp_path), roster), clock)
    sim.tap(LEA)
    sim.wait(10)
    d = sim.tap(second)
    assert d["action"] == "already_waiting" and d["waiting_name"] == "Léa"
    assert sim.state.waiting is not None and sim.state.waiting.member_id == "lea"
    sim.tap(MOUSSA)
    assert sim.state.session is not None and sim.state.session.member_id == "lea"


def test_a_takeover_says_whose_session_ended(sim: Sim) -> None:
    sim.tap(SOFIANE)
    sim.wait(5)
    d = sim.tap(YANIS)
    assert d["action"] == "takeover" and d["took_over_from"] == "Sofiane"


def test_the_idle_stop_time_is_known_while_idle(
    tmp_path: Path, roster: Roster, clock: SimulatedClock
) -> None:
    """The kiosk counts down to the idle stop, not to the session's far end (issue 11, item 4)."""
    from station.machine import idle_off_mono
    from tests.test_machine_sensors import make_sim

    sim = make_sim(tmp_path, roster, clock, idle_off_min=10, idle_warn_min=2)
    sim.tap(SOFIANE)
    sim.run(2)  # the first reading: idle from here
    quiet_from = clock.now().mono
    sim.run(8 * 60)
    assert sim.state.session is not None and sim.state.session.idle_warned
    assert idle_off_mono(sim.state, sim.ctx) == pytest.approx(quiet_from + 600, abs=0.01)
    assert sim.state.session.ends_mono - clock.now().mono > 40 * 60  # the session's own end is far


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


# --- one tap, one meaning -----------------------------------------------------------------------


def test_a_repeat_tap_within_the_guard_is_ignored(sim: Sim) -> None:
    sim.tap(SOFIANE)
    sim.wait(1)
    d = sim.tap(SOFIANE)  # the same card read again a second later
    assert d["action"] == "repeat_tap" and d["member_name"] == "Sofiane" and d["guard_s"] == 3
    assert sim.state.session is not None and sim.state.machine.relay_on
    assert "session_ended" not in sim.types()
    sim.wait(2.5)  # the guard slides with each read: a card left on the reader stays ignored
    assert sim.tap(SOFIANE)["action"] == "repeat_tap"
    sim.wait(3)
    assert sim.tap(SOFIANE)["action"] == "session_ended"


def test_the_guard_is_per_badge_and_denials_do_not_arm_it(sim: Sim) -> None:
    sim.tap(LEA)
    sim.tap(MOUSSA)  # co-badge: Léa's session starts
    d = sim.tap(LEA)  # Léa taps again right away, thinking she must
    assert d["action"] == "repeat_tap" and sim.state.session is not None
    assert sim.tap(UNKNOWN)["reason"] == "unknown_badge"
    assert sim.tap(UNKNOWN)["reason"] == "unknown_badge"  # a retry is just a retry


def test_the_guard_can_be_turned_off(tmp_path: Path, roster: Roster, clock: SimulatedClock) -> None:
    sim = sim_with(tmp_path, roster, clock, repeat_tap_guard_s=0)
    sim.tap(SOFIANE)
    assert sim.tap(SOFIANE)["action"] == "session_ended"


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


def test_mentor_first_handover_keeps_the_trainees_checklist(
    tmp_path: Path, roster: Roster, clock: SimulatedClock
) -> None:
    sim = sim_with(tmp_path, roster, clock, checklist=["Lunettes", "Aspiration en marche"])
    sim.tap(MOUSSA)
    sim.send(Command("confirm_checklist", by="kiosk"))
    assert sim.state.session is not None and sim.state.session.member_id == "moussa"
    sim.wait(20)
    d = sim.tap(LEA)
    assert d["action"] == "checklist" and d["member_name"] == "Léa"
    assert d["supervisor_name"] == "Moussa"
    assert sim.last("session_ended")["end_reason"] == "handover"
    # The relay does not serve Léa's session before she confirms her own checklist.
    assert not sim.state.machine.relay_on and sim.state.session is None
    assert sim.last("checklist_shown")["member_id"] == "lea"
    sim.send(Command("confirm_checklist", by="kiosk"))
    s = sim.state.session
    assert s is not None and (s.member_id, s.supervisor_id) == ("lea", "moussa")
    assert sim.state.machine.relay_on


def test_handover_only_within_the_window(sim: Sim) -> None:
    sim.tap(MOUSSA)
    sim.wait(61)
    assert sim.tap(LEA)["reason"] == "machine_in_use"


# --- the grant gesture -------------------------------------------------------------------------


def supervised_session(sim: Sim) -> None:
    """Léa (supervised) and Moussa (mentor) co-badge: Léa's session, Moussa supervises."""
    sim.tap(LEA)
    sim.tap(MOUSSA)
    assert sim.state.session is not None and sim.state.session.supervisor_id == "moussa"
    sim.wait(30)


def test_grant_needs_two_supervisor_taps_then_the_trainee(sim: Sim) -> None:
    supervised_session(sim)
    d1 = sim.tap(MOUSSA)
    assert d1["action"] == "grant_confirm_supervisor" and d1["step"] == 1
    # The kiosk can say who validates whom, to which level, on which machine.
    assert (d1["supervisor_name"], d1["trainee_name"], d1["level"], d1["kind"]) == (
        "Moussa",
        "Léa",
        "autonomous",
        "laser",
    )
    sim.wait(5)
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


def test_trainee_tap_after_one_supervisor_tap_neither_grants_nor_ends_the_session(
    sim: Sim,
) -> None:
    supervised_session(sim)
    sim.tap(MOUSSA)
    d = sim.tap(LEA)  # too early: Moussa has not confirmed yet
    assert d["action"] == "grant_not_yet" and d["supervisor_name"] == "Moussa"
    assert "qualification_granted" not in sim.types()
    assert "session_ended" not in sim.types()
    assert sim.state.machine.relay_on and sim.state.session is not None
    sim.wait(5)
    sim.tap(MOUSSA)
    sim.wait(5)
    assert sim.tap(LEA)["action"] == "qualification_granted"  # the gesture is still whole


def test_a_lapsed_grant_is_recorded_and_a_late_tap_keeps_the_session(sim: Sim) -> None:
    supervised_session(sim)
    sim.tap(MOUSSA)
    sim.wait(5)
    sim.tap(MOUSSA)
    sim.wait(21)
    expired = sim.last("grant_expired")
    assert (expired["member_id"], expired["supervisor_id"], expired["step"]) == (
        "lea",
        "moussa",
        2,
    )
    assert expired["kind"] == "laser" and expired["session_id"] == sim.state.session.id  # type: ignore[union-attr]
    d = sim.tap(LEA)  # one second too late: not an acceptance, and not a badge-out either
    assert d["action"] == "grant_expired"
    assert "qualification_granted" not in sim.types() and "session_ended" not in sim.types()
    assert sim.state.machine.relay_on
    sim.wait(20)  # the guard after the lapse is over: a tap means badge-out again
    assert sim.state.grant is None
    assert sim.tap(LEA)["action"] == "session_ended"
    assert sim.last("session_ended")["end_reason"] == "badge_out"


def test_the_supervisor_can_start_the_gesture_again_after_it_lapsed(sim: Sim) -> None:
    supervised_session(sim)
    sim.tap(MOUSSA)
    sim.wait(21)
    assert sim.last("grant_expired")["step"] == 1
    assert sim.tap(MOUSSA)["action"] == "grant_confirm_supervisor"
    sim.wait(5)
    sim.tap(MOUSSA)
    assert sim.tap(LEA)["action"] == "qualification_granted"


# --- to_check, out of service, commands ----------------------------------------------------------


def test_check_after_use(tmp_path: Path, roster: Roster, clock: SimulatedClock) -> None:
    sim = sim_with(tmp_path, roster, clock, needs_check_after_use=True)
    sim.tap(SOFIANE)
    sim.wait(60)
    sim.tap(SOFIANE)
    assert sim.state.machine is MachineState.TO_CHECK
    sim.wait(5)
    assert sim.tap(SOFIANE)["reason"] == "to_check"
    assert sim.tap(MOUSSA)["action"] == "check_cleared"  # a mentor for lasers may clear it
    assert sim.state.machine is MachineState.AVAILABLE
    assert sim.last("machine_state_changed")["by"] == "moussa"


def report_and_end(sim: Sim, problem: str) -> None:
    sim.tap(SOFIANE)
    sim.send(Command("report_problem", by="kiosk", reason=problem, to_check=True))
    sim.wait(60)
    sim.tap(SOFIANE)
    assert sim.state.machine is MachineState.TO_CHECK


def test_a_broken_report_is_cleared_by_staff_only(sim: Sim) -> None:
    report_and_end(sim, "broken")
    d = sim.tap(MOUSSA)  # a trainee mentor cannot judge a repair
    assert d["reason"] == "to_check" and d["machine_reason"] == "problem_reported:broken"
    assert sim.state.machine is MachineState.TO_CHECK
    assert sim.tap(YANIS)["action"] == "check_cleared"
    assert sim.state.machine is MachineState.AVAILABLE
    sim.wait(60)
    report_and_end(sim, "strange_noise")  # other reports keep the mentor rule
    assert sim.tap(MOUSSA)["action"] == "check_cleared"


def without(roster: Roster, member_id: str) -> Roster:
    """The roster after an import that deactivated one member (the daemon reloads it)."""
    m = roster.members[member_id]
    return replace(roster, members={**roster.members, member_id: replace(m, active=False)})


def test_a_trainee_deactivated_while_she_waits_is_not_started_by_the_co_badge(
    sim: Sim, roster: Roster
) -> None:
    assert sim.tap(LEA)["action"] == "waiting_for_supervisor"
    sim.ctx = replace(sim.ctx, roster=without(roster, "lea"))  # roster import meanwhile
    sim.wait(4)
    d = sim.tap(MOUSSA)
    assert d["granted"] is False and d["reason"] == "member_inactive"
    assert d["member_id"] == "lea" and d["for_waiting"] is True and sim.state.waiting is None
    assert sim.state.session is None and "session_started" not in sim.types()


def test_a_member_deactivated_during_her_checklist_cannot_confirm_it(
    tmp_path: Path, roster: Roster, clock: SimulatedClock
) -> None:
    sim = sim_with(tmp_path, roster, clock, checklist=["Lunettes"])
    assert sim.tap(SOFIANE)["action"] == "checklist"
    sim.ctx = replace(sim.ctx, roster=without(roster, "sofiane"))
    out = sim.send(Command("confirm_checklist", by="kiosk"))
    assert out.decision is not None and out.decision["reason"] == "member_inactive"
    assert sim.state.session is None and sim.state.pending is None
    assert not sim.state.machine.relay_on


def test_a_roster_that_expired_during_the_wait_admits_only_staff(sim: Sim, roster: Roster) -> None:
    sim.tap(LEA)
    expiry = sim.clock.now().mono + 2
    sim.ctx = replace(sim.ctx, roster=replace(roster, expires_mono=expiry))
    sim.wait(4)
    assert sim.tap(MOUSSA)["reason"] == "roster_expired"  # a peer mentor is not staff
    assert sim.state.session is None


def broken(sim: Sim) -> None:
    sim.send(Command("report_problem", by="kiosk", reason="broken", to_check=True))


@pytest.mark.parametrize("when", ["to_check_after_use", "after_another_report", "finishing"])
def test_a_broken_report_stays_for_staff_whatever_the_machine_was_doing(
    tmp_path: Path, roster: Roster, clock: SimulatedClock, when: str
) -> None:
    """A second report, a check already asked for, or a job still finishing never turn
    « J'ai cassé quelque chose » into something a mentor clears."""
    from station.machine import PowerSample
    from station.metering import MeteringConfig
    from station.ports import PowerReading

    sim = sim_with(tmp_path, roster, clock, needs_check_after_use=(when == "to_check_after_use"))
    if when == "finishing":
        cfg = make_config(
            tmp_path, {"power_meter": "pzem-emulated"}, keep_on_while_busy=True, finish_idle_s=5
        )
        sim = Sim(replace(make_context(cfg, roster), metering=MeteringConfig(busy_watts=20)), clock)
    sim.tap(SOFIANE)
    sim.wait(10)
    if when == "after_another_report":
        broken(sim)
        sim.send(Command("report_problem", by="kiosk", reason="strange_noise", to_check=True))
    if when == "finishing":
        sim.send(PowerSample(PowerReading(watts=300.0)))
    sim.tap(SOFIANE)
    if when == "finishing":
        assert sim.state.machine is MachineState.FINISHING
    if when != "after_another_report":
        broken(sim)
    if when == "finishing":
        sim.send(PowerSample(PowerReading(watts=0.0)))
        sim.wait(6)
    assert sim.state.machine is MachineState.TO_CHECK
    assert sim.state.reason == "problem_reported:broken"
    assert sim.tap(MOUSSA)["reason"] == "to_check"  # a mentor cannot clear it
    assert sim.tap(YANIS)["action"] == "check_cleared"


def test_a_lighter_report_does_not_replace_a_broken_one_while_to_check(sim: Sim) -> None:
    broken(sim)
    sim.send(Command("report_problem", by="kiosk", reason="strange_noise", to_check=True))
    assert sim.state.reason == "problem_reported:broken"
    assert sim.tap(MOUSSA)["reason"] == "to_check"


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
    sim.wait(60)
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
    sim.wait(60)
    sim.tap(SOFIANE)
    sim.wait(5)
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
    sim.wait(5)
    d = sim.send(Tap(SOFIANE)).decision  # a reader that did not check: not admitted either
    assert d is not None and d["reason"] == "badge_invalid"
    sim.wait(5)
    d = sim.send(Tap(SOFIANE, verified=True)).decision
    assert d is not None and d["granted"] is True
