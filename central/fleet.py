"""The fleet as the dashboard shows it: each station's state, who is on it, contact and health.

Pure: it takes the stored stations (with the last status each one sent), the latest problem and
fault events, and ``now``; the page and its live stream render the result.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from central.ingest import parse_at


def fleet(
    stations: list[dict[str, Any]],
    problems: list[dict[str, Any]],
    now: datetime,
    offline_after_s: float,
) -> list[dict[str, Any]]:
    out = []
    for s in stations:
        status = s.get("last_status") or {}
        machine = status.get("machine") or {}
        session = status.get("session") or None
        health = status.get("health") or {}
        last = s.get("last_contact_at")
        age = (now - parse_at(last)).total_seconds() if last else None
        online = age is not None and age <= offline_after_s and s["active"]
        out.append(
            {
                "id": s["id"],
                "name": s.get("name") or s["id"],
                "kind": s.get("kind") or machine.get("kind") or "",
                "active": s["active"],
                "online": online,
                "last_contact_at": last,
                "last_contact_age_s": round(age, 1) if age is not None else None,
                "state": machine.get("state") or "unknown",
                "reason": machine.get("reason"),
                "relay_on": bool(machine.get("relay_on")),
                "member_name": session.get("member_name") if session else None,
                "supervisor_name": session.get("supervisor_name") if session else None,
                "session_started_at": session.get("started_at") if session else None,
                "backlog": s.get("backlog", 0),
                "acked_seq": s.get("high_water", 0),
                "health": _health(health, status),
                "problems": [p for p in problems if p["station_id"] == s["id"]][:5],
            }
        )
    return out


def _health(health: dict[str, Any], status: dict[str, Any]) -> list[dict[str, Any]]:
    """Each part as ok/not ok with a word: what a technician scans for."""
    parts = []
    for name in ("reader", "power_meter", "air_sensor"):
        h = health.get(name)
        if isinstance(h, dict):
            parts.append({"part": name, "ok": bool(h.get("ok", True)), "detail": h.get("error")})
    if health.get("controller") and health["controller"] != "running":
        parts.append({"part": "controller", "ok": False, "detail": health.get("failure")})
    if status.get("roster_expired"):
        parts.append({"part": "roster", "ok": False, "detail": "roster_expired"})
    return parts


def utcnow() -> datetime:
    return datetime.now(UTC)
