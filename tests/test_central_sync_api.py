"""The sync API against a real central store over loopback HTTP, and the pure ingest rules."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central.errors import BadRequest
from central.ingest import (
    contiguous_high_water,
    parse_event,
    parse_sync_request,
)
from central.store import CentralStore
from station.roster import parse_roster_csv
from tests.conftest import sample_roster_text
from tests.test_central_helpers import CentralServer, central_config, post_json


def event(seq: int, *, synced: bool = True, at: str = "2026-03-02T10:00:00.000Z", **kw: Any):
    return {
        "id": f"id-{seq}",
        "station_id": "laser-1",
        "seq": seq,
        "type": "heartbeat",
        "at": at,
        "clock_synced": synced,
        "boot_id": "boot-a",
        "mono": 1000.0 + seq,
        "data": {},
        **kw,
    }


def body(*events: dict[str, Any], roster_version: int = 0) -> dict[str, Any]:
    return {
        "protocol": 1,
        "station_id": "laser-1",
        "events": list(events),
        "roster_version": roster_version,
    }


@pytest.fixture
def central(tmp_path: Path, central_store: CentralStore) -> Iterator[CentralServer]:
    """The sync API over loopback HTTP, on each backend."""
    server = CentralServer(central_config(tmp_path, max_batch=50), central_store)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def token(central: CentralServer) -> str:
    return central.store.add_station("laser-1", kind="laser")


def sync(central: CentralServer, token: str | None, payload: Any) -> tuple[int, dict[str, Any]]:
    return post_json(central.url + "/api/v1/sync", payload, token)  # type: ignore[no-any-return]


# --- pure rules -----------------------------------------------------------------------------


def test_high_water_is_contiguous() -> None:
    assert contiguous_high_water(0, [1, 2, 3, 5]) == 3
    assert contiguous_high_water(3, [5, 6]) == 3
    assert contiguous_high_water(3, [4, 5, 6]) == 6
    assert contiguous_high_water(0, []) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"seq": 0}, "events[0].seq"),
        ({"seq": "1"}, "events[0].seq"),
        ({"id": ""}, "events[0].id"),
        ({"type": "Bad Type"}, "events[0].type"),
        ({"at": "yesterday"}, "events[0].at"),
        ({"at": "2026-03-02T10:00:00"}, "events[0].at"),
        ({"at": "2026-13-45T10:00:00Z"}, "events[0].at"),
        ({"clock_synced": 1}, "events[0].clock_synced"),
        ({"mono": float("inf")}, "events[0].mono"),
        ({"data": []}, "events[0].data"),
        ({"station_id": "cnc-1"}, "events[0].station_id"),
    ],
)
def test_a_bad_event_names_its_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(BadRequest) as e:
        parse_event({**event(1), **change}, 0, "laser-1")
    assert e.value.field == field


def test_a_batch_is_bounded_and_seqs_unique() -> None:
    with pytest.raises(BadRequest, match="at most 2"):
        parse_sync_request(body(event(1), event(2), event(3)), "laser-1", 2)
    with pytest.raises(BadRequest, match="twice") as e:
        parse_sync_request(body(event(1), event(1)), "laser-1", 10)
    assert e.value.field == "events[1].seq"
    with pytest.raises(BadRequest) as e:
        parse_sync_request({**body(), "protocol": 2}, "laser-1", 10)
    assert e.value.field == "protocol"


# --- over HTTP --------------------------------------------------------------------------------


def test_sync_needs_a_valid_token(central: CentralServer, token: str) -> None:
    status, reply = sync(central, None, body(event(1)))
    assert status == 401 and reply["field"] == "Authorization"
    status, _ = sync(central, "fst_not-a-token", body(event(1)))
    assert status == 401
    central.store.revoke_station("laser-1")
    status, _ = sync(central, token, body(event(1)))
    assert status == 401
    new = central.store.rotate_token("laser-1")
    assert sync(central, new, body(event(1)))[0] == 200
    assert sync(central, token, body(event(1)))[0] == 401  # the old one stays dead


def test_each_event_is_kept_once_and_the_ack_is_contiguous(
    central: CentralServer, token: str
) -> None:
    status, reply = sync(central, token, body(event(1), event(2), event(4)))
    assert status == 400 and reply["field"] == "events[2].seq"  # a gap: nothing is kept
    assert central.store.count_events("laser-1") == 0
    status, reply = sync(central, token, body(event(1), event(2)))
    assert (reply["acked_seq"], reply["stored"], reply["duplicates"]) == (2, 2, 0)
    status, reply = sync(central, token, body(event(2), event(4), event(3)))
    assert (reply["acked_seq"], reply["stored"], reply["duplicates"]) == (4, 2, 1)
    assert central.store.count_events("laser-1") == 4
    assert [e["seq"] for e in central.store.events("laser-1")] == [1, 2, 3, 4]


def test_a_seq_held_with_another_id_is_a_conflict(central: CentralServer, token: str) -> None:
    sync(central, token, body(event(1)))
    status, reply = sync(central, token, body({**event(1), "id": "other"}, event(2)))
    assert status == 409 and "reset" in reply["error"]
    assert central.store.count_events("laser-1") == 1  # nothing of that batch was stored


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b"not json", "body"),
        (b"[]", "body"),
        (json.dumps({"protocol": 1}).encode(), "station_id"),
        (json.dumps({**body(), "events": {}}).encode(), "events"),
        (json.dumps({**body(), "roster_version": -1}).encode(), "roster_version"),
        (json.dumps({**body(), "status": 3}).encode(), "status"),
    ],
)
def test_bad_payloads_get_400_naming_the_field(
    central: CentralServer, token: str, payload: bytes, field: str
) -> None:
    status, reply = sync(central, token, payload)
    assert status == 400, reply
    assert reply["field"] == field


def test_a_body_over_the_limit_gets_413(central: CentralServer, token: str) -> None:
    status, reply = sync(central, token, body(*[event(i) for i in range(1, 52)]))
    assert status == 413 and reply["field"] == "events" and "at most 50" in reply["error"]
    huge = body(event(1, data={"x": "y" * (central.config.server.max_request_kb * 1024)}))
    status, reply = sync(central, token, huge)
    assert status == 413 and "fewer events" in reply["error"]


def test_unsynced_times_are_repaired_from_boot_and_mono(central: CentralServer, token: str) -> None:
    # Two events before NTP (the Pi thinks it is 1970), then one after: same boot.
    early = [event(1, synced=False, at="1970-01-01T00:01:00.000Z"), event(2, synced=False)]
    sync(central, token, body(*early))
    sync(central, token, body(event(3, at="2026-03-02T10:00:03.000Z")))
    got = {e["seq"]: e for e in central.store.events("laser-1")}
    # mono 1001 and 1002, offset from seq 3 (mono 1003 at 10:00:03): 10:00:01 and 10:00:02.
    assert got[1]["at_repaired"] == "2026-03-02T10:00:01.000Z"
    assert got[2]["at_repaired"] == "2026-03-02T10:00:02.000Z"
    assert got[1]["at"] == "1970-01-01T00:01:00.000Z"  # the original is kept
    assert got[3]["at_repaired"] is None
    # Once the boot's offset is known, later unsynced events are repaired at once.
    sync(central, token, body(event(4, synced=False, at="1970-01-01T00:00:00.000Z")))
    assert list(central.store.events("laser-1"))[-1]["at_repaired"] == ("2026-03-02T10:00:04.000Z")


def test_roster_changes_and_commands_in_the_reply(central: CentralServer, token: str) -> None:
    _, reply = sync(central, token, body())
    assert reply["roster"] is None  # the central store has no roster yet: keep the local one
    central.store.import_roster(parse_roster_csv(sample_roster_text()))
    _status, reply = sync(central, token, body())
    roster = reply["roster"]
    assert roster["full"] and roster["version"] == 1
    names = {m["id"]: m["name"] for m in roster["members"]}
    assert names["lea"] == "Léa"  # stations get first names only
    _, reply = sync(central, token, body(roster_version=1))
    assert reply["roster"] is None
    central.store.set_badge_active("04B0B1B2", False)
    _, reply = sync(central, token, body(roster_version=1))
    assert reply["roster"]["full"] is False
    assert reply["roster"]["badges"] == [{"uid": "04B0B1B2", "member_id": "lea", "active": False}]
    sent = central.store.add_command("laser-1", {"action": "lock", "reason": "laser tube"}, "t")
    _, reply = sync(central, token, body(roster_version=2))
    assert [c["id"] for c in reply["commands"]] == [sent["id"]]
    ack = event(
        1, type="command_applied", data={"command_id": sent["id"], "action": "lock", "ok": True}
    )
    _, reply = sync(central, token, body(ack, roster_version=2))
    assert reply["commands"] == []
    assert central.store.commands("laser-1")[0]["status"] == "applied"


def test_a_grant_at_a_station_becomes_a_roster_change(central_store: CentralStore) -> None:
    store = central_store
    store.add_station("laser-1", kind="laser")
    store.import_roster(parse_roster_csv(sample_roster_text()))
    session = parse_event(
        event(
            1,
            type="session_started",
            data={
                "session_id": "s-1",
                "member_id": "lea",
                "supervisor_id": "moussa",
                "kind": "laser",
            },
        ),
        0,
        "laser-1",
    )
    grant = parse_event(
        event(
            2,
            type="qualification_granted",
            data={
                "member_id": "lea",
                "kind": "laser",
                "level": "autonomous",
                "previous_level": "supervised",
                "granted_by": "moussa",
                "granted_at": "2026-03-02T10:00:00.000Z",
                "session_id": "s-1",
            },
        ),
        0,
        "laser-1",
    )
    store.ingest("laser-1", [session, grant])
    changes = store.roster_changes(1)
    assert changes is not None
    assert changes["qualifications"] == [
        {
            "member_id": "lea",
            "kind": "laser",
            "level": "autonomous",
            "granted_by": "moussa",
            "granted_at": "2026-03-02T10:00:00.000Z",
        }
    ]


def test_commands_arrive_in_the_order_sent(
    central_store: CentralStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 back-to-back end_session + lock pairs within one millisecond: the order sent is the
    order a station gets them in (it applies them in reply order)."""
    store = central_store
    store.add_station("laser-1", kind="laser")
    monkeypatch.setattr("central.clock.now_iso", lambda: "2026-03-02T10:00:00.000Z")
    sent = []
    for i in range(200):
        for action in ("end_session", "lock"):
            command = {"action": action, "reason": f"pair {i}"}
            sent.append(store.add_command("laser-1", command, by="t")["id"])
    assert [c["id"] for c in store.pending_commands("laser-1")] == sent
    assert [c["id"] for c in store.commands("laser-1", limit=400)] == sent[::-1]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats()
    | st.sampled_from([math.nan, math.inf])
    | st.integers()
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)
FIELDS = ["id", "seq", "type", "at", "clock_synced", "boot_id", "mono", "data", "station_id"]
event_fields = st.builds(
    lambda seq, data, broken: {**event(seq, data=data), **broken},
    st.integers(min_value=1, max_value=60),
    st.dictionaries(st.text(max_size=4), json_values, max_size=3),
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=1),
)
"""A valid event with any data, sometimes with one field replaced by anything."""


BODY_FIELDS = ["protocol", "station_id", "events", "roster_version", "backlog", "status"]


@given(
    st.builds(
        lambda events, broken: {**body(*events), "backlog": 0, **broken},
        st.lists(event_fields, max_size=3),
        st.dictionaries(st.sampled_from(BODY_FIELDS), json_values, max_size=1),
    )
    | json_values
)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_any_body_is_a_request_or_a_bad_request_naming_a_field(raw: Any) -> None:
    try:
        req = parse_sync_request(raw, "laser-1", 50)
    except BadRequest as e:
        assert e.field is None or isinstance(e.field, str)
        assert str(e)
        return
    for e in req.events:
        json.loads(e.data_json(), parse_constant=_not_json)  # whatever numbers came in


def _not_json(name: str) -> None:
    raise AssertionError(f"{name} is not JSON: a browser's JSON.parse stops at it")
