"""The machine on MQTT, for Home Assistant and the building's dashboards: pure payloads.

What the station publishes (retained) under ``<mqtt.topic_prefix>/<station id>/``:
``availability`` (``online``/``offline``, the last will), ``state`` (one JSON document: the
machine's state and reason, the relay, the power, whether a session runs and — only with
``mqtt.session_name = "first_name"`` — the first name, the alarm) and, with
``mqtt.accept_commands``, reads ``command`` (``LOCK``/``UNLOCK``, nothing else). The Home
Assistant discovery documents (``<discovery_prefix>/<component>/<node>/<object>/config``) make
the machine appear without YAML. The I/O is ``hardware/mqtt_state.py``'s.
"""

from __future__ import annotations

from typing import Any

from station import __version__
from station.config import Config
from station.machine import Command
from station.model import MachineState

STATES = [s.value for s in MachineState]


def base_topic(config: Config) -> str:
    return f"{config.mqtt.topic_prefix}/{config.station.id}"


def state_payload(status: dict[str, Any], session_name: str) -> dict[str, Any]:
    """The ``state`` document from the station's status (never a badge UID, at most a first
    name, and that only when configured)."""
    machine = status.get("machine") or {}
    session = status.get("session")
    power = status.get("power") or {}
    air = status.get("air") or {}
    state = machine.get("state")
    alarm = None
    if state == MachineState.FAULT.value:
        alarm = machine.get("reason") or "fault"
    elif air.get("alarm"):
        alarm = f"air_{air['alarm']}"
    out: dict[str, Any] = {
        "state": state,
        "reason": machine.get("reason"),
        "relay": "ON" if machine.get("relay_on") else "OFF",
        "power_w": power.get("watts"),
        "session": "ON" if session else "OFF",
        "member": None,
        "alarm": "ON" if alarm else "OFF",
        "alarm_reason": alarm,
        "pm25": air.get("pm25"),
    }
    if session and session_name == "first_name":
        out["member"] = session.get("member_name")
    return out


def discovery_documents(config: Config) -> list[tuple[str, dict[str, Any]]]:
    """(topic, config document) for each entity of this machine in Home Assistant."""
    base = base_topic(config)
    node = f"fabrique_{config.station.id.replace('-', '_')}"
    device = {
        "identifiers": [node],
        "name": config.display_name,
        "manufacturer": "Fabrique station",
        "model": f"{config.machine.kind} station",
        "sw_version": __version__,
    }
    common = {
        "state_topic": f"{base}/state",
        "availability_topic": f"{base}/availability",
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": device,
    }
    prefix = config.mqtt.discovery_prefix

    def entity(component: str, obj: str, name: str, **extra: Any) -> tuple[str, dict[str, Any]]:
        doc = {"name": name, "unique_id": f"{node}_{obj}", **common, **extra}
        return f"{prefix}/{component}/{node}/{obj}/config", doc

    docs = [
        entity(
            "sensor",
            "state",
            "État",
            value_template="{{ value_json.state }}",
            device_class="enum",
            options=STATES,
            icon="mdi:state-machine",
        ),
        entity(
            "binary_sensor",
            "relay",
            "Alimentation",
            value_template="{{ value_json.relay }}",
            device_class="power",
        ),
        entity(
            "binary_sensor",
            "session",
            "Session en cours",
            value_template="{{ value_json.session }}",
            device_class="occupancy",
        ),
        entity(
            "binary_sensor",
            "alarm",
            "Alerte",
            value_template="{{ value_json.alarm }}",
            device_class="problem",
            json_attributes_topic=f"{base}/state",
            json_attributes_template="{{ {'reason': value_json.alarm_reason} | tojson }}",
        ),
    ]
    if config.sensors.power_meter != "none":
        docs.append(
            entity(
                "sensor",
                "power",
                "Puissance",
                value_template="{{ value_json.power_w }}",
                device_class="power",
                state_class="measurement",
                unit_of_measurement="W",
            )
        )
    if config.mqtt.session_name == "first_name":
        docs.append(
            entity("sensor", "member", "À la machine", value_template="{{ value_json.member }}")
        )
    if config.mqtt.accept_commands:
        docs.append(
            entity(
                "lock",
                "lock",
                "Verrou (hors service)",
                command_topic=f"{base}/command",
                payload_lock="LOCK",
                payload_unlock="UNLOCK",
                value_template=(
                    "{{ 'LOCKED' if value_json.state == 'out_of_service' else 'UNLOCKED' }}"
                ),
                state_locked="LOCKED",
                state_unlocked="UNLOCKED",
            )
        )
    return docs


LOCK_REASON = "verrouillée depuis Home Assistant (MQTT)"
"""The out-of-service reason a LOCK records (shown to staff as written)."""


def command_for(payload: bytes) -> Command | None:
    """``LOCK`` → out of service, ``UNLOCK`` → back in service; anything else → None."""
    word = payload.strip().upper()[:16]
    if word == b"LOCK":
        return Command("out_of_service", by="mqtt", reason=LOCK_REASON)
    if word == b"UNLOCK":
        return Command("back_in_service", by="mqtt")
    return None
