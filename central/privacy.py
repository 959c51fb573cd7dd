"""Privacy for minors: a member's data exported as JSON, erased on request or after retention.

Erasure keeps the events (hours, energy and peer-teaching credit still add up in the reports) but
pseudonymises them: the member's id is replaced everywhere by ``anon-…`` (an HMAC of the id with a
key kept in the store, so one member stays one pseudonym) and names are dropped. The member's row
stays as a tombstone under its old id, without a name, inactive, with its qualifications withdrawn:
that is how every station learns, at its next sync, to forget the name it cached and to refuse the
member (``member_inactive``). Stations only ever cache first names (docs/sync.md).

Erasure cannot be undone: the badge UIDs (the physical card that would tie the pseudonymised history
back to a person) go too. The badge rows are deleted, the UIDs are taken out of the events, the taps
and the alerts, and the member's roster history (central/scope.py's "at that time") is deleted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from central.clock import now_iso
from central.errors import NotFound
from central.privacy_fields import ERASED_NAME
from central.store import CentralStore, Erasure, RetentionRun

__all__ = ["ERASED_NAME", "apply_retention", "erase_member", "export_member", "retention_runs"]


def export_member(store: CentralStore, member_id: str) -> dict[str, Any]:
    """Everything the central store holds about a member (the right of access), as JSON."""
    detail = store.member_detail(member_id)
    return {
        "exported_at": now_iso(),
        "member": {k: detail[k] for k in ("id", "name", "role", "active", "erased_at")},
        "badges": detail["badges"],
        "qualifications": detail["qualifications"],
        "sessions": store.sessions_of(member_id),
        "grants": store.grants_of(member_id),
        "events": store.events_naming(member_id),
    }


def erase_member(store: CentralStore, member_id: str) -> Erasure:
    """Pseudonymise a member everywhere; idempotent. Returns the pseudonym and what changed."""
    store.member_detail(member_id)  # NotFound if there is no such member
    return store.erase_member(member_id)


def retention_candidates(store: CentralStore, days: int, now: datetime | None = None) -> list[str]:
    """Inactive members, not erased yet, unchanged and without a session for ``days``."""
    if days <= 0:
        return []
    cutoff = ((now or datetime.now(UTC)) - timedelta(days=days)).isoformat()
    return store.retention_candidates(cutoff)


def apply_retention(
    store: CentralStore, days: int, *, dry_run: bool = False, now: datetime | None = None
) -> list[str]:
    """Erase the members past retention; every run is recorded (``retention_runs``: when, the
    setting, how many), so that an educator can show the rule is applied. No ids are kept."""
    ids = retention_candidates(store, days, now)
    erased = 0
    if not dry_run:
        for member_id in ids:
            try:
                erase_member(store, member_id)
            except NotFound:
                continue
            erased += 1
    store.record_retention_run(days, len(ids) if dry_run else erased, dry_run=dry_run)
    return ids


def retention_runs(store: CentralStore, limit: int = 20) -> list[RetentionRun]:
    """The latest retention runs, newest first."""
    return store.retention_runs(limit)
