"""Serial devices emulated at the far end of a pseudo-terminal.

The drivers under test open a real tty with real pyserial and real termios; only the device is
fake. Each emulator owns a pty pair and publishes a **stable path** (a symlink in a temporary
folder, like ``/dev/serial/by-id/...`` on a Pi) pointing at the current slave end:

- ``unplug()`` closes both ends and removes the symlink: the driver's next read or write fails
  as with a yanked USB adapter, and reopening fails until
- ``replug()`` makes a new pty pair and points the same path at it, so the driver reconnects
  by reopening the path it was given, exactly as on a Pi.

Emulators:

- :class:`PzemEmulator` answers Modbus RTU "read input registers" from a settable load and
  integrates its own energy register over an injectable clock; it reads its holding registers
  (alarm threshold, address) with function 3 and writes one with function 6. Faults:
  ``silent``, ``bad_crc``, ``wrong_address``, ``garbage``.
- :class:`Sds011Emulator` sends SDS011 data frames (on demand with ``emit`` or streaming once a
  second), with settable values, seeded noise and optional garbage bytes or bad checksums.
- :class:`LineSensorEmulator` prints ``W:123.4`` lines, and half a line of junk at each plug-in
  (an Arduino resetting when the port opens).

:func:`build_emulated_sensors` builds emulators and the real drivers on top, for the mock backend.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import shutil
import tempfile
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field

from hardware.line_sensor import LineSensor, format_line
from hardware.pzem import Pzem004t
from hardware.sds011 import Sds011, encode_frame
from hardware.serial_link import SerialSensor
from station.ports import PowerReading

Clock = Callable[[], float]
ALARM_ON = 0xFFFF
"""PZEM-004T v3 input register 9 while the active power is above the alarm threshold."""

# -- Modbus RTU, written from the spec (independent of minimalmodbus, which checks it) -----------


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF); sent low byte first."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(body: bytes) -> bytes:
    """``body`` followed by its CRC, low byte first."""
    return body + crc16_modbus(body).to_bytes(2, "little")


def pzem_registers(
    volts: float,
    amps: float,
    watts: float,
    energy_wh: float,
    hertz: float,
    pf: float,
    alarm: int = 0,
) -> list[int]:
    """The ten input registers of a PZEM-004T v3 for these values (32-bit ones low word first)."""

    def u16(x: float) -> int:
        return max(0, min(0xFFFF, round(x)))

    def u32(x: float) -> tuple[int, int]:
        v = max(0, min(0xFFFFFFFF, int(x)))
        return v & 0xFFFF, v >> 16

    a_lo, a_hi = u32(round(amps * 1000))
    w_lo, w_hi = u32(round(watts * 10))
    e_lo, e_hi = u32(energy_wh)
    return [
        u16(volts * 10),
        a_lo,
        a_hi,
        w_lo,
        w_hi,
        e_lo,
        e_hi,
        u16(hertz * 10),
        u16(pf * 100),
        alarm,
    ]


# -- the pty plumbing --------------------------------------------------------------------------


class _PtyDevice:
    """A device behind a pty with a stable path, a service thread, and plug/unplug."""

    name = "device"

    def __init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="fabrique-serial-")
        self.port = os.path.join(self._dir, f"tty-{self.name}")
        self._lock = threading.RLock()
        self._master: int | None = None
        self._slave: int | None = None
        self._wake_r, self._wake_w = os.pipe()
        self._closed = False
        self.plugged = False
        self.plug_count = 0
        self.overruns = 0
        self.stream_period_s: float | None = None
        self._next_stream = 0.0
        self._plug()
        self._thread = threading.Thread(
            target=self._serve, name=f"{self.name}-emulator", daemon=True
        )
        self._thread.start()

    # plug / unplug ---------------------------------------------------------------------------
    def _plug(self) -> None:
        master, slave = os.openpty()
        # Raw on both sides: no echo, no line editing, no CR/LF translation by the line discipline.
        tty.setraw(master)
        tty.setraw(slave)
        # A UART never blocks the device: bytes nobody reads are lost, not queued forever.
        os.set_blocking(master, False)
        tmp = self.port + ".new"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.port)
        # We keep our copy of the slave open, or the driver's reads fail with EIO before it opens.
        self._master, self._slave = master, slave
        self.plugged = True
        self.plug_count += 1
        self._on_plug()

    def unplug(self) -> None:
        """Pull the cable: close both ends and remove the path."""
        with self._lock:
            if not self.plugged:
                return
            self.plugged = False
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.port)
            for fd in (self._master, self._slave):
                if fd is not None:
                    os.close(fd)
            self._master = self._slave = None
        self._wake()

    def replug(self) -> None:
        """Plug the cable back: a new pty pair behind the same :attr:`port` path."""
        with self._lock:
            if self.plugged or self._closed:
                return
            self._plug()
        self._wake()

    def close(self) -> None:
        """Unplug, stop the service thread and remove the folder. Safe to call twice."""
        if self._closed:
            return
        self.unplug()
        self._closed = True
        self._wake()
        self._thread.join(timeout=2.0)
        os.close(self._wake_r)
        os.close(self._wake_w)
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> _PtyDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # bytes -----------------------------------------------------------------------------------
    def write(self, data: bytes) -> bool:
        """Send bytes to the driver; ``False`` while unplugged."""
        with self._lock:
            if self._master is None:
                return False
            try:
                os.write(self._master, data)
            except BlockingIOError:
                self.overruns += 1  # the driver's buffer is full: the bytes are lost
            except OSError:
                return False
            return True

    def start_streaming(self, period_s: float = 1.0) -> None:
        """Send a message every ``period_s`` seconds (real time) from the service thread."""
        self.stream_period_s = period_s
        self._next_stream = time.monotonic()
        self._wake()

    def stop_streaming(self) -> None:
        self.stream_period_s = None
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _serve(self) -> None:
        while not self._closed:
            with self._lock:
                master = self._master
            fds = [self._wake_r] + ([master] if master is not None else [])
            timeout = None
            if self.stream_period_s is not None:
                timeout = max(0.0, self._next_stream - time.monotonic())
            try:
                readable, _, _ = select.select(fds, [], [], timeout)
            except (OSError, ValueError):
                continue  # an fd was closed under us by unplug(); loop and re-read the state
            if self._wake_r in readable:
                with contextlib.suppress(OSError):
                    os.read(self._wake_r, 1024)
            if master is not None and master in readable:
                with self._lock:
                    data = b""
                    if self._master == master:
                        with contextlib.suppress(OSError):
                            data = os.read(master, 1024)
                if data:
                    self._on_bytes(data)
            if self.stream_period_s is not None and time.monotonic() >= self._next_stream:
                self._next_stream = time.monotonic() + self.stream_period_s
                if self.plugged:
                    self.emit()

    # hooks -------------------------------------------------------------------------------------
    def _on_plug(self) -> None:
        """Called (under the lock) each time the device is plugged in."""

    def _on_bytes(self, data: bytes) -> None:
        """Bytes the driver sent."""

    def emit(self) -> None:
        """Send one message (streaming devices)."""


# -- PZEM-004T v3 ------------------------------------------------------------------------------


class PzemEmulator(_PtyDevice):
    """A PZEM-004T v3 that answers Modbus reads from a settable load.

    The energy register integrates the load over ``clock`` (inject a fake clock to run a
    two-hour session in no time) and, like the real meter, counts whole watt-hours. ``address``
    is the meter's own address; it also answers the general address 0xF8.
    """

    name = "pzem"
    ENERGY_WRAP_WH = 10_000_000  # the meter counts to 9999.99 kWh (assumed to roll over to 0)

    def __init__(
        self,
        *,
        address: int = 1,
        clock: Clock = time.monotonic,
        volts: float = 230.0,
        hertz: float = 50.0,
        power_factor: float = 1.0,
        energy_wh: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.address = address
        self._clock = clock
        self.volts = volts
        self.hertz = hertz
        self.power_factor = power_factor
        self._load = 0.0
        self._energy = energy_wh
        self._since = clock()
        self._rx = bytearray()
        self._rng = random.Random(seed)
        self.alarm_threshold_w = 23_000
        """Holding register 1 (1 W units): above it, input register 9 reads 0xFFFF."""
        self.silent = False
        self.bad_crc = False
        self.wrong_address = False
        self.garbage = False
        self.requests = 0
        self.answers = 0
        self.answered = threading.Condition()
        super().__init__()

    # the physical world ------------------------------------------------------------------------
    def _accumulate(self) -> None:
        now = self._clock()
        self._energy += self._load * max(0.0, now - self._since) / 3600.0
        self._since = now

    def set_load(self, watts: float) -> None:
        """The machine now draws ``watts`` (energy so far is counted at the old load first)."""
        with self._lock:
            self._accumulate()
            self._load = max(0.0, float(watts))

    @property
    def load(self) -> float:
        return self._load

    @property
    def energy_wh(self) -> float:
        """The exact energy counted so far (the register shows it floored to whole Wh)."""
        with self._lock:
            self._accumulate()
            return self._energy

    def reset_energy(self) -> None:
        """What the meter's "reset energy" command (0x42) does: the register restarts at 0."""
        with self._lock:
            self._accumulate()
            self._energy = 0.0

    def registers(self) -> list[int]:
        with self._lock:
            self._accumulate()
            load, pf = self._load, self.power_factor if self._load > 0 else 0.0
            amps = load / (self.volts * pf) if load > 0 and pf > 0 else 0.0
            energy = int(self._energy) % self.ENERGY_WRAP_WH
            alarm = ALARM_ON if load > self.alarm_threshold_w else 0
            return pzem_registers(self.volts, amps, load, energy, self.hertz, pf, alarm)

    # Modbus ------------------------------------------------------------------------------------
    def _on_plug(self) -> None:
        self._rx.clear()

    def _on_bytes(self, data: bytes) -> None:
        self._rx += data
        while len(self._rx) >= 4:
            rx = self._rx
            if rx[0] not in (self.address, 0xF8):
                del rx[:1]  # not for us, or line noise: resynchronise on the next byte
                continue
            length = 4 if rx[1] == 0x42 else 8
            if len(rx) < length:
                return
            frame = bytes(rx[:length])
            if crc16_modbus(frame[:-2]).to_bytes(2, "little") != frame[-2:]:
                del rx[:1]  # a real meter ignores frames with a bad CRC
                continue
            del rx[:length]
            self.requests += 1
            reply = self._answer(frame)
            if reply is not None and not self.silent:
                self._send(reply)

    def _answer(self, frame: bytes) -> bytes | None:
        addr, function = frame[0], frame[1]
        if function == 0x42:
            self.reset_energy()
            return with_crc(frame[:2])
        start = int.from_bytes(frame[2:4], "big")
        count = int.from_bytes(frame[4:6], "big")
        if function == 4:
            table = self.registers()
        elif function == 3:  # holding registers: 1 = power alarm threshold, 2 = address
            table = [0, self.alarm_threshold_w, self.address]
        elif function == 6:
            return self._write_register(frame, start, count)
        else:
            return with_crc(bytes([addr, function | 0x80, 0x01]))
        if count < 1 or start + count > len(table):
            return with_crc(bytes([addr, function | 0x80, 0x02]))
        payload = b"".join(r.to_bytes(2, "big") for r in table[start : start + count])
        return with_crc(bytes([addr, function, 2 * count]) + payload)

    def _write_register(self, frame: bytes, register: int, value: int) -> bytes:
        """Function 0x06: set the alarm threshold (1) or the address (2); echo the request."""
        addr = frame[0]
        if register not in (1, 2):
            return with_crc(bytes([addr, 0x86, 0x02]))  # illegal data address
        if register == 2 and not 1 <= value <= 0xF7:
            return with_crc(bytes([addr, 0x86, 0x03]))  # illegal data value
        if register == 1:
            self.alarm_threshold_w = value
        else:
            self.address = value
        return frame

    def _send(self, reply: bytes) -> None:
        if self.wrong_address:
            reply = with_crc(bytes([(reply[0] + 1) & 0xFF]) + reply[1:-2])
        if self.bad_crc:
            reply = reply[:-1] + bytes([reply[-1] ^ 0x5A])
        if self.garbage:
            reply = bytes(self._rng.randrange(256) for _ in range(3)) + reply
        self.write(reply)
        with self.answered:
            self.answers += 1
            self.answered.notify_all()


