"""Metering a session from power readings, and per-minute rows for storage. Pure: no I/O.

Every function takes the time it should consider ``now`` (monotonic seconds for durations, a
UTC ``datetime`` only to name a minute), so the controller, the tests and the benchmark drive it
with any clock.

**Energy.** When the meter reports its energy register (PZEM-004T), a session's energy is the
sum of the register's increments between consecutive readings: it telescopes to "last register
minus first", so the meter's 1 Wh resolution costs at most 1 Wh per session, and energy drawn
while our serial link was down is still counted once the meter answers again. An increment
that is negative (register reset, roll-over at 9999.99 kWh, a swapped meter) or larger than
``max_watts`` could draw in that time is not trusted: that interval falls back to the power
estimate below and ``register_resets`` counts it. Without a register (a clamp printing watts),
energy is the trapezoid integral of power between readings. Because 1 Wh is a lot for a short
session, when the trapezoid over the register-counted intervals agrees with the register to
within its resolution (1 Wh), the finer trapezoid figure is reported; once they disagree by more
(a long session, a drifting clamp, energy counted across a gap) the register wins.

**Gaps.** A reading stands for the machine's state from when it is taken until the next reading
or until it goes stale (``stale_after_s``), whichever comes first. So an interval between
readings longer than ``stale_after_s`` is integrated with the earlier reading held for
``stale_after_s`` only; the rest of the gap is *unknown*: it is not guessed into energy (unless
the register covers it), nor into active or idle time, and it is reported as ``unknown_s`` so a
report can tell a quiet machine from a blind meter. The same rule holds for the tail between the
last reading and the end of the session.

**Time.** ``active_s`` is the time power was above the machine's ``busy_watts``, ``idle_s`` the
time at or below it (zero-order hold on the earlier reading), ``unknown_s`` the rest;
``enabled_s`` is the time the relay was on, known from the controller, not from the meter.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from station.ports import AirReading, PowerReading


@dataclass(frozen=True)
class MeteringConfig:
    """Per-machine metering settings."""

    busy_watts: float = 20.0
    """Above this the machine is working (``active_s``); at or below, it is ``idle_s``."""
    stale_after_s: float = 5.0
    """A reading older than this is unknown (the meter polls at 1 Hz)."""
    max_watts: float = 26_000.0
    """The most the metered line can draw (PZEM-004T: 100 A × 260 V); beyond it a register jump
    is a reset or a swapped meter, not energy."""


@dataclass(frozen=True)
class Sample:
    """A power reading as metering keeps it."""

    mono: float
    watts: float
    energy_wh: float | None = None

    @classmethod
    def of(cls, mono: float, reading: PowerReading) -> Sample:
        return cls(mono, max(0.0, reading.watts), reading.energy_wh)


@dataclass(frozen=True)
class Interval:
    """What one interval between two readings contributes."""

    energy_wh: float
    active_s: float
    idle_s: float
    unknown_s: float
    register_reset: bool = False
    estimate_wh: float | None = None
    """When ``energy_wh`` came from the register over a fresh interval: the power estimate."""


def interval(prev: Sample, cur: Sample, config: MeteringConfig) -> Interval:
    """The contribution of ``[prev.mono, cur.mono]``; see the module docstring for the rules."""
    dt = cur.mono - prev.mono
    if dt <= 0:
        return Interval(0.0, 0.0, 0.0, 0.0)
    known = min(dt, config.stale_after_s)
    busy = prev.watts > config.busy_watts
    active, idle, unknown = (known if busy else 0.0), (0.0 if busy else known), dt - known
    if dt <= config.stale_after_s:
        estimate = (prev.watts + cur.watts) / 2 * dt / 3600  # trapezoid
    else:
        estimate = prev.watts * known / 3600  # held while fresh, then unknown
    if prev.energy_wh is not None and cur.energy_wh is not None:
        delta = cur.energy_wh - prev.energy_wh
        if 0 <= delta <= config.max_watts * dt / 3600 + 1.0:  # +1: the register counts whole Wh
            fresh = dt <= config.stale_after_s
            return Interval(delta, active, idle, unknown, estimate_wh=estimate if fresh else None)
        return Interval(estimate, active, idle, unknown, register_reset=True)
    return Interval(estimate, active, idle, unknown)


def tail(last: Sample, now: float, config: MeteringConfig) -> Interval:
    """The contribution of ``[last.mono, now]`` with no reading yet at ``now``: hold while fresh."""
    return interval(last, Sample(now, last.watts), config)


@dataclass(frozen=True)
class SessionTotals:
    """What metering says about a finished (or running) session."""

    energy_wh: float
    active_s: float
    idle_s: float
    enabled_s: float
    unknown_s: float
    readings: int
    register_resets: int

    def as_event_data(self) -> dict[str, float | int]:
        """Rounded for the ``session_ended`` event."""
        return {
            "energy_wh": round(self.energy_wh, 3),
            "active_s": round(self.active_s, 1),
            "idle_s": round(self.idle_s, 1),
            "enabled_s": round(self.enabled_s, 1),
            "unknown_s": round(self.unknown_s, 1),
        }


@dataclass(frozen=True)
class SessionMeter:
    """The metering state of one session; every update returns a new one.

    >>> m = SessionMeter.begin(0.0, MeteringConfig(busy_watts=50))
    >>> m = m.add(0.0, PowerReading(watts=0.0, energy_wh=100.0))
    >>> m = m.add(1.0, PowerReading(watts=0.0, energy_wh=100.0))
    >>> m = m.add(3601.0, PowerReading(watts=900.0, energy_wh=1000.0))  # after an hour's gap
    >>> t = m.totals(3601.0)
    >>> (t.energy_wh, t.idle_s, t.unknown_s)
    (900.0, 6.0, 3595.0)
    """

    config: MeteringConfig
    started: float
    now: float
    enabled: bool = True
    energy_wh: float = 0.0
    active_s: float = 0.0
    idle_s: float = 0.0
    unknown_s: float = 0.0
    enabled_s: float = 0.0
    readings: int = 0
    register_resets: int = 0
    last: Sample | None = None
    register_wh: float = 0.0
    """Register increments over fresh intervals..."""
    register_estimate_wh: float = 0.0
    """...and the power estimate over the same intervals, to refine short sessions."""
    quiet_since: float | None = None
    """Since when every reading has been at or below ``busy_watts`` (``None`` while busy)."""
    _counted_to: float = field(default=0.0, repr=False)
    """Up to when active/idle/unknown time has been counted."""

    @classmethod
    def begin(
        cls,
        now: float,
        config: MeteringConfig | None = None,
        *,
        enabled: bool = True,
        last: tuple[float, PowerReading] | None = None,
    ) -> SessionMeter:
        """A session starting at ``now``; ``last`` is the latest reading before it, if still fresh
        (its energy register becomes the baseline, so the first second is not lost)."""
        config = config or MeteringConfig()
        meter = cls(config=config, started=now, now=now, enabled=enabled, _counted_to=now)
        if last is not None and 0 <= now - last[0] <= config.stale_after_s:
            sample = Sample.of(now, last[1])  # taken as read at the start
            quiet = now if sample.watts <= config.busy_watts else None
            meter = replace(meter, last=sample, quiet_since=quiet)
        return meter

    def advance(self, now: float) -> SessionMeter:
        """Move time to ``now`` (counts ``enabled_s``); readings are counted by :meth:`add`."""
        if now <= self.now:
            return self
        extra = now - self.now if self.enabled else 0.0
        return replace(self, now=now, enabled_s=self.enabled_s + extra)

    def set_enabled(self, now: float, enabled: bool) -> SessionMeter:
        """The relay switched at ``now``."""
        return replace(self.advance(now), enabled=enabled)

    def add(self, mono: float, reading: PowerReading) -> SessionMeter:
        """A reading taken at ``mono``. Readings older than the last one are ignored."""
        meter = self.advance(mono)
        cur = Sample.of(mono, reading)
        prev = meter.last
        if prev is not None and mono <= prev.mono:
            return meter
        if prev is None:
            # Before the first reading we know nothing: count the wait as unknown.
            part = Interval(0.0, 0.0, 0.0, max(0.0, mono - meter._counted_to))
        else:
            part = interval(prev, cur, meter.config)
        quiet_since = meter.quiet_since
        if cur.watts > meter.config.busy_watts:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = mono
        return replace(
            meter,
            energy_wh=meter.energy_wh + part.energy_wh,
            active_s=meter.active_s + part.active_s,
            idle_s=meter.idle_s + part.idle_s,
            unknown_s=meter.unknown_s + part.unknown_s,
            readings=meter.readings + 1,
            register_resets=meter.register_resets + part.register_reset,
            register_wh=meter.register_wh + (part.energy_wh if part.estimate_wh is not None else 0),
            register_estimate_wh=meter.register_estimate_wh + (part.estimate_wh or 0.0),
            last=cur,
            quiet_since=quiet_since,
            _counted_to=mono,
        )

    def current_watts(self, now: float) -> float | None:
        """The latest power, or ``None`` if it is stale (unknown)."""
        if self.last is None or now - self.last.mono > self.config.stale_after_s:
            return None
        return self.last.watts

    def quiet_for(self, now: float) -> float | None:
        """How long power has been ≤ ``busy_watts``; ``None`` if busy or unknown."""
        if self.quiet_since is None or self.current_watts(now) is None:
            return None
        return max(0.0, now - self.quiet_since)

    def totals(self, now: float) -> SessionTotals:
        """The session's figures as of ``now`` (call with the end time when it ends)."""
        meter = self.advance(now)
        end = max(now, meter._counted_to)
        if meter.last is None:
            part = Interval(0.0, 0.0, 0.0, max(0.0, end - meter._counted_to))
        else:
            part = tail(meter.last, end, meter.config)
        energy = meter.energy_wh
        if abs(meter.register_estimate_wh - meter.register_wh) < 1.0:
            energy += meter.register_estimate_wh - meter.register_wh
        return SessionTotals(
            energy_wh=energy + part.energy_wh,
            active_s=meter.active_s + part.active_s,
            idle_s=meter.idle_s + part.idle_s,
            enabled_s=meter.enabled_s,
            unknown_s=meter.unknown_s + part.unknown_s,
            readings=meter.readings,
            register_resets=meter.register_resets,
        )


