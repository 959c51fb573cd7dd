"""Sites are a trust boundary (docs/security.md): an account of one fablab can neither read
nor change another fablab's members, stations, accounts or reports. Walked over the URL map,
so a new route that takes a member, a station or a badge is checked too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from central.store import CentralStore
from station.roster import parse_roster_csv
from tests.conftest import sample_roster_text
from tests.test_central_helpers import central_config
from tests.test_central_rollups import logs
from web.central.app import create_central_app
from web.common.login import LoginLimiter

PASSWORD = "a long passphrase"
ACCOUNT = {"educator": "ed-a", "technician": "tech-a", "admin": "admin-a"}
"""Site A's accounts, by the role a page asks for."""
HERE = {"member_id": "lea", "station_id": "laser-a", "uid": "04B0B1B2"}
THERE = {"member_id": "amina", "station_id": "laser-b", "uid": "04E0E1E2"}
"""A member, a station and a badge of site A, and of site B."""
OTHER_ARGS = {"name": "hours", "what": None, "token": "x"}
"""Route arguments that name nothing of a site (``what``: the rule's first choice)."""


@pytest.fixture
def store(central_store: CentralStore) -> Iterator[CentralStore]:
    s = central_store
    s.import_roster(parse_roster_csv(sample_roster_text()))
    s.add_site("site-a", "Fabrique de Gonesse")
    s.add_site("site-b", "Fablab de Sarcelles")
    for member in ("ines", "yanis", "moussa", "lea", "sofiane", "noah"):
        s.move_member(member, "site-a")
    s.move_member("amina", "site-b")
    s.add_station("laser-a", kind="laser", site_id="site-a")
    s.add_station("laser-b", kind="laser", site_id="site-b")
    for role, username in ACCOUNT.items():
        s.add_user(username, PASSWORD, role, site_id="site-a")
    s.add_user("network", PASSWORD, "admin", site_id=None)
    for site in ("site-a", "site-b"):  # so that a site induction recorded out of scope shows
        s.set_induction_required(site, "laser", True)
    yield s


@pytest.fixture
def app(tmp_path: Path, store: CentralStore) -> Flask:
    config = central_config(tmp_path)
    # Credentials on, so that their member pages are in the walk too (issue 15).
    config = replace(
        config,
        credentials=replace(config.credentials, public_url="https://badges.fabrique.example"),
    )
    app = create_central_app(store, config)
    app.config["TESTING"] = True
    app.extensions["login_limiter"] = LoginLimiter(attempts=10_000)
    return app


def login(app: Flask, username: str) -> tuple[FlaskClient, str]:
    client = app.test_client()
    token = _token(client)
    r = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert r.status_code == 302
    return client, _token(client)


def _token(client: FlaskClient) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert m
    return m.group(1)


