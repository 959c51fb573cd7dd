"""The fail-safe lives on the plug: a station killed with ``kill -9``, or cut from the broker,
leaves the machine powered at most ``plug.off_after_s`` — the plug switches off by itself —
and the station's last will says it is gone. The plug is an emulator in this test process; the
station is a real ``station run`` subprocess (kill -9) or a controller (broker stopped)."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from mocks.shelly_plug import ShellyPlugEmulator
from mocks.tasmota_plug import TasmotaPlugEmulator
from station.clock import SimulatedClock
from station.config import parse_config
from station.config_plug import MqttCredentials
from station.machine import Tap
from tests.conftest import SOFIANE, start_controller
from tests.e2e_helpers import StationProcess, prepare_station
from tests.mqtt_helpers import (
    OwnBroker,
    broker_creds,
    clear_retained,
    raw_client,
    unique,
    wait_for,
)

OFF_AFTER_S = 6.0
"""The bound under test (the shortest allowed is 5 s; a fablab would use about 60)."""
TICK_S = 0.05
"""The emulated plug checks its timer this often: the bound holds to this much."""


def emulator(kind: str, creds: MqttCredentials) -> Any:
    if kind == "shelly":
        return ShellyPlugEmulator(creds, unique("shellyplusplugs-"))
    return TasmotaPlugEmulator(creds, unique("tasmota_"))


def device_of(plug: Any) -> str:
    return str(getattr(plug, "device_id", None) or plug.topic)


def on_commands(plug: Any) -> int:
    if isinstance(plug, ShellyPlugEmulator):
        return sum(
            1 for r in plug.requests if r.get("method") == "Switch.Set" and r["params"].get("on")
        )
    return sum(1 for c, a in plug.commands if c == "POWER" and a == "ON")


def set_key(text: str, section: str, key: str, value: str) -> str:
    """Set ``key`` in ``[section]`` of a station.toml written by ``station init``."""
    head, sep, rest = text.partition(f"\n[{section}]\n")
    assert sep, f"no [{section}] in the sample config"
    body, nxt, tail = rest.partition("\n[")
    body, n = re.subn(rf"(?m)^#? ?{key} = .*$", f"{key} = {value}", body, count=1)
    assert n == 1, f"no {key} in [{section}]"
    return head + sep + body + nxt + tail


@pytest.mark.e2e
@pytest.mark.parametrize("kind", ["shelly", "tasmota"])
def test_kill_9_the_plug_switches_off_by_itself_and_the_will_says_gone(
    tmp_path: Path, kind: str
) -> None:
    creds = broker_creds()
    plug = emulator(kind, creds)
    config = prepare_station(tmp_path / "station")
    text = config.read_text(encoding="utf-8")
    text = set_key(text, "hardware", "relay", f'"{kind}"')
    text = set_key(text, "plug", "device", f'"{device_of(plug)}"')
    text = set_key(text, "plug", "off_after_s", str(OFF_AFTER_S))
    text = set_key(text, "mqtt", "keepalive_s", "5")
    station_id = unique("st-")
    text = set_key(text, "station", "id", f'"{station_id}"')
    config.write_text(text, encoding="utf-8")
    topic = f"fabrique/{station_id}/availability"
    station = StationProcess(config)
    try:
        with raw_client(creds, topic) as raw:
            station.start_ready()
            raw.wait_text(topic, "online")
            assert station.badge(SOFIANE)["action"] == "session_started"
            wait_for(lambda: plug.model.output, what="the plug on")
            # The station renews the timer every off_after_s / 3: wait for two renewals.
            wait_for(lambda: on_commands(plug) >= 3, timeout=OFF_AFTER_S * 2, what="renewals")
            killed = time.monotonic()
            os.kill(station.pid, signal.SIGKILL)
            assert station.proc is not None
            station.proc.wait(10)
            wait_for(lambda: not plug.model.output, timeout=OFF_AFTER_S + 2, what="off by itself")
            at, on, source = plug.model.switches[-1]
            assert (on, source) == (False, "timer")
            bound = at - killed  # the emulator's clock is time.monotonic too
            print(f"\n{kind}: plug off {bound:.2f} s after kill -9 (bound {OFF_AFTER_S} s)")
            assert bound <= OFF_AFTER_S + TICK_S * 2
            # The broker says the station is gone: its last will, after 1.5 × keep-alive.
            raw.wait_text(topic, "offline", timeout=5 * 1.5 + 5)
    finally:
        station.close()
        plug.close()
        clear_retained(creds, topic, f"{device_of(plug)}/online", f"tele/{device_of(plug)}/LWT")


@pytest.mark.parametrize("kind", ["shelly", "tasmota"])
def test_the_broker_stopped_the_plug_switches_off_by_itself_and_the_session_ends(
    tmp_path: Path, kind: str
) -> None:
    broker = OwnBroker(tmp_path)  # never stop the shared one
    try:
        _broker_stopped(tmp_path, kind, broker)
    finally:
        broker.stop()  # also when building the plug or the station failed


def _broker_stopped(tmp_path: Path, kind: str, broker: OwnBroker) -> None:
    creds = broker.creds()
    plug = emulator(kind, creds)
    raw = {
        "station": {"id": unique("st-"), "data_dir": str(tmp_path / "data")},
        "machine": {"id": "laser-1", "name": "Découpe laser", "kind": "laser"},
        "hardware": {"backend": "mock", "relay": kind},
        "reader": {"type": "fake"},
        "clock": {"simulated": True},
        "web": {"port": 0},
        "plug": {"device": device_of(plug), "off_after_s": OFF_AFTER_S, "ack_timeout_s": 1},
        "mqtt": {"port": broker.port, "keepalive_s": 5},
    }
    try:
        config = parse_config(raw, tmp_path / "station.toml")
        c = start_controller(config, SimulatedClock(mono=1000.0))
    except BaseException:
        plug.close()
        raise
    try:
        c.call(Tap(SOFIANE))
        wait_for(lambda: plug.model.output, what="the plug on")
        stopped = time.monotonic()
        broker.stop()
        wait_for(lambda: not plug.model.output, timeout=OFF_AFTER_S + 2, what="off by itself")
        at, on, source = plug.model.switches[-1]
        assert (on, source) == (False, "timer") and at - stopped <= OFF_AFTER_S + TICK_S * 2
        # The station cannot renew: no acknowledgement, a fault, never a silent session.
        wait_for(lambda: c.status()["machine"]["state"] == "fault", timeout=OFF_AFTER_S * 2)
        assert c.status()["machine"]["reason"] == "plug_no_ack"
        assert "broker" in str(c.health()["relay"]["plug"].get("error", ""))
    finally:
        c.stop()
        plug.close()
