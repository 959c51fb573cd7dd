"""A line-based power sensor: e.g. an Arduino with a current clamp printing ``W:123.4`` lines.

The line format is ``KEY:VALUE`` tokens separated by spaces, commas or semicolons; ``W`` (watts)
is required, ``V``, ``A``, ``WH``, ``HZ`` and ``PF`` are optional and map onto
:class:`~station.ports.PowerReading`. Anything else on a line makes it unreadable (counted, not
raised): a half-printed line after a reset must not become a reading.

Opening the port resets most Arduinos, which then print a boot banner or half a line: the
:class:`LineBuffer` drops everything up to the first newline after each (re)open, and caps line
length so a device that never sends a newline cannot grow our memory.

Wiring::

    clamp = LineSensor("/dev/serial/by-id/usb-Arduino_Nano-if00", baudrate=115200)
    clamp.start(controller.post_reading)
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

from hardware.serial_link import Clock, SerialLink, SerialSensor
from station.ports import PowerReading

_FIELDS = {
    "W": "watts",
    "V": "volts",
    "A": "amps",
    "WH": "energy_wh",
    "HZ": "hertz",
    "PF": "power_factor",
}
_TOKEN = re.compile(r"^([A-Za-z]+)\s*[:=]\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)$")


def parse_line(line: str | bytes) -> PowerReading | None:
    """Decode one line; ``None`` if it is not a complete, sensible reading."""
    if isinstance(line, bytes):
        line = line.decode("ascii", errors="replace")
    values: dict[str, float] = {}
    for token in re.split(r"[\s,;]+", line.strip()):
        if not token:
            continue
        match = _TOKEN.match(token)
        if match is None:
            return None
        field = _FIELDS.get(match.group(1).upper())
        if field is None or field in values:
            return None
        value = float(match.group(2))
        if not math.isfinite(value):
            return None
        values[field] = value
    watts = values.pop("watts", None)
    if watts is None or watts < 0:
        return None
    return PowerReading(watts=watts, **values)


def format_line(reading: PowerReading) -> str:
    """The line a sensor prints for ``reading`` (without the newline); inverse of parse_line."""
    parts = [f"W:{reading.watts!r}"]
    for key, field in _FIELDS.items():
        value = getattr(reading, field)
        if key != "W" and value is not None:
            parts.append(f"{key}:{value!r}")
    return " ".join(parts)


class LineBuffer:
    """Splits a byte stream into lines; bounded; drops the first fragment after a reset."""

    def __init__(self, max_line: int = 128, *, drop_first: bool = True) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self._dropping = drop_first
        self.overflows = 0
        self.dropped_fragments = 0

    def reset(self, *, drop_first: bool = True) -> None:
        self._buf.clear()
        self._dropping = drop_first

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return the complete lines (without line endings, empty ones skipped)."""
        lines: list[bytes] = []
        self._buf += data
        while True:
            end = _find_eol(self._buf)
            if end < 0:
                break
            line = bytes(self._buf[:end])
            del self._buf[: end + 1]
            if self._dropping:
                self._dropping = False
                self.dropped_fragments += 1
                continue
            if len(line) > self.max_line:
                self.overflows += 1
                continue
            if line:
                lines.append(line)
        if len(self._buf) > self.max_line:
            # No newline in sight: throw the overlong line away and skip to its end.
            self.overflows += 1
            self._buf.clear()
            self._dropping = True
        return lines


def _find_eol(buf: bytearray) -> int:
    positions = [i for i in (buf.find(b"\n"), buf.find(b"\r")) if i >= 0]
    return min(positions) if positions else -1


class LineSensor(SerialSensor):
    """A power sensor that prints one reading per line."""

    kind = "line"

    def __init__(
        self,
        port_path: str,
        *,
        baudrate: int = 9600,
        clock: Clock = time.monotonic,
        stale_after_s: float = 5.0,
        link: SerialLink | None = None,
    ) -> None:
        super().__init__(
            link or SerialLink(port_path, baudrate=baudrate, timeout=0.2),
            clock=clock,
            stale_after_s=stale_after_s,
        )
        self.lines = LineBuffer()
        self._overflows = 0

    def _on_open(self) -> None:
        self.lines.reset(drop_first=True)

    def _poll(self, port: Any) -> list[object]:
        waiting = port.in_waiting
        data = bytes(port.read(max(1, min(int(waiting), 256))))
        readings: list[object] = []
        for line in self.lines.feed(data):
            reading = parse_line(line)
            if reading is None:
                self.errors["unreadable_lines"] += 1
            else:
                readings.append(reading)
        if self.lines.overflows != self._overflows:
            self.errors["overlong_lines"] += self.lines.overflows - self._overflows
            self._overflows = self.lines.overflows
        return readings
