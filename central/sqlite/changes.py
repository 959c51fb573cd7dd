"""The store's change counter on SQLite: each committed write in this process bumps it (another
process on the same file is seen at the stream's next timed re-read)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from central.changes import ChangeSignal
from central.sqlite.base import SqliteBase

_lock = threading.Lock()


class ChangesSqlite(SqliteBase):
    @property
    def _signal(self) -> ChangeSignal:
        signal = self.__dict__.get("_change_signal")
        if signal is None:
            with _lock:
                signal = self.__dict__.setdefault("_change_signal", ChangeSignal())
        return signal  # type: ignore[no-any-return]

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with super()._transaction() as conn:
            yield conn
        self._signal.bump()

    def changes_seen(self) -> int:
        return self._signal.seen

    def wait_for_change(self, seen: int, timeout_s: float) -> int:
        return self._signal.wait(seen, timeout_s)

    def shared_secret(self, name: str) -> bytes | None:
        """One SQLite file serves processes of one machine: they share the data directory's key
        file already."""
        return None
