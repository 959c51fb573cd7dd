"""End to end through the real RFID driver: ``station run`` as a subprocess with ``[reader] type =
"mfrc522-emulated"`` (mock backend), so ``/sim/badge`` lays a card on the emulated MFRC522 and the
driver's own polling thread reads it over the fake SPI bus, as on a Pi.

With ``verify_badges`` on, ``/sim/badge`` lays a card prepared for the site (the HMAC value and
the card's keys in its sector) and ``{"cloned": true}`` a blank card with the same UID: the
driver's anti-clone check reads the sector, and the domain denies the clone ``badge_invalid``.
Every wait is an HTTP request with a timeout, or a poll with a bounded deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e_helpers import (
    LEA,
    MOUSSA,
    RELAY_PIN,
    SOFIANE,
    UNKNOWN,
    HttpError,
    StationProcess,
    http,
    prepare_station,
    read_pin_log,
)

pytestmark = pytest.mark.e2e

Factory = Callable[..., StationProcess]


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Factory]:
    """Prepared (not started) stations on the emulated reader; all killed in teardown."""
    made: list[StationProcess] = []

    def make(*, reader: str = "mfrc522-emulated", verify_badges: bool = False) -> StationProcess:
        config = prepare_station(
            tmp_path / f"station{len(made)}", reader=reader, verify_badges=verify_badges
        )
        s = StationProcess(config, pin_log=config.parent / "pins.log")
        made.append(s)
        return s

    try:
        yield make
    finally:
        for s in made:
            s.close()


def relay_values(s: StationProcess) -> list[float]:
    assert s.pin_log is not None
    return [c.value for c in read_pin_log(s.pin_log) if c.pid == s.pid and c.pin == RELAY_PIN]


def reader_health(s: StationProcess) -> dict:
    health = s.status()["health"]["reader"]
    assert health["type"] == "mfrc522", health  # the real driver, not the fake reader
    return health


@pytest.mark.parametrize(("uid", "member"), [(SOFIANE, "sofiane"), (MOUSSA, "moussa")])
def test_tap_in_and_out_through_the_emulated_chip(station: Factory, uid: str, member: str) -> None:
    s = station()
    s.start_ready()

    first = s.badge(uid)
    assert first["granted"] is True and first["action"] == "session_started", first
    assert first["uid"] == uid  # 7-byte UIDs come out whole: all cascade levels
    status = s.status()
    assert status["machine"]["state"] == "in_use"
    assert status["session"]["member_id"] == member

    s.advance(5)  # past the repeat-tap guard: a tap within it is ignored
    second = s.badge(uid)  # the same card again, after the driver's debounce
    assert second["action"] == "session_ended", second
    status = s.status()
    assert status["machine"]["relay_on"] is False and status["session"] is None
    assert relay_values(s) == [1.0, 0.0]
    health = reader_health(s)
    assert health["taps"] == 2 and health["ok"] is True
    ended = [e for e in s.events() if e["type"] == "session_ended"]
    assert [e["data"]["end_reason"] for e in ended] == ["badge_out"]


def test_a_denial_through_the_emulated_chip(station: Factory) -> None:
    s = station()
    s.start_ready()

    for uid, reason in ((UNKNOWN, "unknown_badge"), (LEA, "needs_supervisor")):
        decision = s.badge(uid)
        assert decision["granted"] is False and decision["reason"] == reason, decision

    assert s.status()["machine"]["relay_on"] is False
    assert relay_values(s) == []
    denied = [e["data"] for e in s.events() if e["type"] == "access_denied"]
    assert (UNKNOWN, "unknown_badge") in [(d["uid"], d["reason"]) for d in denied]


def test_verify_badges_admits_a_prepared_card_and_denies_its_clone(station: Factory) -> None:
    s = station(verify_badges=True)
    s.start_ready()

    clone = s.badge(SOFIANE, cloned=True)
    assert clone["granted"] is False and clone["reason"] == "badge_invalid", clone
    assert s.status()["machine"]["relay_on"] is False

    good = s.badge(SOFIANE)  # the genuine card: prepared for this site
    assert good["granted"] is True and good["action"] == "session_started", good

    clone7 = s.badge(MOUSSA, cloned=True)  # a 7-byte clone, while the machine is in use
    assert clone7["reason"] == "badge_invalid", clone7

    health = reader_health(s)
    assert health["verify_badges"] is True
    assert (health["verified"], health["rejected"]) == (1, 2)
    assert relay_values(s) == [1.0]
    denied = [e["data"] for e in s.events() if e["type"] == "access_denied"]
    assert [(d["uid"], d["reason"]) for d in denied] == [
        (SOFIANE, "badge_invalid"),
        (MOUSSA, "badge_invalid"),
    ]


def test_verify_badges_on_the_fake_reader_simulates_the_check(station: Factory) -> None:
    s = station(reader="fake", verify_badges=True)
    s.start_ready()
    assert s.badge(SOFIANE, cloned=True)["reason"] == "badge_invalid"
    assert s.badge(SOFIANE)["granted"] is True
    with pytest.raises(HttpError) as bad:
        http("POST", s.base + "/sim/badge", {"uid": SOFIANE, "cloned": "yes"})
    assert bad.value.status == 400 and "cloned must be true or false" in bad.value.body


def test_verify_badges_without_a_secret_refuses_to_start(station: Factory) -> None:
    s = station(verify_badges=True)
    (s.workdir / "data" / "badge_secret").unlink()
    s.start()
    assert s.wait_exit(timeout=30) == 2
    err = s.stderr()
    assert "badge_secret does not exist" in err and "station badge secret --config" in err
    assert "Traceback" not in err
