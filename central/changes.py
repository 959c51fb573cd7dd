"""A change counter that waiters can sleep on: the dashboard's live stream wakes when the store
changed instead of re-reading it blindly.

Each committed write bumps it: in this process directly (SQLite), or through PostgreSQL's
``LISTEN/NOTIFY`` so that a push through any central process on the database wakes the streams
of every other one.
"""

from __future__ import annotations

import threading


class ChangeSignal:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seen = 0

    @property
    def seen(self) -> int:
        with self._cond:
            return self._seen

    def bump(self) -> None:
        with self._cond:
            self._seen += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout_s: float) -> int:
        """The counter once it has moved past ``seen``, or after ``timeout_s`` whatever it is."""
        with self._cond:
            self._cond.wait_for(lambda: self._seen != seen, timeout=max(timeout_s, 0.0))
            return self._seen
