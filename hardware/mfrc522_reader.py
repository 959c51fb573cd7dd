"""MFRC522 RFID reader on SPI, as a :class:`station.ports.BadgeReader`.

Written directly on ``spidev`` (plus gpiozero for the reset and IRQ pins) rather than on the PyPI
``mfrc522`` package: that package imports RPi.GPIO at import time (broken on a Pi 5), builds its own
SPI and GPIO objects, and every function on the polling path needed replacing (see
docs/hardware.md, "RFID"). The register map and command sequence are the ones it uses; what
changed, and why:

- waiting for the chip looks at the timer interrupt and sleeps instead of spinning (the stock loop
  makes ~2,000 SPI transfers per empty poll); the FIFO is filled and read in one transfer each;
- anticollision and select run at every cascade level, so 7-byte UIDs come out whole;
- the UID is the card's real bytes as upper-case hex (no BCC checksum byte, no cascade tag);
- every poll wakes the card with WUPA and puts it back to HALT, so a card held on the reader is
  seen at every poll (the stock REQA-only poll sees it every other time) and is one tap;
- CRC_A is computed on the host (no coprocessor round trips);
- optionally (``secret=``, ``[reader] verify_badges``), the anti-clone check of
  :mod:`station.badge_check` runs right after select on each new tap: authenticate the badge
  sector with the card's own key A, read the value block, compare it with the HMAC of the UID;
  the tap is then reported as ``on_tap(uid, verified)``.

Wiring (SPI0, 3.3 V only): SDA/CS → GPIO8 (pin 24), SCK → GPIO11 (23), MOSI → GPIO10 (19),
MISO → GPIO9 (21), RST → GPIO25 (22), IRQ → optional, e.g. GPIO24 (18), GND, 3V3. Example::

    reader = open_pi_reader(bus=0, device=0, reset_pin=25, poll_hz=10.0)
    reader.start(lambda uid: queue.put(("tap", uid)))   # called on the reader's own thread
    ...
    reader.close()
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from station import badge_check
from station.ports import TapHandler

log = logging.getLogger(__name__)
T = TypeVar("T")

# Registers, commands and bits (datasheet names; the values are the stock package's too).
COMMAND_REG = 0x01
COM_IEN_REG = 0x02
DIV_IEN_REG = 0x03
COM_IRQ_REG = 0x04
ERROR_REG = 0x06
STATUS2_REG = 0x08
FIFO_DATA_REG = 0x09
FIFO_LEVEL_REG = 0x0A
CONTROL_REG = 0x0C
BIT_FRAMING_REG = 0x0D
MODE_REG = 0x11
TX_MODE_REG = 0x12
RX_MODE_REG = 0x13
TX_CONTROL_REG = 0x14
TX_ASK_REG = 0x15
T_MODE_REG = 0x2A
T_PRESCALER_REG = 0x2B
T_RELOAD_REG_H = 0x2C
T_RELOAD_REG_L = 0x2D
VERSION_REG = 0x37

CMD_IDLE = 0x00
CMD_TRANSMIT = 0x04
CMD_TRANSCEIVE = 0x0C
CMD_MF_AUTHENT = 0x0E
CMD_SOFT_RESET = 0x0F

TX_IRQ = 0x40
RX_IRQ = 0x20
IDLE_IRQ = 0x10
ERR_IRQ = 0x02
TIMER_IRQ = 0x01
IRQ_ENABLE = RX_IRQ | IDLE_IRQ | ERR_IRQ | TIMER_IRQ
ERR_MASK = 0x1B  # BufferOvfl, CollErr, ParityErr, ProtocolErr
STATUS2_CRYPTO1_ON = 0x08

PICC_WUPA = 0x52
PICC_SEL = (0x93, 0x95, 0x97)
PICC_CASCADE_TAG = 0x88
PICC_HLTA = 0x50
PICC_READ = 0x30
PICC_WRITE = 0xA0
PICC_AUTH = {"A": 0x60, "B": 0x61}
MF_ACK = 0x0A

# Timer: TAuto, prescaler 0xD3E (~2 kHz tick), reload 30 -> 15.5 ms, as in the stock package; long
# enough for a MIFARE write, and our wait sleeps through it instead of spinning.
T_MODE = 0x8D
T_PRESCALER = 0x3E
T_RELOAD = 30
TIMER_S = (2 * (((T_MODE & 0x0F) << 8) | T_PRESCALER) + 1) * (T_RELOAD + 1) / 13.56e6
KNOWN_VERSIONS = {0x88: "FM17522", 0x90: "v0.0", 0x91: "v1.0", 0x92: "v2.0", 0x12: "clone"}
DEFAULT_KEY = b"\xff" * 6


class RfidError(Exception):
    """Root of this driver's errors."""


