"""Alerts the central store raises because it sees every station at once. Pure: no I/O.

**The same badge at two stations.** A copied badge can be used while the original is in use
elsewhere. When a tap of a UID reaches the central store, it is compared with the taps of the
same UID at *other* stations: closer in time than ``window_s`` (on the repaired timestamps, so a
Pi that booted without NTP does not fake an alert), the store records a
``badge_seen_at_two_stations`` alert, once per pair of taps. Walking between the two closest
stations must take longer than the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

TAP_TYPES = frozenset({"session_started", "access_denied", "supervisor_awaited", "checklist_shown"})
"""Event types recorded when a badge is presented at a reader (their data carry ``uid``)."""

BADGE_SEEN_AT_TWO_STATIONS = "badge_seen_at_two_stations"


@dataclass(frozen=True)
class BadgeTap:
    uid: str
    station_id: str
    event_id: str
    at: datetime


def badge_tap(
    station_id: str, event_id: str, type_: str, data: Any, at: datetime
) -> BadgeTap | None:
    """The tap an event records, if it records one."""
    if type_ not in TAP_TYPES or not isinstance(data, dict):
        return None
    uid = data.get("uid")
    if not isinstance(uid, str) or not uid:
        return None
    return BadgeTap(uid, station_id, event_id, at)


def seen_at_two_stations(
    tap: BadgeTap, earlier: BadgeTap, window_s: float
) -> dict[str, Any] | None:
    """The alert for two taps of one UID, or None when they are not suspicious."""
    if tap.uid != earlier.uid or tap.station_id == earlier.station_id:
        return None
    apart = abs((tap.at - earlier.at).total_seconds())
    if apart >= window_s:
        return None
    first, second = sorted((tap, earlier), key=lambda t: (t.at, t.station_id))
    # No member id in the alert: the badge table says whose it is, and an erased member's
    # pseudonymisation then needs no second place to reach.
    return {
        "uid": tap.uid,
        "seconds_apart": round(apart, 3),
        "window_s": window_s,
        "first": {
            "station_id": first.station_id,
            "event_id": first.event_id,
            "at": first.at.isoformat(),
        },
        "second": {
            "station_id": second.station_id,
            "event_id": second.event_id,
            "at": second.at.isoformat(),
        },
    }
