"""The emulated plugs checked by a client nobody here wrote (paho, raw) against the payloads
the devices' documentation shows (Shelly Gen2 API: RPC Protocol, Switch, Notifications, MQTT;
Tasmota: Commands, MQTT). Their timers run on a clock the test moves."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from hardware.tasmota import pulse_time_seconds, pulse_time_value
from mocks.shelly_plug import ShellyPlugEmulator
from mocks.tasmota_plug import TasmotaPlugEmulator
from station.config_plug import MqttCredentials
from tests.mqtt_helpers import (
    RawClient,
    broker_creds,
    clear_retained,
    raw_client,
    unique,
    wait_for,
)


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def creds() -> MqttCredentials:
    return broker_creds()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def shelly(creds: MqttCredentials, clock: FakeClock) -> Iterator[ShellyPlugEmulator]:
    plug = ShellyPlugEmulator(creds, unique("shellyplusplugs-"), clock=clock, autotick=False)
    yield plug
    plug.close()
    clear_retained(creds, f"{plug.device_id}/online")


@pytest.fixture
def tasmota(creds: MqttCredentials, clock: FakeClock) -> Iterator[TasmotaPlugEmulator]:
    plug = TasmotaPlugEmulator(creds, unique("tasmota_"), clock=clock, autotick=False)
    yield plug
    plug.close()
    clear_retained(creds, f"tele/{plug.topic}/LWT")


def rpc(raw: RawClient, device: str, src: str, call_id: int, method: str, **params: object) -> dict:
    frame = {"id": call_id, "src": src, "method": method, "params": params}
    raw.publish(f"{device}/rpc", json.dumps(frame))
    reply: dict = raw.wait_json(f"{src}/rpc", lambda m: m.get("id") == call_id)
    return reply


# --- Shelly Gen2 --------------------------------------------------------------------------------


def test_shelly_switch_set_answers_like_the_documented_frame(
    creds: MqttCredentials, shelly: ShellyPlugEmulator
) -> None:
    dev, src = shelly.device_id, unique("client-")
    with raw_client(creds, f"{src}/rpc", f"{dev}/events/rpc", f"{dev}/status/switch:0") as raw:
        reply = rpc(raw, dev, src, 1, "Switch.Set", id=0, on=True)
        # {"id":1,"src":"<device>","dst":"<src>","result":{"was_on":false}}
        assert reply == {"id": 1, "src": dev, "dst": src, "result": {"was_on": False}}
        note = raw.wait_json(f"{dev}/events/rpc")
        assert note["method"] == "NotifyStatus" and note["src"] == dev
        assert note["params"]["switch:0"]["output"] is True
        assert isinstance(note["params"]["ts"], float)
        full = raw.wait_json(f"{dev}/status/switch:0")
        assert {"id", "source", "output", "apower", "voltage", "current", "aenergy"} <= set(full)
        assert set(full["aenergy"]) >= {"total", "by_minute", "minute_ts"}
        assert "tC" in full["temperature"]
        again = rpc(raw, dev, src, 2, "Switch.Set", id=0, on=False)
        assert again["result"] == {"was_on": True}


def test_shelly_get_status_reports_power_and_energy_of_the_load(
    creds: MqttCredentials, shelly: ShellyPlugEmulator, clock: FakeClock
) -> None:
    dev, src = shelly.device_id, unique("client-")
    shelly.set_load(120.0)
    with raw_client(creds, f"{src}/rpc") as raw:
        off = rpc(raw, dev, src, 1, "Switch.GetStatus", id=0)["result"]
        assert off["output"] is False and off["apower"] == 0.0  # no power through an open plug
        rpc(raw, dev, src, 2, "Switch.Set", id=0, on=True)
        clock.t += 1800  # half an hour at 120 W
        on = rpc(raw, dev, src, 3, "Switch.GetStatus", id=0)["result"]
        assert on["output"] is True and on["apower"] == 120.0
        assert on["aenergy"]["total"] == pytest.approx(60.0, abs=0.01)
        assert on["current"] == pytest.approx(120 / 230, abs=0.001)


def test_shelly_toggle_after_switches_off_by_itself(
    creds: MqttCredentials, shelly: ShellyPlugEmulator, clock: FakeClock
) -> None:
    dev, src = shelly.device_id, unique("client-")
    with raw_client(creds, f"{src}/rpc", f"{dev}/events/rpc") as raw:
        rpc(raw, dev, src, 1, "Switch.Set", id=0, on=True, toggle_after=30)
        status = rpc(raw, dev, src, 2, "Switch.GetStatus", id=0)["result"]
        assert status["timer_duration"] == 30
        clock.t += 20
        rpc(raw, dev, src, 3, "Switch.Set", id=0, on=True, toggle_after=30)  # renewed
        clock.t += 29
        shelly.tick()
        assert shelly.model.output is True  # 49 s after the first, 29 after the renewal
        clock.t += 1.5
        shelly.tick()
        assert shelly.model.output is False
        note = raw.wait_json(
            f"{dev}/events/rpc", lambda m: m["params"]["switch:0"]["output"] is False
        )
        assert note["params"]["switch:0"]["source"] == "timer"


def test_shelly_auto_off_from_its_config(
    creds: MqttCredentials, shelly: ShellyPlugEmulator, clock: FakeClock
) -> None:
    dev, src = shelly.device_id, unique("client-")
    with raw_client(creds, f"{src}/rpc") as raw:
        r = rpc(
            raw,
            dev,
            src,
            1,
            "Switch.SetConfig",
            id=0,
            config={"auto_off": True, "auto_off_delay": 10},
        )
        assert r["result"] == {"restart_required": False}
        assert rpc(raw, dev, src, 2, "Switch.GetConfig", id=0)["result"]["auto_off_delay"] == 10
        shelly.press_button()
        clock.t += 10
        shelly.tick()
        assert [on for _, on, _ in shelly.model.switches] == [True, False]


def test_shelly_errors_are_json_rpc_error_frames(
    creds: MqttCredentials, shelly: ShellyPlugEmulator
) -> None:
    dev, src = shelly.device_id, unique("client-")
    with raw_client(creds, f"{src}/rpc") as raw:
        assert rpc(raw, dev, src, 1, "Switch.Nope", id=0)["error"]["code"] == 404
        assert rpc(raw, dev, src, 2, "Switch.Set", id=3, on=True)["error"]["code"] == -105
        assert rpc(raw, dev, src, 3, "Switch.Set", id=0)["error"]["code"] == -103
        assert shelly.model.output is False


def test_shelly_protections_and_button_show_in_its_status(
    creds: MqttCredentials, shelly: ShellyPlugEmulator
) -> None:
    dev = shelly.device_id
    with raw_client(creds, f"{dev}/events/rpc") as raw:
        shelly.press_button()
        on = raw.wait_json(f"{dev}/events/rpc", lambda m: m["params"]["switch:0"]["output"])
        assert on["params"]["switch:0"]["source"] == "button"
        shelly.trip("overtemp")
        tripped = raw.wait_json(f"{dev}/events/rpc", lambda m: "errors" in m["params"]["switch:0"])[
            "params"
        ]["switch:0"]
        assert tripped["errors"] == ["overtemp"] and tripped["output"] is False


def test_shelly_says_online_and_its_last_will_says_offline(
    creds: MqttCredentials, clock: FakeClock
) -> None:
    dev = unique("shellyplusplugs-")
    with raw_client(creds, f"{dev}/online") as raw:
        plug = ShellyPlugEmulator(creds, dev, clock=clock, autotick=False)
        raw.wait_text(f"{dev}/online", "true")
        plug.close()
        raw.wait_text(f"{dev}/online", "false")


# --- Tasmota ------------------------------------------------------------------------------------


def test_pulse_time_has_two_ranges_as_documented() -> None:
    # 1..111: tenths of a second; 112..64900: seconds + 100.
    assert pulse_time_value(0.5) == 5 and pulse_time_value(11.1) == 111
    assert pulse_time_value(60) == 160 and pulse_time_value(3600) == 3700
    assert pulse_time_value(10**6) == 64900 and pulse_time_value(0) == 0
    assert pulse_time_seconds(160) == 60 and pulse_time_seconds(5) == 0.5


def test_tasmota_power_answers_on_result_and_power(
    creds: MqttCredentials, tasmota: TasmotaPlugEmulator
) -> None:
    t = tasmota.topic
    with raw_client(creds, f"stat/{t}/#") as raw:
        raw.publish(f"cmnd/{t}/POWER", "ON")
        assert raw.wait_json(f"stat/{t}/RESULT") == {"POWER": "ON"}
        raw.wait_text(f"stat/{t}/POWER", "ON")
        raw.clear()
        raw.publish(f"cmnd/{t}/POWER", "")  # an empty payload asks for the state
        assert raw.wait_json(f"stat/{t}/RESULT") == {"POWER": "ON"}
        raw.publish(f"cmnd/{t}/POWER", "OFF")
        raw.wait_text(f"stat/{t}/POWER", "OFF")


def test_tasmota_pulse_time_switches_off_by_itself(
    creds: MqttCredentials, tasmota: TasmotaPlugEmulator, clock: FakeClock
) -> None:
    t = tasmota.topic
    with raw_client(creds, f"stat/{t}/#") as raw:
        raw.publish(f"cmnd/{t}/PulseTime1", "130")  # 30 s
        assert raw.wait_json(f"stat/{t}/RESULT") == {"PulseTime1": {"Set": 130, "Remaining": 0}}
        raw.clear()
        raw.publish(f"cmnd/{t}/POWER", "ON")
        raw.wait_text(f"stat/{t}/POWER", "ON")
        clock.t += 20
        raw.publish(f"cmnd/{t}/POWER", "ON")  # each ON restarts the pulse
        wait_for(lambda: len(raw.on(f"stat/{t}/POWER")) == 2, what="the second ON")
        clock.t += 29
        tasmota.tick()
        assert tasmota.model.output is True
        clock.t += 1.5
        tasmota.tick()
        raw.wait_text(f"stat/{t}/POWER", "OFF")


def test_tasmota_status_10_and_telemetry_carry_the_energy_object(
    creds: MqttCredentials, tasmota: TasmotaPlugEmulator, clock: FakeClock
) -> None:
    t = tasmota.topic
    tasmota.set_load(100.0)
    with raw_client(creds, f"stat/{t}/#", f"tele/{t}/#") as raw:
        raw.publish(f"cmnd/{t}/POWER", "ON")
        raw.wait_text(f"stat/{t}/POWER", "ON")
        clock.t += 3600
        raw.publish(f"cmnd/{t}/Status", "10")
        energy = raw.wait_json(f"stat/{t}/STATUS10")["StatusSNS"]["ENERGY"]
        keys = {"TotalStartTime", "Total", "Yesterday", "Today", "Power", "ApparentPower"}
        assert keys | {"ReactivePower", "Factor", "Voltage", "Current"} == set(energy)
        assert energy["Power"] == 100 and energy["Total"] == pytest.approx(0.1, abs=1e-4)
        raw.publish(f"cmnd/{t}/TelePeriod", "10")
        assert raw.wait_json(f"stat/{t}/RESULT", lambda m: "TelePeriod" in m) == {"TelePeriod": 10}
        clock.t += 10
        tasmota.tick()
        assert raw.wait_json(f"tele/{t}/SENSOR")["ENERGY"]["Power"] == 100
        assert raw.wait_json(f"tele/{t}/STATE")["POWER"] == "ON"


def test_tasmota_max_power_warns_then_cuts(
    creds: MqttCredentials, tasmota: TasmotaPlugEmulator
) -> None:
    t = tasmota.topic
    with raw_client(creds, f"stat/{t}/#") as raw:
        raw.publish(f"cmnd/{t}/MaxPower", "1000")
        raw.publish(f"cmnd/{t}/POWER", "ON")
        raw.wait_text(f"stat/{t}/POWER", "ON")
        tasmota.set_load(1500.0)
        assert raw.wait_json(f"stat/{t}/WARNING")["MaxPowerReached"] == 1500
        raw.wait_text(f"stat/{t}/POWER", "OFF")


def test_tasmota_lwt_is_online_then_offline(creds: MqttCredentials, clock: FakeClock) -> None:
    t = unique("tasmota_")
    with raw_client(creds, f"tele/{t}/LWT") as raw:
        plug = TasmotaPlugEmulator(creds, t, clock=clock, autotick=False)
        raw.wait_text(f"tele/{t}/LWT", "Online")
        plug.close()
        raw.wait_text(f"tele/{t}/LWT", "Offline")
