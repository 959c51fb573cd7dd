"""An emulated Shelly Gen2 plug (Shelly Plus Plug S) on a real MQTT broker.

It answers the documented RPC frames (shelly-api-docs.shelly.cloud: RPC Protocol, Switch, MQTT,
Notifications): requests on ``<id>/rpc``, replies on ``<src>/rpc`` with ``id``, ``src``, ``dst``
and ``result`` or ``error``; ``Switch.Set`` (``on``, ``toggle_after``), ``Switch.Toggle``,
``Switch.GetStatus``, ``Switch.SetConfig``/``GetConfig`` (``auto_off``, ``auto_off_delay``,
``power_limit``), ``Shelly.GetDeviceInfo``; ``NotifyStatus`` on ``<id>/events/rpc`` and the whole
status on ``<id>/status/switch:0`` at each change; ``true``/``false`` on ``<id>/online`` (its last
will). Tests press its button, trip its protections, make it silent or answer as another device.

Example::

    plug = ShellyPlugEmulator(creds, "shellyplusplugs-emu1")   # connects, starts its timers
    plug.set_load(120.0)
    plug.press_button()
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from hardware.mqtt_link import MqttLink
from mocks.plug_model import PlugModel, Ticker
from station.config_plug import MqttCredentials

MODEL = "SNPL-00112EU"


class ShellyPlugEmulator:
    def __init__(
        self,
        creds: MqttCredentials,
        device_id: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        energy_clock: Callable[[], float] | None = None,
        autotick: bool = True,
        connect_timeout: float = 5.0,
    ) -> None:
        self.device_id = device_id
        self.model = PlugModel(clock, energy_clock)
        self.auto_off = False
        self.auto_off_delay = 0.0
        self.power_limit = 2500.0
        self.silent = False
        """True: requests are swallowed (a plug that does not answer)."""
        self.answer_as: str | None = None
        """Another device id to sign replies with (a mix-up of device ids)."""
        self.requests: list[dict[str, Any]] = []
        self.link = MqttLink(
            creds,
            f"emu-{device_id}",
            will=(f"{device_id}/online", "false"),
            online=(f"{device_id}/online", "true"),
        )
        self.link.subscribe(f"{device_id}/rpc", self._on_request)
        self.link.start()
        if not self.link.wait_connected(connect_timeout):
            self.link.close()
            raise ConnectionError(f"the emulated Shelly could not reach the broker: {creds.host}")
        self._ticker = Ticker(self.tick) if autotick else None

    # --- what a test or the demo does to the plug --------------------------------------------

    def set_load(self, watts: float) -> None:
        """The machine plugged into it draws this much while the output is on."""
        self.model.set_load(watts)
        if self.model.output:
            self.notify()
        if self.model.output and self.model.load_w > self.power_limit:
            self.trip("overpower")

    def press_button(self) -> None:
        with self.model.lock:
            on = not self.model.output
            self.model.switch(on, "button", self._auto_off_s() if on else None)
        self.notify()

    def trip(self, error: str) -> None:
        """``overpower``, ``overtemp``, ``overvoltage``: the plug cuts and says why."""
        if error == "overtemp":
            self.model.temp_c = 95.0
        self.model.trip(error)
        self.notify()

    def tick(self) -> None:
        if self.model.tick():
            self.notify()

    def close(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
        self.link.publish_wait(f"{self.device_id}/online", "false")
        self.link.close()

    # --- the device's side -------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        m = self.model
        with m.lock:
            m.accumulate()
            watts = m.power_w
            status: dict[str, Any] = {
                "id": 0,
                "source": m.source,
                "output": m.output,
                "apower": round(watts, 1),
                "voltage": m.volts,
                "current": round(watts / m.volts, 3),
                "aenergy": {
                    "total": round(m.energy_wh, 3),
                    "by_minute": [0.0, 0.0, 0.0],
                    "minute_ts": int(time.time()),
                },
                "temperature": {"tC": m.temp_c, "tF": round(m.temp_c * 9 / 5 + 32, 1)},
            }
            if m.timer_at is not None and m.timer_started is not None:
                status["timer_started_at"] = round(time.time(), 2)
                status["timer_duration"] = round(m.timer_at - m.timer_started, 2)
            if m.errors:
                status["errors"] = list(m.errors)
        return status

    def notify(self) -> None:
        status = self.status()
        frame = {
            "src": self.device_id,
            "dst": f"{self.device_id}/events",
            "method": "NotifyStatus",
            "params": {"ts": round(time.time(), 2), "switch:0": status},
        }
        self.link.publish(f"{self.device_id}/events/rpc", json.dumps(frame))
        self.link.publish(f"{self.device_id}/status/switch:0", json.dumps(status))

    def _auto_off_s(self) -> float | None:
        return self.auto_off_delay if self.auto_off and self.auto_off_delay > 0 else None

    def _on_request(self, topic: str, payload: bytes) -> None:
        try:
            req = json.loads(payload)
        except ValueError:
            return  # a real device ignores a frame it cannot parse
        if not isinstance(req, dict):
            return
        self.requests.append(req)
        if self.silent:
            return
        src, call_id = req.get("src"), req.get("id")
        if not isinstance(src, str) or call_id is None:
            return  # no src: nowhere to answer
        result, error = self._handle(str(req.get("method")), req.get("params") or {})
        frame: dict[str, Any] = {"id": call_id, "src": self.answer_as or self.device_id, "dst": src}
        if error is not None:
            frame["error"] = {"code": error[0], "message": error[1]}
        else:
            frame["result"] = result
        self.link.publish(f"{src}/rpc", json.dumps(frame))

    def _handle(
        self, method: str, params: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, tuple[int, str] | None]:
        if method in ("Switch.Set", "Switch.Toggle", "Switch.GetStatus", "Switch.SetConfig"):
            if params.get("id") != 0:
                return None, (-105, f"Argument 'id', value {params.get('id')} not found!")
        if method == "Switch.Set":
            on = params.get("on")
            if not isinstance(on, bool):
                return None, (-103, "Missing required argument 'on'!")
            toggle = params.get("toggle_after")
            if toggle is not None and (
                isinstance(toggle, bool) or not isinstance(toggle, int | float) or toggle <= 0
            ):
                return None, (-103, "Invalid argument 'toggle_after'!")
            was_on = self.model.output
            timer = float(toggle) if toggle else (self._auto_off_s() if on else None)
            changed = self.model.switch(on, "MQTT", timer)
            if on and self.model.load_w > self.power_limit:
                self.model.trip("overpower")
                changed = True
            if changed:
                self.notify()
            return {"was_on": was_on}, None
        if method == "Switch.Toggle":
            was_on = self.model.output
            self.model.switch(not was_on, "MQTT", self._auto_off_s() if not was_on else None)
            self.notify()
            return {"was_on": was_on}, None
        if method == "Switch.GetStatus":
            return self.status(), None
        if method == "Switch.GetConfig":
            return self._config(), None
        if method == "Switch.SetConfig":
            config = params.get("config")
            if not isinstance(config, dict):
                return None, (-103, "Missing required argument 'config'!")
            if "auto_off" in config:
                self.auto_off = bool(config["auto_off"])
            if "auto_off_delay" in config:
                self.auto_off_delay = float(config["auto_off_delay"])
            if "power_limit" in config:
                self.power_limit = float(config["power_limit"])
            return {"restart_required": False}, None
        if method == "Shelly.GetDeviceInfo":
            return {"id": self.device_id, "model": MODEL, "gen": 2, "app": "PlusPlugS"}, None
        return None, (404, f"No handler for {method}")

    def _config(self) -> dict[str, Any]:
        return {
            "id": 0,
            "name": None,
            "initial_state": "off",
            "auto_on": False,
            "auto_off": self.auto_off,
            "auto_off_delay": self.auto_off_delay,
            "power_limit": self.power_limit,
        }
