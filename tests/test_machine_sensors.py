"""The sensor rules of the pure state machine: metering, idle auto-off, finishing, air alarm."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from station.clock import SimulatedClock
from station.machine import AirSample, Command, Context, PowerSample, Tick, next_due
from station.metering import MeteringConfig
from station.model import MachineState
from station.ports import AirReading, PowerReading
from station.roster import Roster
from tests.conftest import INES, LEA, MOUSSA, SOFIANE, YANIS, make_config
from tests.test_machine import Sim

SENSORS = {"power_meter": "pzem-emulated", "air_sensor": "sds011-emulated"}


class SensorSim(Sim):
    watts: float = 0.0
    pm25: float | None = None

    def run(self, seconds: float, step: float = 2.0) -> None:
        """Time passes with a reading every ``step`` seconds, as the meter would send them."""
        end = self.clock.now().mono + seconds
        while self.clock.now().mono < end - 1e-9:
            self.wait(min(step, end - self.clock.now().mono))
            self.send(PowerSample(PowerReading(watts=self.watts)))
            if self.pm25 is not None:
                self.send(AirSample(AirReading(pm25=self.pm25)))


def make_sim(tmp_path: Path, roster: Roster, clock: SimulatedClock, **machine: Any) -> SensorSim:
    config = make_config(tmp_path, sensors=SENSORS, **machine)
    counter = itertools.count(1)
    ctx = Context(
        config.machine,
        roster,
        lambda: f"s{next(counter)}",
        MeteringConfig(busy_watts=config.machine.busy_watts),
    )
    return SensorSim(ctx, clock)


@pytest.fixture
def printer(tmp_path: Path, roster: Roster, clock: SimulatedClock) -> SensorSim:
    return make_sim(
        tmp_path,
        roster,
        clock,
        keep_on_while_busy=True,
        finish_idle_s=120,
        finish_max_min=60,
        idle_off_min=10,
        idle_warn_min=2,
    )


def test_session_energy_and_active_time(printer: SensorSim) -> None:
    printer.run(10)
    printer.tap(SOFIANE)
    printer.watts = 600.0
    printer.run(600)
    printer.watts = 5.0
    printer.run(60)
    printer.tap(SOFIANE)
    ended = printer.last("session_ended")
    assert ended["energy_wh"] == pytest.approx(600 * 600 / 3600, rel=0.01)
    assert ended["active_s"] == pytest.approx(600, abs=2)
    assert ended["idle_s"] == pytest.approx(60, abs=2)
    assert "finishing" not in ended  # idle at badge-out: the relay opens at once
    assert printer.state.machine is MachineState.AVAILABLE


def test_idle_session_is_warned_then_ended(printer: SensorSim) -> None:
    printer.tap(SOFIANE)
    printer.run(7 * 60)
    assert "session_idle_warned" not in printer.types()
    printer.run(63)  # idle is counted from the first reading (2 s after the tap)
    assert printer.last("session_idle_warned")["ends_in_s"] <= 120
    d = printer.tap(SOFIANE)  # a tap during the idle warning keeps the session
    assert d["action"] == "idle_extended" and printer.state.session is not None
    printer.run(9 * 60)
    assert printer.state.session is not None
    printer.run(62)
    assert printer.last("session_ended")["end_reason"] == "idle"
    assert not printer.state.machine.relay_on


def test_busy_machine_is_never_idle(printer: SensorSim) -> None:
    printer.tap(SOFIANE)
    printer.watts = 150.0
    printer.run(30 * 60)
    assert printer.state.session is not None and "session_idle_warned" not in printer.types()


def test_badge_out_while_busy_keeps_the_relay_on_until_the_job_ends(printer: SensorSim) -> None:
    printer.tap(SOFIANE)
    printer.watts = 180.0
    printer.run(300)
    printer.tap(SOFIANE)
    ended = printer.last("session_ended")
    assert ended["end_reason"] == "badge_out" and ended["finishing"] is True
    assert printer.state.machine is MachineState.FINISHING and printer.state.machine.relay_on
    printer.run(40 * 60)  # a long print: still running
    assert printer.state.machine is MachineState.FINISHING
    printer.watts = 3.0
    printer.run(118)
    assert printer.state.machine is MachineState.FINISHING  # not idle long enough yet
    printer.run(6)
    done = printer.last("finishing_ended")
    assert done["reason"] == "idle" and done["session_id"] == ended["session_id"]
    assert done["energy_wh"] == pytest.approx(180 * 40 / 60, rel=0.02)
    assert printer.state.machine is MachineState.AVAILABLE and not printer.state.machine.relay_on


def test_timeout_while_busy_warns_instead_of_cutting(printer: SensorSim) -> None:
    printer.tap(SOFIANE)
    printer.watts = 200.0
    printer.cues.clear()
    printer.run(60 * 60 + 4)
    assert printer.last("session_ended")["end_reason"] == "timeout"
    assert printer.state.machine is MachineState.FINISHING and printer.state.machine.relay_on
    assert printer.cues[-1] == "warn"


def test_finishing_is_capped(printer: SensorSim) -> None:
    printer.tap(SOFIANE)
    printer.watts = 200.0
    printer.run(10)
    printer.tap(SOFIANE)
    printer.run(60 * 60 + 4)
    assert printer.last("finishing_ended")["reason"] == "max_time"
    assert not printer.state.machine.relay_on


def test_finishing_refuses_trainees_and_yields_to_staff(printer: SensorSim) -> None:
    printer.tap(SOFIANE)
    printer.watts = 200.0
    printer.run(10)
    printer.tap(SOFIANE)
    d = printer.tap(LEA)  # another trainee (the owner's own tap is hers: test_whole_job.py)
    assert d["reason"] == "machine_in_use" and d["finishing"] is True
    assert d["in_use_by"] == "Sofiane"
    assert printer.tap(YANIS)["action"] == "takeover"
    assert printer.last("finishing_ended")["reason"] == "takeover"
    assert printer.state.machine is MachineState.IN_USE


def test_end_session_command_ends_finishing(printer: SensorSim) -> None:
    printer.tap(SOFIANE)
    printer.watts = 200.0
    printer.run(10)
    printer.tap(SOFIANE)
    out = printer.send(Command("end_session", by="yanis"))
    assert out.decision is not None and out.decision["ok"]
    assert printer.last("finishing_ended")["by"] == "yanis"
    assert not printer.state.machine.relay_on


def test_power_before_the_relay_closes_is_recorded(printer: SensorSim) -> None:
    printer.watts = 90.0
    printer.run(4)
    printer.cues.clear()
    printer.tap(SOFIANE)
    assert printer.last("power_before_start")["watts"] == 90.0
    assert "warn" in printer.cues and printer.state.machine.relay_on


def test_only_a_technician_clears_a_power_fault_by_badge(printer: SensorSim) -> None:
    """The issue: « refuses new sessions until a technician clears it » (a welded relay)."""
    printer.watts = 900.0
    printer.run(8)
    assert printer.state.machine is MachineState.FAULT
    printer.watts = 0.0
    printer.run(2)
    assert printer.tap(INES)["reason"] == "fault"  # an educator is staff, not a technician
    assert printer.state.machine is MachineState.FAULT
    assert printer.tap(YANIS)["action"] == "fault_cleared"
    assert printer.state.machine is MachineState.AVAILABLE


def test_after_a_technician_clears_power_that_goes_on_is_a_fault_again(
    printer: SensorSim,
) -> None:
    printer.watts = 900.0
    printer.run(8)
    printer.run(2)
    assert printer.tap(YANIS)["action"] == "fault_cleared"  # cleared without fixing anything
    printer.run(8)
    assert printer.state.machine is MachineState.FAULT
    assert printer.types().count("power_without_permission") == 2
    printer.run(4)
    assert printer.tap(SOFIANE)["reason"] == "fault"


def test_a_meter_gone_silent_while_finishing_leaves_no_due_time_behind(printer: SensorSim) -> None:
    """A quiet time that can no longer be judged (the reading went stale) must not stay due:
    the controller would tick on it for ever (a simulated clock stops on it)."""
    printer.tap(SOFIANE)
    printer.watts = 180.0
    printer.run(10)
    printer.tap(SOFIANE)
    assert printer.state.machine is MachineState.FINISHING
    printer.send(PowerSample(PowerReading(watts=0.0)))
    printer.clock.advance(130)  # the meter said nothing since: past finish_idle_s, stale
    printer.send(Tick())
    due = next_due(printer.state, printer.ctx)
    assert due is None or due > printer.clock.now().mono
    assert printer.state.machine is MachineState.FINISHING  # unknown is not idle


def test_a_reading_just_after_the_relay_opened_is_not_power_without_permission(
    printer: SensorSim,
) -> None:
    """A meter's reading averages its last second: the one right after a badge-out may still
    show the job's power. It is no power drawn with the relay open."""
    printer.tap(SOFIANE)
    printer.run(10)
    printer.tap(SOFIANE)  # idle: the relay opens at once
    assert not printer.state.machine.relay_on
    printer.clock.advance(0.4)
    printer.send(PowerSample(PowerReading(watts=300.0)))  # averaged over the relay's last second
    printer.clock.advance(0.4)
    d = printer.tap(MOUSSA)
    assert d["granted"] is True and d["action"] == "session_started"
    assert "power_before_start" not in printer.types()  # a false alarm on the next person


