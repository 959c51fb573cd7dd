"""The programme report: what the fablab sends its funders for a date range.

Active trainees, hours and sessions, levels gained (at the machine and set by educators), peer
teaching given and received, machine use and energy. Learning by teaching is the programme's
method, so peer teaching has its own figures: how many trainees taught, how many hours of practice
a peer supervised, how many levels a peer granted.

Hours and energy come from :mod:`central.reports` (the same totals as every other page, finishing
phase included where the projection includes it); levels from :func:`central.progress.who_trained`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any

from central import reports
from central.progress import who_trained
from central.store import CentralStore, Filters

TRAINEE_COLUMNS = [
    "member_id",
    "name",
    "sessions",
    "hours",
    "energy_kwh",
    "levels_gained",
    "peer_sessions_received",
    "peer_hours_received",
    "sessions_supervised",
    "hours_supervised",
    "levels_granted",
]
"""One CSV row per trainee active in the range (or who taught in it)."""

MACHINE_COLUMNS = ["machine_id", "kind", "sessions", "hours", "energy_kwh"]


def programme(store: CentralStore, f: Filters) -> dict[str, Any]:
    """Every figure of the report, from the sessions and levels in ``f``'s range."""
    yearly = replace(f, period="year")
    roles: dict[str, dict[str, Any]] = {r["id"]: dict(r) for r in store.member_roles()}
    trainees = _trainees(store, yearly, roles)
    _add_peer_teaching(store, f, roles, trainees)
    levels = [r for r in who_trained(store, f) if r["gain"]]
    for r in levels:
        if r["member_id"] in trainees:
            trainees[r["member_id"]]["levels_gained"] += 1
        if r["place"] == "machine" and _is_trainee(roles, r["granted_by"]):
            _row(trainees, roles, r["granted_by"])["levels_granted"] += 1
    machines = _machines(store, yearly)
    monthly = reports.hours(store, replace(f, period="month"))
    rows = sorted(trainees.values(), key=lambda r: (-r["hours"], r["name"]))
    return {
        "filters": f,
        "totals": _totals(rows, machines, levels, roles),
        "trainees": rows,
        "machines": machines,
        "levels": levels,
        "monthly": monthly,
    }


def _is_trainee(roles: dict[str, dict[str, Any]], member_id: str | None) -> bool:
    return member_id is not None and roles.get(member_id, {}).get("role") == "trainee"


def _row(
    trainees: dict[str, dict[str, Any]], roles: dict[str, dict[str, Any]], member_id: str
) -> dict[str, Any]:
    """The trainee's row, made empty when they only taught in the range."""
    if member_id not in trainees:
        name = roles.get(member_id, {}).get("name") or member_id
        trainees[member_id] = {c: 0 for c in TRAINEE_COLUMNS} | {
            "member_id": member_id,
            "name": name,
            "hours": 0.0,
            "energy_kwh": 0.0,
        }
    return trainees[member_id]


def _trainees(
    store: CentralStore, f: Filters, roles: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Sessions, hours and energy per trainee (the hours report's own figures, summed)."""
    out: dict[str, dict[str, Any]] = {}
    energy = store.energy_by_member(f)
    for r in reports.hours(store, f):
        row = _row(out, roles, r["member_id"])
        row["sessions"] += r["sessions"]
        row["hours"] = round(row["hours"] + r["hours"], 2)
        if "energy_kwh" in r:  # the hours report's own energy, when it carries one
            row["energy_kwh"] = round(row["energy_kwh"] + (r["energy_kwh"] or 0.0), 3)
        else:
            row["energy_kwh"] = energy.get(r["member_id"], 0.0)
    return out


def _add_peer_teaching(
    store: CentralStore,
    f: Filters,
    roles: dict[str, dict[str, Any]],
    trainees: dict[str, dict[str, Any]],
) -> None:
    """Sessions a trainee supervised for another trainee: given by one, received by the other."""
    pairs = store.supervision_pairs(f)
    for p in pairs:
        if not (_is_trainee(roles, p["supervisor_id"]) and _is_trainee(roles, p["member_id"])):
            continue
        learner = _row(trainees, roles, p["member_id"])
        learner["peer_sessions_received"] += p["sessions"]
        learner["peer_hours_received"] = round(learner["peer_hours_received"] + p["hours"], 2)
        teacher = _row(trainees, roles, p["supervisor_id"])
        teacher["sessions_supervised"] += p["sessions"]
        teacher["hours_supervised"] = round(teacher["hours_supervised"] + p["hours"], 2)


def _machines(store: CentralStore, f: Filters) -> list[dict[str, Any]]:
    """Sessions, hours and energy per machine over the whole range (the machines report's)."""
    by: dict[str, dict[str, Any]] = {}
    for r in reports.machines(store, f):
        m = by.setdefault(
            r["machine_id"],
            {
                "machine_id": r["machine_id"],
                "kind": r["kind"],
                "sessions": 0,
                "hours": 0.0,
                "energy_kwh": 0.0,
            },
        )
        m["sessions"] += r["sessions"]
        m["hours"] = round(m["hours"] + r["hours"], 2)
        m["energy_kwh"] = round(m["energy_kwh"] + r["energy_kwh"], 3)
    return sorted(by.values(), key=lambda m: m["machine_id"])


def _totals(
    trainees: list[dict[str, Any]],
    machines: list[dict[str, Any]],
    levels: list[dict[str, Any]],
    roles: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    practised = [t for t in trainees if t["sessions"]]
    hours = round(sum(t["hours"] for t in practised), 2)
    peer_hours = round(sum(t["peer_hours_received"] for t in trainees), 2)
    by_place: dict[str, int] = defaultdict(int)
    for r in levels:
        peer = r["place"] == "machine" and _is_trainee(roles, r["granted_by"])
        by_place["peer" if peer else r["place"]] += 1
    return {
        "active_trainees": len(practised),
        "sessions": sum(t["sessions"] for t in practised),
        "hours": hours,
        "machine_hours": round(sum(m["hours"] for m in machines), 2),
        "energy_kwh": round(sum(m["energy_kwh"] for m in machines), 3),
        "levels_gained": len(levels),
        "levels_at_machine": by_place["machine"] + by_place["peer"],
        "levels_by_peers": by_place["peer"],
        "levels_by_educators": by_place["educator"],
        "peer_teachers": sum(1 for t in trainees if t["sessions_supervised"]),
        "peer_learners": sum(1 for t in trainees if t["peer_sessions_received"]),
        "peer_sessions": sum(t["peer_sessions_received"] for t in trainees),
        "peer_hours": peer_hours,
        "peer_share_pct": round(100.0 * peer_hours / hours, 1) if hours else 0.0,
    }
