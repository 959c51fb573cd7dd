"""Helpers shared by the web tests (no tests here): an app on a running controller, a CSRF
token, a technician account and a logged-in client."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from station.accounts import add_technician, open_accounts
from station.controller import Controller
from web.station.app import create_app

PASSWORD = "correct horse battery"


def make_app(controller: Controller, *, simulator: bool | None = None) -> Flask:
    app = create_app(controller, simulator=simulator)
    app.config["TESTING"] = True
    return app


def csrf(client: FlaskClient) -> str:
    """The session's CSRF token, as the kiosk page would hand it out.

    The page is loaded first, as the touchscreen does: on the mock backend that pairs a loopback
    session with the kiosk (web/station/kiosk.py), which kiosk actions need. A session that is
    not the touchscreen's gets no kiosk token: it takes the login form's.
    """
    assert client.get("/kiosk/").status_code == 200
    r = client.get("/kiosk/token")
    if r.status_code == 403:
        m = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/tech/login").text)
        assert m, "no CSRF token in the login form"
        return m.group(1)
    assert r.status_code == 200
    token: str = r.get_json()["csrf"]
    return token


def add_tech(controller: Controller, username: str = "yanis", password: str = PASSWORD) -> None:
    db = open_accounts(controller.config.db_path)
    try:
        add_technician(db, username, password)
    finally:
        db.close()


def login(client: FlaskClient, username: str = "yanis", password: str = PASSWORD) -> int:
    client.get("/tech/login")
    r = client.post(
        "/tech/login",
        data={"username": username, "password": password, "csrf_token": csrf(client)},
    )
    return r.status_code
