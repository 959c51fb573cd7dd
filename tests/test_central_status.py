"""One station cannot break the dashboard, nor block the real station (issue 10, item 13).

A status payload is checked where the dashboard reads it: a bad one is refused (the reply names
the field, a ``bad_status`` alert shows on the dashboard) while the station's events are still
held. A seq that would leave a gap above the high-water mark is refused, so a stolen token
cannot plant a seq the real station's later pushes would trip on. Both backends, over HTTP.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central.errors import BadRequest
from central.fleet import fleet
from central.ingest import parse_status
from central.store import CentralStore
from tests.test_central_helpers import CentralServer, central_config, post_json
from tests.test_central_web import PASSWORD, login

HEALTH = "status.health"
GOOD = {
    "machine": {"state": "in_use", "relay_on": True, "reason": None, "kind": "laser"},
    "session": {"member_name": "Léa", "supervisor_name": None, "started_at": "2026-03-02T10:00Z"},
    "health": {"controller": "running", "reader": {"ok": True}, "relay": {"on": True}},
    "roster_expired": False,
    "backlog": 0,
}


def event(station: str, seq: int, **data: Any) -> dict[str, Any]:
    return {
        "id": f"{station}-{seq}",
        "seq": seq,
        "type": "heartbeat",
        "at": "2026-03-02T10:00:00.000Z",
        "clock_synced": True,
        "boot_id": "boot",
        "mono": 1000.0 + seq,
        "data": data,
    }


def body(station: str, *events: dict[str, Any], status: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"protocol": 1, "station_id": station, "events": list(events)}
    if status is not None:
        out["status"] = status
    return out


@pytest.fixture
def central(
    tmp_path: Path, central_store: CentralStore
) -> Iterator[tuple[CentralServer, dict[str, str]]]:
    """A real central server (waitress on a free port) on each backend."""
    server = CentralServer(central_config(tmp_path, max_batch=50), central_store)
    try:
        tokens = {s: server.store.add_station(s, kind="laser") for s in ("laser-1", "laser-2")}
        server.store.add_user("yanis", PASSWORD, "technician")
        yield server, tokens
    finally:
        server.stop()


def strict_json(text: str) -> Any:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in the JSON: a browser's JSON.parse stops at it")

    return json.loads(text, parse_constant=refuse)


def sync(server: CentralServer, token: str, payload: Any) -> tuple[int, dict[str, Any]]:
    return post_json(server.url + "/api/v1/sync", payload, token)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("status", "field"),
    [
        ({**GOOD, "machine": "x"}, "status.machine"),
        ({**GOOD, "machine": {"state": 3}}, "status.machine.state"),
        ({**GOOD, "machine": {"state": "<script>"}}, "status.machine.state"),
        ({**GOOD, "session": ["Léa"]}, "status.session"),
        ({**GOOD, "health": {"reader": "broken"}}, "status.health.reader"),
        ({**GOOD, "roster_expired": "yes"}, "status.roster_expired"),
    ],
)
def test_a_bad_status_is_refused_and_the_fleet_keeps_working(
    central: tuple[CentralServer, dict[str, str]], status: dict[str, Any], field: str
) -> None:
    server, tokens = central
    assert sync(server, tokens["laser-2"], body("laser-2", status=GOOD))[0] == 200
    code, reply = sync(
        server, tokens["laser-1"], body("laser-1", event("laser-1", 1), status=status)
    )
    assert code == 200, reply
    assert reply["status_error"]["field"] == field and reply["acked_seq"] == 1  # events held
    client = server.app.test_client()
    login(client, "yanis")
    page = client.get("/dash/")
    assert page.status_code == 200
    assert "envoie un état illisible" in page.get_data(as_text=True)
    fleet_json = strict_json(client.get("/dash/fleet.json").get_data(as_text=True))
    stations = {s["id"]: s for s in fleet_json["stations"]}
    assert stations["laser-2"]["state"] == "in_use"
    assert stations["laser-1"]["state"] == "unknown"
    assert {"part": "status", "ok": False, "detail": field} in stations["laser-1"]["health"]
    (alert,) = [a for a in server.store.recent_alerts() if a["kind"] == "bad_status"]
    assert alert["data"]["station_id"] == "laser-1" and alert["data"]["field"] == field


@pytest.mark.parametrize(
    "payload",
    [
        lambda: body("laser-1", event("laser-1", 1, watts=math.nan, ok=1.5)),
        lambda: body(
            "laser-1",
            event("laser-1", 1),
            status={**GOOD, "health": {"power_meter": {"watts": math.inf}}},
        ),
    ],
)
def test_nan_anywhere_is_refused_whole_and_the_fleet_keeps_working(
    central: tuple[CentralServer, dict[str, str]], payload: Any
) -> None:
    """Strict JSON on the sync API: NaN or Infinity is a 400 naming the body, nothing is kept
    (the station never sends them: station/finite.py), and the other stations are unaffected."""
    server, tokens = central
    assert sync(server, tokens["laser-2"], body("laser-2", status=GOOD))[0] == 200
    raw = json.dumps(payload())
    assert "NaN" in raw or "Infinity" in raw
    code, reply = sync(server, tokens["laser-1"], raw.encode())
    assert code == 400 and reply["field"] == "body", reply
    assert server.store.count_events("laser-1") == 0
    client = server.app.test_client()
    login(client, "yanis")
    assert client.get("/dash/").status_code == 200
    fleet_json = strict_json(client.get("/dash/fleet.json").get_data(as_text=True))
    assert {s["id"]: s for s in fleet_json["stations"]}["laser-2"]["state"] == "in_use"


def test_a_far_ahead_seq_cannot_block_the_real_station(
    central: tuple[CentralServer, dict[str, str]],
) -> None:
    """A token holder plants a seq ahead (far, or just past a gap within one batch's reach):
    refused, nothing kept, and the real station's pushes go on past that seq."""
    server, tokens = central
    stolen = tokens["laser-1"]
    code, reply = sync(server, stolen, body("laser-1", event("laser-1", 1), event("x", 10**9)))
    assert code == 400 and reply["field"] == "events[1].seq", reply
    assert "from seq 1 on" in reply["error"]
    for planted in (2, 30, 52):
        code, reply = sync(server, stolen, body("laser-1", event("x", planted)))
        assert code == 400 and reply["field"] == "events[0].seq", (planted, reply)
    code, reply = sync(server, stolen, body("laser-1", event("x", 3), event("x", 1)))
    assert code == 400 and reply["field"] == "events[0].seq"  # a gap inside one batch
    assert server.store.count_events("laser-1") == 0  # nothing of those batches was kept
    for first in (1, 41):
        real = [event("laser-1", seq) for seq in range(first, first + 40)]
        code, reply = sync(server, tokens["laser-1"], body("laser-1", *real))
        assert (code, reply["acked_seq"]) == (200, first + 39), reply
    assert server.store.count_events("laser-1") == 80


def test_a_seq_conflict_shows_on_the_dashboard(
    central: tuple[CentralServer, dict[str, str]],
) -> None:
    """What a stolen token can still do: push the next seqs first. The real station then gets
    409 and the technician sees why."""
    server, tokens = central
    sync(server, tokens["laser-1"], body("laser-1", {**event("laser-1", 1), "id": "thief"}))
    code, _ = sync(server, tokens["laser-1"], body("laser-1", event("laser-1", 1)))
    assert code == 409
    (alert,) = [a for a in server.store.recent_alerts() if a["kind"] == "seq_conflict"]
    assert alert["data"]["station_id"] == "laser-1"


# --- Hypothesis: the validator, and the fleet over anything stored -----------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)
statuses = st.dictionaries(
    st.sampled_from(["machine", "session", "health", "roster_expired", "now", "x"]),
    json_values
    | st.fixed_dictionaries(
        {},
        optional={
            "state": json_values | st.sampled_from(["in_use", "fault"]),
            "relay_on": json_values,
            "reader": json_values,
            "member_name": json_values,
            "controller": json_values,
        },
    ),
    max_size=4,
)
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def row(status: Any) -> dict[str, Any]:
    return {"id": "laser-1", "active": True, "last_contact_at": "2026-03-02T09:59:59Z",
            "last_status": status, "backlog": 0, "high_water": 0}  # fmt: skip


@given(statuses)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_the_validator_names_a_field_or_accepts_what_the_fleet_can_show(status: Any) -> None:
    try:
        accepted = parse_status(status)
    except BadRequest as e:
        assert e.field is not None and e.field.startswith("status")
        return
    json.dumps(accepted, allow_nan=False)
    (shown,) = fleet([row(accepted)], [], NOW, 30.0)
    json.dumps(shown, allow_nan=False)


@given(json_values | statuses)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_the_fleet_shows_anything_stored_as_valid_json(stored: Any) -> None:
    """Statuses stored before ingest checked them: the page and its live data still work."""
    problem = {"station_id": "laser-1", "at": "x", "data": {"problem": math.nan}}
    (shown,) = fleet([row(stored)], [problem], NOW, 30.0)
    strict_json(json.dumps(shown))
