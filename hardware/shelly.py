"""Shelly Gen2+ plugs (Shelly Plus Plug S, Plug S Gen3…) over MQTT, JSON-RPC 2.0.

Shelly's documented interface (shelly-api-docs.shelly.cloud, "RPC Protocol", "Notifications",
"Switch", "MQTT"): a request goes to ``<device>/rpc`` as
``{"id": 7, "src": "<client>", "method": "Switch.Set", "params": {"id": 0, "on": true,
"toggle_after": 60}}``; the reply comes on ``<client>/rpc`` as ``{"id": 7, "src": "<device>",
"dst": "<client>", "result": {"was_on": false}}`` (or ``"error": {"code", "message"}``).
``Switch.GetStatus`` answers the switch's status: ``output``, ``apower`` (W), ``voltage``,
``current``, ``freq``, ``aenergy.total`` (Wh), ``temperature.tC`` and ``errors``
(``overpower``, ``overtemp``…). Changes are notified on ``<device>/events/rpc``
(``NotifyStatus``, ``params["switch:0"]``) and, with ``status_ntf``, on
``<device>/status/switch:0``; the device says ``true``/``false`` on ``<device>/online``.

``toggle_after`` is the fail-safe: the plug flips back to off by itself that many seconds after
the last ``Switch.Set``; the station sends it with every ``on`` and renews it.

Wiring (``hardware/plugs.py`` builds it from ``[plug]`` and ``[mqtt]``)::

    plug = ShellyPlug(link, "shellyplusplugs-a8032ab12345", off_after_s=60)
    plug.on()            # Switch.Set on, toggle_after 60
    plug.keep_alive()    # from the controller's loop: renews every 20 s
"""

from __future__ import annotations

import json
import threading
from typing import Any

from hardware.smart_plug import PayloadError, SmartPlug, number, parse_json_object
from station.ports import PowerReading

SWITCH_ID = 0


def status_reading(status: dict[str, Any]) -> PowerReading | None:
    """The power reading in a switch status (None when it has no ``apower``)."""
    watts = number(status.get("apower"))
    if watts is None:
        return None
    energy = status.get("aenergy")
    total = number(energy.get("total")) if isinstance(energy, dict) else None
    return PowerReading(
        watts=max(0.0, watts),
        volts=number(status.get("voltage")),
        amps=number(status.get("current")),
        energy_wh=total,
        hertz=number(status.get("freq")),
        power_factor=number(status.get("pf")),
    )


def status_errors(status: dict[str, Any]) -> tuple[str, ...]:
    errors = status.get("errors")
    if not isinstance(errors, list):
        return ()
    return tuple(e for e in errors if isinstance(e, str))


def status_output(status: dict[str, Any]) -> bool | None:
    out = status.get("output")
    return out if isinstance(out, bool) else None


class ShellyPlug(SmartPlug):
    """A Shelly Gen2+ switch with a meter, as the station's relay and power meter."""

    model = "shelly"

    def __init__(self, link: Any, device: str, **kwargs: Any) -> None:
        self._next_id = 0
        self._calls: dict[int, tuple[str, bool | None]] = {}
        self._ids = threading.Lock()
        self.src = f"{link.client_id}-rpc"
        super().__init__(link, device, **kwargs)

    def _subscribe(self) -> None:
        self.link.subscribe(f"{self.src}/rpc", self._on_reply)
        self.link.subscribe(f"{self.device}/events/rpc", self._on_event)
        self.link.subscribe(f"{self.device}/status/switch:{SWITCH_ID}", self._on_full_status)
        self.link.subscribe(f"{self.device}/online", self._on_online)

    def _call(self, method: str, params: dict[str, Any]) -> bool:
        with self._ids:
            self._next_id += 1
            call_id = self._next_id
            self._calls[call_id] = (method, params.get("on"))
            if len(self._calls) > 256:  # answers that never came: forget the oldest
                del self._calls[min(self._calls)]
        frame = {"id": call_id, "src": self.src, "method": method, "params": params}
        return self.link.publish(f"{self.device}/rpc", json.dumps(frame))

    def _send_switch(self, on: bool, renew: bool) -> bool:
        params: dict[str, Any] = {"id": SWITCH_ID, "on": on}
        if on:
            params["toggle_after"] = self.off_after_s
        return self._call("Switch.Set", params)

    def _request_status(self) -> None:
        self._call("Switch.GetStatus", {"id": SWITCH_ID})

    def _on_reply(self, topic: str, payload: bytes) -> None:
        try:
            frame = parse_json_object(topic, payload)
            if frame.get("src") != self.device:
                raise PayloadError(
                    f"an answer from {frame.get('src')!r}, expected {self.device!r}: is "
                    "plug.device right, and is another station using the same client id?"
                )
            call_id = frame.get("id")
            with self._ids:
                call = self._calls.pop(call_id, None) if isinstance(call_id, int) else None
            if call is None:
                raise PayloadError(f"an answer to a request we did not send (id {call_id!r})")
            method, asked_on = call
            if "error" in frame:
                err = frame["error"] if isinstance(frame["error"], dict) else {}
                raise PayloadError(
                    f"{method} failed: {err.get('message', '?')} (code {err.get('code', '?')})"
                )
            result = frame.get("result")
            if not isinstance(result, dict):
                raise PayloadError(f"{method}: no result object")
        except PayloadError as e:
            self._bad_payload(topic, str(e))
            return
        if method == "Switch.Set" and isinstance(asked_on, bool):
            # The result says the output before the call (was_on); the call set ``asked_on``.
            self._acked(asked_on)
        elif method == "Switch.GetStatus":
            self._status(
                status_output(result),
                status_reading(result),
                status_errors(result),
                _source(result),
            )

    def _on_event(self, topic: str, payload: bytes) -> None:
        try:
            frame = parse_json_object(topic, payload)
        except PayloadError as e:
            self._bad_payload(topic, str(e))
            return
        if frame.get("method") != "NotifyStatus":
            return
        params = frame.get("params")
        status = params.get(f"switch:{SWITCH_ID}") if isinstance(params, dict) else None
        if not isinstance(status, dict):
            return
        # A partial status: only what changed. A reading needs apower; output may be absent.
        self._status(
            status_output(status), status_reading(status), status_errors(status), _source(status)
        )

    def _on_full_status(self, topic: str, payload: bytes) -> None:
        try:
            status = parse_json_object(topic, payload)
        except PayloadError as e:
            self._bad_payload(topic, str(e))
            return
        self._status(
            status_output(status), status_reading(status), status_errors(status), _source(status)
        )

    def _on_online(self, topic: str, payload: bytes) -> None:
        self.device_online = payload.strip() == b"true"


def _source(status: dict[str, Any]) -> str | None:
    src = status.get("source")
    return src if isinstance(src, str) else None
