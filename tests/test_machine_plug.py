"""The plug's faults in the pure state machine, and how the technician page says them."""

from __future__ import annotations

import pytest

from station.clock import SimulatedClock
from station.config import Config
from station.machine import Command, Context, PlugFault, State, Tap, handle
from station.model import MachineState
from tests.conftest import SOFIANE
from web.common.i18n import load_catalogs
from web.station.tech_events import describe


@pytest.fixture
def ctx(config: Config, roster: object) -> Context:
    from tests.conftest import make_context

    return make_context(config, roster)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["no_ack", "unasked_off", "overpower", "overtemp"])
def test_a_plug_fault_ends_the_session_and_waits_for_staff(
    ctx: Context, clock: SimulatedClock, kind: str
) -> None:
    started = handle(State(), Tap(SOFIANE), clock.now(), ctx).state
    assert started.machine is MachineState.IN_USE
    clock.advance(20)  # less than a heartbeat: the fault's events only
    out = handle(started, PlugFault(kind, {"device": "plug-1"}), clock.now(), ctx)
    assert (out.state.machine, out.state.reason) == (MachineState.FAULT, f"plug_{kind}")
    types = [e.type for e in out.events]
    assert types[0] == "plug_fault" and "session_ended" in types
    assert out.events[0].data == {"device": "plug-1", "kind": kind}
    ended = next(e for e in out.events if e.type == "session_ended")
    assert ended.data["end_reason"] == "fault" and ended.data["duration_s"] == 20
    assert handle(out.state, Tap(SOFIANE), clock.now(), ctx).decision["granted"] is False
    cleared = handle(out.state, Command("clear_check", by="yanis"), clock.now(), ctx)
    assert cleared.state.machine is MachineState.AVAILABLE


def test_the_plug_switched_on_by_its_button_is_power_without_permission(
    ctx: Context, clock: SimulatedClock
) -> None:
    out = handle(State(), PlugFault("unasked_on", {"cause": "button"}), clock.now(), ctx)
    assert (out.state.machine, out.state.reason) == (MachineState.FAULT, "power_without_permission")
    (fault, changed) = out.events
    assert fault.type == "power_without_permission" and changed.type == "machine_state_changed"
    assert fault.data["source"] == "plug" and fault.data["cause"] == "button"


def test_a_fault_while_out_of_service_is_recorded_and_changes_nothing(
    ctx: Context, clock: SimulatedClock
) -> None:
    oos = handle(State(), Command("out_of_service", by="yanis", reason="laser"), clock.now(), ctx)
    out = handle(oos.state, PlugFault("overtemp"), clock.now(), ctx)
    assert out.state == oos.state and [e.type for e in out.events] == ["plug_fault"]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_each_plug_fault_has_its_own_sentence(lang: str) -> None:
    catalog = load_catalogs("station")[lang]

    def gettext(key: str, **values: object) -> str:
        text = catalog.get(key, key)
        return text.format(**values) if text != key else key

    sentences = {
        describe("plug_fault", {"kind": k, "device": "plug-1"}, {}, gettext, lang)
        for k in ("no_ack", "unasked_on", "unasked_off", "overpower", "overtemp")
    }
    assert len(sentences) == 5 and all("plug-1" in s for s in sentences)
    plug = describe("power_without_permission", {"source": "plug", "device": "p"}, {}, gettext)
    assert "p" in plug and "None" not in plug
