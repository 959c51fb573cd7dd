"""Enrol a badge at the station: a technician gives the last unknown badge tapped to a member.

It runs on the controller thread, which owns the store connection and the roster:

    enrol_badge(controller, "DEADBEEF", "noah", by="yanis")

The event ``badge_enrolled`` is appended first (the log is the evidence the central store syncs),
then the badge row is written and the controller's roster reloaded, so the next tap is granted.
"""

from __future__ import annotations

from typing import Any

from station.controller import Controller
from station.errors import StationError
from station.roster import normalise_uid


class EnrolError(StationError, ValueError):
    """The badge cannot be enrolled; the message says why."""


def enrol_badge(controller: Controller, uid: str, member_id: str, *, by: str) -> dict[str, Any]:
    """Enrol from any thread; returns the stored event. Raises :class:`EnrolError`."""
    try:
        uid = normalise_uid(uid)
    except ValueError as e:
        raise EnrolError(str(e)) from None
    result = controller.run_in_loop(lambda: _enrol_in_loop(controller, uid, member_id, by))
    if isinstance(result, EnrolError):
        raise result
    return result


def _enrol_in_loop(
    controller: Controller, uid: str, member_id: str, by: str
) -> dict[str, Any] | EnrolError:
    """On the controller thread. Refusals are returned, not raised: an exception raised on the
    controller thread stops the controller (and the relay) by design."""
    try:
        return _enrol(controller, uid, member_id, by)
    except EnrolError as e:
        return e


def _enrol(controller: Controller, uid: str, member_id: str, by: str) -> dict[str, Any]:
    store = controller.store
    assert store is not None
    roster = store.roster()
    member = roster.member(member_id)
    if member is None:
        raise EnrolError(f"no member {member_id!r} in the roster")
    if not member.active:
        raise EnrolError(f"member {member_id!r} is inactive")
    existing = roster.badge(uid)
    if existing is not None and existing.active:
        raise EnrolError(f"badge {uid} already belongs to {existing.member_id!r}")
    data = {
        "uid": uid,
        "member_id": member_id,
        "by": by,
        "previous_member_id": existing.member_id if existing else None,
    }
    now = controller.clock.now()
    [event] = store.append([("badge_enrolled", data)], now, controller.clock.boot_id)
    store.db.execute(
        "INSERT INTO badges (uid, member_id, active) VALUES (?, ?, 1) ON CONFLICT(uid) DO UPDATE "
        "SET member_id = excluded.member_id, active = 1",
        [uid, member_id],
    )
    controller._reload_roster()
    controller.broadcaster.publish({"kind": "event", "event": event})
    return event
