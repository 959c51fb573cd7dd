"""The central store's wall clock, in one place so that tests can move it
(``monkeypatch.setattr("central.clock.now_iso", ...)``)."""

from __future__ import annotations

from datetime import UTC, datetime

from central.ingest import iso


def now_iso() -> str:
    """Now, as the store writes times (UTC, milliseconds, ``Z``)."""
    return iso(datetime.now(UTC))
