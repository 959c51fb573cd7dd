"""station/protocol.py: the sync protocol has one owner, and both sides speak what it describes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from central.ingest import parse_command, parse_sync_request
from station import protocol
from station.config import Config
from station.machine import Command
from station.sync import Reply, SyncClient
from tests.test_central_helpers import FakeTarget, fill_events, station_config

REPO = Path(__file__).resolve().parent.parent
OWNED = ("PROTOCOL", "COMMAND_ACTIONS", "SYNC_PATH", "ENROL_PATH", "STATUS_LIMIT", "TYPE_PATTERN")


def sync_once(config: Config, target: FakeTarget, reply: dict[str, Any]) -> list[Any]:
    """One sync with a fake transport that answers ``reply``; what the station sent."""
    sent: list[tuple[str, dict[str, Any], dict[str, str]]] = []

    def transport(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Reply:
        sent.append((url, json.loads(body), headers))
        return Reply(200, {"protocol": protocol.PROTOCOL, "roster": None, **reply})

    client = SyncClient(config, target, transport=transport)
    client._open()
    try:
        client.sync_once()
    finally:
        assert client.store is not None
        client.store.close()
    return sent


def test_the_protocol_constants_are_defined_once() -> None:
    """A second definition is how the two sides drifted apart before."""
    where: dict[str, list[str]] = {}
    for folder in ("station", "central", "web"):
        for path in (REPO / folder).rglob("*.py"):
            text = path.read_text("utf-8")
            for name in OWNED:
                if re.search(rf"^{name}\s*(:[^=]+)?=", text, re.M):
                    where.setdefault(name, []).append(str(path.relative_to(REPO)))
    assert where == {name: ["station/protocol.py"] for name in OWNED}


def test_a_station_request_is_the_described_shape_and_central_ingest_takes_it(
    tmp_path: Path,
) -> None:
    config = station_config(tmp_path, "laser-1", "http://central.test", "tok", batch_size=3)
    fill_events(config, 5)
    sent = sync_once(config, FakeTarget(config), {"acked_seq": 3, "commands": []})
    ((url, body, headers),) = sent
    assert url == "http://central.test" + protocol.SYNC_PATH
    assert headers["User-Agent"] == protocol.USER_AGENT
    schema = protocol.SYNC_REQUEST_SCHEMA
    assert set(schema["required"]) <= set(body) <= set(schema["properties"])
    assert set(body["events"][0]) <= set(protocol.EVENT_SCHEMA["properties"])
    request = parse_sync_request(body, "laser-1", protocol.MAX_BATCH)
    assert [e.seq for e in request.events] == [1, 2, 3] and request.backlog == 2


def test_every_central_command_is_one_the_station_applies(tmp_path: Path) -> None:
    assert set(protocol.MACHINE_COMMANDS) | {"revoke_badge"} == set(protocol.COMMAND_ACTIONS)
    assert protocol.COMMAND_SCHEMA["properties"]["action"]["enum"] == list(protocol.COMMAND_ACTIONS)
    config = station_config(tmp_path, "laser-1", "http://central.test", "tok")
    target = FakeTarget(config)
    commands = [
        {"id": f"c{i}", **parse_command({"action": a, "reason": "tube HS"})}
        for i, a in enumerate(protocol.MACHINE_COMMANDS)
    ]

    sync_once(config, target, {"acked_seq": 0, "commands": commands})
    applied = [c.action for c in target.calls if isinstance(c, Command)]
    assert applied == list(protocol.MACHINE_COMMANDS.values())


def test_the_openapi_description_is_the_protocol_module() -> None:
    from web.central.openapi import spec

    s = spec()
    body = s["paths"][protocol.SYNC_PATH]["post"]
    assert body["requestBody"]["content"]["application/json"]["schema"] is (
        protocol.SYNC_REQUEST_SCHEMA
    )
    events = protocol.SYNC_REQUEST_SCHEMA["properties"]["events"]
    assert events["maxItems"] == protocol.MAX_BATCH
    assert s["info"]["version"] == str(protocol.PROTOCOL)
