"""The body of ``POST /api/v1/enrol``: a technician at a station gives an unknown badge to a
member of the roster, or to a new trainee (docs/sync.md, "Enrolment").

Pure: it checks the shape and the words and returns what the store needs; the store checks the
scope (a badge no one holds, an active member) in the same transaction as the write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from central.errors import BadRequest
from station.protocol import ID_MAX as MAX_BY
from station.protocol import NAME_MAX as MAX_NAME
from station.roster import normalise_uid, unsafe_text


@dataclass(frozen=True)
class Enrolment:
    uid: str
    by: str
    member_id: str | None = None
    new_name: str | None = None


def parse_enrolment(body: Any) -> Enrolment:
    """``{"uid", "by", "member_id"}`` or ``{"uid", "by", "new_member": {"name"}}``."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", "body")
    uid = body.get("uid")
    if not isinstance(uid, str):
        raise BadRequest("uid is the badge's UID in hex (e.g. 04A1B2C3)", "uid")
    try:
        uid = normalise_uid(uid)
    except ValueError as e:
        raise BadRequest(str(e), "uid", code="uid_bad", uid=uid) from None
    by = _text(body.get("by"), "by", MAX_BY, "the technician's username at the station")
    member_id, new = body.get("member_id"), body.get("new_member")
    if (member_id is None) == (new is None):
        raise BadRequest("send either member_id (an existing member) or new_member", "member_id")
    if new is not None:
        if not isinstance(new, dict):
            raise BadRequest('new_member is an object: {"name": "Zoé Leroy"}', "new_member")
        name = _text(new.get("name"), "new_member.name", MAX_NAME, "the new trainee's name")
        return Enrolment(uid, by, new_name=name)
    return Enrolment(uid, by, member_id=_text(member_id, "member_id", MAX_BY, "a member's id"))


def _text(value: Any, field: str, limit: int, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{field} is {what} (text)", field)
    value = value.strip()
    if len(value) > limit:
        raise BadRequest(
            f"{field} is longer than {limit} characters", field, code="text_long", max=limit
        )
    why = unsafe_text(value, field)
    if why:
        raise BadRequest(why, field, code="text_unsafe")
    return value