class ReaderNotResponding(RfidError, OSError):
    """The chip does not answer on SPI (unplugged, SPI disabled, wrong bus or chip select)."""


class CardError(RfidError, ValueError):
    """A card answered wrongly or refused (bad key, NAK, wrong UID, card gone mid-exchange)."""


class SpiDevice(Protocol):
    """What the driver needs from ``spidev.SpiDev``."""

    def xfer2(self, values: Sequence[int]) -> list[int]: ...

    def close(self) -> None: ...


class OutputLine(Protocol):
    """A gpiozero ``DigitalOutputDevice`` on the chip's NRSTPD pin."""

    def on(self) -> None: ...

    def off(self) -> None: ...

    def close(self) -> None: ...


def crc_a(data: Sequence[int] | bytes) -> bytes:
    """CRC_A of ISO 14443-3, low byte first (computed here, so no CRC coprocessor round trips)."""
    crc = 0x6363
    for byte in data:
        b = (byte ^ crc) & 0xFF
        b = (b ^ (b << 4)) & 0xFF
        crc = (crc >> 8) ^ (b << 8) ^ (b << 3) ^ (b >> 4)
    return bytes((crc & 0xFF, (crc >> 8) & 0xFF))


def _bcc(data: Sequence[int] | bytes) -> int:
    out = 0
    for byte in data:
        out ^= byte
    return out


def uid_hex(uid: bytes) -> str:
    """A badge UID as the station stores it: upper-case hex of the real UID bytes."""
    return uid.hex().upper()


