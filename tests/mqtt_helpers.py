"""The real broker for the smart-plug tests, and a raw paho client to watch it.

Tests that need a broker skip with the reason on a laptop without one, and fail when
``CI=true`` (``./deploy.sh test`` starts Debian's mosquitto there). Each test uses its own
topic prefix (:func:`unique`) and clears the retained topics it caused (:class:`RawClient`).
paho is used raw here on purpose: a client nobody in this project wrote checks what the
emulators and the station publish.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from station.config_plug import MqttCredentials
from tests.test_central_helpers import wait_for as central_wait_for

HOST, PORT = "127.0.0.1", 1883


def answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def broker_creds() -> MqttCredentials:
    """The shared broker, or skip (fail under CI) with what to do."""
    if not answers(HOST, PORT):
        why = (
            f"no MQTT broker at {HOST}:{PORT}: sudo apt-get install mosquitto "
            "(./deploy.sh test starts it when it can)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    return MqttCredentials(HOST, PORT)


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def wait_for(condition: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any:
    """Poll ``condition`` until it is truthy (real MQTT traffic takes real milliseconds)."""
    return central_wait_for(condition, timeout, what or "the condition")


class RawClient:
    """A bare paho client: records every message on its subscriptions, clears retained topics
    it saw when closed."""

    def __init__(self, creds: MqttCredentials, *topics: str) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._retained: set[str] = set()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=unique("raw-")
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._ready.set()
        self.client.connect(creds.host, creds.port, 30)
        self.client.loop_start()
        for topic in topics:
            self.subscribe(topic)

    def subscribe(self, topic: str) -> None:
        self._ready.clear()
        self.client.subscribe(topic, qos=1)
        assert self._ready.wait(5), f"no SUBACK for {topic}"

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))
            self._retained.add(msg.topic)

    def publish(self, topic: str, payload: str | bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)
        if retain:
            self._retained.add(topic)

    def on(self, topic: str) -> list[bytes]:
        with self._lock:
            return [p for t, p, _ in self.messages if t == topic]

    def json_on(self, topic: str) -> list[Any]:
        return [json.loads(p) for p in self.on(topic) if p]

    def wait_json(
        self, topic: str, match: Callable[[Any], bool] = lambda _: True, timeout: float = 5.0
    ) -> Any:
        return wait_for(
            lambda: next((m for m in self.json_on(topic) if match(m)), None),
            timeout,
            f"a message on {topic}",
        )

    def wait_text(self, topic: str, text: str, timeout: float = 5.0) -> None:
        wait_for(lambda: text.encode() in self.on(topic), timeout, f"{text!r} on {topic}")

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    def close(self) -> None:
        for topic in sorted(self._retained):  # leave the shared broker as we found it
            self.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def raw_client(creds: MqttCredentials, *topics: str) -> Iterator[RawClient]:
    client = RawClient(creds, *topics)
    try:
        yield client
    finally:
        client.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OwnBroker:
    """A mosquitto of the test's own on a free port (never stop the shared one)."""

    def __init__(self, tmp: Path, passwords: dict[str, str] | None = None) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(exe).exists():
            why = "no mosquitto executable: sudo apt-get install mosquitto"
            if os.environ.get("CI") == "true":
                pytest.fail(why)
            pytest.skip(why)
        self.exe = exe
        self.port = free_port()
        self.conf = tmp / f"mosquitto-{self.port}.conf"
        lines = [f"listener {self.port} 127.0.0.1", "persistence false"]
        if os.geteuid() == 0:  # else it drops to the mosquitto user, who cannot read tmp files
            lines.append("user root")
        if passwords:
            pw = tmp / "passwords"
            pw.write_text("")
            for user, password in passwords.items():
                subprocess.run(
                    ["mosquitto_passwd", "-b", str(pw), user, password], check=True, timeout=10
                )
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for(lambda: answers("127.0.0.1", self.port, 0.2), 10, "the test's own broker")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def creds(self, username: str = "", password: str = "") -> MqttCredentials:
        return MqttCredentials("127.0.0.1", self.port, username=username, password=password)


def clear_retained(creds: MqttCredentials, *topics: str) -> None:
    """Remove retained messages a test left (a plug's online flag, a station's availability)."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=unique("c-"))
    client.connect(creds.host, creds.port, 30)
    client.loop_start()
    try:
        for topic in topics:
            client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()
