"""Build the smart plug named in config: its MQTT link and its driver. Both backends call
:func:`add_plug`; ``station/wiring.py`` stays unaware of MQTT.

``[hardware] relay = "shelly"`` or ``"tasmota"`` drives a real plug (on a Pi, or on a laptop
next to one: the plug is reached over the network, no GPIO needed). The ``-emulated`` twins
(mock backend) start an emulated plug on the same broker first (``mocks/backend.py``).
"""

from __future__ import annotations

from typing import Any

from hardware.mqtt_link import MqttLink
from hardware.smart_plug import PlugMeter, SmartPlug
from station.config import Config
from station.config_plug import mqtt_credentials
from station.ports import Hardware

CONNECT_WAIT_S = 3.0
"""At start, wait this long for the broker before the first ``off`` (then go on: the link keeps
trying and the plug's health says why)."""


def availability_topic(config: Config) -> str:
    return f"{config.mqtt.topic_prefix}/{config.station.id}/availability"


def add_plug(hw: Hardware, config: Config) -> None:
    """Replace ``hw.relay`` (and the power meter with ``power_meter = "plug"``) by the plug."""
    relay = config.hardware.relay
    creds = mqtt_credentials(config.path, config.mqtt)
    topic = availability_topic(config)
    link = MqttLink(
        creds,
        f"fabrique-{config.station.id}",
        will=(topic, "offline"),
        online=(topic, "online"),
    )
    plug = _driver(relay, link, config)
    hw.extras["plug"] = plug
    link.start()
    link.wait_connected(CONNECT_WAIT_S)
    plug.off()
    old = hw.relay
    hw.relay = plug
    try:
        old.close()
    except Exception:
        pass
    hw.extras["plug_link"] = _LinkCloser(link, topic)
    if config.sensors.power_meter == "plug":
        hw.power_meter = PlugMeter(plug)


def _driver(relay: str, link: MqttLink, config: Config) -> SmartPlug:
    kwargs: dict[str, Any] = {
        "off_after_s": config.plug.off_after_s,
        "ack_timeout_s": config.plug.ack_timeout_s,
        "poll_s": config.plug.poll_s,
        "own_link": False,
    }
    if relay.startswith("shelly"):
        from hardware.shelly import ShellyPlug

        return ShellyPlug(link, config.plug.device, **kwargs)
    from hardware.tasmota import TasmotaPlug

    return TasmotaPlug(link, config.plug.device, **kwargs)


class PlugPending:
    """Stands in for the relay while the Pi backend builds the other parts: off, claims no GPIO
    pin (a plug station may use ``hardware.pins.relay`` for something else); :func:`add_plug`
    puts the plug in its place."""

    is_on = False

    def on(self) -> None:
        raise RuntimeError("the smart plug is not built yet")

    def off(self) -> None:
        pass

    def close(self) -> None:
        pass


class _LinkCloser:
    """Closed with the hardware, after the relay (whose ``off`` must leave first): says
    ``offline`` on the availability topic, then disconnects."""

    def __init__(self, link: MqttLink, topic: str) -> None:
        self.link, self.topic = link, topic

    def close(self) -> None:
        self.link.publish_wait(self.topic, "offline")
        self.link.close()
