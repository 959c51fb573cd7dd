"""Which fields of an event's data name a person: what erasure pseudonymises (central/privacy.py)
and what ingest scrubs from an erased member's late events. Shared by every backend."""

from __future__ import annotations

ERASED_NAME = "(effacé)"
"""An erased member's name (the tombstone the stations learn from)."""

ID_FIELDS = ("member_id", "supervisor_id", "granted_by", "by", "previous_member_id")
"""Fields of an event's data that hold a member id (central/privacy.py pseudonymises them)."""
UID_FIELDS = ("uid",)
NAME_FIELDS = {"member_id": "member_name", "supervisor_id": "supervisor_name"}
