"""The technician page through Flask's test client: login, rate limit, health, events, actions."""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from station.controller import Controller
from station.machine import Tap
from tests.conftest import NOAH, SOFIANE, UNKNOWN, open_central_store
from tests.test_web_helpers import PASSWORD, add_tech, csrf, login, make_app
from web.common import format as fmt
from web.station.technician import LoginLimiter, cpu_temperature


@pytest.fixture
def app(controller: Controller) -> Flask:
    add_tech(controller)
    return make_app(controller)


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as c:
        yield c


@pytest.fixture
def tech(client: FlaskClient) -> FlaskClient:
    assert login(client) == 302
    return client


def post(client: FlaskClient, path: str, **form: str):
    return client.post(path, data={**form, "csrf_token": csrf(client)})


def last_events(controller: Controller, n: int = 3) -> list[dict]:
    return controller.run_in_loop(lambda: controller.store.last_events(n))


def test_pages_redirect_to_login(client: FlaskClient) -> None:
    r = client.get("/tech/")
    assert r.status_code == 302 and "/tech/login" in r.headers["Location"]
    page = client.get("/tech/login").get_data(as_text=True)
    assert "Connexion de l&#39;équipe technique" in page and 'name="csrf_token"' in page


def test_login_and_logout(client: FlaskClient) -> None:
    client.get("/tech/login")
    before = csrf(client)
    r = client.post(
        "/tech/login",
        data={"username": "yanis", "password": PASSWORD, "csrf_token": before, "next": "/tech/"},
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/tech/")
    assert csrf(client) != before, "a new session (and token) after login"
    page = client.get("/tech/").get_data(as_text=True)
    assert "Compte : yanis" in page and "Santé de la station" in page
    assert post(client, "/tech/logout").status_code == 302
    assert client.get("/tech/").status_code == 302


def test_login_never_redirects_off_site(client: FlaskClient) -> None:
    client.get("/tech/login")
    r = client.post(
        "/tech/login",
        data={
            "username": "yanis",
            "password": PASSWORD,
            "csrf_token": csrf(client),
            "next": "//evil.example/tech",
        },
    )
    assert r.status_code == 302 and r.headers["Location"] == "/tech/"


def test_wrong_password(client: FlaskClient) -> None:
    assert login(client, password="wrong password!") == 401
    assert login(client, username="nobody") == 401
    assert client.get("/tech/").status_code == 302


def test_login_attempts_are_rate_limited(app: Flask, client: FlaskClient) -> None:
    t = [0.0]
    app.extensions["login_limiter"] = LoginLimiter(attempts=3, window_s=60, clock=lambda: t[0])
    for _ in range(3):
        assert login(client, password="not the password") == 401
    assert login(client) == 429, "even the right password waits once the limit is reached"
    t[0] += 61
    assert login(client) == 302


def test_limiter_counts_per_key() -> None:
    t = [0.0]
    limiter = LoginLimiter(attempts=2, window_s=10, clock=lambda: t[0])
    limiter.failed("ip:a", "user:x")
    limiter.failed("ip:a", "user:y")
    assert limiter.blocked("ip:a", "user:z") and not limiter.blocked("ip:b", "user:z")
    limiter.succeeded("ip:a")
    assert not limiter.blocked("ip:a")
    t[0] = 10.0
    assert not limiter.blocked("user:x")


def test_a_removed_account_is_logged_out(tech: FlaskClient, controller: Controller) -> None:
    from station.accounts import open_accounts

    db = open_accounts(controller.config.db_path)
    db.execute("UPDATE technicians SET active = 0")
    db.close()
    assert tech.get("/tech/").status_code == 302


def test_dashboard_shows_health_session_and_events(
    tech: FlaskClient, controller: Controller
) -> None:
    controller.call(Tap(SOFIANE))
    page = tech.get("/tech/").get_data(as_text=True)
    for words in (
        "Lecteur de badges",
        "Relais",
        "Fermé : la machine est alimentée",
        "Synchronisation",
        "Disque",
        "Température du processeur",
        "Démarrée depuis",
        "Version",
        "Sofiane (sofiane)",
        "Terminer la session",
        "Début de session",
    ):
        assert words in page, words


def test_events_filters(tech: FlaskClient, controller: Controller) -> None:
    controller.call(Tap(NOAH))
    controller.call(Tap(SOFIANE))
    page = tech.get("/tech/?type=access_denied").get_data(as_text=True)
    assert 'data-type="access_denied"' in page and 'data-type="session_started"' not in page
    page = tech.get("/tech/?member=sofiane").get_data(as_text=True)
    assert 'data-type="session_started"' in page and 'data-type="access_denied"' not in page
    page = tech.get("/tech/?type=session_started&member=noah").get_data(as_text=True)
    assert "Aucun événement." in page


def test_events_are_sentences_in_local_time_without_heartbeats(
    tech: FlaskClient, controller: Controller
) -> None:
    """Before issue 11: raw JSON, UTC ISO times, and heartbeats drowning everything else."""
    controller.call(Tap(SOFIANE))
    controller.advance(120)  # heartbeats during the session
    controller.call(Tap(SOFIANE))
    page = html.unescape(tech.get("/tech/").get_data(as_text=True))
    events = page.split('id="live-events"')[1]
    assert "Sofiane Kaci (sofiane) a commencé une session." in events
    assert "Fin de la session de Sofiane Kaci (sofiane) : Fin au badge, 2 min." in events
    assert 'data-type="heartbeat"' not in events and '{"' not in events
    started = next(e for e in last_events(controller, 20) if e["type"] == "session_started")
    local = fmt.local_time(started["at"], "fr", controller.config.station.timezone)
    assert f'<time datetime="{started["at"]}">{local}</time>' in events
    assert local != started["at"] and "T" not in local
    shown = tech.get("/tech/?heartbeats=1").get_data(as_text=True)
    assert 'data-type="heartbeat"' in shown and "Signal de vie pendant la session" in shown


def test_out_of_service_and_back(tech: FlaskClient, controller: Controller) -> None:
    r = post(tech, "/tech/machine/out-of-service", reason="Lentille à nettoyer")
    assert r.status_code == 302
    status = controller.status()
    assert status["machine"]["state"] == "out_of_service"
    assert status["machine"]["reason"] == "Lentille à nettoyer"
    event = last_events(controller, 1)[0]
    assert event["type"] == "machine_state_changed" and event["data"]["by"] == "yanis"
    page = tech.get("/tech/").get_data(as_text=True)
    assert "C&#39;est fait." in page or "C'est fait." in page
    assert post(tech, "/tech/machine/back-in-service").status_code == 302
    assert controller.status()["machine"]["state"] == "available"
    assert last_events(controller, 1)[0]["data"]["by"] == "yanis"


def test_out_of_service_needs_a_reason(tech: FlaskClient, controller: Controller) -> None:
    post(tech, "/tech/machine/out-of-service", reason="  ")
    assert controller.status()["machine"]["state"] == "available"
    page = html.unescape(tech.get("/tech/").get_data(as_text=True))
    assert "Écris le motif : il s'affiche sur l'écran de la machine" in page
    assert "a reason is required" not in page, "the controller's English is not the message"


def page_after(tech: FlaskClient, path: str, **form: str) -> str:
    post(tech, path, **form)
    return html.unescape(tech.get("/tech/").get_data(as_text=True))


def test_every_refusal_of_the_machine_is_said_in_french(tech: FlaskClient) -> None:
    """Issue 11 item 11: the controller refuses in English (``error``) with a ``code``; the
    page says the code's sentence, never the English."""
    page = page_after(tech, "/tech/session/end")
    assert "Aucune session n'est en cours : rien à terminer." in page
    assert "no session is running" not in page
    page = page_after(tech, "/tech/machine/clear-check")
    assert "La machine n'attend pas de vérification : rien à valider." in page
    assert "not waiting for a check" not in page
    page = page_after(tech, "/tech/machine/back-in-service")
    assert "La machine n'est pas hors service : rien à remettre en service." in page
    assert "not out of service" not in page


def test_a_refusal_without_a_known_code_is_a_french_sentence(
    tech: FlaskClient, controller: Controller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A code the catalogs do not know yet: a plain French sentence, the English after it."""
    monkeypatch.setattr(
        controller, "call", lambda cmd: {"ok": False, "error": "cosmic rays", "code": "new"}
    )
    page = page_after(tech, "/tech/session/end")
    assert "La machine a refusé cette action, pour une raison que cette page" in page
    assert "(détail technique : cosmic rays)" in page


def test_end_session_and_clear_check(tech: FlaskClient, controller: Controller) -> None:
    controller.call(Tap(SOFIANE))
    assert post(tech, "/tech/session/end").status_code == 302
    ended = [e for e in last_events(controller, 3) if e["type"] == "session_ended"]
    assert ended[0]["data"]["end_reason"] == "technician" and ended[0]["data"]["by"] == "yanis"
    client_token = csrf(tech)
    tech.post("/kiosk/problem", json={"problem": "broken"}, headers={"X-CSRF-Token": client_token})
    assert controller.status()["machine"]["state"] == "to_check"
    assert post(tech, "/tech/machine/clear-check").status_code == 302
    assert controller.status()["machine"]["state"] == "available"
    assert last_events(controller, 1)[0]["data"]["by"] == "yanis"


def test_enrol_the_last_unknown_badge(tech: FlaskClient, controller: Controller) -> None:
    assert "Aucun badge inconnu récent" in tech.get("/tech/").get_data(as_text=True)
    controller.call(Tap(UNKNOWN))
    page = tech.get("/tech/").get_data(as_text=True)
    assert f"Dernier badge inconnu présenté : {UNKNOWN}" in page
    assert '<option value="noah">Noah Petit (noah)</option>' in page
    r = post(tech, "/tech/enrol", uid=UNKNOWN, member_id="noah")
    assert r.status_code == 302
    event = last_events(controller, 1)[0]
    assert event["type"] == "badge_enrolled"
    assert event["data"] == {
        "uid": UNKNOWN,
        "member_id": "noah",
        "by": "yanis",
        "previous_member_id": None,
    }
    assert "Badge DEADBEEF enregistré pour Noah." in tech.get("/tech/").get_data(as_text=True)
    assert controller.call(Tap(UNKNOWN))["reason"] == "not_qualified", "the badge is Noah's now"
    assert "Aucun badge inconnu récent" in tech.get("/tech/").get_data(as_text=True)


def test_enrol_refusals(tech: FlaskClient, controller: Controller) -> None:
    page = page_after(tech, "/tech/enrol", uid=SOFIANE, member_id="noah")
    assert f"Le badge {SOFIANE} appartient déjà à sofiane : l'équipe éducative" in page
    assert "already belongs to" not in page
    page = page_after(tech, "/tech/enrol", uid=UNKNOWN, member_id="ghost")
    assert "Aucun membre « ghost » dans la liste de cette station" in page
    assert "no member" not in page
    page = page_after(tech, "/tech/enrol", uid="not hex", member_id="noah")
    assert "Numéro de badge « not hex » refusé : 8, 14 ou 20 chiffres hexadécimaux" in page
    assert "is not 4, 7 or 10 bytes" not in page
    assert all(e["type"] != "badge_enrolled" for e in last_events(controller, 5))


def test_actions_when_the_controller_stopped(tech: FlaskClient, controller: Controller) -> None:
    token = csrf(tech)
    controller.stop()
    unavailable = "Le programme de la station ne répond pas (arrêté ou occupé) : réessaie"

    def flashed() -> list[str]:
        with tech.session_transaction() as s:
            return [text for _, text in s.pop("_flashes", [])]

    page = tech.get("/tech/")  # the page itself still opens, and says so
    assert page.status_code == 200
    assert unavailable in html.unescape(page.get_data(as_text=True))
    r = tech.post("/tech/session/end", data={"csrf_token": token})
    assert r.status_code == 302
    assert [m for m in flashed() if m.startswith(unavailable)]
    r = tech.post("/tech/enrol", data={"csrf_token": token, "uid": UNKNOWN, "member_id": "noah"})
    assert r.status_code == 302
    assert [m for m in flashed() if m.startswith(unavailable)]


def test_language_switch(tech: FlaskClient) -> None:
    r = post(tech, "/tech/language", lang="en", next="/tech/?type=heartbeat")
    assert r.status_code == 302 and r.headers["Location"] == "/tech/?type=heartbeat"
    page = tech.get("/tech/").get_data(as_text=True)
    assert '<html lang="en">' in page and "Station health" in page
    assert post(tech, "/tech/language", lang="de").status_code == 400
    assert "Santé de la station" in tech.get("/tech/?lang=fr").get_data(as_text=True)


def test_cpu_temperature(tmp_path: Path) -> None:
    f = tmp_path / "temp"
    f.write_text("48312\n")
    assert cpu_temperature(f) == pytest.approx(48.312)
    assert cpu_temperature(tmp_path / "missing") is None


def test_health_shows_the_sync_clients_view(tech: FlaskClient, controller: Controller) -> None:
    """The central store out of reach is a sentence (the station goes on, what to do), not a
    raw ``URLError``; the backlog and the time since the last success are in words. (This
    test asserted the raw ISO time and error before issue 11.)"""
    error = "URLError: <urlopen error [Errno 111] Connection refused>"
    now = controller.clock.now().at
    controller.set_sync_status(
        {
            "enabled": True,
            "acked_seq": 0,
            "state": "offline",
            "last_success_at": (now - timedelta(minutes=42)).isoformat(),
            "last_error": error,
            "next_attempt_in_s": 30.0,
        }
    )
    controller.call(Tap(UNKNOWN))  # one more event: two waiting, a plural
    backlog = controller.status()["sync"]["backlog"]  # every event: none acknowledged
    assert backlog >= 2
    page = html.unescape(tech.get("/tech/").get_data(as_text=True))
    health = page.split('id="live-health"')[1].split("</section>")[0]
    assert "Le serveur central ne répond pas" in health
    assert f"{backlog} événements attendent d'être envoyés." in health
    assert (
        "Dernière synchro réussie il y a 42 min." in health and "Nouvel essai dans 30 s." in health
    )
    value, detail = health.split("Connection refused")[0].rsplit("<td>", 1)[1].split("<details>")
    assert "URLError" not in value and "URLError" in detail, "the raw error is only a detail"


def test_a_sync_that_just_succeeded_is_said_so(tech: FlaskClient, controller: Controller) -> None:
    now = controller.clock.now().at
    status = {"enabled": True, "acked_seq": 0, "state": "ok", "last_success_at": now.isoformat()}
    controller.set_sync_status(status)
    page = html.unescape(tech.get("/tech/").get_data(as_text=True))
    assert "Dernière synchro réussie à l'instant." in page and "il y a 0 s" not in page


def test_health_says_whether_the_clock_is_set(
    tech: FlaskClient, controller: Controller, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = html.unescape(tech.get("/tech/").get_data(as_text=True))
    assert "Horloge simulée" in page and "réglée par le réseau" not in page  # the demo's clock
    monkeypatch.setattr(controller.clock, "simulated", False)  # as a Pi's system clock
    assert "À l'heure (réglée par le réseau)" in html.unescape(tech.get("/tech/").get_data(True))
    controller.clock.synced = False  # type: ignore[attr-defined]
    page = html.unescape(tech.get("/tech/").get_data(as_text=True))
    assert "Pas encore réglée par le réseau" in page


def test_health_counts_waiting_events_in_words(tech: FlaskClient, controller: Controller) -> None:
    """« 1 événement », « 0 événement » (French: 0 and 1 are singular), « 2 événements »."""
    from station.machine import Tap

    controller.call(Tap("04AB0001"))  # unknown badges: one event each
    controller.call(Tap("04AB0002"))
    controller.set_sync_status({"enabled": True, "acked_seq": 0})
    last = controller.status()["sync"]["backlog"]
    assert last >= 2
    for acked, words in (
        (last - 1, "1 événement attend d&#39;être envoyé."),
        (last, "0 événement attend d&#39;être envoyé."),
        (last - 2, "2 événements attendent d&#39;être envoyés."),
    ):
        controller.set_sync_status({"enabled": True, "acked_seq": acked})
        assert words in tech.get("/tech/").get_data(as_text=True)
    controller.set_sync_status({"enabled": True, "acked_seq": last - 1})
    assert "1 event waiting" in tech.get("/tech/?lang=en").get_data(as_text=True)


def test_logout_ends_a_copied_session(tech: FlaskClient, controller: Controller) -> None:
    """Before: the cookie stayed valid for 12 h after logout, wherever it had been copied."""
    from web.station.app import session_cookie_name

    name = session_cookie_name(controller.config.station.id)
    copied = tech.get_cookie(name)
    assert copied is not None
    assert post(tech, "/tech/logout").status_code == 302
    with make_app(controller).test_client() as thief:
        thief.set_cookie(name, copied.value)
        assert thief.get("/tech/").status_code == 302


def test_a_new_password_ends_the_old_sessions(tech: FlaskClient, controller: Controller) -> None:
    from station.accounts import add_technician, open_accounts

    db = open_accounts(controller.config.db_path)
    add_technician(db, "yanis", "a brand new passphrase", replace=True)
    db.close()
    assert tech.get("/tech/").status_code == 302


def test_an_open_stream_ends_with_the_session(
    tech: FlaskClient, controller: Controller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The full status (badge UIDs) stops flowing once the account is logged out elsewhere."""
    from station.accounts import end_sessions, open_accounts
    from web.station import public

    monkeypatch.setattr(public, "KEEPALIVE_S", 0.001)  # a stream that goes on says so at once

    r = tech.get("/tech/stream", buffered=False)
    chunks = iter(r.response)
    assert next(chunks).startswith(b"event: status")
    db = open_accounts(controller.config.db_path)
    end_sessions(db, "yanis")
    db.close()
    controller.call(Tap(UNKNOWN))  # something to send: the stream checks before sending it
    assert list(zip(range(100), chunks, strict=False)) == [], "the stream ended"
    r.close()


def test_every_event_type_has_a_sentence() -> None:
    """The fallback (label and data) is for types added later, not for today's."""
    from web.common.i18n import load_catalogs

    catalogs = load_catalogs("station")
    fr, en = catalogs["fr"], catalogs["en"]
    from station.events import EVENT_TYPES

    types = set(EVENT_TYPES)
    assert {"badge_enrolled", "power_without_permission"} <= types
    missing = sorted(
        t for t in types if f"tech.sentence.{t}" not in fr or f"tech.sentence.{t}" not in en
    )
    assert not missing, f"add tech.sentence.<type> to both catalogs: {missing}"


def test_codes_in_the_sentences_are_words() -> None:
    """A technician reads why, not ``air_pm25``; the kiosk and the central store are not
    people; a badge-out that left the machine in an air alarm did not cause it."""
    from web.common.i18n import load_catalogs
    from web.station.tech_events import describe

    fr = load_catalogs("station")["fr"]

    def gettext(key: str, **values: Any) -> str:
        text = fr.get(key, key)
        return (text if isinstance(text, str) else text[0]).format(**values)

    names = {"sofiane": "Sofiane", "lea": "Léa", "moussa": "Moussa"}
    air = {"from": "in_use", "to": "fault", "reason": "air_pm25", "by": "sofiane"}
    air["why"] = "session_ended:badge_out"
    assert describe("machine_state_changed", air, names, gettext) == (
        "Machine : En cours → Arrêt de sécurité à la fin de la session de Sofiane (sofiane). "
        "Motif : trop de particules dans l'air."
    )
    kiosk = {"from": "available", "to": "to_check", "reason": "problem_reported:broken"}
    kiosk |= {"why": "problem_reported", "by": "kiosk"}
    assert describe("machine_state_changed", kiosk, names, gettext) == (
        "Machine : Libre → À vérifier, par l'écran de la machine. "
        "Motif : problème signalé : « J'ai cassé quelque chose »."
    )
    problem = {"problem": "strange_noise", "by": "kiosk"}
    assert describe("problem_reported", problem, names, gettext) == (
        "Problème signalé par l'écran de la machine : « La machine fait un bruit bizarre »."
    )
    grant = {"member_id": "lea", "granted_by": "moussa", "level": "autonomous", "kind": "laser"}
    assert describe("qualification_granted", grant, names, gettext) == (
        "Moussa (moussa) a validé Léa (lea) au niveau « Autonome » sur la découpe laser."
    )
    typed = {"from": "available", "to": "out_of_service", "reason": "lentille", "by": "yanis"}
    assert describe("machine_state_changed", {**typed, "why": "command"}, names, gettext).endswith(
        "Motif : lentille."
    )


# --- enrolment at the central store ----------------------------------------------------------


@pytest.fixture
def central_store(tmp_path: Path) -> Iterator[Any]:
    from station.roster import parse_roster_csv
    from tests.conftest import sample_roster_text

    store = open_central_store(tmp_path / "central" / "central.sqlite")
    store.import_roster(parse_roster_csv(sample_roster_text()))
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def online(
    tech: FlaskClient, controller: Controller, central_store: Any, tmp_path: Path
) -> FlaskClient:
    """The station configured with a central store, reached through its Flask app."""
    from station.sync import Reply
    from tests.test_central_helpers import central_config
    from web.central.app import create_central_app
    from web.station.technician import CENTRAL_TRANSPORT

    token = central_store.add_station("laser-1", kind="laser")
    central = create_central_app(central_store, central_config(tmp_path)).test_client()

    def transport(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Reply:
        r = central.post(url.removeprefix("http://central.test"), data=body, headers=headers)
        return Reply(r.status_code, r.get_json() or {})

    section = dataclasses.replace(controller.config.central, url="http://central.test", token=token)
    controller.config = dataclasses.replace(controller.config, central=section)
    tech.application.extensions[CENTRAL_TRANSPORT] = transport
    return tech


def test_enrolment_goes_to_the_central_store_so_every_station_gets_the_badge(
    online: FlaskClient, controller: Controller, central_store: Any
) -> None:
    """Before issue 11 the badge worked only at the station where it was enrolled."""
    version = central_store.roster_version()
    controller.call(Tap(UNKNOWN))
    post(online, "/tech/enrol", uid=UNKNOWN, member_id="noah")
    page = html.unescape(online.get("/tech/").get_data(as_text=True))
    assert "Badge DEADBEEF enregistré pour Noah Petit au serveur central" in page
    changes = central_store.roster_changes(version)
    assert [(b["uid"], b["member_id"]) for b in changes["badges"]] == [(UNKNOWN, "noah")]
    (row,) = central_store.station_enrolments()
    assert (row["station_id"], row["by"]) == ("laser-1", "yanis")
    event = last_events(controller, 1)[0]
    assert event["type"] == "badge_enrolled" and event["data"]["at_central"] is True
    badge = controller.run_in_loop(lambda: controller.store.roster().badge(UNKNOWN))
    assert badge.member_id == "noah" and badge.active, "it works here at once"


def test_a_new_member_is_created_at_the_central_store(
    online: FlaskClient, controller: Controller, central_store: Any
) -> None:
    controller.call(Tap(UNKNOWN))
    post(online, "/tech/enrol", uid=UNKNOWN, member_id="", new_name="Zoé Leroy")
    page = html.unescape(online.get("/tech/").get_data(as_text=True))
    assert "Badge DEADBEEF enregistré pour Zoé Leroy au serveur central" in page
    members = {m["id"]: m["name"] for m in central_store.roster_rows()["members"]}
    assert members["zoe-leroy"] == "Zoé Leroy"
    # Until the roster brings her here, the same badge is not offered again (a second click
    # would be refused by the central store: the badge is held).
    assert 'id="enrol-form"' not in page
    assert "il marchera ici dès la prochaine synchro (quelques secondes)" in page


def test_the_central_store_out_of_reach_offers_the_local_enrolment(
    online: FlaskClient, controller: Controller
) -> None:
    from station.sync import SyncError
    from web.station.technician import CENTRAL_TRANSPORT

    def unreachable(*args: object) -> Any:
        raise SyncError("offline", "URLError: <urlopen error [Errno 111] Connection refused>")

    online.application.extensions[CENTRAL_TRANSPORT] = unreachable
    controller.call(Tap(UNKNOWN))
    post(online, "/tech/enrol", uid=UNKNOWN, member_id="noah")
    page = html.unescape(online.get("/tech/").get_data(as_text=True))
    assert "Le serveur central ne répond pas : le badge n'est pas enregistré." in page
    assert "Enregistrer sur cette station seulement" in page
    assert all(e["type"] != "badge_enrolled" for e in last_events(controller, 5))
    post(online, "/tech/enrol", uid=UNKNOWN, member_id="noah", local="1")
    page = html.unescape(online.get("/tech/").get_data(as_text=True))
    assert "sur cette station seulement. Refais-le au serveur central" in page
    event = last_events(controller, 1)[0]
    assert event["type"] == "badge_enrolled" and event["data"]["at_central"] is False
    assert "Enregistrer sur cette station seulement" not in page, "the offer is gone"


def test_the_central_store_refuses_a_badge_someone_holds(
    online: FlaskClient, controller: Controller, central_store: Any
) -> None:
    central_store.add_badge(UNKNOWN, "sofiane")  # given at the central store, not yet synced
    post(online, "/tech/enrol", uid=UNKNOWN, member_id="noah")
    page = html.unescape(online.get("/tech/").get_data(as_text=True))
    assert f"Le badge {UNKNOWN} est déjà dans la liste du serveur central" in page
    assert "already in the roster" not in page, "the central store's English is not the message"
    assert "Enregistrer sur cette station seulement" not in page
    assert all(e["type"] != "badge_enrolled" for e in last_events(controller, 5))


def test_the_central_store_refuses_an_inactive_member_in_french(
    online: FlaskClient, controller: Controller, central_store: Any
) -> None:
    from station.model import Role

    central_store.upsert_member("noah", "Noah Petit", Role.TRAINEE, active=False)
    page = page_after(online, "/tech/enrol", uid=UNKNOWN, member_id="noah")
    assert "Le membre « noah » est désactivé au serveur central : l'équipe éducative" in page
    assert "is inactive" not in page
    page = page_after(online, "/tech/enrol", uid=UNKNOWN, member_id="ghost")
    assert "Le serveur central ne connaît pas le membre « ghost »" in page
    assert all(e["type"] != "badge_enrolled" for e in last_events(controller, 5))


def test_a_central_refusal_without_a_code_is_a_french_sentence(
    online: FlaskClient, controller: Controller
) -> None:
    """An older central store answers without ``code``: a French sentence, its English after."""
    from station.sync import Reply
    from web.station.technician import CENTRAL_TRANSPORT

    online.application.extensions[CENTRAL_TRANSPORT] = lambda *a: Reply(409, {"error": "nope"})
    page = page_after(online, "/tech/enrol", uid=UNKNOWN, member_id="noah")
    assert "Le serveur central refuse ce badge, pour une raison que cette page" in page
    assert "(détail technique : nope)" in page
