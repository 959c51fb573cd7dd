"""Enrol a badge at the central store, so it works at every station, not only this one.

A technician at the station gives the last unknown badge to a member of the roster (or to a new
trainee); the station sends it to the central store (``POST /api/v1/enrol``, docs/sync.md), which
checks that no one holds the badge and records who did it, and every station gets the badge with
its next roster sync:

    reply = enrol_at_central(config.central, "DEADBEEF", "yanis", member_id="noah")

When the central store cannot be reached, :class:`CentralEnrolError` says so (``kind`` is
``offline``) and the technician can still enrol the badge here only, as before.
"""

from __future__ import annotations

import json
from typing import Any

from station.config import CentralSection
from station.errors import StationError
from station.protocol import ENROL_PATH
from station.sync import SyncError, Transport, urllib_transport


class CentralEnrolError(StationError):
    """The central store did not enrol the badge. ``kind``: ``disabled`` (no central store
    configured), ``offline`` (unreachable), ``unauthorized`` (the station's token) or
    ``refused`` (the central store said why: the badge is held, the member unknown...)."""

    def __init__(self, kind: str, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.kind, self.code = kind, code
        """``code``: the central store's word for a refusal (``badge_in_roster``...), if any."""


def enrol_at_central(
    central: CentralSection,
    uid: str,
    by: str,
    *,
    member_id: str | None = None,
    new_name: str | None = None,
    transport: Transport = urllib_transport,
) -> dict[str, Any]:
    """The central store's reply (``uid``, ``member_id``, ``member_name``, ``created_member``,
    ``roster_version``), or :class:`CentralEnrolError`. Bounded by the sync timeout."""
    if not central.url:
        raise CentralEnrolError("disabled", "no central store is configured ([central] url)")
    body: dict[str, Any] = {"uid": uid, "by": by}
    if new_name is not None:
        body["new_member"] = {"name": new_name}
    else:
        body["member_id"] = member_id
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {central.token}",
        "User-Agent": "fabrique-station-sync/1",
    }
    url = central.url.rstrip("/") + ENROL_PATH
    try:
        reply = transport(url, json.dumps(body).encode("utf-8"), headers, central.timeout_s)
    except SyncError as e:
        raise CentralEnrolError("offline", str(e)) from None
    error = str(reply.body.get("error") or f"HTTP {reply.status}")
    if reply.status in (401, 403):
        raise CentralEnrolError("unauthorized", error)
    if reply.status >= 500 or (reply.status == 404 and "error" not in reply.body):
        raise CentralEnrolError("offline", error)  # a proxy's page, a store that cannot write
    if reply.status != 201:
        code = reply.body.get("code")
        raise CentralEnrolError("refused", error, code if isinstance(code, str) else None)
    return reply.body
