"""The station's HTTP API through Flask's test client, on a running controller."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from station.controller import Controller
from tests.conftest import LEA, SOFIANE, UNKNOWN
from web.station.app import create_app


@pytest.fixture
def client(controller: Controller) -> Iterator[FlaskClient]:
    app = create_app(controller)
    app.config["TESTING"] = True
    with app.test_client() as c:
        yield c


def tap(client: FlaskClient, uid: object) -> tuple[int, dict]:
    r = client.post("/sim/badge", json={"uid": uid})
    return r.status_code, r.get_json()


def test_status(client: FlaskClient) -> None:
    r = client.get("/api/status")
    assert r.status_code == 200
    body = r.get_json()
    assert body["station"]["id"] == "laser-1"
    assert body["machine"] == {
        "id": "laser-1",
        "name": "Découpe laser",
        "kind": "laser",
        "state": "available",
        "reason": None,
        "relay_on": False,
    }
    assert body["session"] is None and body["sync"] == {"enabled": False}
    assert body["health"]["controller"] == "running"


def test_sim_badge_returns_the_decision(client: FlaskClient) -> None:
    code, d = tap(client, SOFIANE.lower())
    assert code == 200 and d["granted"] is True and d["action"] == "session_started"
    s = client.get("/api/status").get_json()
    assert s["machine"]["relay_on"] is True and s["session"]["member_name"] == "Sofiane"
    code, d = tap(client, UNKNOWN)
    assert d == {**d, "granted": False, "reason": "unknown_badge"}
    # The unknown badge's UID is for the technician page (after login), not for /api/status.
    status = client.get("/api/status")
    assert "last_unknown_uid" not in status.get_json() and UNKNOWN not in status.text


def test_sim_badge_co_badge_wait(client: FlaskClient) -> None:
    _, d = tap(client, LEA)
    assert d["granted"] is False and d["reason"] == "needs_supervisor" and d["waiting"] is True


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"uid": 42}, "uid must be a string"),
        ({"uid": "zz"}, "is not 4, 7 or 10 bytes of hex"),
        ({}, "uid must be a string"),
    ],
)
def test_sim_badge_rejects_bad_input(client: FlaskClient, body: dict, message: str) -> None:
    r = client.post("/sim/badge", json=body)
    assert r.status_code == 400 and message in r.get_json()["error"]


def test_sim_rejects_non_json(client: FlaskClient) -> None:
    r = client.post("/sim/badge", data="uid=04C0C1C2")
    assert r.status_code == 400 and "JSON object" in r.get_json()["error"]


def test_sim_advance(client: FlaskClient) -> None:
    tap(client, SOFIANE)
    r = client.post("/sim/advance", json={"seconds": 3600})
    assert r.status_code == 200 and r.get_json()["state"] == "available"
    for bad in ({"seconds": "ten"}, {"seconds": -5}, {"seconds": True}):
        r = client.post("/sim/advance", json=bad)
        assert r.status_code == 400, bad


def test_sim_badges_lists_the_roster(client: FlaskClient) -> None:
    badges = client.get("/sim/badges").get_json()["badges"]
    lea = next(b for b in badges if b["uid"] == LEA)
    assert lea["name"] == "Léa" and lea["level"] == "supervised"


def test_no_simulator_on_a_real_station(controller: Controller) -> None:
    app = create_app(controller, simulator=False)
    with app.test_client() as c:
        assert c.post("/sim/badge", json={"uid": SOFIANE}).status_code == 404
        assert c.get("/api/status").status_code == 200


def test_event_stream_sends_status_then_events(client: FlaskClient) -> None:
    r = client.get("/api/events/stream", buffered=False)
    assert r.mimetype == "text/event-stream"
    chunks = iter(r.response)

    def text_of(chunk: bytes | str) -> str:
        return chunk.decode() if isinstance(chunk, bytes) else chunk

    assert text_of(next(chunks)).startswith("event: status\ndata: ")
    tap(client, SOFIANE)
    seen = []
    for _, chunk in zip(range(50), chunks, strict=False):  # bounded: fails rather than hangs
        text = text_of(chunk)
        seen.append(text.split("\n")[0])
        if text.startswith("event: event") and '"session_started"' in text:
            payload = json.loads(text.split("data: ", 1)[1])
            assert payload["type"] == "session_started" and payload["seq"] > 0
            break
    assert "event: event" in seen
    r.close()


def test_the_simulator_answers_only_on_this_computer(client: FlaskClient) -> None:
    """It taps badges and lists the roster's UIDs: not for the LAN, even on the mock backend."""
    lan = {"REMOTE_ADDR": "192.168.1.20"}
    for method, url in (("POST", "/sim/badge"), ("GET", "/sim/badges"), ("GET", "/sim/")):
        r = client.open(url, method=method, json={"uid": SOFIANE}, environ_base=lan)
        assert r.status_code == 403 and "127.0.0.1" in r.get_json()["error"], url
    proxied = {"X-Forwarded-For": "192.168.1.20"}
    assert client.get("/sim/badges", headers=proxied).status_code == 403
    assert client.get("/sim/badges").status_code == 200
    assert client.get("/api/status").get_json()["machine"]["relay_on"] is False
