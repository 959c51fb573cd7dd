"""Plugs running Tasmota over MQTT (Sonoff S26, Nous A1T, Athom…, with an energy monitor).

Tasmota's documented interface (tasmota.github.io/docs, "Commands", "MQTT"): commands on
``cmnd/<topic>/<Command>``; ``POWER ON``/``OFF`` answers ``{"POWER":"ON"}`` on
``stat/<topic>/RESULT`` and ``ON`` on ``stat/<topic>/POWER``; ``Status 10`` answers
``{"StatusSNS": {"ENERGY": {...}}}`` on ``stat/<topic>/STATUS10``; telemetry comes every
``TelePeriod`` on ``tele/<topic>/SENSOR`` with an ``ENERGY`` object (``Power`` W, ``Voltage``,
``Current``, ``Factor``, ``Total`` kWh); ``tele/<topic>/LWT`` is ``Online``/``Offline``; the
energy driver's ``MaxPower`` protection switches off and says ``{"MaxPowerReached": 2500}`` on
``stat/<topic>/WARNING``.

The fail-safe is ``PulseTime``: after ``POWER ON`` the relay switches off by itself. Its unit
has two ranges: 1–111 are tenths of a second, 112–64900 are seconds plus 100
(:func:`pulse_time_value`). Each ``POWER ON`` restarts it, so the station's renewal is one more
``POWER ON``. Tasmota has no documented MQTT message for over-temperature: the plug going off
by itself during a session is the fault then (``unasked_off``).

Wiring::

    plug = TasmotaPlug(link, "tasmota_5B1C2D", off_after_s=60)   # PulseTime1 160
"""

from __future__ import annotations

from typing import Any

from hardware.smart_plug import PayloadError, SmartPlug, number, parse_json_object
from station.ports import PowerReading


def pulse_time_value(seconds: float) -> int:
    """Tasmota's ``PulseTime`` for ``seconds``: tenths up to 11.1 s, then seconds + 100."""
    if seconds <= 0:
        return 0
    if seconds < 11.2:
        return max(1, min(111, round(seconds * 10)))
    return min(64900, round(seconds) + 100)


def pulse_time_seconds(value: int) -> float:
    """The inverse of :func:`pulse_time_value` (0: no timer)."""
    if value <= 0:
        return 0.0
    return value / 10 if value <= 111 else float(value - 100)


def energy_reading(energy: dict[str, Any]) -> PowerReading | None:
    """The ``ENERGY`` object of ``SENSOR``/``STATUS10`` as a reading (``Total`` is kWh)."""
    watts = number(energy.get("Power"))
    if watts is None:
        return None
    total = number(energy.get("Total"))
    return PowerReading(
        watts=max(0.0, watts),
        volts=number(energy.get("Voltage")),
        amps=number(energy.get("Current")),
        energy_wh=None if total is None else round(total * 1000, 3),
        power_factor=number(energy.get("Factor")),
    )


def power_word(value: object) -> bool | None:
    if not isinstance(value, str):
        return None
    word = value.strip().upper()
    return True if word in ("ON", "1") else False if word in ("OFF", "0") else None


class TasmotaPlug(SmartPlug):
    """A Tasmota plug with an energy monitor, as the station's relay and power meter."""

    model = "tasmota"

    def _subscribe(self) -> None:
        t = self.device
        self.link.subscribe(f"stat/{t}/RESULT", self._on_result)
        self.link.subscribe(f"stat/{t}/POWER", self._on_power)
        self.link.subscribe(f"stat/{t}/STATUS10", self._on_status10)
        self.link.subscribe(f"stat/{t}/WARNING", self._on_warning)
        self.link.subscribe(f"tele/{t}/SENSOR", self._on_sensor)
        self.link.subscribe(f"tele/{t}/LWT", self._on_lwt)

    def _send_switch(self, on: bool, renew: bool) -> bool:
        t = self.device
        if on and not renew:
            self.link.publish(f"cmnd/{t}/PulseTime1", str(pulse_time_value(self.off_after_s)))
        return self.link.publish(f"cmnd/{t}/POWER", "ON" if on else "OFF")

    def _request_status(self) -> None:
        self.link.publish(f"cmnd/{self.device}/Status", "10")

    def _request_state(self) -> None:
        self.link.publish(f"cmnd/{self.device}/POWER", "")  # empty: "say your state"

    def _on_result(self, topic: str, payload: bytes) -> None:
        try:
            result = parse_json_object(topic, payload)
        except PayloadError as e:
            self._bad_payload(topic, str(e))
            return
        if "POWER" in result or "POWER1" in result:
            on = power_word(result.get("POWER", result.get("POWER1")))
            if on is None:
                self._bad_payload(topic, f"POWER is {result.get('POWER')!r}, expected ON or OFF")
                return
            self._acked_or_status(on)

    def _on_power(self, topic: str, payload: bytes) -> None:
        on = power_word(payload.decode("utf-8", "replace")) if len(payload) < 16 else None
        if on is None:
            self._bad_payload(topic, f"{payload[:16]!r}, expected ON or OFF")
            return
        self._acked_or_status(on)

    def _acked_or_status(self, on: bool) -> None:
        with self._lock:
            pending = self._pending
        if pending is not None and pending[0] == on:
            self._acked(on)
        else:
            self._status(on)

    def _on_status10(self, topic: str, payload: bytes) -> None:
        try:
            sns = parse_json_object(topic, payload).get("StatusSNS")
            if not isinstance(sns, dict) or not isinstance(sns.get("ENERGY"), dict):
                raise PayloadError("no StatusSNS.ENERGY object: is this plug an energy monitor?")
        except PayloadError as e:
            self._bad_payload(topic, str(e))
            return
        self._status(None, energy_reading(sns["ENERGY"]))

    def _on_sensor(self, topic: str, payload: bytes) -> None:
        try:
            energy = parse_json_object(topic, payload).get("ENERGY")
        except PayloadError as e:
            self._bad_payload(topic, str(e))
            return
        if isinstance(energy, dict):
            self._status(None, energy_reading(energy))

    def _on_warning(self, topic: str, payload: bytes) -> None:
        try:
            warning = parse_json_object(topic, payload)
        except PayloadError as e:
            self._bad_payload(topic, str(e))
            return
        if "MaxPowerReached" in warning:
            self._status(None, errors=("overpower",))

    def _on_lwt(self, topic: str, payload: bytes) -> None:
        self.device_online = payload.strip() == b"Online"
