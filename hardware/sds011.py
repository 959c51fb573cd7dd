"""Nova SDS011 particulate sensor: pure frame codec, a resynchronising parser, and the driver.

The sensor streams a 10-byte frame about once a second at 9600 8N1::

    AA C0 pm25_lo pm25_hi pm10_lo pm10_hi id1 id2 checksum AB

values in tenths of µg/m³, checksum = low byte of the sum of the six data bytes. The codec and
:class:`FrameParser` are pure (no pyserial) so they import and test anywhere; the parser finds
frames in any byte soup, keeps a bounded buffer and counts what it threw away.

Wiring::

    air = Sds011("/dev/serial/by-id/usb-1a86_USB2.0-Serial-if00-port0")
    air.start(controller.post_reading)   # AirReading(pm25=12.3, pm10=20.1)
"""

from __future__ import annotations

import time
from typing import Any

from hardware.serial_link import Clock, SerialLink, SerialSensor
from station.ports import AirReading

HEAD = 0xAA
DATA_CMD = 0xC0
TAIL = 0xAB
FRAME_LEN = 10
MAX_TENTHS = 0xFFFF


class FrameError(ValueError):
    """A 10-byte chunk that is not a valid SDS011 data frame; the message says why."""


def checksum(data: bytes) -> int:
    """Low byte of the sum of the six data bytes (frame bytes 2..7)."""
    return sum(data) & 0xFF


def encode_frame(pm25: float, pm10: float, device_id: int = 0x1234) -> bytes:
    """The data frame a sensor sends for these values (µg/m³, rounded to 0.1, clamped)."""
    a = min(MAX_TENTHS, max(0, round(pm25 * 10)))
    b = min(MAX_TENTHS, max(0, round(pm10 * 10)))
    data = bytes([a & 0xFF, a >> 8, b & 0xFF, b >> 8, device_id & 0xFF, (device_id >> 8) & 0xFF])
    return bytes([HEAD, DATA_CMD]) + data + bytes([checksum(data), TAIL])


def parse_frame(frame: bytes) -> AirReading:
    """Decode one data frame; raise :class:`FrameError` with the reason if it is not one."""
    if len(frame) != FRAME_LEN:
        raise FrameError(f"expected {FRAME_LEN} bytes, got {len(frame)}")
    if frame[0] != HEAD or frame[9] != TAIL:
        raise FrameError(f"bad delimiters {frame[0]:02X}..{frame[9]:02X}")
    if frame[1] != DATA_CMD:
        raise FrameError(f"not a data frame (command {frame[1]:02X})")
    expected = checksum(frame[2:8])
    if frame[8] != expected:
        raise FrameError(f"checksum {frame[8]:02X} != {expected:02X}")
    pm25 = int.from_bytes(frame[2:4], "little") / 10
    pm10 = int.from_bytes(frame[4:6], "little") / 10
    return AirReading(pm25=pm25, pm10=pm10)


class FrameParser:
    """Finds data frames in a byte stream; bounded, never raises.

    Bytes before a header are garbage; a candidate frame whose tail or checksum is wrong costs
    one byte (we slide past its header and look again), so a header byte inside garbage cannot
    swallow a good frame that follows.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.frames = 0
        self.garbage_bytes = 0
        self.checksum_errors = 0
        self.other_frames = 0

    def reset(self) -> None:
        """Forget partial data (after a reopen the first fragment is meaningless)."""
        self._buf.clear()

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[AirReading]:
        """Add bytes; return the readings of the complete valid frames found."""
        self._buf += data
        out: list[AirReading] = []
        buf = self._buf
        while True:
            start = buf.find(HEAD)
            if start < 0:
                self.garbage_bytes += len(buf)
                buf.clear()
                break
            if start:
                self.garbage_bytes += start
                del buf[:start]
            if len(buf) < FRAME_LEN:
                break
            candidate = bytes(buf[:FRAME_LEN])
            try:
                out.append(parse_frame(candidate))
            except FrameError:
                if candidate[9] == TAIL and candidate[1] == DATA_CMD:
                    self.checksum_errors += 1
                elif candidate[9] == TAIL:
                    self.other_frames += 1  # a command reply (C5): valid but not ours
                else:
                    self.garbage_bytes += 1
                del buf[:1]
                continue
            self.frames += 1
            del buf[:FRAME_LEN]
        return out  # the loop leaves fewer than FRAME_LEN bytes: the buffer is bounded


class Sds011(SerialSensor):
    """The SDS011 on a serial port, in its default active (streaming) mode."""

    kind = "sds011"

    def __init__(
        self,
        port_path: str,
        *,
        clock: Clock = time.monotonic,
        stale_after_s: float = 5.0,
        link: SerialLink | None = None,
    ) -> None:
        super().__init__(
            link or SerialLink(port_path, baudrate=9600, timeout=0.2),
            clock=clock,
            stale_after_s=stale_after_s,
        )
        self.parser = FrameParser()
        self._counted = (0, 0)

    def _on_open(self) -> None:
        self.parser.reset()

    def _poll(self, port: Any) -> list[object]:
        waiting = port.in_waiting
        data = port.read(max(1, min(int(waiting), 256)))
        readings: list[object] = list(self.parser.feed(bytes(data)))
        counted = (self.parser.checksum_errors, self.parser.garbage_bytes)
        for key, new, old in zip(
            ("checksum", "garbage_bytes"), counted, self._counted, strict=True
        ):
            if new > old:
                self.errors[key] += new - old
        self._counted = counted
        return readings