def scoped_routes(app: Flask, things: dict[str, str]) -> Iterator[tuple[str, str, str]]:
    """(endpoint, method, url) of every guarded rule that names a member, station or badge,
    filled with ``things``; a rule with an argument nobody reviewed fails the walk."""
    for rule in app.url_map.iter_rules():
        args = set(rule.arguments)
        if (
            not args & set(things)
            or getattr(app.view_functions[rule.endpoint], "required_roles", None) is None
        ):
            continue

        def fill(m: re.Match[str], rule: Any = rule) -> str:
            spec = m.group(1)
            name = spec.split(":")[-1]
            if name in things:
                return things[name]
            assert name in OTHER_ARGS, f"{rule.rule}: what does <{name}> name? Review its scope."
            choices = re.match(r"any\(([^,)]+)", spec)
            return choices.group(1).strip() if choices else str(OTHER_ARGS[name])

        url = re.sub(r"<([^>]+)>", fill, rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url


def snapshot(store: CentralStore) -> Any:
    stations = [{k: v for k, v in s.items() if k != "last_contact_at"} for s in store.stations()]
    inductions = [store.site_inductions(site) for site in ("site-a", "site-b")]
    return (
        store.roster_rows(),
        stations,
        store.commands(),
        store.users(),
        store.sites(),
        inductions,
    )


def role_of(app: Flask, endpoint: str) -> str:
    roles = app.view_functions[endpoint].required_roles
    return "educator" if "educator" in roles else roles[0]


def form(token: str, things: dict[str, str]) -> dict[str, str]:
    return {
        "csrf_token": token,
        "confirm": things["member_id"],
        "action": "lock",
        "reason": "x",
        "kind": "laser",
        "level": "mentor",
        "uid": "04999999",
        "site": "site-a",
        "id": things["member_id"],
        "name": "X",
        "role": "trainee",
    }


def test_no_route_reaches_another_sites_member_station_or_badge(
    app: Flask, store: CentralStore
) -> None:
    clients = {role: login(app, user) for role, user in ACCOUNT.items()}
    before = snapshot(store)
    walked = 0
    for endpoint, method, url in scoped_routes(app, THERE):
        client, token = clients[role_of(app, endpoint)]
        if method == "GET":
            r = client.get(url)
        else:
            r = client.post(url, data=form(token, THERE))
        assert r.status_code in (403, 404), (endpoint, method, url, r.status_code)
        walked += 1
    assert walked >= 10, "the walk found the routes"
    assert snapshot(store) == before, "nothing of site B changed"


def test_the_same_routes_work_on_the_own_sites_things(app: Flask) -> None:
    """The walk above can fail: with site A's own member, station and badge, the same pages
    answer (so the 404s are the scope, not broken URLs)."""
    clients = {role: login(app, user) for role, user in ACCOUNT.items()}
    for endpoint, method, url in scoped_routes(app, HERE):
        if method != "GET":
            continue
        client, _ = clients[role_of(app, endpoint)]
        assert client.get(url).status_code == 200, (endpoint, url)


def test_lists_show_only_the_own_site(app: Flask, store: CentralStore) -> None:
    for station_id, log in logs(
        [
            {"station": "laser-a", "member": "lea", "supervisor": None, "day": 1,
             "seconds": 3600.0, "wh": None, "finishing": None, "ended": True},
            {"station": "laser-b", "member": "amina", "supervisor": None, "day": 1,
             "seconds": 7200.0, "wh": None, "finishing": None, "ended": True},
        ],
        kinds={"laser-a": "laser", "laser-b": "laser"},
    ).items():  # fmt: skip
        store.ingest(station_id, log)
    educator, _ = login(app, "ed-a")
    roster = educator.get("/admin/").get_data(as_text=True)
    assert "Léa Martin" in roster and "Amina" not in roster
    export = educator.get("/admin/roster/export.csv").get_data(as_text=True)
    assert "lea" in export and "amina" not in export
    # A site's educator cannot widen a report to another site or to the network.
    for query in ("", "&site=site-b"):
        csv = educator.get(f"/reports/hours?format=csv{query}").get_data(as_text=True)
        assert "lea" in csv and "amina" not in csv, query
    tech, _ = login(app, "tech-a")
    dash = tech.get("/dash/?site=site-b").get_data(as_text=True)
    assert "laser-a" in dash and "laser-b" not in dash
    fleet = tech.get("/dash/fleet.json").get_json()
    assert [s["id"] for s in fleet["stations"]] == ["laser-a"]
    admin, _ = login(app, "admin-a")
    page = admin.get("/admin/stations").get_data(as_text=True)
    assert "laser-a" in page and "laser-b" not in page and "network" not in page
    # The network admin sees both, and filters by site.
    network, _ = login(app, "network")
    assert {s["id"] for s in network.get("/dash/fleet.json").get_json()["stations"]} == {
        "laser-a",
        "laser-b",
    }
    only_b = network.get("/dash/fleet.json?site=site-b").get_json()["stations"]
    assert [s["id"] for s in only_b] == ["laser-b"]
    csv = network.get("/reports/hours?format=csv&site=site-b").get_data(as_text=True)
    assert "amina" in csv and "lea" not in csv
    both = network.get("/reports/hours?format=csv").get_data(as_text=True)
    assert "amina" in both and "lea" in both
    assert network.get("/dash/?site=nowhere").status_code == 404


def test_a_sites_admin_makes_accounts_of_its_site_only(app: Flask, store: CentralStore) -> None:
    admin, token = login(app, "admin-a")
    data = {"csrf_token": token, "username": "new-ed", "password": PASSWORD, "role": "educator"}
    admin.post("/admin/users", data={**data, "site": ""})  # asks for the network: ignored
    assert {u["username"]: u["site_id"] for u in store.users()}["new-ed"] == "site-a"
    # It cannot take over an account of the network (nor of another site) by "replacing" it.
    takeover = {**data, "username": "network", "role": "admin", "replace": "1"}
    assert admin.post("/admin/users", data=takeover).status_code == 404
    assert admin.post("/admin/sites", data={"csrf_token": token, "id": "x"}).status_code == 403
    assert store.authenticate("network", PASSWORD) is not None


def test_a_sites_educator_cannot_import_another_sites_member(
    app: Flask, store: CentralStore
) -> None:
    educator, token = login(app, "ed-a")
    csv = "member_id,name,role,badge_uid,qualifications\namina,Amina T,trainee,,laser:mentor\n"
    r = educator.post(
        "/admin/roster/import",
        data={"csrf_token": token, "csv": (__import__("io").BytesIO(csv.encode()), "r.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "autre fablab" in r.get_data(as_text=True)
    assert store.member_detail("amina")["qualifications"] == [
        q for q in store.member_detail("amina")["qualifications"] if q["kind"] != "laser"
    ]
    # A whole roster from site A leaves site B's members as they were.
    whole = "member_id,name,role,badge_uid,qualifications\nlea,Léa Martin,trainee,,\n"
    educator.post(
        "/admin/roster/import",
        data={"csrf_token": token, "csv": (__import__("io").BytesIO(whole.encode()), "r.csv")},
        content_type="multipart/form-data",
    )
    assert store.member_detail("amina")["active"] is True
    assert store.member_detail("sofiane")["active"] is False


def test_the_programme_report_holds_to_the_site(app: Flask, store: CentralStore) -> None:
    for station_id, log in logs(
        [
            {"station": "laser-a", "member": "lea", "supervisor": None, "day": 1,
             "seconds": 3600.0, "wh": None, "finishing": None, "ended": True},
            {"station": "laser-b", "member": "amina", "supervisor": None, "day": 1,
             "seconds": 7200.0, "wh": None, "finishing": None, "ended": True},
        ],
        kinds={"laser-a": "laser", "laser-b": "laser"},
    ).items():  # fmt: skip
        store.ingest(station_id, log)
    query = "since=2026-01-01&until=2026-12-31&names=1&format=csv"
    educator, _ = login(app, "ed-a")
    csv = educator.get(f"/reports/programme/?{query}&site=site-b").get_data(as_text=True)
    assert "lea" in csv and "amina" not in csv
    network, _ = login(app, "network")
    csv = network.get(f"/reports/programme/?{query}&site=site-b").get_data(as_text=True)
    assert "amina" in csv and "lea" not in csv
    page = network.get("/reports/programme/?since=2026-01-01&until=2026-12-31&site=site-b")
    assert "Fablab de Sarcelles" in page.get_data(as_text=True)


def test_a_sites_educator_cannot_rewrite_the_networks_induction_quiz(
    app: Flask, store: CentralStore
) -> None:
    """One quiz per kind serves every site: site A's educator reads it but cannot change it;
    the network's admin can (on a single-site store the educators edit it, tests/test_quiz_web)."""
    from central import quiz

    store.save_quiz("laser", quiz.SAMPLE, by="network", at="2026-11-20T10:00:00+00:00")
    educator, token = login(app, "ed-a")
    assert educator.get("/admin/quizzes/laser").status_code == 200
    changed = quiz.SAMPLE.replace("?", " ?", 1)
    r = educator.post("/admin/quizzes/laser", data={"source": changed, "csrf_token": token})
    assert r.status_code == 403
    assert "compte du réseau" in r.get_data(as_text=True)
    assert store.quiz("laser")["source"] == quiz.SAMPLE  # type: ignore[index]
    network, token = login(app, "network")
    r = network.post("/admin/quizzes/laser", data={"source": changed, "csrf_token": token})
    assert r.status_code == 302
    assert store.quiz("laser")["source"] == changed  # type: ignore[index]
