"""No badge UID on any page or API a client can read without a login (issue 10, item 9).

A badge UID is the only credential when ``[reader] verify_badges`` is off: whoever reads it can
copy the badge. The technician page, after login, still shows the last unknown badge's UID.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from station.controller import Controller
from station.machine import Tap
from tests.conftest import AMINA, LEA, SOFIANE, UNKNOWN
from tests.test_web_helpers import add_tech, login, make_app

TAPPED = (SOFIANE, LEA, AMINA, UNKNOWN)


@pytest.fixture
def app(controller: Controller) -> Flask:
    add_tech(controller)
    return make_app(controller, simulator=False)


def tap_everyone(controller: Controller) -> None:
    """A granted tap, a co-badge wait, a refusal and an unknown badge: every kind of decision."""
    controller.call(Tap(LEA))
    controller.call(Tap(AMINA))
    controller.call(Tap(SOFIANE))
    controller.call(Tap(UNKNOWN))


def assert_no_uid(text: str, where: str) -> None:
    for uid in TAPPED:
        assert uid not in text.upper(), f"{where} shows the badge UID {uid}"


def test_status_and_kiosk_page_show_no_badge_uid(app: Flask, controller: Controller) -> None:
    tap_everyone(controller)
    with app.test_client() as client:
        status = client.get("/api/status")
        assert status.get_json()["session"]["member_name"] == "Sofiane", "names stay"
        assert status.get_json()["session"]["member_id"], "member ids stay (documented)"
        assert_no_uid(status.text, "/api/status")
        assert_no_uid(client.get("/kiosk/").text, "the kiosk page")


def _chunks(client: FlaskClient, url: str) -> Iterator[str]:
    r = client.get(url, buffered=False)
    assert r.status_code == 200, url
    try:
        for chunk in r.response:
            yield chunk.decode() if isinstance(chunk, bytes) else chunk
    finally:
        r.close()


def test_event_stream_shows_no_badge_uid(app: Flask, controller: Controller) -> None:
    with app.test_client() as client:
        chunks = _chunks(client, "/api/events/stream")
        seen = [next(chunks)]
        tap_everyone(controller)
        for _, chunk in zip(range(100), chunks, strict=False):  # bounded: fails, never hangs
            seen.append(chunk)
            if chunk.startswith("event: status") and '"unknown_badge"' in chunk:
                break
        text = "".join(seen)
        assert '"unknown_badge"' in text and "event: event" in text
        assert_no_uid(text, "/api/events/stream")


def test_the_technician_page_shows_the_unknown_uid_after_login(
    app: Flask, controller: Controller
) -> None:
    tap_everyone(controller)
    with app.test_client() as client:
        assert client.get("/tech/stream").status_code == 302, "the full stream needs a login"
        assert login(client) == 302
        assert UNKNOWN in client.get("/tech/").text
        chunks = _chunks(client, "/tech/stream")
        first = next(chunks)
        assert first.startswith("event: status")
        assert json.loads(first.split("data: ", 1)[1])["last_unknown_uid"] == UNKNOWN
