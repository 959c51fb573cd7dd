"""A serial link that survives unplugs, and the base every serial sensor driver is built on.

A USB-serial adapter on a Pi disappears when someone knocks the cable, and comes back under the
same ``/dev/serial/by-id/...`` path. :class:`SerialLink` opens a port by path or pyserial URL,
notices when it is lost (every pyserial error is an ``OSError``), and reopens it with exponential
back-off. :class:`SerialSensor` adds what all our sensors share: a daemon thread, a synchronous
:meth:`SerialSensor.poll_once` for tests, readings that go stale, error counters and a health
dict, and the promise that no error ever reaches the caller as an exception.

pyserial is imported only when a port is opened, so this module imports on any laptop.

Wiring (a subclass supplies ``_poll``)::

    meter = Pzem004t("/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0")
    meter.start(controller.post_reading)   # called on the meter's own thread
    meter.health()  # {"ok": True, "connected": True, "last_reading_age_s": 0.4, ...}
    meter.close()
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Opener = Callable[[str], Any]


def is_io_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the port is gone: pyserial raises ``SerialException`` (an
    ``OSError``) for most failures, but lets ``termios.error`` through from some calls."""
    return isinstance(exc, OSError) or type(exc).__module__ == "termios"


class SerialLink:
    """One serial port, reopened with back-off after it is lost.

    ``opener`` builds an open pyserial-like port from the URL (tests may hand one in); by default
    ``serial.serial_for_url`` with 8N1 at ``baudrate``. The clock decides when the next attempt
    is due, so back-off is testable without waiting.
    """

    def __init__(
        self,
        url: str,
        *,
        baudrate: int = 9600,
        timeout: float = 0.2,
        clock: Clock = time.monotonic,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        opener: Opener | None = None,
    ) -> None:
        self.url = url
        self.baudrate = baudrate
        self.timeout = timeout
        self._clock = clock
        self._backoff_initial = backoff_initial_s
        self._backoff_max = backoff_max_s
        self._backoff = backoff_initial_s
        self._opener = opener or self._open_with_pyserial
        self.port: Any = None
        self._next_attempt = float("-inf")
        self.opens = 0
        self.open_failures = 0
        self.losses = 0
        self.last_error: str | None = None
        self._closed = False

    def _open_with_pyserial(self, url: str) -> Any:
        import serial  # only here: the rest of the project never needs pyserial

        return serial.serial_for_url(url, baudrate=self.baudrate, timeout=self.timeout)

    @property
    def connected(self) -> bool:
        return self.port is not None

    @property
    def reconnects(self) -> int:
        """Successful opens after the first one."""
        return max(0, self.opens - 1)

    def retry_in(self) -> float:
        """Seconds until the next open attempt is due (0 when connected or due now)."""
        if self.port is not None:
            return 0.0
        return max(0.0, self._next_attempt - self._clock())

    def ensure_open(self) -> Any:
        """Return the open port, opening it if an attempt is due; ``None`` while it is absent."""
        if self.port is not None or self._closed:
            return self.port
        if self._clock() < self._next_attempt:
            return None
        try:
            port = self._opener(self.url)
        except (OSError, ValueError) as exc:  # SerialException is an OSError
            self.open_failures += 1
            self.last_error = f"open: {exc}"
            self._schedule_retry()
            return None
        with contextlib.suppress(Exception):
            port.reset_input_buffer()  # bytes queued before we opened are stale
        self.port = port
        self.opens += 1
        self._backoff = self._backoff_initial
        return port

    def lost(self, error: BaseException | str) -> None:
        """Forget the port after an I/O error; :meth:`ensure_open` retries it with back-off."""
        self.losses += 1
        self.last_error = str(error)
        self._drop_port()
        self._schedule_retry()

    def read(self, max_bytes: int = 256) -> bytes:
        """Read what is waiting (blocking up to ``timeout`` for the first byte); never raises."""
        port = self.ensure_open()
        if port is None:
            return b""
        try:
            waiting = port.in_waiting
            return bytes(port.read(max(1, min(int(waiting), max_bytes))))
        except Exception as exc:
            if not is_io_error(exc):
                raise
            self.lost(exc)
            return b""

    def close(self) -> None:
        """Close the port for good. Safe to call twice."""
        self._closed = True
        self._drop_port()

    def _drop_port(self) -> None:
        port, self.port = self.port, None
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()

    def _schedule_retry(self) -> None:
        self._next_attempt = self._clock() + self._backoff
        self._backoff = min(self._backoff * 2, self._backoff_max)


