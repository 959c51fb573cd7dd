"""A scriptable badge reader: tests and the demo call :meth:`FakeBadgeReader.tap`."""

from __future__ import annotations

import threading

from station.ports import TapHandler


class FakeBadgeReader:
    """Reports the UIDs it is told to, in the caller's thread, as a real reader would report taps.

    >>> taps = []
    >>> reader = FakeBadgeReader()
    >>> reader.start(taps.append)
    >>> reader.tap("04a1b2c3")
    >>> taps
    ['04A1B2C3']
    """

    def __init__(self) -> None:
        self._on_tap: TapHandler | None = None
        self._lock = threading.Lock()
        self.taps = 0
        self.closed = False

    def start(self, on_tap: TapHandler) -> None:
        with self._lock:
            self._on_tap = on_tap
            self.closed = False

    def tap(self, uid: str) -> None:
        """Report one tap of ``uid`` (normalised to upper-case hex, as real readers report it)."""
        with self._lock:
            handler = None if self.closed else self._on_tap
            self.taps += 1
        if handler is not None:
            handler(uid.strip().upper())

    def health(self) -> dict[str, object]:
        return {"ok": not self.closed, "type": "fake", "taps": self.taps}

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._on_tap = None
