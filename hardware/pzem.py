"""Peacefair PZEM-004T v3 energy meter over Modbus RTU (9600 8N1), via minimalmodbus.

We read the ten input registers (function 4) from address 0 once per poll:

====  ==========================  ===========
reg   value                       unit
====  ==========================  ===========
0     voltage                     0.1 V
1-2   current (low word first)    0.001 A
3-4   power (low word first)      0.1 W
5-6   energy (low word first)     1 Wh
7     frequency                   0.1 Hz
8     power factor                0.01
9     alarm status
====  ==========================  ===========

Address 0xF8 reaches a lone meter whatever its configured address; use the real address (1 by
default) when several share a bus. :func:`decode_registers` is pure; minimalmodbus does the
framing and CRC, and is imported only when a meter is built.

Wiring::

    meter = Pzem004t("/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0", address=0xF8)
    meter.start(controller.post_reading)   # PowerReading(watts=..., energy_wh=..., ...) at 1 Hz
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from hardware.serial_link import Clock, SerialLink, SerialSensor
from station.ports import PowerReading

GENERAL_ADDRESS = 0xF8
REGISTER_COUNT = 10
READ_INPUT_REGISTERS = 4


def _u32(low: int, high: int) -> int:
    return (high << 16) | low


def decode_registers(registers: Sequence[int]) -> PowerReading:
    """Turn the ten input registers into a reading; raise ``ValueError`` if they cannot be."""
    if len(registers) != REGISTER_COUNT:
        raise ValueError(f"expected {REGISTER_COUNT} registers, got {len(registers)}")
    if any(not 0 <= r <= 0xFFFF for r in registers):
        raise ValueError("register out of 16-bit range")
    r = registers
    return PowerReading(
        watts=_u32(r[3], r[4]) / 10,
        volts=r[0] / 10,
        amps=_u32(r[1], r[2]) / 1000,
        energy_wh=float(_u32(r[5], r[6])),
        hertz=r[7] / 10,
        power_factor=r[8] / 100,
    )


def _classify(exc: Exception) -> str:
    """Name a minimalmodbus error for the health counters."""
    name = type(exc).__name__
    text = str(exc).lower()
    if name == "NoResponseError":
        return "no_response"
    if "checksum" in text or "crc" in text:
        return "crc"
    if "slave address" in text or "slaveaddress" in text:
        return "wrong_address"
    if name in {"SlaveDeviceBusyError", "NegativeAcknowledgeError", "IllegalRequestError"}:
        return "device_error"
    return "invalid_response"


class Pzem004t(SerialSensor):
    """A PZEM-004T v3 polled every ``poll_s`` seconds on its own thread (or by ``poll_once``)."""

    kind = "pzem004t"

    def __init__(
        self,
        port_path: str,
        address: int = GENERAL_ADDRESS,
        poll_s: float = 1.0,
        *,
        clock: Clock = time.monotonic,
        stale_after_s: float = 5.0,
        timeout: float = 0.5,
        link: SerialLink | None = None,
    ) -> None:
        super().__init__(
            link or SerialLink(port_path, baudrate=9600, timeout=timeout),
            clock=clock,
            stale_after_s=stale_after_s,
            interval_s=poll_s,
        )
        self.address = address
        self._instrument: Any = None
        self._instrument_port: Any = None

    def _instrument_for(self, port: Any) -> Any:
        if self._instrument is None or self._instrument_port is not port:
            import minimalmodbus  # only here: see the module docstring

            instrument = minimalmodbus.Instrument(port, self.address)
            instrument.clear_buffers_before_each_transaction = True
            self._instrument, self._instrument_port = instrument, port
        return self._instrument

    def _on_open(self) -> None:
        self._instrument = None  # a new port object needs a new instrument

    def _poll(self, port: Any) -> list[object]:
        instrument = self._instrument_for(port)
        try:
            registers = instrument.read_registers(
                0, REGISTER_COUNT, functioncode=READ_INPUT_REGISTERS
            )
        except Exception as exc:
            if type(exc).__module__ == "minimalmodbus":
                # A ModbusException is an OSError too, but the port is fine: count it and go on.
                self.errors[_classify(exc)] += 1
                return []
            if isinstance(exc, ValueError):  # minimalmodbus's payload checks
                self.errors["invalid_response"] += 1
                return []
            raise  # SerialException and friends: the base class reopens the port
        try:
            return [decode_registers(registers)]
        except ValueError:
            self.errors["invalid_response"] += 1
            return []
