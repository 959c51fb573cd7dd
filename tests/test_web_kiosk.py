"""The kiosk's routes through Flask's test client: the page, its token, checklist and problems."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from station.controller import Controller
from tests.conftest import SOFIANE
from tests.test_web_helpers import csrf, make_app


@pytest.fixture
def client(controller: Controller) -> Iterator[FlaskClient]:
    with make_app(controller).test_client() as c:
        yield c


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


# --- only the touchscreen acts as the kiosk (issue 10, item 10) -----------------------------

LAN = {"REMOTE_ADDR": "192.168.1.20"}


def _token(client: FlaskClient, **kwargs: Any) -> str:
    """The kiosk page's token; a page that is not the touchscreen's has none, so then the
    session's login-form token (valid: a refusal is then the touchscreen check, not CSRF)."""
    token: str = boot_data(client.get("/kiosk/", **kwargs).get_data(as_text=True))["csrf"]
    if token:
        return token
    m = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/tech/login", **kwargs).text)
    assert m
    return m.group(1)


def _kiosk_post(client: FlaskClient, url: str, body: dict, **kwargs: Any) -> int:
    token = _token(client, **kwargs)
    r = client.post(url, json=body, headers={"X-CSRF-Token": token}, **kwargs)
    return r.status_code


def test_a_lan_client_cannot_confirm_the_checklist_or_report_a_problem(
    checklist_controller: Controller,
) -> None:
    from station.machine import Tap

    for simulator in (False, True):
        app = make_app(checklist_controller, simulator=simulator)
        with app.test_client() as lan:
            checklist_controller.call(Tap(SOFIANE))
            for url, body in (
                ("/kiosk/checklist", {"answer": "confirm"}),
                ("/kiosk/problem", {"problem": "broken"}),
            ):
                code = _kiosk_post(lan, url, body, environ_base=LAN)
                assert code == 403, f"{url} from the LAN (simulator={simulator}): {code}"
            status = checklist_controller.status()
            assert status["machine"]["relay_on"] is False and status["machine"]["state"] == (
                "available"
            )
            checklist_controller.call(Tap(SOFIANE))  # badge out of the checklist wait


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("192.168.1.20", False),
        ("::ffff:192.168.1.20", False),
        ("", False),
    ],
)
def test_loopback_is_this_computer_only(controller: Controller, address: str, local: bool) -> None:
    from web.station.kiosk import from_loopback

    app = make_app(controller, simulator=False)
    with app.test_request_context("/kiosk/", environ_base={"REMOTE_ADDR": address}):
        assert from_loopback() is local


def test_a_proxied_request_is_not_the_kiosk(checklist_controller: Controller) -> None:
    """A reverse proxy on the Pi would make every client look local: forwarded means remote."""
    app = make_app(checklist_controller, simulator=True)
    with app.test_client() as client:
        headers = {"X-Forwarded-For": "192.168.1.20"}
        assert boot_data(client.get("/kiosk/", headers=headers).text)["csrf"] == ""
        token = _token(client, headers=headers)
        r = client.post(
            "/kiosk/problem",
            json={"problem": "broken"},
            headers={"X-CSRF-Token": token, **headers},
        )
        assert r.status_code == 403 and "touchscreen" in r.get_json()["error"]


def test_the_real_kiosk_pairs_with_its_key(
    checklist_controller: Controller, tmp_path: Path
) -> None:
    """Not on the mock backend: a loopback page alone is not enough, the key from the file is."""
    from station.machine import Tap

    app = make_app(checklist_controller, simulator=False)
    secret = (checklist_controller.config.data_path / "kiosk-secret").read_text().strip()
    assert (checklist_controller.config.data_path / "kiosk-secret").stat().st_mode & 0o777 == (
        0o600
    )
    checklist_controller.call(Tap(SOFIANE))
    with app.test_client() as local:
        page = local.get("/kiosk/").text
        assert secret not in page and boot_data(page)["paired"] is False
        assert _kiosk_post(local, "/kiosk/checklist", {"answer": "confirm"}) == 403
        assert boot_data(local.get("/kiosk/?pair=wrong" + "x" * 40).text)["paired"] is False
        assert _kiosk_post(local, "/kiosk/checklist", {"answer": "confirm"}) == 403
    with app.test_client() as lan:
        page = lan.get(f"/kiosk/?pair={secret}", environ_base=LAN).text
        assert boot_data(page)["paired"] is False, "the key alone, from the LAN, is not enough"
        assert _kiosk_post(lan, "/kiosk/checklist", {"answer": "confirm"}, environ_base=LAN) == (
            403
        )
    assert checklist_controller.status()["machine"]["relay_on"] is False
    with app.test_client() as kiosk:
        page = kiosk.get(f"/kiosk/?pair={secret}").text
        assert boot_data(page)["paired"] is True and secret not in page
        assert _kiosk_post(kiosk, "/kiosk/checklist", {"answer": "confirm"}) == 200
    assert checklist_controller.status()["machine"]["relay_on"] is True


