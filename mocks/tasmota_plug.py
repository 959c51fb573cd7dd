"""An emulated Tasmota plug with an energy monitor on a real MQTT broker.

It follows Tasmota's documented topics (tasmota.github.io/docs: Commands, MQTT): commands on
``cmnd/<topic>/<Command>`` (``POWER`` ON/OFF/TOGGLE/empty, ``PulseTime1``, ``Status 10``,
``TelePeriod``, ``MaxPower``); answers on ``stat/<topic>/RESULT`` (``{"POWER":"ON"}``,
``{"PulseTime1":{"Set":160,"Remaining":0}}``) and ``stat/<topic>/POWER``; ``StatusSNS`` on
``stat/<topic>/STATUS10``; telemetry on ``tele/<topic>/SENSOR`` (``ENERGY``: ``Power``,
``Voltage``, ``Current``, ``Factor``, ``Total`` in kWh…) and ``tele/<topic>/STATE`` every
``TelePeriod``; ``tele/<topic>/LWT`` ``Online``/``Offline`` (retained, its last will); and
``{"MaxPowerReached": W}`` on ``stat/<topic>/WARNING`` when ``MaxPower`` trips.

Example::

    plug = TasmotaPlugEmulator(creds, "tasmota_emu1")
    plug.set_load(60.0)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hardware.mqtt_link import MqttLink
from hardware.tasmota import pulse_time_seconds
from mocks.plug_model import PlugModel, Ticker
from station.config_plug import MqttCredentials


class TasmotaPlugEmulator:
    def __init__(
        self,
        creds: MqttCredentials,
        topic: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        energy_clock: Callable[[], float] | None = None,
        autotick: bool = True,
        connect_timeout: float = 5.0,
    ) -> None:
        self.topic = topic
        self.model = PlugModel(clock, energy_clock)
        self.pulse_time = 0
        self.tele_period = 300
        self.max_power = 0
        self.silent = False
        self.commands: list[tuple[str, str]] = []
        self._last_tele = clock()
        self.link = MqttLink(
            creds,
            f"emu-{topic}",
            will=(f"tele/{topic}/LWT", "Offline"),
            online=(f"tele/{topic}/LWT", "Online"),
        )
        self.link.subscribe(f"cmnd/{topic}/+", self._on_command)
        self.link.start()
        if not self.link.wait_connected(connect_timeout):
            self.link.close()
            raise ConnectionError(f"the emulated Tasmota could not reach the broker: {creds.host}")
        self._ticker = Ticker(self.tick) if autotick else None

    # --- what a test or the demo does -------------------------------------------------------

    def set_load(self, watts: float) -> None:
        self.model.set_load(watts)
        self._check_max_power()

    def press_button(self) -> None:
        on = not self.model.output
        self._switch(on, "button")

    def trip(self, error: str) -> None:
        """``overpower`` (MaxPower) says so on WARNING; anything else only switches off."""
        if error == "overpower":
            self._publish(
                "stat", "WARNING", {"Time": _now(), "MaxPowerReached": int(self.model.load_w)}
            )
        if self.model.trip(error):
            self._say_power()

    def tick(self) -> None:
        if self.model.tick():
            self._say_power()
        now = self.model.clock()
        if self.tele_period and now - self._last_tele >= self.tele_period:
            self._last_tele = now
            self.telemetry()

    def telemetry(self) -> None:
        self._publish("tele", "STATE", {"Time": _now(), "POWER": self._word()})
        self._publish("tele", "SENSOR", {"Time": _now(), "ENERGY": self.energy()})

    def close(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
        self.link.publish_wait(f"tele/{self.topic}/LWT", "Offline")
        self.link.close()

    # --- the device's side ------------------------------------------------------------------

    def energy(self) -> dict[str, Any]:
        m = self.model
        with m.lock:
            m.accumulate()
            watts = m.power_w
            return {
                "TotalStartTime": "2026-01-01T00:00:00",
                "Total": round(m.energy_wh / 1000, 5),
                "Yesterday": 0.0,
                "Today": round(m.energy_wh / 1000, 5),
                "Power": round(watts),
                "ApparentPower": round(watts),
                "ReactivePower": 0,
                "Factor": 1.0 if watts else 0.0,
                "Voltage": round(m.volts),
                "Current": round(watts / m.volts, 3),
            }

    def _word(self) -> str:
        return "ON" if self.model.output else "OFF"

    def _publish(self, prefix: str, name: str, payload: dict[str, Any] | str) -> None:
        body = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
        self.link.publish(f"{prefix}/{self.topic}/{name}", body, qos=0)

    def _say_power(self) -> None:
        self._publish("stat", "RESULT", {"POWER": self._word()})
        self._publish("stat", "POWER", self._word())

    def _switch(self, on: bool, source: str) -> None:
        timer = pulse_time_seconds(self.pulse_time) if on else 0.0
        self.model.switch(on, source, timer or None)
        self._say_power()
        self._check_max_power()

    def _check_max_power(self) -> None:
        if self.max_power and self.model.output and self.model.load_w > self.max_power:
            self.trip("overpower")

    def _on_command(self, topic: str, payload: bytes) -> None:
        command = topic.rsplit("/", 1)[-1].upper()
        arg = payload.decode("utf-8", "replace").strip()
        self.commands.append((command, arg))
        if self.silent:
            return
        if command in ("POWER", "POWER1"):
            word = arg.upper()
            if word in ("ON", "1"):
                self._switch(True, "mqtt")
            elif word in ("OFF", "0"):
                self._switch(False, "mqtt")
            elif word in ("TOGGLE", "2"):
                self._switch(not self.model.output, "mqtt")
            else:  # empty: just say the state
                self._say_power()
        elif command in ("PULSETIME", "PULSETIME1"):
            if arg:
                try:
                    self.pulse_time = max(0, min(64900, int(arg)))
                except ValueError:
                    self._publish("stat", "RESULT", {"Command": "Error"})
                    return
            remaining = 0
            m = self.model
            if m.timer_at is not None:
                remaining = max(0, round((m.timer_at - m.clock()) * 10))
            self._publish(
                "stat", "RESULT", {"PulseTime1": {"Set": self.pulse_time, "Remaining": remaining}}
            )
        elif command == "STATUS" and arg in ("8", "10"):
            body = {"StatusSNS": {"Time": _now(), "ENERGY": self.energy()}}
            self._publish("stat", f"STATUS{arg}", body)
        elif command == "TELEPERIOD":
            if arg:
                value = int(arg) if arg.isdigit() else 300
                self.tele_period = 0 if value == 0 else max(10, min(3600, value))
            self._publish("stat", "RESULT", {"TelePeriod": self.tele_period})
        elif command == "MAXPOWER":
            if arg.isdigit():
                self.max_power = int(arg)
            self._publish("stat", "RESULT", {"MaxPower": self.max_power})
        else:
            self._publish("stat", "RESULT", {"Command": "Unknown"})


def _now() -> str:
    return datetime.now().replace(microsecond=0).isoformat()
