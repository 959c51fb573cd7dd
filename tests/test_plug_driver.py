"""The plug drivers against the emulated plugs through the real broker: acknowledgements, the
off-timer armed and renewed, problems (no answer, the button, protections), bad payloads, a
broker that is down or refuses the login. Each test runs on both plugs."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hardware.mqtt_link import MqttLink
from hardware.shelly import ShellyPlug
from hardware.smart_plug import MAX_PAYLOAD, SmartPlug
from hardware.tasmota import TasmotaPlug, pulse_time_value
from mocks.shelly_plug import ShellyPlugEmulator
from mocks.tasmota_plug import TasmotaPlugEmulator
from station.config_plug import MqttCredentials
from station.ports import PlugProblem, PowerReading
from tests.mqtt_helpers import (
    OwnBroker,
    broker_creds,
    clear_retained,
    free_port,
    raw_client,
    unique,
    wait_for,
)


@dataclass
class Rig:
    plug: SmartPlug
    emulator: Any
    link: MqttLink
    problems: list[PlugProblem] = field(default_factory=list)
    readings: list[object] = field(default_factory=list)
    skew: list[float] = field(default_factory=list)

    def kinds(self) -> list[str]:
        return [p.kind for p in self.problems]

    def late(self) -> None:
        """Past the pending command's deadline at once: the driver's clock jumps ahead of real
        time (which still runs for its polling)."""
        if not self.skew:
            self.plug.clock = lambda: time.monotonic() + sum(self.skew)
        self.skew.append(self.plug.ack_timeout_s + 1)


def build(kind: str, creds: MqttCredentials, **kw: Any) -> Rig:
    device = unique("shellyplusplugs-" if kind == "shelly" else "tasmota_")
    emulator = (ShellyPlugEmulator if kind == "shelly" else TasmotaPlugEmulator)(creds, device)
    link = MqttLink(creds, unique("station-"))
    driver = ShellyPlug if kind == "shelly" else TasmotaPlug
    # An acknowledgement never late by accident on a loaded machine; the tests of late ones
    # move the driver's clock (Rig.late).
    options = {"off_after_s": 30.0, "ack_timeout_s": 30.0, "poll_s": 0.2, **kw}
    plug = driver(link, device, **options)
    rig = Rig(plug, emulator, link)
    plug.watch(rig.problems.append)
    link.start()
    assert link.wait_connected(5)
    return rig


@pytest.fixture(params=["shelly", "tasmota"])
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    creds = broker_creds()
    r = build(request.param, creds)
    yield r
    r.plug.close()
    r.emulator.close()
    device = r.plug.device
    clear_retained(creds, f"{device}/online", f"tele/{device}/LWT")


def test_on_is_acknowledged_and_arms_the_plugs_own_off_timer(rig: Rig) -> None:
    rig.plug.on()
    assert rig.plug.is_on
    wait_for(lambda: rig.plug.acks, what="the acknowledgement")
    m = rig.emulator.model
    assert m.output is True and m.timer_at is not None
    assert m.timer_at - m.timer_started == pytest.approx(30.0)
    if isinstance(rig.emulator, TasmotaPlugEmulator):
        assert rig.emulator.pulse_time == pulse_time_value(30.0)
    rig.plug.off()
    wait_for(lambda: rig.emulator.model.output is False, what="off")
    wait_for(lambda: rig.plug.health()["ok"], what="no command pending")
    assert rig.problems == []


def test_keep_alive_renews_the_timer_every_third_of_it(rig: Rig) -> None:
    t = [1000.0]
    rig.plug.clock = lambda: t[0]
    rig.plug.on()
    wait_for(lambda: rig.plug.acks, what="the acknowledgement")
    first = rig.emulator.model.timer_at
    t[0] += 5
    rig.plug.keep_alive()  # too early: nothing sent
    t[0] += 5.1
    rig.plug.keep_alive()  # 10.1 s > 30/3: renewed
    wait_for(lambda: rig.emulator.model.timer_at != first, what="the renewal")
    wait_for(lambda: len(rig.plug.acks) == 2, what="the renewal's acknowledgement")
    assert ons(rig.emulator) == 2
    rig.plug.off()
    wait_for(lambda: rig.emulator.model.output is False, what="off")
    t[0] += 20
    rig.plug.keep_alive()  # off: never renews
    rig.plug.poll_once()  # a round trip: a renewal sent before it would have arrived
    assert ons(rig.emulator) == 2 and rig.emulator.model.output is False


def ons(emulator: Any) -> int:
    """How many "on" commands the plug received."""
    if isinstance(emulator, ShellyPlugEmulator):
        return sum(
            1
            for r in emulator.requests
            if r.get("method") == "Switch.Set" and r["params"].get("on") is True
        )
    return sum(1 for c, a in emulator.commands if c == "POWER" and a == "ON")


def test_the_plugs_meter_reports_power_and_energy(rig: Rig) -> None:
    rig.emulator.set_load(250.0)
    rig.plug.start_meter(rig.readings.append)
    rig.plug.on()
    reading = wait_for(
        lambda: next(
            (r for r in rig.readings if isinstance(r, PowerReading) and r.watts == 250), None
        ),
        what="a 250 W reading",
    )
    assert reading.energy_wh is not None and reading.volts == 230
    polled = rig.plug.poll_once()
    assert polled and isinstance(polled[0], PowerReading) and polled[0].watts == 250


def test_a_plug_that_does_not_answer_is_a_no_ack_problem(rig: Rig) -> None:
    rig.emulator.silent = True
    rig.plug.on()
    rig.late()
    wait_for(lambda: rig.kinds() == ["no_ack"], what="no_ack")
    assert rig.problems[0].detail["asked"] == "on"
    health = rig.plug.health()
    assert health["ok"] is False and "did not acknowledge on" in str(health["error"])


def test_an_off_nobody_confirmed_is_sent_again(rig: Rig) -> None:
    rig.plug.on()
    wait_for(lambda: rig.plug.acks, what="on")
    rig.emulator.silent = True
    rig.plug.off()
    rig.late()
    wait_for(lambda: rig.kinds() == ["no_ack"], what="no_ack for off")
    rig.emulator.silent = False
    rig.late()  # the next repetition
    wait_for(lambda: rig.emulator.model.output is False, what="the repeated off")


def test_the_plugs_button_pressed_on_is_switched_off_at_once_and_reported(rig: Rig) -> None:
    rig.plug.off()
    wait_for(lambda: rig.plug.acks, what="off acknowledged")
    rig.emulator.press_button()
    wait_for(lambda: rig.kinds() == ["unasked_on"], what="unasked_on")
    wait_for(lambda: rig.emulator.model.output is False, what="the plug off again")
    assert [on for _, on, _ in rig.emulator.model.switches][-2:] == [True, False]


def test_a_plug_off_during_a_session_is_reported(rig: Rig) -> None:
    rig.plug.on()
    wait_for(lambda: rig.plug.acks, what="on")
    rig.emulator.press_button()
    wait_for(lambda: rig.kinds() == ["unasked_off"], what="unasked_off")


@pytest.mark.parametrize("error", ["overpower", "overtemp"])
def test_the_plugs_own_protection_is_reported(rig: Rig, error: str) -> None:
    rig.plug.on()
    wait_for(lambda: rig.plug.acks, what="on")
    rig.emulator.trip(error)
    if isinstance(rig.emulator, TasmotaPlugEmulator) and error == "overtemp":
        # Tasmota has no documented over-temperature message: the unasked off says it.
        wait_for(lambda: "unasked_off" in rig.kinds(), what="unasked_off")
    else:
        wait_for(lambda: error in rig.kinds(), what=error)


def test_bad_payloads_are_counted_and_change_nothing(rig: Rig) -> None:
    rig.plug.on()
    wait_for(lambda: rig.plug.acks, what="on")
    creds = broker_creds()
    d = rig.plug.device
    if isinstance(rig.plug, ShellyPlug):
        topics = [f"{rig.plug.src}/rpc", f"{d}/events/rpc", f"{d}/status/switch:0"]
    else:
        topics = [f"stat/{d}/RESULT", f"stat/{d}/STATUS10", f"tele/{d}/SENSOR"]
    with raw_client(creds) as raw:
        for topic in topics:
            raw.publish(topic, b"\xff\xfe not json")
            raw.publish(topic, "[1, 2]")
            raw.publish(topic, "{" + " " * MAX_PAYLOAD + "}")
        wait_for(lambda: rig.plug.errors >= 9, what="nine bad payloads counted")
    assert "last_error" in rig.plug.health()
    assert rig.plug.is_on and rig.emulator.model.output is True and rig.problems == []


def test_a_reply_from_another_device_is_refused() -> None:
    creds = broker_creds()
    r = build("shelly", creds)
    try:
        r.emulator.answer_as = "shellyplusplugs-someone-else"
        r.plug.on()
        wait_for(lambda: "shellyplusplugs-someone-else" in str(r.plug.last_error), what="refusal")
        r.late()
        wait_for(lambda: r.kinds() == ["no_ack"], what="no_ack")
        assert "shellyplusplugs-someone-else" in str(r.plug.last_error)
    finally:
        r.plug.close()
        r.emulator.close()
        clear_retained(creds, f"{r.plug.device}/online")


def test_a_broker_down_at_start_is_said_and_every_on_is_a_no_ack() -> None:
    creds = MqttCredentials("127.0.0.1", free_port())
    link = MqttLink(creds, unique("station-"))
    plug = TasmotaPlug(link, unique("tasmota_"), ack_timeout_s=0.5)
    problems: list[PlugProblem] = []
    plug.watch(problems.append)
    link.start()
    try:
        plug.on()
        wait_for(lambda: problems, what="no_ack")
        assert problems[0].kind == "no_ack"
        health = plug.health()
        assert health["ok"] is False and "not connected to the broker" in str(health["error"])
    finally:
        plug.close()


def test_connected_means_the_subscriptions_are_in_place() -> None:
    """``wait_connected`` returns once the broker acknowledged the link's subscriptions: an
    emulated plug that returned at the CONNACK could miss the first command (seen under load:
    test_the_plugs_meter_reports_power_and_energy[shelly], a no_ack and no reading). A broker of
    the test's own holds the SUBACK back."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        link = MqttLink(MqttCredentials("127.0.0.1", server.getsockname()[1]), unique("emu-"))
        link.subscribe("shellyplusplugs-x/rpc", lambda topic, payload: None)
        link.start()
        server.settimeout(10)
        conn, _ = server.accept()
        try:
            conn.settimeout(10)
            assert read_packet(conn)[0] >> 4 == 1  # CONNECT
            conn.sendall(b"\x20\x02\x00\x00")  # CONNACK, accepted
            kind, body = read_packet(conn)
            assert kind >> 4 == 8  # SUBSCRIBE (sent before the link says it is connected)
            wait_for(lambda: link.connected, what="the CONNACK")
            assert not link.wait_connected(0), "connected, but the broker has not subscribed it"
            conn.sendall(b"\x90\x03" + body[:2] + b"\x01")  # SUBACK for its packet id, QoS 1
            assert link.wait_connected(5)
        finally:
            link.close(timeout=0.5)
            conn.close()