# -- per-minute rows for storage ---------------------------------------------------------------


@dataclass(frozen=True)
class MinuteRow:
    """One minute of sensor data, as stored (raw samples never are)."""

    minute: datetime
    """Start of the minute, UTC."""
    power_samples: int = 0
    watts_min: float | None = None
    watts_mean: float | None = None
    watts_max: float | None = None
    energy_wh: float | None = None
    air_samples: int = 0
    pm25_mean: float | None = None
    pm25_max: float | None = None
    pm10_mean: float | None = None
    pm10_max: float | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-able, with the minute as ISO-8601 ``Z``."""
        row: dict[str, object] = {
            "minute": self.minute.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:00Z")
        }
        for name in MinuteRow.__dataclass_fields__:
            if name != "minute":
                value = getattr(self, name)
                row[name] = round(value, 3) if isinstance(value, float) else value
        return row


@dataclass
class _Acc:
    """Running sums for the open minute."""

    minute: datetime
    n_w: int = 0
    w_sum: float = 0.0
    w_min: float = float("inf")
    w_max: float = float("-inf")
    energy: float = 0.0
    energy_known: bool = False
    n_air: int = 0
    pm25_sum: float = 0.0
    pm25_max: float = float("-inf")
    n_pm10: int = 0
    pm10_sum: float = 0.0
    pm10_max: float = float("-inf")

    def row(self) -> MinuteRow:
        return MinuteRow(
            minute=self.minute,
            power_samples=self.n_w,
            watts_min=self.w_min if self.n_w else None,
            watts_mean=self.w_sum / self.n_w if self.n_w else None,
            watts_max=self.w_max if self.n_w else None,
            energy_wh=self.energy if self.energy_known else None,
            air_samples=self.n_air,
            pm25_mean=self.pm25_sum / self.n_air if self.n_air else None,
            pm25_max=self.pm25_max if self.n_air else None,
            pm10_mean=self.pm10_sum / self.n_pm10 if self.n_pm10 else None,
            pm10_max=self.pm10_max if self.n_pm10 else None,
        )


def minute_of(at: datetime) -> datetime:
    """The start of ``at``'s minute, in UTC."""
    return at.astimezone(UTC).replace(second=0, microsecond=0)


