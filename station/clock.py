"""One injectable clock: wall time for records, monotonic time for durations.

A Raspberry Pi has no real-time clock, so every record also says whether the wall clock was
synchronised and carries the boot id and monotonic time, which lets the central store repair
timestamps taken before NTP caught up.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class Now:
    """A point in time as both clocks see it."""

    at: datetime
    """Wall clock, timezone-aware UTC."""
    mono: float
    """Monotonic seconds; only differences mean anything."""
    synced: bool = True
    """Whether the wall clock was synchronised (NTP) when read."""

    def iso(self) -> str:
        return iso(self.at)

    def at_mono(self, mono: float) -> datetime:
        """The wall time of another monotonic instant, as seen from this one."""
        return self.at + timedelta(seconds=mono - self.mono)


def iso(at: datetime) -> str:
    """UTC ISO-8601 with milliseconds and a ``Z``, the one format of every record."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Clock(Protocol):
    def now(self) -> Now: ...

    @property
    def boot_id(self) -> str: ...

    @property
    def simulated(self) -> bool: ...


def read_boot_id() -> str:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return f"noboot-{uuid.uuid4()}"


def wall_clock_synced() -> bool:
    """Whether the wall clock is known right: systemd-timesyncd says so, or the kernel does.

    The kernel keeps the NTP status that every NTP client (timesyncd, chrony, ntpd) sets when it
    has synchronised the clock (``adjtimex``: anything but ``TIME_ERROR``). When neither can
    tell, the clock is **not** trusted: a Pi has no RTC, and a roster's age computed from a
    wall clock restored at boot would admit a badge revoked meanwhile (station/roster_age.py).
    """
    if TIMESYNC_FLAG.exists():
        return True
    return kernel_clock_synced()


TIME_ERROR = 5
"""``adjtimex`` returns this while the kernel's clock is not synchronised (``STA_UNSYNC``)."""


def kernel_clock_synced() -> bool:
    """The kernel's NTP status, read-only (``adjtimex`` with no mode bits: one system call);
    False when it cannot be read (not Linux)."""
    try:
        import ctypes

        adjtimex = ctypes.CDLL(None, use_errno=True).adjtimex  # the process's own libc
        timex = ctypes.create_string_buffer(512)  # struct timex (~208 bytes), modes = 0: read
        state = adjtimex(timex)
    except (OSError, AttributeError, TypeError):
        return False
    return bool(state >= 0 and state != TIME_ERROR)


class SystemClock:
    """The real clocks. The sync flag is re-read at most every 10 s (it is a file lookup)."""

    simulated = False

    def __init__(self) -> None:
        self._boot_id = read_boot_id()
        self._synced = wall_clock_synced()
        self._synced_checked = time.monotonic()

    @property
    def boot_id(self) -> str:
        return self._boot_id

    def now(self) -> Now:
        mono = time.monotonic()
        if mono - self._synced_checked > 10 or not self._synced:
            self._synced = wall_clock_synced()
            self._synced_checked = mono
        return Now(at=datetime.now(UTC), mono=mono, synced=self._synced)


class SimulatedClock:
    """A clock that only moves when told to: tests and the mock backend's ``/sim/advance``."""

    simulated = True

    def __init__(
        self,
        start: datetime | None = None,
        mono: float = 1000.0,
        *,
        synced: bool = True,
        boot_id: str | None = None,
    ) -> None:
        self._at = (start or datetime.now(UTC)).astimezone(UTC)
        self._mono = mono
        self._lock = threading.Lock()
        self._boot_id = boot_id or f"sim-{uuid.uuid4()}"
        self.synced = synced
        """Tests set False for a Pi whose wall clock NTP has not corrected yet."""

    @property
    def boot_id(self) -> str:
        return self._boot_id

    def now(self) -> Now:
        with self._lock:
            return Now(at=self._at, mono=self._mono, synced=self.synced)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go back: seconds must be >= 0")
        with self._lock:
            self._mono += seconds
            self._at += timedelta(seconds=seconds)


def resumed_simulated_clock(*records: datetime | None) -> SimulatedClock:
    """A simulated clock for a station that starts again: it goes on from the latest of its
    records (its last event, the time it had when it stopped).

    A demo station's clock may have been advanced hours past the real time; starting again
    from the real time would date the new events before the old ones. The monotonic clock
    starts afresh with a new boot id, as after a reboot.
    """
    start = max([datetime.now(UTC), *(r for r in records if r is not None)])
    return SimulatedClock(start)


def read_saved_time(path: Path) -> datetime | None:
    """The time a simulated clock had when its station stopped (see :func:`save_time`)."""
    try:
        at = datetime.fromisoformat(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    return at if at.tzinfo else None


def save_time(clock: Clock, path: Path) -> None:
    """Keep a simulated clock's time for the next start (an idle station writes no event)."""
    try:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(clock.now().iso() + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # the last event's time is the fallback