def test_no_false_power_before_start_when_the_trainee_confirms_a_handover_quickly(
    tmp_path: Path, roster: Roster, clock: SimulatedClock
) -> None:
    """The last reading was taken while the mentor's session had the relay closed."""
    sim = make_sim(tmp_path, roster, clock, checklist=["Lunettes"])
    sim.tap(MOUSSA)
    sim.send(Command("confirm_checklist", by="kiosk"))
    sim.watts = 300.0
    sim.run(4)
    assert sim.tap(LEA)["action"] == "checklist"  # the handover: her own checklist
    clock.advance(1)
    out = sim.send(Command("confirm_checklist", by="kiosk"))
    assert out.decision is not None and out.decision["action"] == "session_started"
    assert "power_before_start" not in sim.types()
    assert "power_without_permission" not in sim.types()


@pytest.fixture
def laser(tmp_path: Path, roster: Roster, clock: SimulatedClock) -> SensorSim:
    sim = make_sim(tmp_path, roster, clock, pm25_alarm=50.0, air_lost_s=30)
    sim.pm25 = 5.0
    return sim


def test_air_alarm_without_cutting(laser: SensorSim) -> None:
    laser.tap(SOFIANE)
    laser.pm25 = 80.0
    laser.run(4)
    assert laser.last("air_alarm")["cause"] == "pm25"
    assert laser.state.machine is MachineState.IN_USE and laser.state.machine.relay_on
    laser.tap(SOFIANE)
    assert laser.state.machine is MachineState.FAULT
    laser.run(4)  # past the repeat-tap guard
    assert laser.tap(SOFIANE)["reason"] == "fault"
    laser.pm25 = 45.0  # below the alarm but above the 80 % hysteresis
    laser.run(4)
    assert laser.state.machine is MachineState.FAULT
    laser.pm25 = 12.0
    laser.run(4)
    assert "air_alarm_cleared" in laser.types()
    assert laser.state.machine is MachineState.AVAILABLE
    assert laser.tap(SOFIANE)["granted"] is True


