"""The interfaces the station needs from hardware, as small Protocols.

Real implementations live in ``hardware/``, fakes in ``mocks/``; both are built by name from config
(see :mod:`station.wiring`). Every callback an implementation makes (a tap, a button press, a
sensor reading) may run on the implementation's own thread: the controller's callbacks only put a
message on its queue, so implementations never need locks of their own around them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

TapHandler = Callable[..., None]
"""Called as ``on_tap(uid)`` or ``on_tap(uid, verified)``: the UID is upper-case hex of the
real UID bytes (8 or 14 characters); ``verified`` is the anti-clone check's result when the
reader performs it (True, False), absent when it does not."""


@runtime_checkable
class BadgeReader(Protocol):
    """Reports each tap of a badge once (a badge held on the reader is one tap)."""

    def start(self, on_tap: TapHandler) -> None:
        """Start reporting taps to ``on_tap``; may start a thread of its own."""

    def health(self) -> dict[str, object]:
        """A small JSON-able dict for the status page, e.g. ``{"ok": True, "polls": 1200}``."""

    def close(self) -> None:
        """Stop reporting taps and release the device. Safe to call twice."""


@runtime_checkable
class Relay(Protocol):
    """The machine's power relay. Off by construction, on close and at exit."""

    @property
    def is_on(self) -> bool: ...

    def on(self) -> None: ...

    def off(self) -> None: ...

    def close(self) -> None:
        """Switch off and release the pin. Safe to call twice."""


@runtime_checkable
class Indicator(Protocol):
    """An LED."""

    def on(self) -> None: ...

    def off(self) -> None: ...

    def blink(self, on_time: float = 0.5, off_time: float = 0.5) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class Buzzer(Protocol):
    """Plays short named cues: ``ok``, ``deny``, ``warn``, ``wait``, ``alarm``, ``grant``."""

    def play(self, cue: str) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class Button(Protocol):
    """The extend/stop push button: a short press extends, a long hold stops."""

    def start(self, on_press: Callable[[], None], on_hold: Callable[[], None]) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class PowerReading:
    """One reading of the machine's energy meter. ``None`` means the meter does not report it."""

    watts: float
    volts: float | None = None
    amps: float | None = None
    energy_wh: float | None = None
    hertz: float | None = None
    power_factor: float | None = None


@dataclass(frozen=True)
class PlugProblem:
    """A smart plug did something the station did not ask for, or did not answer.

    ``kind``: ``no_ack`` (an on/off not acknowledged in time), ``unasked_on`` (the plug went on
    by itself: its button), ``unasked_off`` (it went off during a session), ``overpower``,
    ``overtemp`` (its own protection tripped). ``detail`` says more for the log (JSON-able).
    A relay that can report these has ``watch(on_problem)``; the controller turns each into a
    fault through the state machine (``station/machine_plug.py``).
    """

    kind: str
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class AirReading:
    """One reading of the particulate sensor, in µg/m³."""

    pm25: float
    pm10: float | None = None


@runtime_checkable
class Sensor(Protocol):
    """A serial sensor (energy meter, air sensor). Never raises into the caller's thread.

    ``on_reading`` is called with a :class:`PowerReading` or an :class:`AirReading` each time a
    valid reading arrives; ``health()`` tells whether the device is connected, how old the last
    reading is and how many errors were seen.
    """

    def start(self, on_reading: Callable[[object], None]) -> None: ...

    def health(self) -> dict[str, object]: ...

    def close(self) -> None: ...


@dataclass
class Hardware:
    """Everything one station drives, as built by a backend (``pi`` or ``mock``)."""

    reader: BadgeReader
    relay: Relay
    green: Indicator
    red: Indicator
    buzzer: Buzzer
    button: Button | None = None
    power_meter: Sensor | None = None
    air_sensor: Sensor | None = None
    extras: dict[str, object] = field(default_factory=dict)
    """Backend-specific handles, e.g. the mock backend's fake reader and pin factory."""

    def close(self) -> None:
        """Relay off first, then everything else; never raises."""
        try:
            self.relay.off()
        finally:
            for part in (
                self.relay,
                self.reader,
                self.button,
                self.power_meter,
                self.air_sensor,
                self.green,
                self.red,
                self.buzzer,
            ):
                if part is None:
                    continue
                try:
                    part.close()
                except Exception:  # closing must go on for the other parts
                    pass
            for extra in self.extras.values():  # emulated devices, a mock pin factory
                closer = getattr(extra, "close", None)
                if callable(closer):
                    try:
                        closer()
                    except Exception:
                        pass
