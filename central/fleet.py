"""The fleet as the dashboard shows it: each station's state, who is on it, contact and health.

Pure: it takes the stored stations (with the last status each one sent), the latest problem and
fault events, and ``now``; the page and its live stream render the result.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from central.ingest import finite, parse_at

RESOLVED_FROM = frozenset({"to_check", "out_of_service", "fault"})
"""A problem is resolved when its station later left one of these states for another."""


def fleet(
    stations: list[dict[str, Any]],
    problems: Sequence[Mapping[str, Any]],
    now: datetime,
    offline_after_s: float,
    state_changes: Sequence[Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Each station as the dashboard shows it. A status stored before ingest checked it (or
    anything odd in it) is read defensively: one station can never break the page.

    ``state_changes`` (the ``machine_state_changed`` events, any order) tell which problem
    reports are resolved: a technician cleared the check or put the machine back in service."""
    changes = sorted(state_changes or [], key=lambda c: (str(c.get("at")), c.get("seq") or 0))
    out = []
    for s in stations:
        status = _obj(s.get("last_status"))
        machine = _obj(status.get("machine"))
        session = _obj(status.get("session")) or None
        health = _obj(status.get("health"))
        last = _text(s.get("last_contact_at"))
        age = _age(now, last)
        online = age is not None and age <= offline_after_s and bool(s["active"])
        out.append(
            {
                "id": s["id"],
                "name": s.get("name") or s["id"],
                "kind": s.get("kind") or _text(machine.get("kind")) or "",
                "active": s["active"],
                "online": online,
                "last_contact_at": last,
                "last_contact_age_s": round(age, 1) if age is not None else None,
                "state": _text(machine.get("state")) or "unknown",
                "reason": _text(machine.get("reason")),
                "relay_on": machine.get("relay_on") is True,
                "member_name": _text(session.get("member_name")) if session else None,
                "supervisor_name": _text(session.get("supervisor_name")) if session else None,
                "session_started_at": _text(session.get("started_at")) if session else None,
                "backlog": s.get("backlog", 0),
                # Offline, the station has logged more since: the count is a floor, not a fact.
                "backlog_at_least": not online and last is not None,
                "acked_seq": s.get("high_water", 0),
                "health": _health(health, status),
                "air": _air(status.get("air")),
                "problems": [_problem(p, changes) for p in problems if p["station_id"] == s["id"]][
                    :5
                ],
            }
        )
    return out


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value[:500] if isinstance(value, str) and value else None


def _age(now: datetime, last: str | None) -> float | None:
    if last is None:
        return None
    try:
        return (now - parse_at(last)).total_seconds()
    except ValueError:
        return None


def _problem(p: Mapping[str, Any], changes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A problem's data (numbers that are not finite made null: valid JSON), marked resolved
    when its station later left a state that needs a technician (``changes`` oldest first)."""
    at = _text(p.get("at")) or ""

    def later(c: Mapping[str, Any]) -> bool:
        """After the problem in the station's own order (its seq): a check cleared in the same
        millisecond as the report, or on a station whose clock stands still, is still later."""
        seqs = (c.get("seq"), p.get("seq"))
        if all(isinstance(n, int) for n in seqs):
            return seqs[0] > seqs[1]  # type: ignore[operator]
        return str(c.get("at")) > at

    resolved = next(
        (
            c
            for c in changes
            if c.get("station_id") == p.get("station_id")
            and later(c)
            and _obj(c.get("data")).get("from") in RESOLVED_FROM
            and _obj(c.get("data")).get("to") not in RESOLVED_FROM
        ),
        None,
    )
    return {
        **p,
        "data": finite(p.get("data")),
        "resolved": resolved is not None,
        "resolved_at": _text(resolved.get("at")) if resolved else None,
        "resolved_by": _text(_obj(resolved.get("data")).get("by")) if resolved else None,
    }


def _air(value: Any) -> dict[str, Any] | None:
    """The last air reading beside its alarm: a technician sees why the machine stopped."""
    air = _obj(value)
    if not air:
        return None
    alarm = air.get("alarm")  # the station's cause ("pm25", "sensor_lost"), or true
    return {
        "pm25": _number(air.get("pm25")),
        "alarm": alarm is True or (isinstance(alarm, str) and bool(alarm)),
        "threshold": _number(air.get("threshold")),
    }


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def changed_rows(
    previous: dict[str, str], rows: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str], dict[str, str]]:
    """What the live dashboard sends: the rows that differ from ``previous`` (station id to the
    row as JSON), the ids that went away, and the new index to compare the next update with."""
    current = {r["id"]: json.dumps(r, sort_keys=True, default=str) for r in rows}
    changed = [r for r in rows if previous.get(r["id"]) != current[r["id"]]]
    removed = [i for i in previous if i not in current]
    return changed, removed, current


def _health(health: dict[str, Any], status: dict[str, Any]) -> list[dict[str, Any]]:
    """Each part as ok/not ok with a word: what a technician scans for."""
    parts = []
    for name in ("reader", "power_meter", "air_sensor"):
        h = health.get(name)
        if isinstance(h, dict):
            parts.append(
                {
                    "part": name,
                    "ok": h.get("ok", True) is not False,
                    "detail": _text(h.get("error")),
                }
            )
    controller = health.get("controller")
    if controller and controller != "running":
        parts.append({"part": "controller", "ok": False, "detail": _text(health.get("failure"))})
    if status.get("roster_expired") is True:
        parts.append({"part": "roster", "ok": False, "detail": "roster_expired"})
    if "refused" in status:
        parts.append({"part": "status", "ok": False, "detail": _text(status["refused"])})
    return parts


def utcnow() -> datetime:
    return datetime.now(UTC)
