"""The fleet as the dashboard shows it: each station's state, who is on it, contact and health.

Pure: it takes the stored stations (with the last status each one sent), the latest problem and
fault events, and ``now``; the page and its live stream render the result.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from central.ingest import finite, parse_at


def fleet(
    stations: list[dict[str, Any]],
    problems: list[dict[str, Any]],
    now: datetime,
    offline_after_s: float,
) -> list[dict[str, Any]]:
    """Each station as the dashboard shows it. A status stored before ingest checked it (or
    anything odd in it) is read defensively: one station can never break the page."""
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
                "acked_seq": s.get("high_water", 0),
                "health": _health(health, status),
                "problems": [_problem(p) for p in problems if p["station_id"] == s["id"]][:5],
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


def _problem(p: dict[str, Any]) -> dict[str, Any]:
    """A problem's data, with numbers that are not finite (NaN) made null: valid JSON."""
    return {**p, "data": finite(p.get("data"))}


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
