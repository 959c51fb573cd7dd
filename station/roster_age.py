"""How old the cached roster is, across restarts, without trusting a wall clock that may be wrong.

A Raspberry Pi has no real-time clock: after a reboot its wall clock starts wherever it stopped
until NTP answers, so "now minus the last contact" may say minutes when days went by (a badge
revoked meanwhile at the central store would then be admitted). The roster's *anchor* is the
last instant it was known current (a sync with the central store, or ``station roster import``)
as both clocks saw it, with the boot id. Its age is then known:

- on the same boot: from the monotonic clock, which keeps counting across process restarts;
- on a later boot: from the wall clock, only if both the anchor's and today's wall times were
  synchronised (NTP) — the time the Pi spent switched off is invisible otherwise;
- otherwise it is unknown, and the station fails closed: only staff are admitted until a sync
  succeeds (or the wall clock becomes synchronised and the anchor's wall time is trusted).

An anchor taken before NTP answered is upgraded once NTP answers on the same boot: its wall time
is today's synchronised wall time minus the monotonic seconds since.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from station.clock import Now, iso

AGE_UNKNOWN = float("-inf")
"""The roster's expiry (monotonic) when its age is unknown: expired since always."""


@dataclass(frozen=True)
class Anchor:
    """The last instant the roster was known current."""

    boot_id: str
    mono: float
    at: datetime
    synced: bool
    """Whether ``at`` came from a synchronised wall clock."""

    @classmethod
    def taken(cls, now: Now, boot_id: str) -> Anchor:
        return cls(boot_id, now.mono, now.at, now.synced)

    def as_rows(self) -> dict[str, str]:
        return {
            "fresh_boot_id": self.boot_id,
            "fresh_mono": repr(self.mono),
            "fresh_at": iso(self.at),
            "fresh_synced": "1" if self.synced else "0",
        }

    @classmethod
    def from_rows(cls, rows: dict[str, str]) -> Anchor | None:
        """None when absent or unreadable: an unknown age, never a fresh one."""
        try:
            return cls(
                rows["fresh_boot_id"],
                float(rows["fresh_mono"]),
                datetime.fromisoformat(rows["fresh_at"]),
                rows["fresh_synced"] == "1",
            )
        except (KeyError, ValueError):
            return None


def age_s(anchor: Anchor | None, now: Now, boot_id: str) -> float | None:
    """Seconds since the roster was last known current, or None when nothing trusted says."""
    if anchor is None:
        return None
    if anchor.boot_id == boot_id:
        return max(0.0, now.mono - anchor.mono)
    if anchor.synced and now.synced:
        elapsed = (now.at - anchor.at).total_seconds()
        return elapsed if elapsed >= 0 else None  # a wall clock that went back: not trusted
    return None


def roster_expiry(anchor: Anchor | None, now: Now, boot_id: str, max_age_s: float) -> float:
    """The monotonic time (this boot's) after which only staff are admitted."""
    age = age_s(anchor, now, boot_id)
    return AGE_UNKNOWN if age is None else now.mono - age + max_age_s


def upgraded(anchor: Anchor | None, now: Now, boot_id: str) -> Anchor | None:
    """The same anchor with a trusted wall time, when this boot's clock now allows it."""
    if anchor is None or anchor.synced or anchor.boot_id != boot_id or not now.synced:
        return None
    at = now.at - timedelta(seconds=now.mono - anchor.mono)
    return Anchor(anchor.boot_id, anchor.mono, at, True)
