"""gpiozero's MockFactory with pins that record every output change with a wall-clock stamp.

The real gpiozero device code runs on these pins. ``RecordingMockPin`` adds two things the stock
mock lacks: a ``perf_counter`` stamp per change (the tap-to-relay benchmark needs the instant the
relay pin changed) and an optional log file (``FABRIQUE_PIN_LOG``), flushed at each change, that
lets an end-to-end test read the relay's history after killing the station process.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPWMPin

PIN_LOG_ENV = "FABRIQUE_PIN_LOG"


class RecordingMockPin(MockPWMPin):
    log_path: str | None = None
    _log_lock = threading.Lock()

    def __init__(self, factory: Any, info: Any) -> None:
        self.changes: list[tuple[float, float]] = []
        self.on_change: Any = None
        super().__init__(factory, info)

    def _change_state(self, value: Any) -> bool:
        changed = super()._change_state(value)
        if changed:
            stamp = time.perf_counter()
            self.changes.append((stamp, float(value)))
            del self.changes[:-10_000]
            if self.on_change is not None:
                self.on_change(stamp, value)
            if self.log_path and self._function == "output":
                with self._log_lock, open(self.log_path, "a", encoding="utf-8") as f:
                    f.write(f"{os.getpid()} {self.info.name} {time.time():.6f} {float(value)}\n")
        return changed


def mock_pin_factory(log_path: str | None = None) -> MockFactory:
    """A fresh MockFactory whose pins record their changes (and log them when asked)."""
    RecordingMockPin.log_path = log_path if log_path is not None else os.environ.get(PIN_LOG_ENV)
    return MockFactory(pin_class=RecordingMockPin)