def test_air_alarm_cuts_power_when_configured(
    tmp_path: Path, roster: Roster, clock: SimulatedClock
) -> None:
    sim = make_sim(tmp_path, roster, clock, pm25_alarm=50.0, air_alarm_cuts_power=True)
    sim.pm25 = 5.0
    sim.tap(SOFIANE)
    sim.pm25 = 120.0
    sim.run(2)
    assert sim.last("session_ended")["end_reason"] == "fault"
    assert sim.state.machine is MachineState.FAULT and not sim.state.machine.relay_on
    assert sim.cues.count("alarm") == 1


def test_a_silent_air_sensor_is_a_fault(laser: SensorSim) -> None:
    laser.run(10)
    laser.pm25 = None  # the sensor stops answering
    laser.run(32)
    assert laser.last("air_alarm")["cause"] == "sensor_lost"
    assert laser.tap(SOFIANE)["reason"] == "fault"
    laser.pm25 = 4.0
    laser.run(2)
    assert laser.state.machine is MachineState.AVAILABLE


def test_air_alarm_keeps_a_pending_check(
    tmp_path: Path, roster: Roster, clock: SimulatedClock
) -> None:
    sim = make_sim(tmp_path, roster, clock, pm25_alarm=50.0, needs_check_after_use=True)
    sim.pm25 = 5.0
    sim.tap(SOFIANE)
    sim.run(10)
    sim.tap(SOFIANE)
    assert sim.state.machine is MachineState.TO_CHECK
    sim.pm25 = 90.0
    sim.run(2)
    assert sim.state.machine is MachineState.FAULT
    sim.pm25 = 3.0
    sim.run(2)
    assert sim.state.machine is MachineState.TO_CHECK and sim.state.reason == "check_after_use"


# --- power without permission ---------------------------------------------------------------------


