"""Prometheus metrics on the station and the central store, readable only from the configured
networks; the values follow what happened (taps, decisions, sessions, relay, sync, HTTP)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from central.sqlite import SqliteCentralStore
from station.controller import Controller
from station.machine import Tap
from tests.conftest import NOAH, SOFIANE
from tests.mqtt_helpers import wait_for
from tests.test_central_helpers import central_config
from tests.test_central_sync_api import body, event
from tests.test_web_helpers import make_app
from web.central.app import create_central_app


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    return samples(text)[(name, tuple(sorted(labels.items())))]


def test_the_station_counts_decisions_sessions_and_relay_time(controller: Controller) -> None:
    client = make_app(controller).test_client()
    controller.call(Tap(SOFIANE))
    controller.call(Tap(NOAH))  # no qualification: denied
    wait_for(
        lambda: 'action="denied"' in client.get("/metrics").get_data(as_text=True),
        what="both decisions counted (the metrics thread reads the broadcasts)",
    )
    text = client.get("/metrics").get_data(as_text=True)
    assert value(text, "fabrique_station_sessions_total") == 1
    assert value(text, "fabrique_station_relay_on") == 1
    assert value(text, "fabrique_station_machine_state", state="in_use") == 1
    assert value(text, "fabrique_station_machine_state", state="available") == 0
    assert value(text, "fabrique_station_decisions_total", action="session_started", reason="") == 1
    denied = [
        k
        for k in samples(text)
        if k[0] == "fabrique_station_decisions_total" and ("action", "denied") in k[1]
    ]
    assert denied and dict(denied[0][1])["reason"]
    assert value(text, "fabrique_station_events_total", type="session_started") == 1
    assert value(text, "fabrique_station_relay_on_seconds_total") >= 0
    assert value(text, "fabrique_http_responses_total", app="station", code="200") >= 1
    assert "04C0C1C2" not in text  # no badge UID in the figures


def test_the_station_metrics_are_refused_outside_the_allowed_networks(
    controller: Controller,
) -> None:
    client = make_app(controller).test_client()
    assert client.get("/metrics").status_code == 200
    far = client.get("/metrics", environ_base={"REMOTE_ADDR": "192.168.1.77"})
    assert far.status_code == 403 and "metrics_from" in far.get_json()["error"]
    web = replace(controller.config.web, metrics_from=["192.168.1.0/24"])
    controller.config = replace(controller.config, web=web)
    lan = make_app(controller).test_client()
    assert lan.get("/metrics", environ_base={"REMOTE_ADDR": "192.168.1.77"}).status_code == 200
    assert lan.get("/metrics").status_code == 403
    controller.config = replace(controller.config, web=replace(web, metrics_from=[]))
    assert make_app(controller).test_client().get("/metrics").status_code == 404


@pytest.fixture
def central(tmp_path: Path) -> Iterator[tuple[object, str]]:
    config = central_config(tmp_path)
    store = SqliteCentralStore(config.db_path)
    token = store.add_station("laser-1", kind="laser")
    app = create_central_app(store, config)
    app.config["TESTING"] = True
    yield app, token
    store.close()


def test_the_central_store_counts_what_it_ingests(central: tuple[object, str]) -> None:
    app, token = central
    client = app.test_client()  # type: ignore[attr-defined]
    auth = {"Authorization": f"Bearer {token}"}
    r = client.post("/api/v1/sync", json=body(event(1), event(2), event(3)), headers=auth)
    assert r.status_code == 200, r.get_json()
    assert (
        client.post(
            "/api/v1/sync", json=body(event(1)), headers={"Authorization": "Bearer x"}
        ).status_code
        == 401
    )
    text = client.get("/metrics").get_data(as_text=True)
    assert value(text, "fabrique_central_ingested_events_total", station="laser-1") == 3
    assert value(text, "fabrique_central_syncs_total", station="laser-1") == 1
    assert value(text, "fabrique_http_responses_total", app="central", code="401") == 1
    far = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert far.status_code == 403
    assert not re.search(r"token|password", text, re.I)


def test_the_grafana_dashboard_queries_only_metrics_that_exist(
    controller: Controller, central: tuple[object, str]
) -> None:
    import json

    dashboard = json.loads(
        (Path(__file__).parent.parent / "docs/grafana-dashboard.json").read_text()
    )
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    queried = set(re.findall(r"\b(fabrique_[a-z_]+)", " ".join(exprs)))
    controller.call(Tap(SOFIANE))
    station = make_app(controller).test_client().get("/metrics").get_data(as_text=True)
    app, _ = central
    central_text = app.test_client().get("/metrics").get_data(as_text=True)  # type: ignore[attr-defined]
    exposed = set(re.findall(r"^# TYPE (\w+)", station + central_text, re.M))
    exposed |= {f"{n}_total" for n in exposed}
    exposed |= {
        "fabrique_station_power_watts",
        "fabrique_station_sync_backlog",
        "fabrique_station_sync_failures",
    }  # present with a meter / a central store
    assert queried and queried <= exposed, queried - exposed
