"""Publishes the machine on MQTT (``station/mqtt_state.py`` says what) and, when configured,
takes ``LOCK``/``UNLOCK`` from it. Started by ``station run`` with ``[mqtt] publish_state``.

It shares the smart plug's link when there is one (one connection, one last will), else opens
its own with the same last will. It reads the controller's status broadcasts on its own thread
and publishes the ``state`` document when it changed; commands are posted to the controller
like the technician page's.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from typing import Any

from hardware.mqtt_link import MqttLink
from station.config import Config
from station.config_plug import mqtt_credentials
from station.mqtt_state import base_topic, command_for, discovery_documents, state_payload

log = logging.getLogger(__name__)


class StatePublisher:
    def __init__(self, config: Config, controller: Any, link: MqttLink, own_link: bool) -> None:
        self.config = config
        self.controller = controller
        self.link = link
        self._own_link = own_link
        self.base = base_topic(config)
        self._last: str | None = None
        self._announced = -1
        self.refused = 0
        """Command payloads refused (anything but LOCK/UNLOCK)."""
        self._stop = threading.Event()
        self._queue = controller.broadcaster.subscribe()
        if config.mqtt.accept_commands:
            link.subscribe(f"{self.base}/command", self._on_command)
        self._thread = threading.Thread(target=self._run, name="mqtt-state", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self.controller.broadcaster.unsubscribe(self._queue)
        self._thread.join(timeout)
        if self._own_link:
            self.link.publish_wait(f"{self.base}/availability", "offline")
            self.link.close()

    def _run(self) -> None:
        self._publish(self.controller.status())
        while not self._stop.is_set():
            try:
                message = self._queue.get(timeout=0.5)
            except queue.Empty:
                message = None
            if self.link.connects != self._announced and self.link.connected:
                self._last = None  # a new connection: announce and publish everything again
            if message is not None and message.get("kind") == "status":
                self._publish(message["status"])
            elif self._last is None and self.link.connected:
                self._publish(self.controller.status())

    def _publish(self, status: dict[str, Any]) -> None:
        if not self.link.connected:
            return
        if self._announced != self.link.connects:
            for topic, doc in discovery_documents(self.config):
                self.link.publish(topic, json.dumps(doc, ensure_ascii=False), qos=1, retain=True)
            self._announced = self.link.connects
        payload = json.dumps(state_payload(status, self.config.mqtt.session_name))
        if payload != self._last and self.link.publish(
            f"{self.base}/state", payload, qos=1, retain=True
        ):
            self._last = payload

    def _on_command(self, topic: str, payload: bytes) -> None:
        command = command_for(payload)
        if command is None:
            self.refused += 1
            log.warning("MQTT command refused on %s: only LOCK and UNLOCK are accepted", topic)
            return
        self.controller.post(command)


def start_state_publisher(config: Config, controller: Any) -> StatePublisher | None:
    """The publisher when ``[mqtt] publish_state``; None otherwise."""
    if not config.mqtt.publish_state:
        return None
    shared = controller.hardware.extras.get("plug_link")
    if shared is not None:
        link, own = shared.link, False
    else:
        topic = f"{base_topic(config)}/availability"
        link = MqttLink(
            mqtt_credentials(config.path, config.mqtt),
            f"fabrique-{config.station.id}",
            will=(topic, "offline"),
            online=(topic, "online"),
        )
        link.start()
        own = True
    publisher = StatePublisher(config, controller, link, own)
    publisher.start()
    return publisher