# -- SDS011 ------------------------------------------------------------------------------------


class Sds011Emulator(_PtyDevice):
    """An SDS011 in active mode: ``emit()`` sends one frame; ``start_streaming()`` one a second."""

    name = "sds011"

    def __init__(
        self, *, pm25: float = 5.0, pm10: float = 8.0, device_id: int = 0xA1B2, seed: int = 0
    ) -> None:
        self.pm25 = pm25
        self.pm10 = pm10
        self.device_id = device_id
        self.noise = 0.0
        """Standard deviation of Gaussian noise added to each value, µg/m³."""
        self.garbage = False
        """Send a few random bytes before each frame."""
        self.bad_checksum = False
        self.silent = False
        self._rng = random.Random(seed)
        self.frames_sent = 0
        super().__init__()

    def set_pm(self, pm25: float, pm10: float | None = None) -> None:
        self.pm25 = pm25
        if pm10 is not None:
            self.pm10 = pm10

    def frame(self) -> bytes:
        pm25, pm10 = self.pm25, self.pm10
        if self.noise:
            pm25 = max(0.0, pm25 + self._rng.gauss(0, self.noise))
            pm10 = max(0.0, pm10 + self._rng.gauss(0, self.noise))
        frame = encode_frame(pm25, pm10, self.device_id)
        if self.bad_checksum:
            frame = frame[:8] + bytes([frame[8] ^ 0x01]) + frame[9:]
        if self.garbage:
            frame = (
                bytes(self._rng.randrange(256) for _ in range(self._rng.randrange(1, 12))) + frame
            )
        return frame

    def emit(self) -> None:
        if not self.silent and self.write(self.frame()):
            self.frames_sent += 1