def test_power_with_the_relay_open_is_a_fault_that_staff_clear(printer: SensorSim) -> None:
    printer.watts = 900.0  # a short spike: not a fault
    printer.run(4)
    printer.watts = 0.0
    printer.run(20)
    assert printer.state.machine is MachineState.AVAILABLE
    printer.watts = 900.0  # a welded relay, or the machine plugged around the station
    printer.run(4)
    assert "power_without_permission" not in printer.types()  # a few seconds' grace
    printer.run(4)
    fault = printer.last("power_without_permission")
    assert fault["watts"] == 900.0 and fault["seconds"] == 5
    assert printer.state.machine is MachineState.FAULT
    assert printer.state.reason == "power_without_permission"
    assert "alarm" in printer.cues and not printer.state.machine.relay_on
    assert printer.tap(SOFIANE)["reason"] == "fault"
    assert printer.tap(MOUSSA)["reason"] == "fault"  # a mentor is not staff
    assert "session_started" not in printer.types()
    printer.watts = 0.0  # the technician fixed the relay
    printer.run(2)
    d = printer.tap(YANIS)
    assert d["action"] == "fault_cleared" and printer.state.machine is MachineState.AVAILABLE
    assert printer.last("machine_state_changed")["by"] == "yanis"
    assert printer.state.session is None  # clearing starts nothing


def test_the_technician_command_clears_the_fault_and_keeps_a_pending_check(
    tmp_path: Path, roster: Roster, clock: SimulatedClock
) -> None:
    sim = make_sim(tmp_path, roster, clock, needs_check_after_use=True)
    sim.tap(SOFIANE)
    sim.run(10)
    sim.tap(SOFIANE)
    assert sim.state.machine is MachineState.TO_CHECK
    sim.watts = 300.0
    sim.run(8)
    assert sim.state.machine is MachineState.FAULT
    out = sim.send(Command("clear_check", by="yanis"))
    assert out.decision is not None and out.decision["ok"]
    assert sim.state.machine is MachineState.TO_CHECK and sim.state.reason == "check_after_use"


def test_power_after_the_relay_opened_is_watched_too(printer: SensorSim) -> None:
    """A relay that welds at the end of a session: the job goes on with the relay 'open'."""
    printer.tap(SOFIANE)
    printer.watts = 200.0
    printer.run(10)
    printer.send(Command("end_session", by="yanis"))
    assert not printer.state.machine.relay_on
    printer.run(8)
    assert printer.state.machine is MachineState.FAULT


@pytest.mark.parametrize("who", ["handover", "takeover", "finishing_takeover"])
def test_no_false_alarm_when_the_relay_was_already_closed(printer: SensorSim, who: str) -> None:
    first = MOUSSA if who == "handover" else SOFIANE
    printer.tap(first)
    printer.watts = 300.0
    printer.run(4)
    if who == "finishing_takeover":
        printer.tap(SOFIANE)
        assert printer.state.machine is MachineState.FINISHING
    d = printer.tap(LEA if who == "handover" else YANIS)
    assert d["granted"] is True and printer.state.machine.relay_on
    printer.run(30)
    assert "power_before_start" not in printer.types()
    assert "power_without_permission" not in printer.types()
    assert printer.state.machine is MachineState.IN_USE


def test_the_power_fault_falls_due_exactly_at_its_due_time(tmp_path: Path, roster: Roster) -> None:
    """The controller ticks at next_due; a fault that missed it by a rounding would never fire
    (and the controller stops on a due time that does not move)."""
    clock = SimulatedClock(mono=651592.972722763)
    sim = make_sim(tmp_path, roster, clock, power_without_permission_s=3.7)
    sim.send(PowerSample(PowerReading(watts=900.0)))
    due = next_due(sim.state, sim.ctx)
    assert due is not None
    clock.advance(due - clock.now().mono)
    sim.send(Tick())
    assert sim.state.machine is MachineState.FAULT


def test_no_handover_under_an_air_alarm(laser: SensorSim) -> None:
    laser.tap(MOUSSA)
    laser.pm25 = 80.0
    laser.run(4)
    assert laser.state.air_alarm == "pm25" and laser.state.machine.relay_on
    assert laser.tap(LEA)["reason"] == "fault"  # a new session: refused, as at any tap
    s = laser.state.session
    assert s is not None and s.member_id == "moussa"  # the mentor's session goes on
    assert "session_ended" not in laser.types()
