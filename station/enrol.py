"""Enrol a badge at the station: a technician gives the last unknown badge tapped to a member.

It runs on the controller thread, which owns the store connection and the roster:

    enrol_badge(controller, "DEADBEEF", "noah", by="yanis")

The event ``badge_enrolled`` and its projection (the badge row) are written in one transaction,
then the controller's roster is reloaded, so the next tap is granted. A refusal raised on the
controller thread comes back to the caller; the controller goes on.
"""

from __future__ import annotations

from typing import Any

from station.controller import Controller
from station.errors import StationError
from station.events import BadgeEnrolled
from station.roster import normalise_uid


class EnrolError(StationError, ValueError):
    """The badge cannot be enrolled; the message says why in English, ``code`` and ``values``
    let a page say it in its reader's language (``tech.enrol_refused.<code>``)."""

    def __init__(self, message: str, code: str, **values: object) -> None:
        super().__init__(message)
        self.code, self.values = code, values


def enrol_badge(
    controller: Controller, uid: str, member_id: str, *, by: str, at_central: bool | None = None
) -> dict[str, Any]:
    """Enrol from any thread; returns the stored event. Raises :class:`EnrolError`.

    ``at_central`` says whether the central store has it too (then every station gets it) or
    only this station (the central store was out of reach); None when there is none."""
    try:
        uid = normalise_uid(uid)
    except ValueError as e:
        raise EnrolError(str(e), "uid_bad", uid=uid) from None
    return controller.run_in_loop(lambda: _enrol(controller, uid, member_id, by, at_central))


def _enrol(
    controller: Controller, uid: str, member_id: str, by: str, at_central: bool | None
) -> dict[str, Any]:
    store = controller.store
    assert store is not None
    roster = store.roster()
    member = roster.member(member_id)
    if member is None:
        raise EnrolError(
            f"no member {member_id!r} in the roster", "member_missing", member=member_id
        )
    if not member.active:
        raise EnrolError(f"member {member_id!r} is inactive", "member_inactive", member=member_id)
    existing = roster.badge(uid)
    if existing is not None and existing.active:
        raise EnrolError(
            f"badge {uid} already belongs to {existing.member_id!r}",
            "badge_held",
            uid=uid,
            holder=existing.member_id,
        )
    data: BadgeEnrolled = {
        "uid": uid,
        "member_id": member_id,
        "by": by,
        "previous_member_id": existing.member_id if existing else None,
    }
    if at_central is not None:
        data["at_central"] = at_central
    # The event's projection writes the badge in the same transaction, and the roster reloads.
    return controller.record_in_loop("badge_enrolled", data)
