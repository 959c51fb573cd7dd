"""The /sim panel (mock backend only) through Flask's test client."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.clock import SimulatedClock
from station.controller import Controller
from tests.conftest import make_config, start_controller
from tests.test_web_helpers import make_app


def test_panel_shows_the_controls_whose_routes_exist(controller: Controller) -> None:
    app = make_app(controller)
    with app.test_client() as client:
        r = client.get("/sim/")
        assert r.status_code == 200
        page = r.get_data(as_text=True)
    assert "Badges de démonstration" in page and 'class="advance"' in page
    # This station emulates no sensor: the routes exist, but the panel offers no value to send.
    assert 'id="power-form"' not in page and 'id="air-form"' not in page


@pytest.mark.parametrize(
    ("sensors", "power", "air"),
    [
        ({"air_sensor": "sds011-emulated"}, False, True),
        ({"power_meter": "pzem-emulated"}, True, False),
        ({"power_meter": "pzem-emulated", "air_sensor": "sds011-emulated"}, True, True),
    ],
)
def test_panel_offers_only_the_sensors_this_station_has(
    tmp_path: Path, clock: SimulatedClock, sensors: dict[str, str], power: bool, air: bool
) -> None:
    controller = start_controller(make_config(tmp_path, sensors=sensors), clock)
    try:
        with make_app(controller).test_client() as client:
            page = client.get("/sim/").get_data(as_text=True)
    finally:
        controller.stop()
    assert ('id="power-form"' in page) is power
    assert ('id="air-form"' in page) is air


def test_panel_in_english(controller: Controller) -> None:
    with make_app(controller).test_client() as client:
        page = client.get("/sim/?lang=en").get_data(as_text=True)
    assert "Sample badges" in page and '<html lang="en">' in page


def test_sim_badges_lists_the_sample_roster(controller: Controller) -> None:
    with make_app(controller).test_client() as client:
        badges = client.get("/sim/badges").get_json()["badges"]
    assert {b["name"] for b in badges} >= {"Sofiane", "Léa", "Noah"}