def read_packet(conn: socket.socket) -> tuple[int, bytes]:
    """One MQTT packet: its first byte and its body."""
    first = conn.recv(1)[0]
    length, shift = 0, 0
    while True:
        byte = conn.recv(1)[0]
        length += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    body = b""
    while len(body) < length:
        body += conn.recv(length - len(body))
    return first, body


def test_wrong_credentials_are_said_in_one_sentence(tmp_path: Path) -> None:
    broker = OwnBroker(tmp_path, passwords={"station": "right"})
    try:
        link = MqttLink(broker.creds("station", "wrong"), unique("station-"))
        link.start()
        wait_for(lambda: "refused" in str(link.last_error), what="the refusal")
        assert not link.connected
        assert "refused the login" in str(link.health()["error"])
        assert "mqtt.username" in str(link.health()["error"])
        link.close()
        good = MqttLink(broker.creds("station", "right"), unique("station-"))
        good.start()
        assert good.wait_connected(5)
        good.close()
    finally:
        broker.stop()


def test_payloads_are_json_the_device_documents() -> None:
    """What the Shelly driver sends is the documented request frame."""
    sent: list[tuple[str, str]] = []

    class Link:
        client_id = "fabrique-laser-1"
        connected = True

        def subscribe(self, topic: str, handler: Any) -> None:
            pass

        def publish(self, topic: str, payload: Any, *, qos: int = 0, retain: bool = False) -> bool:
            sent.append((topic, payload))
            return True

        def health(self) -> dict[str, object]:
            return {"ok": True}

        def close(self, timeout: float = 2.0) -> None:
            pass

    plug = ShellyPlug(Link(), "shellyplusplugs-a8032ab12345", off_after_s=60)
    plug.on()
    topic, payload = sent[-1]
    assert topic == "shellyplusplugs-a8032ab12345/rpc"
    assert json.loads(payload) == {
        "id": 1,
        "src": "fabrique-laser-1-rpc",
        "method": "Switch.Set",
        "params": {"id": 0, "on": True, "toggle_after": 60},
    }
    plug.close()
