"""The demo's 3D printer on an emulated smart plug, when a broker answers (issue 14).

With an MQTT broker at 127.0.0.1:1883 the printer's station switches and meters through an
emulated Shelly Plus Plug S (``mocks/shelly_plug.py``) instead of the GPIO relay and the
emulated PZEM; without one it keeps those, and the banner says how to get a broker.
"""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

BROKER = ("127.0.0.1", 1883)


def plug_device(data: Path) -> str:
    """The emulated plug's id, one per demo data dir: two demos on one broker never share a
    plug (each would answer the other's requests)."""
    digest = hashlib.sha1(str(data.resolve()).encode(), usedforsecurity=False).hexdigest()
    return f"shellyplusplugs-demo-{digest[:8]}"


def broker_answers(host: str = BROKER[0], port: int = BROKER[1], timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def printer_power(broker: bool, data: Path) -> dict[str, dict[str, str]]:
    """The printer's TOML settings for its power: the plug with a broker, else the PZEM."""
    if not broker:
        return {"sensors": {"power_meter": '"pzem-emulated"'}}
    return {
        "hardware": {"relay": '"shelly-emulated"'},
        "sensors": {"power_meter": '"plug"'},
        "plug": {"device": f'"{plug_device(data)}"'},
    }


def banner_line(broker: bool) -> str:
    if broker:
        return (
            "  smart plug  printer-1 switches and meters through an emulated Shelly Plus Plug S "
            f"on the MQTT broker at {BROKER[0]}:{BROKER[1]}"
        )
    return (
        f"  smart plug  no MQTT broker at {BROKER[0]}:{BROKER[1]}: the printer uses the "
        "emulated PZEM. For the emulated Shelly plug: sudo apt-get install mosquitto, then "
        "start the demo again"
    )
