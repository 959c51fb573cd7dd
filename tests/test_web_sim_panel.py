"""The /sim panel (mock backend only) through Flask's test client."""

from __future__ import annotations

from flask import jsonify

from station.controller import Controller
from tests.test_web_helpers import make_app


def test_panel_shows_the_controls_whose_routes_exist(controller: Controller) -> None:
    app = make_app(controller)
    have = {r.rule for r in app.url_map.iter_rules()}
    with app.test_client() as client:
        r = client.get("/sim/")
        assert r.status_code == 200
        page = r.get_data(as_text=True)
    assert "Badges de démonstration" in page and 'class="advance"' in page
    assert ('id="power-form"' in page) == ("/sim/power" in have)
    assert ('id="air-form"' in page) == ("/sim/air" in have)


def test_power_and_air_controls_appear_with_their_routes(controller: Controller) -> None:
    app = make_app(controller)
    for name in ("power", "air"):
        if f"/sim/{name}" not in {r.rule for r in app.url_map.iter_rules()}:
            app.add_url_rule(
                f"/sim/{name}", f"fake_{name}", lambda: jsonify(ok=True), methods=["POST"]
            )
    with app.test_client() as client:
        page = client.get("/sim/").get_data(as_text=True)
    assert 'id="power-form"' in page and 'id="air-form"' in page


def test_panel_in_english(controller: Controller) -> None:
    with make_app(controller).test_client() as client:
        page = client.get("/sim/?lang=en").get_data(as_text=True)
    assert "Sample badges" in page and '<html lang="en">' in page


def test_sim_badges_lists_the_sample_roster(controller: Controller) -> None:
    with make_app(controller).test_client() as client:
        badges = client.get("/sim/badges").get_json()["badges"]
    assert {b["name"] for b in badges} >= {"Sofiane", "Léa", "Noah"}