def test_no_request_can_read_the_kiosk_key(controller: Controller) -> None:
    app = make_app(controller, simulator=True)
    secret = (controller.config.data_path / "kiosk-secret").read_text().strip()
    with app.test_client() as client:
        for rule in app.url_map.iter_rules():
            if "GET" in (rule.methods or ()) and not rule.arguments:
                r = client.get(rule.rule, buffered=False)
                if r.mimetype != "text/event-stream":
                    assert secret not in r.get_data(as_text=True), rule.rule
                r.close()


def test_a_technician_login_at_the_machine_keeps_the_kiosk_paired(
    checklist_controller: Controller,
) -> None:
    from station.machine import Tap
    from tests.test_web_helpers import add_tech, login

    add_tech(checklist_controller)
    app = make_app(checklist_controller, simulator=False)
    secret = (checklist_controller.config.data_path / "kiosk-secret").read_text().strip()
    with app.test_client() as kiosk:
        assert boot_data(kiosk.get(f"/kiosk/?pair={secret}").text)["paired"] is True
        assert login(kiosk) == 302
        token = boot_data(kiosk.get("/kiosk/").text)["csrf"]
        assert kiosk.post("/tech/logout", data={"csrf_token": token}).status_code == 302
        checklist_controller.call(Tap(SOFIANE))
        assert _kiosk_post(kiosk, "/kiosk/checklist", {"answer": "confirm"}) == 200


# --- what the kiosk is told when nobody tapped (issue 11, items 3 and 4) -----------------------


def test_a_lapsed_co_badge_wait_is_told_not_dropped(controller: Controller) -> None:
    from station.machine import Tap
    from tests.conftest import LEA

    controller.call(Tap(LEA))
    controller.advance(61)
    d = controller.status()["last_decision"]
    assert d["action"] == "waiting_expired" and d["member_name"] == "Léa"


@pytest.mark.parametrize("how", ["timeout", "technician"])
def test_a_session_stopped_without_a_tap_is_told(controller: Controller, how: str) -> None:
    from station.machine import Command, Tap

    controller.call(Tap(SOFIANE))
    if how == "timeout":
        controller.advance(3600)
    else:
        controller.call(Command("end_session", by="yanis"))
    d = controller.status()["last_decision"]
    assert d["action"] == "session_stopped" and d["end_reason"] == how
    assert d["member_name"] == "Sofiane"


def test_two_decisions_at_the_same_instant_are_two(controller: Controller) -> None:
    from station.machine import Tap
    from tests.conftest import NOAH, UNKNOWN

    controller.call(Tap(UNKNOWN))
    first = controller.status()["last_decision"]
    controller.call(Tap(NOAH))  # the simulated clock did not move
    second = controller.status()["last_decision"]
    assert first["at"] == second["at"] and second["seq"] == first["seq"] + 1


def test_the_keepalive_is_a_heartbeat_the_kiosk_can_hear(controller: Controller) -> None:
    import queue

    from web.station import public

    class Quiet:
        def get(self, timeout: float) -> None:
            raise queue.Empty

    class Broadcaster:
        def subscribe(self) -> Quiet:
            return Quiet()

        def unsubscribe(self, subscription: Quiet) -> None:
            pass

    real = controller.broadcaster
    controller.broadcaster = Broadcaster()  # type: ignore[assignment]
    try:
        messages = public._messages(controller, public.without_uids, lambda: True)
        next(messages)  # the status
        assert next(messages) == "event: ping\ndata: {}\n\n"  # EventSource fires on it
    finally:
        controller.broadcaster = real