class SerialSensor:
    """Base of the serial sensor drivers: thread, staleness, error counts, health.

    Subclasses implement :meth:`_poll` (one exchange on an open port, returning readings) and may
    override :meth:`_on_open` to drop partial data after each (re)open. ``interval_s`` is the
    polling period for request/response devices; streaming devices use 0 and block in ``read``.
    """

    kind = "serial"

    def __init__(
        self,
        link: SerialLink,
        *,
        clock: Clock = time.monotonic,
        stale_after_s: float = 5.0,
        interval_s: float = 0.0,
    ) -> None:
        self.link = link
        self._clock = clock
        self.stale_after_s = stale_after_s
        self.interval_s = interval_s
        self.errors: Counter[str] = Counter()
        self.readings = 0
        self._last: object | None = None
        self._last_at: float | None = None
        self._opens_seen = 0
        self._on_reading: Callable[[object], None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one poll at a time (thread vs. a test's poll_once)
        self._closed = False

    # -- the Sensor port ------------------------------------------------------------------------
    def start(self, on_reading: Callable[[object], None]) -> None:
        """Report readings to ``on_reading`` from a daemon thread of our own."""
        self._on_reading = on_reading
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(
                target=self._run, name=f"{self.kind}-sensor", daemon=True
            )
            self._thread.start()

    def health(self) -> dict[str, object]:
        age = self.last_reading_age_s()
        return {
            "ok": self.link.connected and age is not None and age <= self.stale_after_s,
            "type": self.kind,
            "port": self.link.url,
            "connected": self.link.connected,
            "last_reading_age_s": None if age is None else round(age, 3),
            "readings": self.readings,
            "errors": dict(self.errors),
            "reconnects": self.link.reconnects,
            "last_error": self.link.last_error,
        }

    def close(self) -> None:
        """Stop the thread and release the port. Safe to call twice."""
        self._closed = True
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.link.timeout + 2.0)
        with self._lock:
            self.link.close()

    def __enter__(self) -> SerialSensor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- synchronous stepping -------------------------------------------------------------------
    def poll_once(self) -> list[object]:
        """One exchange with the device; reports and returns the readings. Never raises."""
        with self._lock:
            if self._closed:
                return []
            port = self.link.ensure_open()
            if port is None:
                return []
            if self.link.opens != self._opens_seen:
                self._opens_seen = self.link.opens
                self._on_open()
            try:
                readings = self._poll(port)
            except Exception as exc:
                if not is_io_error(exc):
                    self.errors["internal"] += 1
                    log.exception("%s sensor poll failed: %s", self.kind, exc)
                    return []
                self.errors["io"] += 1
                self.link.lost(exc)
                self._lost()
                return []
        for reading in readings:
            self._report(reading)
        return readings

    def latest(self) -> object | None:
        """The last reading, or ``None`` once it is older than ``stale_after_s`` (unknown)."""
        age = self.last_reading_age_s()
        if age is None or age > self.stale_after_s:
            return None
        return self._last

    def last_reading_age_s(self) -> float | None:
        if self._last_at is None:
            return None
        return max(0.0, self._clock() - self._last_at)

    # -- for subclasses -------------------------------------------------------------------------
    def _poll(self, port: Any) -> list[object]:
        raise NotImplementedError

    def _on_open(self) -> None:
        """Called after each (re)open, before the first poll: drop partial data here."""

    def _lost(self) -> None:
        """Called after the port was lost."""

    # -- internals ------------------------------------------------------------------------------
    def _report(self, reading: object) -> None:
        self.readings += 1
        self._last = reading
        self._last_at = self._clock()
        handler = self._on_reading
        if handler is None:
            return
        try:
            handler(reading)
        except Exception:
            self.errors["callback"] += 1
            log.exception("%s reading handler failed", self.kind)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.poll_once()
            if not self.link.connected:
                self._stop.wait(max(0.05, self.link.retry_in()))
            elif self.interval_s > 0:
                self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))
