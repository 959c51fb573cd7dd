"""The kiosk's routes through Flask's test client: the page, its token, checklist and problems."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from station.clock import SimulatedClock
from station.controller import Controller
from tests.conftest import SOFIANE, make_config, start_controller
from tests.test_web_helpers import csrf, make_app


@pytest.fixture
def client(controller: Controller) -> Iterator[FlaskClient]:
    with make_app(controller).test_client() as c:
        yield c


@pytest.fixture
def checklist_controller(tmp_path: Path, clock: SimulatedClock) -> Iterator[Controller]:
    config = make_config(tmp_path, checklist=["Lunettes", "Aspiration allumée"])
    c = start_controller(config, clock)
    try:
        yield c
    finally:
        c.stop()


def boot_data(html: str) -> dict:
    m = re.search(r'<script id="boot" type="application/json">(.*?)</script>', html, re.S)
    assert m, "the kiosk page embeds its boot data"
    return json.loads(m.group(1))


def test_kiosk_page_is_public_and_self_contained(client: FlaskClient) -> None:
    r = client.get("/kiosk/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert "Badge ta carte pour commencer" in html
    # No CDN: every script and stylesheet comes from this station.
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not url.startswith(("http:", "https:", "//")), url
    boot = boot_data(html)
    assert set(boot["catalogs"]) == {"fr", "en"}
    assert boot["language"] == "fr" and boot["csrf"]
    assert boot["status"]["machine"]["state"] == "available"
    assert "station_session_laser-1=" in r.headers["Set-Cookie"]


def test_static_files_are_served(client: FlaskClient) -> None:
    for name in ("kiosk.js", "kiosk.css", "tech.css", "tech.js", "sim.js"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200, name
        r.close()


def test_browsers_asking_for_html_land_on_the_kiosk(client: FlaskClient) -> None:
    r = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/kiosk/")
    links = client.get("/").get_json()["links"]
    assert links["kiosk"] == "/kiosk/" and links["technician"] == "/tech/"


def test_token_is_the_sessions_token(client: FlaskClient) -> None:
    token = csrf(client)
    assert token == csrf(client)
    assert boot_data(client.get("/kiosk/").get_data(as_text=True))["csrf"] == token
    assert client.get("/kiosk/token").headers["Cache-Control"] == "no-store"


def test_report_problem_to_check(client: FlaskClient, controller: Controller) -> None:
    r = client.post(
        "/kiosk/problem", json={"problem": "broken"}, headers={"X-CSRF-Token": csrf(client)}
    )
    assert r.status_code == 200
    assert r.get_json() == {
        "ok": True,
        "action": "report_problem",
        "by": "kiosk",
        "machine": "to_check",
    }
    assert controller.status()["machine"]["state"] == "to_check"
    assert (
        controller.run_in_loop(lambda: controller.store.last_events(2))[0]["data"]["problem"]
        == "broken"
    )


def test_report_missing_material_keeps_the_machine_available(
    client: FlaskClient, controller: Controller
) -> None:
    token = csrf(client)
    r = client.post(
        "/kiosk/problem", json={"problem": "missing_material"}, headers={"X-CSRF-Token": token}
    )
    assert r.status_code == 200 and r.get_json()["machine"] == "available"
    [event] = controller.run_in_loop(lambda: controller.store.last_events(1))
    assert event["type"] == "problem_reported"
    assert event["data"] == {**event["data"], "problem": "missing_material", "to_check": False}


def test_report_problem_rejects_unknown_choices(client: FlaskClient) -> None:
    token = csrf(client)
    for body in ({"problem": "fire"}, {}, ["broken"]):
        r = client.post("/kiosk/problem", json=body, headers={"X-CSRF-Token": token})
        assert r.status_code == 400, body
    r = client.post("/kiosk/problem", data="broken", headers={"X-CSRF-Token": token})
    assert r.status_code == 400


def test_checklist_confirm_starts_the_session(checklist_controller: Controller) -> None:
    from station.machine import Tap

    with make_app(checklist_controller).test_client() as client:
        token = csrf(client)
        d = checklist_controller.call(Tap(SOFIANE))
        assert d["action"] == "checklist"
        status = client.get("/api/status").get_json()
        assert status["checklist"]["items"] == ["Lunettes", "Aspiration allumée"]
        r = client.post(
            "/kiosk/checklist", json={"answer": "confirm"}, headers={"X-CSRF-Token": token}
        )
        assert r.status_code == 200 and r.get_json()["action"] == "session_started"
        assert checklist_controller.status()["machine"]["relay_on"] is True
        r = client.post(
            "/kiosk/checklist", json={"answer": "confirm"}, headers={"X-CSRF-Token": token}
        )
        assert r.status_code == 409 and r.get_json()["ok"] is False


def test_checklist_cancel(checklist_controller: Controller) -> None:
    from station.machine import Tap

    with make_app(checklist_controller).test_client() as client:
        token = csrf(client)
        checklist_controller.call(Tap(SOFIANE))
        r = client.post(
            "/kiosk/checklist", json={"answer": "cancel"}, headers={"X-CSRF-Token": token}
        )
        assert r.status_code == 200 and r.get_json()["ok"] is True
        status = checklist_controller.status()
        assert status["checklist"] is None and status["machine"]["relay_on"] is False
        r = client.post(
            "/kiosk/checklist", json={"answer": "maybe"}, headers={"X-CSRF-Token": token}
        )
        assert r.status_code == 400


def test_kiosk_commands_when_the_controller_stopped(
    client: FlaskClient, controller: Controller
) -> None:
    token = csrf(client)
    controller.stop()
    r = client.post("/kiosk/problem", json={"problem": "broken"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 503