# -- line sensor -------------------------------------------------------------------------------


class LineSensorEmulator(_PtyDevice):
    """An Arduino with a current clamp printing ``W:123.4`` lines."""

    name = "line"

    def __init__(self, *, watts: float = 0.0, volts: float | None = None, seed: int = 0) -> None:
        self.watts = watts
        self.volts = volts
        self.garbage = False
        """Print a line of junk before each reading."""
        self.silent = False
        self.boot_junk = b"\x00\xf0t:12"
        """Half a line printed at each plug-in, as an Arduino does when the port opens."""
        self._rng = random.Random(seed)
        self.lines_sent = 0
        super().__init__()

    def set_load(self, watts: float) -> None:
        self.watts = max(0.0, float(watts))

    def _on_plug(self) -> None:
        if self._master is not None and self.boot_junk:
            os.write(self._master, self.boot_junk)

    def line(self) -> bytes:
        text = format_line(PowerReading(watts=round(self.watts, 1), volts=self.volts)) + "\r\n"
        data = text.encode()
        if self.garbage:
            data = (
                bytes(self._rng.randrange(1, 256) for _ in range(8)).replace(b"\n", b"?")
                + b"\n"
                + data
            )
        return data

    def emit(self) -> None:
        if not self.silent and self.write(self.line()):
            self.lines_sent += 1


