"""The machine on MQTT for Home Assistant: the retained state (never more than a first name, and
that only when configured), the discovery documents, and LOCK/UNLOCK only when configured."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hardware.mqtt_state import StatePublisher, start_state_publisher
from station.clock import SimulatedClock
from station.config import Config, parse_config
from station.controller import Controller
from station.machine import Tap
from station.mqtt_state import command_for, discovery_documents, state_payload
from tests.conftest import LEA, SOFIANE, start_controller
from tests.mqtt_helpers import broker_creds, clear_retained, raw_client, unique, wait_for


def config_with(tmp_path: Path, **mqtt: Any) -> Config:
    raw = {
        "station": {"id": unique("st-"), "data_dir": str(tmp_path / "data")},
        "machine": {"id": "laser-1", "name": "Découpe laser", "kind": "laser"},
        "hardware": {"backend": "mock"},
        "reader": {"type": "fake"},
        "clock": {"simulated": True},
        "sensors": {"power_meter": "pzem-emulated"},
        "web": {"port": 0},
        "mqtt": {"publish_state": True, "discovery_prefix": unique("ha"), **mqtt},
    }
    return parse_config(raw, tmp_path / "station.toml")


SESSION_STATUS = {
    "machine": {"state": "in_use", "reason": None, "relay_on": True},
    "session": {"member_name": "Léa", "member_id": "lea", "uid": "04B0B1B2"},
    "power": {"watts": 120.0},
    "air": None,
}


def test_the_state_says_a_first_name_only_when_configured() -> None:
    hidden = state_payload(SESSION_STATUS, "none")
    assert hidden["session"] == "ON" and hidden["member"] is None
    assert hidden["relay"] == "ON" and hidden["power_w"] == 120.0
    shown = state_payload(SESSION_STATUS, "first_name")
    assert shown["member"] == "Léa"
    for payload in (hidden, shown):
        text = json.dumps(payload)
        assert "04B0B1B2" not in text and "lea" not in text.lower().replace("léa", "")


def test_a_fault_or_an_air_alarm_is_the_alarm() -> None:
    fault = {"machine": {"state": "fault", "reason": "plug_no_ack", "relay_on": False}}
    assert state_payload(fault, "none")["alarm"] == "ON"
    assert state_payload(fault, "none")["alarm_reason"] == "plug_no_ack"
    air = {"machine": {"state": "in_use", "relay_on": True}, "air": {"alarm": "pm25"}}
    assert state_payload(air, "none")["alarm_reason"] == "air_pm25"
    calm = {"machine": {"state": "available", "relay_on": False}}
    assert state_payload(calm, "none")["alarm"] == "OFF"


def test_discovery_documents_follow_home_assistants_schema(tmp_path: Path) -> None:
    config = config_with(tmp_path)
    docs = dict(discovery_documents(config))
    prefix = config.mqtt.discovery_prefix
    components = {topic.split("/")[1] for topic in docs}
    assert components == {"sensor", "binary_sensor"}  # no lock, no name: not configured
    for topic, doc in docs.items():
        assert topic.startswith(f"{prefix}/") and topic.endswith("/config")
        assert len(topic.split("/")) == 5  # <prefix>/<component>/<node_id>/<object_id>/config
        assert doc["availability_topic"].endswith("/availability")
        assert doc["state_topic"].endswith("/state") and doc["unique_id"]
        assert doc["device"]["identifiers"] and doc["device"]["name"] == "Découpe laser"
    unique_ids = [d["unique_id"] for d in docs.values()]
    assert len(set(unique_ids)) == len(unique_ids)
    power = next(d for t, d in docs.items() if t.endswith("/power/config"))
    assert power["unit_of_measurement"] == "W" and power["device_class"] == "power"
    more = dict(
        discovery_documents(config_with(tmp_path, accept_commands=True, session_name="first_name"))
    )
    assert any(t.split("/")[1] == "lock" for t in more)
    assert any(t.endswith("/member/config") for t in more)


def test_only_lock_and_unlock_are_commands() -> None:
    lock = command_for(b"LOCK")
    assert lock is not None and lock.action == "out_of_service" and lock.reason
    unlock = command_for(b" unlock\n")
    assert unlock is not None and unlock.action == "back_in_service"
    for payload in (b"end_session", b"ON", b"", b"LOCK" * 100, b'{"action":"clear_check"}'):
        assert command_for(payload) is None


@pytest.fixture
def station(
    tmp_path: Path, clock: SimulatedClock, request: pytest.FixtureRequest
) -> Iterator[tuple[Controller, StatePublisher]]:
    broker_creds()
    config = config_with(tmp_path, **getattr(request, "param", {}))
    c = start_controller(config, clock)
    publisher = start_state_publisher(config, c)
    assert publisher is not None
    yield c, publisher
    publisher.stop()
    c.stop()
    clear_retained(broker_creds(), f"{publisher.base}/availability")


def test_the_state_and_discovery_are_published_retained(
    station: tuple[Controller, StatePublisher],
) -> None:
    c, publisher = station
    base, prefix = publisher.base, c.config.mqtt.discovery_prefix
    with raw_client(broker_creds(), f"{base}/#", f"{prefix}/#") as raw:
        raw.wait_text(f"{base}/availability", "online")
        assert raw.wait_json(f"{base}/state")["state"] == "available"
        n = len(discovery_documents(c.config))
        wait_for(lambda: len({t for t, _, _ in raw.messages if t.startswith(prefix)}) == n)
        with raw_client(broker_creds(), f"{prefix}/#", f"{base}/state") as late:
            # A client that comes later (Home Assistant restarting) gets them: retained.
            wait_for(lambda: len(late.messages) == n + 1, what="the retained documents")
            assert all(retained for _, _, retained in late.messages)
        c.call(Tap(SOFIANE))
        state = raw.wait_json(f"{base}/state", lambda m: m["state"] == "in_use")
        assert state["session"] == "ON" and state["member"] is None and state["relay"] == "ON"
        raw.publish(f"{base}/command", "LOCK")  # not configured: nobody listens
        c.call(Tap(LEA))  # a round trip through the controller
        assert c.status()["machine"]["state"] == "in_use"


@pytest.mark.parametrize("station", [{"accept_commands": True}], indirect=True)
def test_lock_and_unlock_from_mqtt_when_configured(
    station: tuple[Controller, StatePublisher],
) -> None:
    c, publisher = station
    base = publisher.base
    with raw_client(broker_creds(), f"{base}/state") as raw:
        wait_for(lambda: c.hardware is not None and publisher.link.connected)
        raw.publish(f"{base}/command", "end_session")
        wait_for(lambda: publisher.refused == 1, what="the refused command")
        raw.publish(f"{base}/command", "LOCK")
        wait_for(lambda: c.status()["machine"]["state"] == "out_of_service", what="locked")
        raw.wait_json(f"{base}/state", lambda m: m["state"] == "out_of_service")
        raw.publish(f"{base}/command", "UNLOCK")
        wait_for(lambda: c.status()["machine"]["state"] == "available", what="unlocked")


def test_a_plug_station_publishes_on_the_plugs_own_connection(
    tmp_path: Path, clock: SimulatedClock
) -> None:
    """One connection, one last will: the state shares the smart plug's MQTT link."""
    creds = broker_creds()
    raw = {
        "station": {"id": unique("st-"), "data_dir": str(tmp_path / "data")},
        "machine": {"id": "laser-1", "name": "Découpe laser", "kind": "laser"},
        "hardware": {"backend": "mock", "relay": "shelly-emulated"},
        "reader": {"type": "fake"},
        "clock": {"simulated": True},
        "sensors": {"power_meter": "plug"},
        "plug": {"device": unique("plug-")},
        "mqtt": {"publish_state": True, "discovery_prefix": unique("ha")},
    }
    config = parse_config(raw, tmp_path / "station.toml")
    c = start_controller(config, clock)
    publisher = start_state_publisher(config, c)
    assert publisher is not None
    try:
        assert publisher.link is c.hardware.extras["plug_link"].link
        with raw_client(creds, f"{publisher.base}/state") as watch:
            c.call(Tap(SOFIANE))
            state = watch.wait_json(f"{publisher.base}/state", lambda m: m["relay"] == "ON")
            assert state["state"] == "in_use" and state["session"] == "ON"
    finally:
        publisher.stop()
        c.stop()
        d = config.plug.device
        discovery = [topic for topic, _ in discovery_documents(config)]
        clear_retained(
            creds,
            f"{publisher.base}/availability",
            f"{publisher.base}/state",
            f"{d}/online",
            *discovery,
        )
