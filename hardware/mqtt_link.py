"""One MQTT connection (paho-mqtt 2.x): the only module that imports paho.

The smart-plug drivers (``hardware/shelly.py``, ``hardware/tasmota.py``), their emulators in
``mocks/`` and the station's own state topics all talk through an :class:`MqttLink`, so the
transport is handed in and the drivers only speak their device's topics and payloads.

A broker that is down at start is not an error here: the link connects in the background and
keeps trying (``health()`` says why it is not connected — refused login, unreachable broker),
and :meth:`publish` returns ``False`` while it is down so that nothing is queued to be sent
late (an "on" delivered minutes after it was decided would be a decision nobody made).

Wiring (``station/wiring.py`` builds it from ``[mqtt]``)::

    link = MqttLink(creds, "fabrique-laser-1", will=("fabrique/laser-1/availability", "offline"))
    link.subscribe("shellyplusplugs-a8032ab12345/events/rpc", handler)   # handler(topic, bytes)
    link.start()
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from station.config_plug import MqttCredentials

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes], None]


class MqttLink:
    """A paho client on its own network thread; subscriptions survive reconnects."""

    def __init__(
        self,
        creds: MqttCredentials,
        client_id: str,
        *,
        will: tuple[str, str] | None = None,
        online: tuple[str, str] | None = None,
    ) -> None:
        self.creds = creds
        self.client_id = client_id
        self._handlers: dict[str, MessageHandler] = {}
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._unacked: set[int] = set()
        """The subscriptions sent at the last connection that the broker has not acknowledged."""
        self._online = online
        self._closed = False
        self.last_error: str | None = None
        self.connects = 0
        self.sent = 0
        self.received = 0
        c = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        c.reconnect_delay_set(min_delay=1, max_delay=5)
        if creds.username:
            c.username_pw_set(creds.username, creds.password or None)
        if creds.tls:
            c.tls_set(ca_certs=creds.ca_file or None, cert_reqs=ssl.CERT_REQUIRED)
        if will is not None:
            c.will_set(will[0], will[1], qos=1, retain=True)
        c.on_socket_open = _no_delay
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_subscribe = self._on_subscribe
        c.on_message = self._on_message
        self._client = c

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background (never raises for a broker that is down)."""
        try:
            self._client.connect_async(self.creds.host, self.creds.port, self.creds.keepalive_s)
        except (OSError, ValueError) as e:
            self.last_error = f"cannot reach the broker at {self._where()}: {e}"
        if self.last_error is None:
            self.last_error = f"not connected yet to the broker at {self._where()}"
        self._client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        """Connected, and the subscriptions made before the connection acknowledged by the broker:
        a message published on their topics from now on reaches this link. (Without the
        acknowledgements, an emulated plug could miss the first command a station sent the
        moment both links said "connected".)"""
        return self._subscribed.wait(timeout)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def close(self, timeout: float = 2.0) -> None:
        """Disconnect cleanly (no last will: a clean stop says ``offline`` itself). Safe twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self._client.disconnect()
        except Exception:
            pass
        deadline = time.monotonic() + timeout
        while self._connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)  # paho's thread reports the disconnection (bounded wait)
        self._client.loop_stop()
        # paho 2.2 leaves its wake-up socket pair open after a loop that never connected
        # (a broker down at start): close it now rather than at garbage collection.
        reset = getattr(self._client, "_reset_sockets", None)
        if callable(reset):
            reset()

    # --- traffic ----------------------------------------------------------------------------

    def subscribe(self, topic: str, handler: MessageHandler) -> None:
        """Call ``handler(topic, payload)`` for each message on ``topic`` (wildcards allowed),
        on paho's thread: handlers must only parse and post."""
        with self._lock:
            self._handlers[topic] = handler
        self._client.message_callback_add(topic, self._dispatch(handler))
        if self.connected:
            self._client.subscribe(topic, qos=1)

    def publish(
        self, topic: str, payload: str | bytes, *, qos: int = 0, retain: bool = False
    ) -> bool:
        """Send now, or return False when not connected (nothing is queued for later)."""
        if not self.connected:
            return False
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return False
        self.sent += 1
        return True

    def publish_wait(self, topic: str, payload: str, *, timeout: float = 2.0) -> bool:
        """Publish at QoS 1, retained, and wait until the broker has it (a clean stop's
        ``offline``: it must leave before the connection closes)."""
        if not self.connected:
            return False
        info = self._client.publish(topic, payload, qos=1, retain=True)
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError):
            return False
        self.sent += 1
        return info.is_published()

    def health(self) -> dict[str, object]:
        out: dict[str, object] = {
            "ok": self.connected,
            "broker": self._where(),
            "connected": self.connected,
            "connects": self.connects,
        }
        if self.last_error and not self.connected:
            out["error"] = self.last_error
        return out

    # --- paho callbacks (paho's thread) -----------------------------------------------------

    def _where(self) -> str:
        return f"{self.creds.host}:{self.creds.port}" + (" (TLS)" if self.creds.tls else "")

    def _dispatch(self, handler: MessageHandler) -> Callable[..., None]:
        def on_message(client: Any, userdata: Any, msg: Any) -> None:
            self.received += 1
            try:
                handler(msg.topic, bytes(msg.payload))
            except Exception:  # a handler's bug must not kill paho's thread
                log.exception("MQTT handler failed for %s", msg.topic)

        return on_message

    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            self.last_error = login_problem(str(reason), self._where())
            log.warning("MQTT: %s", self.last_error)
            return
        self.connects += 1
        self.last_error = None
        with self._lock:
            topics = list(self._handlers)
        mids = set()
        for topic in topics:
            rc, mid = client.subscribe(topic, qos=1)
            if rc == mqtt.MQTT_ERR_SUCCESS and mid is not None:
                mids.add(mid)
        with self._lock:  # (their acknowledgements come on this thread, after this callback)
            self._unacked = mids
        if self._online is not None:
            client.publish(self._online[0], self._online[1], qos=1, retain=True)
        self._connected.set()
        if not mids:
            self._subscribed.set()

    def _on_subscribe(
        self, client: Any, userdata: Any, mid: int, reasons: Any, properties: Any
    ) -> None:
        with self._lock:
            self._unacked.discard(mid)
            done = not self._unacked
        if done and self._connected.is_set():
            self._subscribed.set()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        self._subscribed.clear()
        if not self._closed and was_connected:  # (a refused login keeps its own sentence)
            self.last_error = f"lost the broker at {self._where()} ({reason}); reconnecting"
            log.warning("MQTT: %s", self.last_error)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        """Messages no handler matched (a subscription removed meanwhile): ignored."""


def _no_delay(client: Any, userdata: Any, sock: Any) -> None:
    """Small MQTT packets leave at once: with Nagle's algorithm each request/answer round trip
    through the broker waited for delayed ACKs (about 90 ms instead of about 1 ms here)."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass  # not a TCP socket (a websocket wrapper): nothing to tune


def login_problem(reason: str, where: str) -> str:
    """The broker refused the connection: one sentence that says what to fix."""
    low = reason.lower()
    if "not authorized" in low or "bad user name" in low or "password" in low:
        return (
            f"the broker at {where} refused the login ({reason}): check mqtt.username and the "
            "password in mqtt.password_file or mqtt.password_env"
        )
    return f"the broker at {where} refused the connection ({reason})"