# -- test helpers ------------------------------------------------------------------------------


def collect(sensor: SerialSensor, count: int, timeout: float = 3.0) -> list[object]:
    """Step ``sensor.poll_once()`` until it has produced ``count`` readings or ``timeout`` passed.

    For tests: each poll blocks in the port's read (up to its timeout) until bytes arrive, so
    this waits for the pty round trip, not for a fixed time.
    """
    readings: list[object] = []
    deadline = time.monotonic() + timeout
    while len(readings) < count and time.monotonic() < deadline:
        readings += sensor.poll_once()
    return readings


# -- the mock backend's entry point ------------------------------------------------------------


@dataclass
class EmulatedSensors:
    """Emulated devices and the real drivers reading them, for the mock backend and the demo."""

    power_meter: Pzem004t | LineSensor | None = None
    air_sensor: Sds011 | None = None
    power_device: PzemEmulator | LineSensorEmulator | None = None
    air_device: Sds011Emulator | None = None
    extras: dict[str, object] = field(default_factory=dict)

    def set_load(self, watts: float) -> None:
        """What ``POST /sim/power {"watts": ...}`` does."""
        if self.power_device is not None:
            self.power_device.set_load(watts)

    def set_pm(self, pm25: float, pm10: float | None = None) -> None:
        """What ``POST /sim/air {"pm25": ...}`` does."""
        if self.air_device is not None:
            self.air_device.set_pm(pm25, pm10)

    def close(self) -> None:
        """Drivers first (they hold the ttys), then the devices. Safe to call twice."""
        for part in (self.power_meter, self.air_sensor, self.power_device, self.air_device):
            if part is not None:
                with contextlib.suppress(Exception):
                    part.close()


def build_emulated_sensors(
    *,
    power: str | None = "pzem",
    air: bool = True,
    clock: Clock = time.monotonic,
    poll_s: float = 1.0,
    stale_after_s: float = 5.0,
) -> EmulatedSensors:
    """Emulators plus drivers: ``power`` is ``"pzem"``, ``"line"`` or ``None``.

    ``clock`` drives the PZEM's energy register and the drivers' staleness: pass the station's
    simulated clock so ``/sim/advance`` also advances the meter. Streaming devices send once a
    second in real time. Nothing is started: call ``power_meter.start(...)`` as for real hardware.
    """
    sensors = EmulatedSensors()
    try:
        if power == "pzem":
            pzem = PzemEmulator(clock=clock)
            sensors.power_device = pzem
            sensors.power_meter = Pzem004t(
                pzem.port, address=0xF8, poll_s=poll_s, clock=clock, stale_after_s=stale_after_s
            )
        elif power == "line":
            line = LineSensorEmulator()
            line.start_streaming(poll_s)
            sensors.power_device = line
            sensors.power_meter = LineSensor(line.port, clock=clock, stale_after_s=stale_after_s)
        elif power is not None:
            raise ValueError(f"unknown emulated power sensor {power!r} (pzem, line)")
        if air:
            sds = Sds011Emulator()
            sds.start_streaming(1.0)
            sensors.air_device = sds
            sensors.air_sensor = Sds011(sds.port, clock=clock, stale_after_s=stale_after_s)
    except Exception:
        sensors.close()
        raise
    return sensors
