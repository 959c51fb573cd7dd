"""What an emulated smart plug is, whatever it speaks: an output, a load, an energy counter and
an off-timer, on an injectable clock.

The Shelly and Tasmota emulators (``mocks/shelly_plug.py``, ``mocks/tasmota_plug.py``) put their
device's MQTT topics around one :class:`PlugModel`. With ``autotick`` they run their timers on
their own thread in real time (the demo, the kill -9 test); without it a test moves the clock it
handed in and calls ``tick()`` itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class PlugModel:
    """The plug's physics: power flows to the load only while the output is on."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        energy_clock: Callable[[], float] | None = None,
    ) -> None:
        self.clock = clock
        """Drives the off-timer: real time, as on the device (or a test's own clock)."""
        self.energy_clock = energy_clock or clock
        """Drives the energy counter: a station on a simulated clock meters simulated hours."""
        self.output = False
        self.load_w = 0.0
        self.energy_wh = 0.0
        self.volts = 230.0
        self.temp_c = 32.0
        self.timer_at: float | None = None
        self.timer_started: float | None = None
        self.errors: list[str] = []
        self.source = "init"
        self._last = self.energy_clock()
        self.switches: list[tuple[float, bool, str]] = []
        """Every change of the output: (clock time, on, source) — what the tests read."""
        self.lock = threading.RLock()

    @property
    def power_w(self) -> float:
        return self.load_w if self.output else 0.0

    def accumulate(self) -> None:
        with self.lock:
            now = self.energy_clock()
            self.energy_wh += self.power_w * max(0.0, now - self._last) / 3600
            self._last = now

    def set_load(self, watts: float) -> None:
        with self.lock:
            self.accumulate()
            self.load_w = max(0.0, float(watts))

    def switch(self, on: bool, source: str, timer_s: float | None = None) -> bool:
        """Set the output; ``timer_s`` arms the flip-back timer (None: no timer). True when the
        output changed."""
        with self.lock:
            self.accumulate()
            changed = on != self.output
            self.output = on
            self.source = source
            if on:
                self.errors = []
            now = self.clock()
            self.timer_at = now + timer_s if timer_s else None
            self.timer_started = now if timer_s else None
            if changed:
                self.switches.append((now, on, source))
            return changed

    def trip(self, error: str) -> bool:
        """The plug's own protection: off, with the error in its status."""
        with self.lock:
            changed = self.switch(False, error)
            self.errors = [error]
            return changed

    def tick(self) -> bool:
        """The timer falls due: the output flips back. True when it did."""
        with self.lock:
            self.accumulate()
            if self.timer_at is not None and self.clock() >= self.timer_at:
                self.timer_at = None
                self.timer_started = None
                return self.switch(not self.output, "timer")
            return False


class Ticker:
    """Calls ``tick`` every ``period_s`` on a daemon thread until stopped."""

    def __init__(self, tick: Callable[[], None], period_s: float = 0.02) -> None:
        self._tick = tick
        self._period = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="plug-emulator", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            self._tick()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(1.0)
