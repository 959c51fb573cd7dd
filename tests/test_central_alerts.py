"""One badge at two stations at once: the central store raises an alert (a copied badge?)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from central.alerts import BadgeTap, badge_tap, seen_at_two_stations
from station.roster import parse_roster_csv
from tests.conftest import sample_roster_text
from tests.test_central_helpers import CentralServer, central_config, post_json
from tests.test_central_web import PASSWORD, login

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
UID = "04C0C1C2"


def tap_event(
    station: str,
    seq: int,
    at: datetime,
    *,
    synced: bool = True,
    type_: str = "session_started",
) -> dict[str, Any]:
    return {
        "id": f"{station}-{seq}",
        "station_id": station,
        "seq": seq,
        "type": type_,
        "at": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "clock_synced": synced,
        "boot_id": f"boot-{station}",
        "mono": 1000.0 + seq,
        "data": {"uid": UID, "member_id": "sofiane", "session_id": f"s-{station}-{seq}"},
    }


@pytest.fixture
def central(tmp_path: Path) -> Iterator[tuple[CentralServer, dict[str, str]]]:
    server = CentralServer(central_config(tmp_path))
    try:
        server.store.import_roster(parse_roster_csv(sample_roster_text()))
        tokens = {s: server.store.add_station(s, kind="laser") for s in ("laser-1", "cnc-1")}
        yield server, tokens
    finally:
        server.stop()


def push(server: CentralServer, token: str, station: str, *events: dict[str, Any]) -> None:
    body = {"protocol": 1, "station_id": station, "events": list(events), "roster_version": 0}
    status, reply = post_json(server.url + "/api/v1/sync", body, token)
    assert status == 200, reply


def test_the_same_badge_at_two_stations_within_the_window(
    central: tuple[CentralServer, dict[str, str]],
) -> None:
    server, tokens = central
    push(server, tokens["laser-1"], "laser-1", tap_event("laser-1", 1, T0))
    push(server, tokens["cnc-1"], "cnc-1", tap_event("cnc-1", 1, T0 + timedelta(seconds=4)))
    alerts = server.store.recent_alerts()
    assert len(alerts) == 1
    a = alerts[0]
    assert a["kind"] == "badge_seen_at_two_stations" and a["member_name"] == "Sofiane Kaci"
    assert a["data"]["uid"] == UID and a["data"]["seconds_apart"] == 4
    stations = {a["data"]["first"]["station_id"], a["data"]["second"]["station_id"]}
    assert stations == {"laser-1", "cnc-1"}
    # A retried batch (the station did not get the reply) raises nothing more.
    push(server, tokens["cnc-1"], "cnc-1", tap_event("cnc-1", 1, T0 + timedelta(seconds=4)))
    assert len(server.store.recent_alerts()) == 1


def test_no_alert_when_far_apart_at_one_station_or_for_untrusted_times(
    central: tuple[CentralServer, dict[str, str]],
) -> None:
    server, tokens = central
    later = T0 + timedelta(seconds=2)  # the same station: a tap out, not a copy
    push(server, tokens["laser-1"], "laser-1", tap_event("laser-1", 1, T0))
    push(server, tokens["laser-1"], "laser-1", tap_event("laser-1", 2, later))
    push(server, tokens["cnc-1"], "cnc-1", tap_event("cnc-1", 1, T0 + timedelta(seconds=60)))
    # A Pi that booted without NTP: its wall clock means nothing until the boot is synced.
    unsynced = tap_event("cnc-1", 2, T0 + timedelta(seconds=1), synced=False)
    push(server, tokens["cnc-1"], "cnc-1", unsynced)
    assert server.store.recent_alerts() == []


def test_the_dashboard_shows_the_alert(central: tuple[CentralServer, dict[str, str]]) -> None:
    server, tokens = central
    push(server, tokens["laser-1"], "laser-1", tap_event("laser-1", 1, T0))
    denied = tap_event("cnc-1", 1, T0 + timedelta(seconds=3), type_="access_denied")
    push(server, tokens["cnc-1"], "cnc-1", denied)
    server.store.add_user("yanis", PASSWORD, "technician")
    with server.app.test_client() as client:
        login(client, "yanis")
        page = client.get("/dash/?lang=fr").get_data(as_text=True)
    assert f"Badge {UID} vu à laser-1 et à cnc-1" in page and "un badge copié" in page


instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC, microsecond=0)
)
# Whole milliseconds, as stations record them (timedelta would round finer floats).
millis = st.integers(min_value=0, max_value=100_000).map(lambda ms: ms / 1000)


@given(instants, millis, st.integers(min_value=1, max_value=60), st.booleans())
def test_the_rule(t: datetime, gap: float, window: int, same_station: bool) -> None:
    a = BadgeTap(UID, "laser-1", "e1", t)
    b = BadgeTap(UID, "laser-1" if same_station else "cnc-1", "e2", t + timedelta(seconds=gap))
    alert = seen_at_two_stations(b, a, window)
    assert (alert is not None) == (not same_station and gap < window)
    if alert and gap > 0:
        assert alert["first"]["event_id"] == "e1"


def test_only_taps_count() -> None:
    assert badge_tap("s", "e", "heartbeat", {"uid": UID}, T0) is None
    assert badge_tap("s", "e", "access_denied", {"reason": "x"}, T0) is None
    assert badge_tap("s", "e", "access_denied", {"uid": UID}, T0) is not None
