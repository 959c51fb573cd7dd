"""The fleet as the dashboard shows it: offline after the missed syncs, who is on, health."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from central.fleet import changed_rows, fleet
from central.store import CentralStore
from tests.test_central_helpers import central_config
from web.central.app import create_central_app

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
    assert [{k: p[k] for k in problem} for p in s["problems"]] == [problem]
    assert s["problems"][0]["resolved"] is False


def test_a_problem_is_resolved_when_its_station_leaves_to_check_afterwards() -> None:
    def problem(at: str, what: str) -> dict[str, object]:
        return {"station_id": "laser-1", "at": at, "data": {"problem": what}}

    def change(at: str, from_: str, to: str, station_id: str = "laser-1") -> dict[str, object]:
        data = {"from": from_, "to": to, "by": "yanis"}
        return {"station_id": station_id, "at": at, "data": data}

    problems = [problem("2026-03-02T09:30:00Z", "fumée"), problem("2026-03-02T08:00:00Z", "lens")]
    changes = [
        change("2026-03-02T08:00:01Z", "available", "to_check"),
        change("2026-03-02T09:00:00Z", "to_check", "available"),
        change("2026-03-02T09:30:01Z", "available", "to_check"),
        change("2026-03-02T09:45:00Z", "to_check", "available", station_id="cnc-1"),
    ]
    (s,) = fleet([station("2026-03-02T10:00:20.000Z")], problems, NOW, 30, changes)
    smoke, lens = s["problems"]
    assert (smoke["resolved"], lens["resolved"]) == (False, True)
    assert (lens["resolved_at"], lens["resolved_by"]) == ("2026-03-02T09:00:00Z", "yanis")


def test_the_air_reading_beside_an_alarm_and_the_backlog_of_an_offline_station() -> None:
    status = {
        "machine": {"state": "fault", "reason": "air_alarm"},
        "air": {"pm25": 80.5, "alarm": True, "threshold": 35},
    }
    (online,) = fleet([station("2026-03-02T10:00:20.000Z", **status)], [], NOW, 30)
    assert online["air"] == {"pm25": 80.5, "alarm": True, "threshold": 35.0}
    assert online["backlog_at_least"] is False
    (offline,) = fleet([station("2026-03-02T09:00:00.000Z")], [], NOW, 30)
    assert offline["air"] is None and offline["backlog_at_least"] is True
    (never,) = fleet([station(None)], [], NOW, 30)
    assert never["backlog_at_least"] is False


def test_changed_rows_carry_only_what_changed() -> None:
    laser = station("2026-03-02T10:00:20.000Z")
    cnc = {**station("2026-03-02T10:00:20.000Z"), "id": "cnc-1", "name": "CNC"}
    rows = fleet([laser, cnc], [], NOW, 30)
    first, removed, index = changed_rows({}, rows)
    assert [r["id"] for r in first] == ["laser-1", "cnc-1"] and removed == []
    cnc["backlog"] = 3
    second, removed, index = changed_rows(index, fleet([laser, cnc], [], NOW, 30))
    assert [r["id"] for r in second] == ["cnc-1"] and second[0]["backlog"] == 3
    third, removed, _ = changed_rows(index, fleet([laser], [], NOW, 30))
    assert third == [] and removed == ["cnc-1"]


def sse_data(chunk: bytes | str) -> dict[str, Any]:
    text = chunk.decode() if isinstance(chunk, bytes) else chunk
    assert text.startswith("event: fleet\ndata: "), text
    data: dict[str, Any] = json.loads(text.split("data: ", 1)[1])
    return data


def test_the_dashboard_stream_sends_only_the_station_that_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, central_store: CentralStore
) -> None:
    import web.central.pages

    monkeypatch.setattr(web.central.pages, "FLEET_POLL_S", 0.0)  # no waiting between polls
    # The page's clock stands still: a row's contact age (to 0.1 s) is not a change of its own.
    frozen = datetime.now(UTC) + timedelta(seconds=5)
    monkeypatch.setattr(web.central.pages, "utcnow", lambda: frozen)
    store = central_store
    store.add_user("yanis", "a long passphrase", "technician")
    store.add_station("laser-1", name="Découpe laser", kind="laser")
    store.add_station("cnc-1", name="Fraiseuse", kind="cnc")
    app = create_central_app(store, central_config(tmp_path))
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    client.post(
        "/login", data={"username": "yanis", "password": "a long passphrase", "csrf_token": token}
    )
    r = client.get("/dash/stream", buffered=False)
    chunks = iter(r.response)
    try:
        first = sse_data(next(chunks))
        assert sorted(s["id"] for s in first["stations"]) == ["cnc-1", "laser-1"]
        assert "Pas encore d&#39;état reçu" in first["stations"][0]["cells"]["state"]
        assert "commands" in first
        store.ingest("cnc-1", [], status={"machine": {"state": "available"}}, backlog=4)
        second = sse_data(next(chunks))
        assert [s["id"] for s in second["stations"]] == ["cnc-1"]
        assert "Libre" in second["stations"][0]["cells"]["state"]
        assert "commands" not in second, "the command log did not change"
        store.add_command("laser-1", {"action": "lock", "reason": "lentille"}, by="yanis")
        third = sse_data(next(chunks))
        assert third["stations"] == [] and "Mettre hors service" in third["commands"]
    finally:
        r.close()


@pytest.mark.e2e
def test_a_stations_air_alarm_reaches_the_dashboard_with_its_reading(tmp_path: Path) -> None:
    """End to end, as in the demo: a station with an emulated SDS011 syncs with a central store;
    smoke at the laser shows on the dashboard beside its reading. (The station did not send
    ``air`` in its sync status, and its alarm is a kind, ``"pm25"``, not ``true``.)"""
    from central.demo import set_toml
    from station.config import load_config
    from tests.e2e_helpers import StationProcess
    from tests.test_browser_helpers import prepare
    from tests.test_central_helpers import CentralServer, post_json, wait_for

    server = CentralServer(central_config(tmp_path / "c"))
    config = prepare(tmp_path / "s", pm25_alarm=35)
    sid = load_config(config).station.id
    token = server.store.add_station(sid, name="Découpe laser", kind="laser")
    text = config.read_text(encoding="utf-8")
    for key, value in (
        ("url", f'"{server.url}"'),
        ("token", f'"{token}"'),
        ("sync_interval_s", "1"),
    ):
        text = set_toml(text, "central", key, value)
    config.write_text(text, encoding="utf-8")
    station = StationProcess(config)

    def row() -> dict[str, Any] | None:
        (r,) = fleet(server.store.stations(), [], datetime.now(UTC), 30)
        return r if r["state"] == "fault" and r["air"] else None

    try:
        station.start_ready()
        status, _ = post_json(station.base + "/sim/air", {"pm25": 48}, timeout=10)
        assert status == 200
        shown = wait_for(row, 30, "the air alarm on the dashboard")
    finally:
        station.close()
        server.stop()
    assert shown["air"] == {"pm25": 48.0, "alarm": True, "threshold": 35.0}
    assert shown["reason"] == "air_pm25"