class Mfrc522:
    """The chip and the ISO 14443-3A / MIFARE Classic protocol, over an open SPI device.

    No threads here; :class:`Mfrc522Reader` adds polling. Not thread-safe on its own.
    ``irq`` is an optional gpiozero ``DigitalInputDevice`` on the IRQ pin (active low): each wait
    then blocks on it instead of reading ComIrqReg in a loop.
    """

    def __init__(
        self,
        spi: SpiDevice,
        *,
        reset: OutputLine | None = None,
        irq: Any | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._spi = spi
        self._reset = reset
        self._irq = irq
        self._clock = clock
        self._sleep = sleep
        self._irq_event = threading.Event()
        if irq is not None:
            irq.when_activated = self._irq_fired
        self.version: int | None = None

    def _irq_fired(self) -> None:
        self._irq_event.set()

    # -- registers --
    def write(self, reg: int, *values: int) -> None:
        """Write one or more bytes to one register, in one transfer."""
        self._spi.xfer2([(reg << 1) & 0x7E, *values])

    def read(self, *regs: int) -> list[int]:
        """Read several registers (or one register several times) in one transfer."""
        out = self._spi.xfer2([0x80 | ((reg << 1) & 0x7E) for reg in regs] + [0])
        return list(out[1:])

    def init(self) -> None:
        """Reset the chip and set it up for ISO 14443A at 106 kbit/s; raise if it is absent."""
        if self._reset is not None:
            self._reset.on()
        self.write(COMMAND_REG, CMD_SOFT_RESET)
        deadline = self._clock() + 0.05
        while self.read(COMMAND_REG)[0] & 0x10:  # PowerDown bit: oscillator still starting
            if self._clock() > deadline:
                raise ReaderNotResponding("MFRC522 stays in power-down after a soft reset")
            self._sleep(0.001)
        version = self.read(VERSION_REG)[0]
        if version in (0x00, 0xFF):
            raise ReaderNotResponding(
                f"no MFRC522 on SPI (VersionReg reads {version:#04x}): check wiring and "
                "that SPI is enabled (dtparam=spi=on)"
            )
        self.version = version
        self.write(T_MODE_REG, T_MODE)
        self.write(T_PRESCALER_REG, T_PRESCALER)
        self.write(T_RELOAD_REG_H, T_RELOAD >> 8)
        self.write(T_RELOAD_REG_L, T_RELOAD & 0xFF)
        self.write(TX_ASK_REG, 0x40)  # 100 % ASK modulation
        self.write(MODE_REG, 0x3D)  # CRC preset 0x6363 (CRC_A)
        self.write(TX_MODE_REG, 0x00)  # no hardware CRC: we add and check CRC_A ourselves
        self.write(RX_MODE_REG, 0x00)
        self.write(COM_IEN_REG, 0x80 | IRQ_ENABLE)  # IRQ pin active low on these interrupts
        self.write(DIV_IEN_REG, 0x00)  # IRQ pin open drain: needs the pull-up
        self.antenna(True)

    def antenna(self, on: bool) -> None:
        value = self.read(TX_CONTROL_REG)[0]
        self.write(TX_CONTROL_REG, (value | 0x03) if on else (value & ~0x03))

    def power_down(self) -> None:
        """Field off and, with a reset line, the chip in hard power-down."""
        with contextlib.suppress(Exception):
            self.antenna(False)
        if self._reset is not None:
            self._reset.off()

    # -- one command --
    def _wait(self, done: int) -> int:
        """Wait for ``done``, the timer or an error in ComIrqReg; return ComIrqReg.

        Polled: one read at once (the answer is often there), one after 1 ms (the longest
        ordinary answer), then one when the chip's timer has surely run out; so an empty poll
        costs three reads, not two thousand.
        """
        start = self._clock()
        deadline = start + 3 * TIMER_S + 0.05
        wanted = done | TIMER_IRQ | ERR_IRQ
        if self._irq is not None:
            while True:
                self._irq_event.wait(max(0.0, deadline - self._clock()))
                self._irq_event.clear()
                irq = self.read(COM_IRQ_REG)[0]
                if irq & wanted:
                    return irq
                if self._clock() >= deadline:
                    raise ReaderNotResponding("no interrupt from the MFRC522 (IRQ pin)")
        plan = iter((0.001, TIMER_S + 0.001))
        while True:
            irq = self.read(COM_IRQ_REG)[0]
            if irq & wanted:
                return irq
            now = self._clock()
            if now >= deadline:
                raise ReaderNotResponding("the MFRC522 timer never expired")
            pause = next(plan, 0.002)
            self._sleep(min(pause, deadline - now))

    def _start(self, command: int, data: Sequence[int] | bytes) -> None:
        self.write(COMMAND_REG, CMD_IDLE)  # stop what ran before (a Transceive stays active)
        self.write(COM_IRQ_REG, 0x7F)  # Set1 = 0: clear every interrupt bit
        self.write(FIFO_LEVEL_REG, 0x80)  # flush the FIFO
        self.write(FIFO_DATA_REG, *data)
        self._irq_event.clear()
        self.write(COMMAND_REG, command)

    def transceive(
        self, data: Sequence[int] | bytes, last_bits: int = 0
    ) -> tuple[bytes, int] | None:
        """Send a frame; return ``(answer, valid bits in its last byte)``, or None if no card
        answered in time. ``last_bits`` is how many bits of the last byte to send (7 for REQA).

        Raises :class:`CardError` on a collision, parity or protocol error.
        """
        self._start(CMD_TRANSCEIVE, data)
        self.write(BIT_FRAMING_REG, 0x80 | last_bits)  # StartSend
        irq = self._wait(RX_IRQ)
        if not irq & (RX_IRQ | ERR_IRQ):
            return None  # the timer ran out: nobody answered
        error, level, control = self.read(ERROR_REG, FIFO_LEVEL_REG, CONTROL_REG)
        if error & ERR_MASK:
            raise CardError(f"reception error (ErrorReg {error:#04x})")
        if not irq & RX_IRQ:
            return None
        answer = bytes(self.read(*[FIFO_DATA_REG] * level)) if level else b""
        return answer, control & 0x07

    def transmit(self, data: Sequence[int] | bytes) -> None:
        """Send a frame that gets no answer (HLTA) and wait only for the end of transmission."""
        self._start(CMD_TRANSMIT, data)
        self._wait(IDLE_IRQ | TX_IRQ)

    # -- ISO 14443-3A --
    def select_card(self) -> tuple[bytes, int] | None:
        """Wake (WUPA: also HALTed cards), then anticollision + select at each cascade level.

        Returns ``(uid, sak)`` with the real UID bytes, or None if no card is in the field.
        """
        atqa = self.transceive([PICC_WUPA], last_bits=7)
        if atqa is None:
            return None
        if len(atqa[0]) != 2:
            raise CardError(f"bad ATQA {atqa[0].hex()}")
        uid = b""
        for sel in PICC_SEL:
            answer = self.transceive([sel, 0x20])
            if answer is None:
                raise CardError("card left during anticollision")
            chunk = answer[0]
            if len(chunk) != 5 or _bcc(chunk[:4]) != chunk[4]:
                raise CardError(f"bad anticollision answer {chunk.hex()}")
            frame = bytes([sel, 0x70]) + chunk
            sak_frame = self.transceive(frame + crc_a(frame))
            if sak_frame is None or len(sak_frame[0]) != 3:
                raise CardError("no answer to SELECT")
            if crc_a(sak_frame[0][:1]) != sak_frame[0][1:]:
                raise CardError("bad CRC in SAK")
            sak = sak_frame[0][0]
            if sak & 0x04:  # cascade bit: the UID goes on at the next level
                if chunk[0] != PICC_CASCADE_TAG:
                    raise CardError("cascade bit without cascade tag")
                uid += chunk[1:4]
                continue
            return uid + chunk[:4], sak
        raise CardError("UID longer than three cascade levels")

    def halt(self) -> None:
        """HLTA: the card sleeps until the next WUPA."""
        frame = bytes([PICC_HLTA, 0x00])
        self.transmit(frame + crc_a(frame))

    # -- MIFARE Classic --
    def authenticate(self, uid: bytes, block: int, key: bytes, key_type: str = "A") -> None:
        """MFAuthent with key A or B for ``block``'s sector; :class:`CardError` if refused."""
        if len(key) != 6 or key_type not in PICC_AUTH:
            raise ValueError("key is 6 bytes and key_type 'A' or 'B'")
        self._start(CMD_MF_AUTHENT, bytes([PICC_AUTH[key_type], block]) + key + uid[-4:])
        irq = self._wait(IDLE_IRQ)
        error = self.read(ERROR_REG)[0]
        crypto_on = self.read(STATUS2_REG)[0] & STATUS2_CRYPTO1_ON
        if not irq & IDLE_IRQ or error & ERR_MASK or not crypto_on:
            raise CardError(f"authentication with key {key_type} refused for block {block}")

    def stop_crypto(self) -> None:
        self.write(STATUS2_REG, 0x00)

    def read_block(self, block: int) -> bytes:
        frame = bytes([PICC_READ, block])
        answer = self.transceive(frame + crc_a(frame))
        if answer is None or len(answer[0]) != 18 or crc_a(answer[0][:16]) != answer[0][16:]:
            raise CardError(f"block {block} could not be read")
        return answer[0][:16]

    def write_block(self, block: int, data: bytes) -> None:
        if len(data) != 16:
            raise ValueError("a block is 16 bytes")
        frame = bytes([PICC_WRITE, block])
        for part in (frame + crc_a(frame), data + crc_a(data)):
            answer = self.transceive(part)
            if answer is None or answer[1] != 4 or answer[0][0] & 0x0F != MF_ACK:
                raise CardError(f"block {block} write refused")


class Mfrc522Reader:
    """Polls an MFRC522 on its own thread and reports each tap once.

    A badge held on the reader is one tap; the same badge seen again after ``debounce_s`` without
    being seen is a new tap; another badge is a new tap at once. ``poll_once()`` is the whole
    poll step, so tests drive it directly with an injected ``clock``; with ``threaded=False``
    ``start()`` starts no thread and the owner calls ``poll_once()`` (tests, simulated time).
    """

    def __init__(
        self,
        spi: SpiDevice,
        *,
        poll_hz: float = 10.0,
        reset: OutputLine | None = None,
        irq: Any | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        debounce_s: float = 0.5,
        threaded: bool = True,
        secret: bytes | None = None,
        sector: int = 1,
    ) -> None:
        if poll_hz <= 0:
            raise ValueError("poll_hz must be positive")
        badge_check.value_block(sector)  # 1-15, or ValueError
        self.chip = Mfrc522(spi, reset=reset, irq=irq, clock=clock, sleep=sleep)
        self._spi = spi
        self._reset = reset
        self._irq = irq
        self._clock = clock
        self._sleep = sleep
        self._secret = secret
        self._sector = sector
        self._period = 1.0 / poll_hz
        self._debounce_s = debounce_s
        self._threaded = threaded
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._on_tap: TapHandler | None = None
        self._ready = False
        self._closed = False
        self._present: str | None = None
        self._last_seen = 0.0
        self.polls = 0
        self.taps = 0
        self.errors = 0
        self.card_errors = 0
        self.verified = 0
        self.rejected = 0
        self.inconclusive = 0
        self._consecutive_errors = 0
        self.last_error: str | None = None

    # -- BadgeReader --
    def start(self, on_tap: TapHandler) -> None:
        """Report taps to ``on_tap`` from a daemon poll thread."""
        with self._lock:
            if self._closed:
                raise RfidError("reader is closed")
            self._on_tap = on_tap
            if self._threaded and self._thread is None:
                self._thread = threading.Thread(target=self._run, name="mfrc522-poll", daemon=True)
                self._thread.start()

    def health(self) -> dict[str, object]:
        version = self.chip.version
        return {
            "ok": self._ready and not self._closed and self._consecutive_errors == 0,
            "type": "mfrc522",
            "chip": KNOWN_VERSIONS.get(version, hex(version)) if version is not None else None,
            "polls": self.polls,
            "taps": self.taps,
            "errors": self.errors,
            "card_errors": self.card_errors,
            "last_error": self.last_error,
            "card_present": self._present is not None,
            "verify_badges": self._secret is not None,
            "verified": self.verified,
            "rejected": self.rejected,
            "inconclusive": self.inconclusive,
        }

    def close(self) -> None:
        """Stop polling, switch the field off, release SPI and pins. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._on_tap = None
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)
        with self._lock:
            if self._ready:
                with contextlib.suppress(Exception):
                    self.chip.power_down()
            for part in (self._spi, self._reset, self._irq):
                if part is not None:
                    with contextlib.suppress(Exception):
                        part.close()

    def __enter__(self) -> Mfrc522Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ready_in(self, uid: str) -> float:
        """Seconds until ``uid``, placed again, counts as a new tap (0 when it already would)."""
        with self._lock:
            if uid != self._present:
                return 0.0
            return max(0.0, self._debounce_s - (self._clock() - self._last_seen))

    # -- polling --
    def poll_once(self) -> str | None:
        """One poll: (re)initialise if needed, look for a card, report a new tap.

        Returns the UID if this poll reported a tap. Never raises: errors are counted for
        ``health()`` and the chip is re-initialised at the next poll.

        With a ``secret``, a new tap is reported only once the anti-clone check has reached an
        answer: ``on_tap(uid, True)`` or ``on_tap(uid, False)`` (refused key, refused read, wrong
        value). A card that leaves during the check is not reported at all (``inconclusive`` in
        ``health()``): it is a new tap when it comes back, so a hasty hand is asked to tap again
        rather than being denied. A badge held on the reader is checked once, not at every poll.
        """
        with self._lock:
            if self._closed:
                return None
            self.polls += 1
            verified: bool | None = None
            try:
                if not self._ready:
                    self.chip.init()
                    self._ready = True
                found = self.chip.select_card()
                if found is not None:
                    if self._secret is not None and self._is_new_tap(uid_hex(found[0])):
                        verified = self._check(found[0], self._secret, self._sector)
                        if verified is None:
                            self.inconclusive += 1
                            self._consecutive_errors = 0
                            return None
                    else:
                        self.chip.halt()
            except ReaderNotResponding as exc:
                self._error(exc, reinit=True)
                return None
            except CardError as exc:  # a card leaving mid-exchange: not a reader fault
                self.card_errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                return None
            except Exception as exc:  # the poll thread must survive anything
                self._error(exc, reinit=True)
                return None
            self._consecutive_errors = 0
            now = self._clock()
            if found is None:
                return None
            uid = uid_hex(found[0])
            same_tap = uid == self._present and now - self._last_seen < self._debounce_s
            self._present, self._last_seen = uid, now
            if same_tap:
                return None
            self.taps += 1
            if verified is True:
                self.verified += 1
            elif verified is False:
                self.rejected += 1
            handler = self._on_tap
        if handler is not None:
            try:
                if verified is None:
                    handler(uid)
                else:
                    handler(uid, verified)
            except Exception:
                log.exception("tap handler failed")
        return uid

    def _is_new_tap(self, uid: str) -> bool:
        return uid != self._present or self._clock() - self._last_seen >= self._debounce_s

    def _check(self, uid: bytes, secret: bytes, sector: int) -> bool | None:
        """The anti-clone check on the selected card; leaves it halted (or gone).

        True: the value block read with the card's own key A is the HMAC of its UID. False: the
        card stayed on the reader but refused the key, refused the read (twice, to ride out one
        bad frame) or holds another value. None: the card left during the check.
        """
        block = badge_check.value_block(sector)
        key = badge_check.sector_key(secret, uid, sector, "A")
        for _attempt in range(2):
            try:
                self.chip.authenticate(uid, block, key, "A")
                data = self.chip.read_block(block)
                self.chip.halt()  # encrypted HLTA, before Crypto1 is switched off
                return badge_check.verify(secret, uid, data)
            except CardError:
                pass
            finally:
                self.chip.stop_crypto()
            # Refused, or gone? A refused card falls back to IDLE/HALT and answers WUPA again.
            again = self.chip.select_card() or self.chip.select_card()
            if again is None or again[0] != uid:
                if again is not None:
                    self.chip.halt()
                return None
        self.chip.halt()
        return False

    def _error(self, exc: Exception, *, reinit: bool) -> None:
        self.errors += 1
        self._consecutive_errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self._consecutive_errors in (1, 10, 100) or self._consecutive_errors % 1000 == 0:
            log.warning("RFID reader error (%d in a row): %s", self._consecutive_errors, exc)
        if reinit:
            self._ready = False

    def _run(self) -> None:
        next_poll = self._clock()
        while not self._stop.is_set():
            self.poll_once()
            next_poll = max(next_poll + self._period, self._clock())
            if self._stop.wait(max(0.0, next_poll - self._clock())):
                break

    # -- MIFARE Classic blocks (for badges that carry data) --
    def _with_card(
        self, uid: str, block: int, key: bytes, key_type: str, action: Callable[[], T]
    ) -> T:
        with self._lock:
            if not self._ready:
                self.chip.init()
                self._ready = True
            # A card left READY or ACTIVE by an earlier failure ignores one WUPA: try twice.
            found = self.chip.select_card() or self.chip.select_card()
            if found is None or uid_hex(found[0]) != uid.upper():
                if found is not None:
                    self.chip.halt()
                raise CardError(f"badge {uid} is not on the reader")
            try:
                self.chip.authenticate(found[0], block, key, key_type)
                result = action()
                self.chip.halt()
            finally:
                self.chip.stop_crypto()
            return result

    def wait_for_card(self, timeout_s: float, interval_s: float = 0.1) -> str:
        """The UID of the card on the reader, polling until ``timeout_s``; :class:`CardError`
        if none came. Reports no tap (for ``station badge``, with the reader not started)."""
        deadline = self._clock() + timeout_s
        while True:
            with self._lock:
                if not self._ready:
                    self.chip.init()
                    self._ready = True
                try:
                    found = self.chip.select_card()
                except CardError:
                    found = None
                if found is not None:
                    self.chip.halt()
                    return uid_hex(found[0])
            if self._clock() >= deadline:
                raise CardError(f"no badge on the reader within {timeout_s:g} s")
            self._sleep(interval_s)

    def check_badge(self, uid: str, secret: bytes, sector: int) -> bool:
        """Run the anti-clone check on badge ``uid`` (on the reader); :class:`CardError` if it
        is not there or leaves during the check."""
        badge_check.value_block(sector)
        with self._lock:
            if not self._ready:
                self.chip.init()
                self._ready = True
            found = self.chip.select_card() or self.chip.select_card()
            if found is None or uid_hex(found[0]) != uid.upper():
                if found is not None:
                    self.chip.halt()
                raise CardError(f"badge {uid} is not on the reader")
            result = self._check(found[0], secret, sector)
        if result is None:
            raise CardError(f"badge {uid} left the reader during the check")
        return result

    def prepare_badge(
        self, uid: str, secret: bytes, sector: int, transport_key: bytes = DEFAULT_KEY
    ) -> str:
        """Write the anti-clone value and the sector trailer (keys derived from ``secret``) on
        badge ``uid``, then read it back. Returns ``"prepared"`` for a blank card (sector
        opened with ``transport_key``) or ``"rewritten"`` for a card already prepared with this
        secret. :class:`CardError` if the sector refuses both, or the read-back fails."""
        block = badge_check.value_block(sector)
        tblock = badge_check.trailer_block(sector)
        value = badge_check.card_value(secret, uid)
        new_trailer = badge_check.card_trailer(secret, uid, sector)
        outcome = "prepared"
        try:
            self.write_block(uid, block, value, transport_key, "A")
            self.write_block(uid, tblock, new_trailer, transport_key, "A")
        except CardError as first:
            key_b = badge_check.sector_key(secret, uid, sector, "B")
            try:
                self.write_block(uid, block, value, key_b, "B")
                self.write_block(uid, tblock, new_trailer, key_b, "B")
            except CardError:
                raise CardError(
                    f"sector {sector} of badge {uid} refuses the transport key and this site's "
                    "key: the card was prepared with another secret or other keys, or it left "
                    "the reader"
                ) from first
            outcome = "rewritten"
        if not self.check_badge(uid, secret, sector):
            raise CardError(f"badge {uid} does not verify after writing: try again")
        return outcome

    def read_block(
        self, uid: str, block: int, key: bytes = DEFAULT_KEY, key_type: str = "A"
    ) -> bytes:
        """Read 16 bytes from ``block`` of the badge ``uid`` (which must be on the reader)."""
        return self._with_card(uid, block, key, key_type, lambda: self.chip.read_block(block))

    def write_block(
        self, uid: str, block: int, data: bytes, key: bytes = DEFAULT_KEY, key_type: str = "A"
    ) -> None:
        """Write 16 bytes to ``block`` of the badge ``uid``; trailers change keys and access."""
        self._with_card(uid, block, key, key_type, lambda: self.chip.write_block(block, data))


def open_pi_reader(
    bus: int = 0,
    device: int = 0,
    reset_pin: int | None = 25,
    poll_hz: float = 10.0,
    *,
    irq_pin: int | None = None,
    speed_hz: int = 1_000_000,
    secret: bytes | None = None,
    sector: int = 1,
) -> Mfrc522Reader:
    """Build the reader on a Raspberry Pi (any model, Pi 5 included: no RPi.GPIO needed).

    Pins are BCM numbers. ``irq_pin`` makes each wait block on the IRQ line instead of reading
    the chip. ``secret`` turns the anti-clone check on (taps become ``on_tap(uid, verified)``).
    Imports spidev here (the pins come from :mod:`hardware.gpio`, gpiozero's one module), so
    the rest of the project imports anywhere.
    """
    badge_check.value_block(sector)  # a bad sector fails before any device is opened
    import spidev  # vendor imports only when the driver is built

    from hardware.gpio import reader_lines

    spi = spidev.SpiDev()
    spi.open(bus, device)
    spi.max_speed_hz = speed_hz
    spi.mode = 0
    reset, irq = reader_lines(reset_pin, irq_pin)
    return Mfrc522Reader(spi, poll_hz=poll_hz, reset=reset, irq=irq, secret=secret, sector=sector)
