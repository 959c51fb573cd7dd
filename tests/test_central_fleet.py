"""The fleet as the dashboard shows it: offline after the missed syncs, who is on, health."""

from __future__ import annotations

from datetime import UTC, datetime

from central.fleet import fleet

NOW = datetime(2026, 3, 2, 10, 0, 30, tzinfo=UTC)


def station(last_contact: str | None, **status: object) -> dict[str, object]:
    return {
        "id": "laser-1",
        "name": "Découpe laser",
        "kind": "laser",
        "active": True,
        "last_contact_at": last_contact,
        "last_status": status or None,
        "backlog": 12,
        "high_water": 40,
    }


def test_offline_after_three_missed_syncs() -> None:
    offline_after = 3 * 10.0
    (fresh,) = fleet([station("2026-03-02T10:00:01.000Z")], [], NOW, offline_after)
    (late,) = fleet([station("2026-03-02T09:59:59.000Z")], [], NOW, offline_after)
    (never,) = fleet([station(None)], [], NOW, offline_after)
    assert fresh["online"] and not late["online"] and not never["online"]
    assert late["last_contact_age_s"] == 31.0 and late["backlog"] == 12


def test_who_is_on_health_and_problems() -> None:
    status = {
        "machine": {"state": "in_use", "relay_on": True, "kind": "laser"},
        "session": {"member_name": "Léa", "supervisor_name": "Moussa"},
        "health": {"reader": {"ok": True}, "air_sensor": {"ok": False, "error": "no data"}},
        "roster_expired": True,
    }
    problem = {"station_id": "laser-1", "at": "2026-03-02T09:00:00Z", "data": {"problem": "lens"}}
    other = {"station_id": "cnc-1", "at": "2026-03-02T09:00:00Z", "data": {"problem": "x"}}
    (s,) = fleet([station("2026-03-02T10:00:20.000Z", **status)], [problem, other], NOW, 30)
    assert (s["state"], s["member_name"], s["supervisor_name"]) == ("in_use", "Léa", "Moussa")
    bad = {h["part"]: h["detail"] for h in s["health"] if not h["ok"]}
    assert bad == {"air_sensor": "no data", "roster": "roster_expired"}
    assert s["problems"] == [problem]