class MinuteAggregator:
    """Folds readings into per-minute rows; returns each minute's row once the minute is over.

    Rows come back from :meth:`add_power` / :meth:`add_air` (when a sample of a later minute
    arrives) and :meth:`flush`; the caller writes them in one batch. A sample stamped earlier
    than the open minute (a late reading, or the wall clock stepping back at NTP sync) counts
    in the open minute, so a minute is never emitted twice. Energy per minute uses the same
    interval rules as :class:`SessionMeter`, attributed to the minute of the later reading.
    """

    def __init__(self, config: MeteringConfig | None = None) -> None:
        self.config = config or MeteringConfig()
        self._open: _Acc | None = None
        self._last: Sample | None = None

    def _roll(self, at: datetime) -> tuple[_Acc, list[MinuteRow]]:
        minute = minute_of(at)
        done: list[MinuteRow] = []
        if self._open is None:
            self._open = _Acc(minute)
        elif minute > self._open.minute:
            done.append(self._open.row())
            self._open = _Acc(minute)
        return self._open, done

    def add_power(self, at: datetime, mono: float, reading: PowerReading) -> list[MinuteRow]:
        acc, done = self._roll(at)
        cur = Sample.of(mono, reading)
        acc.n_w += 1
        acc.w_sum += cur.watts
        acc.w_min = min(acc.w_min, cur.watts)
        acc.w_max = max(acc.w_max, cur.watts)
        if self._last is not None and cur.mono > self._last.mono:
            acc.energy += interval(self._last, cur, self.config).energy_wh
            acc.energy_known = True
        if self._last is None or cur.mono > self._last.mono:
            self._last = cur
        return done

    def add_air(self, at: datetime, reading: AirReading) -> list[MinuteRow]:
        acc, done = self._roll(at)
        acc.n_air += 1
        acc.pm25_sum += reading.pm25
        acc.pm25_max = max(acc.pm25_max, reading.pm25)
        if reading.pm10 is not None:
            acc.n_pm10 += 1
            acc.pm10_sum += reading.pm10
            acc.pm10_max = max(acc.pm10_max, reading.pm10)
        return done

    def flush(self, at: datetime | None = None) -> list[MinuteRow]:
        """The open minute's row if it is over at ``at`` (or in any case when ``at`` is None,
        e.g. at shutdown)."""
        if self._open is None:
            return []
        if at is not None and minute_of(at) < self._open.minute + timedelta(minutes=1):
            return []
        row, self._open = self._open.row(), None
        return [row]
