"""The central store's pages: login and roles, CSRF, the URL map check, dashboard, roster admin."""

from __future__ import annotations

import html as html_module
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from central.sqlite import SqliteCentralStore
from station.roster import parse_roster_csv
from tests.conftest import sample_roster_text
from tests.test_central_helpers import central_config
from web.central.app import create_central_app

PASSWORD = "a long passphrase"
PUBLIC = {"static", "central_auth.login", "central_auth.home", "central_auth.logout"}
PUBLIC |= {  # what a school or an employer reaches to check a badge (docs/credentials.md)
    f"central_credentials.{name}"
    for name in (
        "issuer_profile",
        "jwks",
        "key",
        "revocation_list",
        "achievement",
        "achievement_picture",
        "verify_page",
    )
}
"""Endpoints open without a login. Everything else must refuse an anonymous request."""
SIGNED = {"central_progress.own", "central_credentials.download_own", "central_quiz.take"}
"""Open only with a link signed by the server (a trainee's own progress): a forged one is 404."""
BEARER = {"health", "sync", "enrol", "openapi", "metrics"}
"""The API: the sync endpoint checks its own bearer token; health and the description are open;
``/metrics`` answers only ``[server] metrics_from`` (tests/test_metrics.py)."""


@pytest.fixture
def store(central_store: SqliteCentralStore) -> Iterator[SqliteCentralStore]:
    s = central_store
    s.import_roster(parse_roster_csv(sample_roster_text()))
    for user, role in (("admin", "admin"), ("ines", "educator"), ("yanis", "technician")):
        s.add_user(user, PASSWORD, role)
    s.add_station("laser-1", name="Découpe laser", kind="laser")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def app(tmp_path: Path, store: SqliteCentralStore) -> Flask:
    app = create_central_app(store, central_config(tmp_path))
    app.config["TESTING"] = True
    return app


def csrf_of(client: FlaskClient) -> str:
    html = client.get("/login").get_data(as_text=True)
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the login page"
    return m.group(1)


def login(client: FlaskClient, user: str) -> str:
    token = csrf_of(client)
    r = client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)
    return csrf_of(client)  # a login starts a new session, with a new token


def test_login_wrong_password_and_logout(app: Flask) -> None:
    client = app.test_client()
    token = csrf_of(client)
    r = client.post("/login", data={"username": "ines", "password": "nope", "csrf_token": token})
    assert r.status_code == 401 and "incorrect" in r.get_data(as_text=True)
    token = login(client, "ines")
    assert client.get("/admin/").status_code == 200
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/admin/").status_code == 302


def _sample_value(m: re.Match[str]) -> str:
    """A value for a URL placeholder: the first choice of ``any(a, b):name``, else ``x``."""
    choices = re.match(r"any\(([^,)]+)", m.group(1))
    return choices.group(1).strip() if choices else "x"


def test_every_page_rejects_anonymous_requests(app: Flask) -> None:
    client = app.test_client()
    token = csrf_of(client)  # a session with a CSRF token, but nobody logged in
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or rule.endpoint in BEARER:
            continue
        if rule.endpoint in SIGNED:
            assert client.get(rule.rule.replace("<token>", "forged")).status_code == 404
            continue
        url = re.sub(r"<([^>]+)>", _sample_value, rule.rule)
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            if method == "GET":
                r = client.get(url)
                assert r.status_code == 302 and "/login" in r.headers["Location"], (url, method)
            else:
                r = client.post(url, data={"csrf_token": token})
                assert r.status_code == 401, (url, method, r.status_code)
            checked += 1
    assert checked >= 15
    # And the sync API refuses a request without a token.
    assert client.post("/api/v1/sync", json={}).status_code == 401
    assert client.post("/api/v1/enrol", json={}).status_code == 401


def test_posts_need_the_csrf_token(app: Flask) -> None:
    client = app.test_client()
    login(client, "admin")
    r = client.post("/admin/members", data={"id": "zoe", "name": "Zoé", "role": "trainee"})
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)


def test_roles(app: Flask) -> None:
    tech = app.test_client()
    login(tech, "yanis")
    assert tech.get("/dash/").status_code == 200
    assert tech.get("/admin/").status_code == 403
    edu = app.test_client()
    login(edu, "ines")
    assert edu.get("/dash/").status_code == 403
    assert edu.get("/admin/stations").status_code == 403
    boss = app.test_client()
    login(boss, "admin")
    for url in ("/dash/", "/admin/", "/admin/stations"):
        assert boss.get(url).status_code == 200


def test_dashboard_shows_the_fleet_and_sends_commands(
    app: Flask, store: SqliteCentralStore
) -> None:
    client = app.test_client()
    token = login(client, "yanis")
    html = client.get("/dash/").get_data(as_text=True)
    assert "Découpe laser" in html and "hors ligne" in html
    r = client.post(
        "/dash/stations/laser-1/commands",
        data={"action": "lock", "reason": "tube HS", "csrf_token": token},
    )
    assert r.status_code == 302
    assert store.pending_commands("laser-1")[0]["action"] == "lock"
    r = client.post("/dash/stations/laser-1/commands", data={"action": "lock", "csrf_token": token})
    page = html_module.unescape(client.get("/dash/").get_data(as_text=True))
    assert "Écris le motif : il s'affiche sur l'écran de la machine" in page
    assert "needs a reason" not in page
    stream = client.get("/dash/stream", buffered=False)
    assert stream.mimetype == "text/event-stream"
    first = next(iter(stream.response))
    stream.close()
    text = first.decode() if isinstance(first, bytes) else first
    assert text.startswith("event: fleet") and "laser-1" in text


def test_roster_admin(app: Flask, store: SqliteCentralStore) -> None:
    client = app.test_client()
    token = login(client, "ines")
    version = store.roster_version()
    client.post(
        "/admin/members",
        data={"id": "zoe", "name": "Zoé Leroy", "role": "trainee", "csrf_token": token},
    )
    client.post("/admin/members/zoe/badges", data={"uid": "04:aa:bb:cc", "csrf_token": token})
    client.post(
        "/admin/members/zoe/qualifications",
        data={"kind": "laser", "level": "supervised", "csrf_token": token},
    )
    detail = client.get("/admin/members/zoe").get_data(as_text=True)
    assert "04AABBCC" in detail and "laser : supervised" in detail and "par ines" in detail
    client.post("/admin/badges/04AABBCC/revoke", data={"csrf_token": token})
    assert store.roster_version() == version + 4
    changes = store.roster_changes(version)
    assert changes is not None and changes["badges"][0]["active"] is False
    csv_text = client.get("/admin/roster/export.csv").get_data(as_text=True)
    assert "zoe,Zoé Leroy,trainee,,laser:supervised" in csv_text
    bad = io.BytesIO(b"member_id,name,role,badge_uid,qualifications\nx,,trainee,,\n")
    r = client.post(
        "/admin/roster/import",
        data={"csv": (bad, "bad.csv"), "csrf_token": token},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Ligne 2 : le nom est vide." in r.get_data(as_text=True)


def test_a_new_station_shows_its_token_once(app: Flask, store: SqliteCentralStore) -> None:
    client = app.test_client()
    token = login(client, "admin")
    r = client.post("/admin/stations", data={"id": "cnc-1", "kind": "cnc", "csrf_token": token})
    m = re.search(r"(fst_[A-Za-z0-9_-]+)", r.get_data(as_text=True))
    assert m and store.station_for_token(m.group(1)) == "cnc-1"
    assert m.group(1) not in client.get("/admin/stations").get_data(as_text=True)


def test_central_catalogs_cover_every_key_in_both_languages(app: Flask) -> None:
    from web.central.pages import load_catalogs

    catalogs = load_catalogs()
    assert set(catalogs["fr"]) == set(catalogs["en"])
    web = Path(__file__).resolve().parent.parent / "web"
    text = "".join(p.read_text("utf-8") for p in web.glob("central/templates/*.html"))
    text += "".join(p.read_text("utf-8") for p in web.glob("central/*.py"))
    used = set(re.findall(r"""\bt\(\s*["'](c\.[\w.]+)["']""", text))
    assert len(used) > 100
    missing = [k for k in used if not k.endswith(".") and k not in catalogs["fr"]]
    assert not missing, missing
    client = app.test_client()
    assert "Connexion" in client.get("/login").get_data(as_text=True)
    assert "Log in" in client.get("/login?lang=en").get_data(as_text=True)
    assert "Log in" in client.get("/login").get_data(as_text=True)  # the choice sticks


def _import(client: FlaskClient, token: str, text: str) -> str:
    r = client.post(
        "/admin/roster/import",
        data={"csv": (io.BytesIO(text.encode()), "bad.csv"), "csrf_token": token},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    return r.get_data(as_text=True)


def test_import_errors_are_in_french_and_count_rows(app: Flask) -> None:
    """Three bad rows (one with two problems) are « 3 lignes », each said in French."""
    client = app.test_client()
    token = login(client, "ines")
    html = _import(
        client,
        token,
        "member_id,name,role,badge_uid,qualifications\n"
        "x,,boss,,\n"  # two problems on one row
        "y,Yanis,trainee,ZZ,\n"
        "z,Zoé,trainee,,laser:expert\n",
    )
    assert "3 lignes du fichier ont un problème" in html
    assert "Ligne 2 : le nom est vide." in html
    assert "Ligne 2 : le rôle « boss » doit être trainee, educator ou technician." in html
    assert "Ligne 3 : le badge « ZZ »" in html
    assert "Ligne 4 : le niveau « expert » pour laser" in html
    assert "bad row" not in html and "line 2" not in html
    one = _import(client, token, "member_id,name,role,badge_uid,qualifications\nq,,trainee,,\n")
    assert "1 ligne du fichier a un problème" in one
    header = _import(client, token, "id,nom\n")
    assert "La première ligne doit être exactement member_id,name,role" in header
    client.get("/admin/?lang=en")
    english = _import(client, token, "member_id,name,role,badge_uid,qualifications\nq,,t,,\n")
    assert "1 row of the file has a problem" in english and "Line 2: the name is empty." in english


def test_a_bad_badge_number_is_said_in_french(app: Flask) -> None:
    client = app.test_client()
    token = login(client, "ines")
    r = client.post(
        "/admin/members/lea/badges",
        data={"uid": "nope", "csrf_token": token},
        follow_redirects=True,
    )
    assert "le badge « nope »" in r.get_data(as_text=True)


def _flashed_after(client: FlaskClient, path: str, token: str, **form: str) -> str:
    client.post(path, data={**form, "csrf_token": token})
    with client.session_transaction() as s:
        return " | ".join(text for _, text in s.pop("_flashes", []))


@pytest.mark.parametrize(
    ("form", "french", "english"),
    [
        ({"id": "laser-1"}, "La station laser-1 existe déjà : choisis un autre", "exists already"),
        ({"id": "Laser 2"}, "Identifiant de station « Laser 2 » refusé", "use lower-case"),
        ({"id": "cnc-2", "site": "nowhere"}, "Le fablab « nowhere » n'existe pas", "no site"),
    ],
)
def test_adding_a_station_says_what_is_wrong_in_french(
    app: Flask, form: dict[str, str], french: str, english: str
) -> None:
    """Issue 11 item 11: the store's English (kept for the API and the CLI) is not the message."""
    client = app.test_client()
    said = _flashed_after(client, "/admin/stations", login(client, "admin"), **form)
    assert french in said and english not in said


@pytest.mark.parametrize(
    ("form", "french", "english"),
    [
        ({"username": "ines", "password": PASSWORD, "role": "educator"},
         "Le compte ines existe déjà : coche « Remplacer s'il existe »", "exists already"),
        ({"username": "zoe", "password": "short", "role": "educator"},
         "Mot de passe trop court : il faut au moins", "at least"),
        ({"username": "Zoé !", "password": PASSWORD, "role": "educator"},
         "Identifiant de compte refusé : 2 à 32 lettres minuscules", "a username is"),
        ({"username": "zoe", "password": PASSWORD, "role": "boss"},
         "Rôle inconnu : choisis équipe éducative, équipe technique ou administration.",
         "role must be"),
        ({"username": "zoe", "password": PASSWORD, "role": "educator", "site": "nowhere"},
         "Le fablab « nowhere » n'existe pas", "no site"),
    ],
)  # fmt: skip
def test_adding_an_account_says_what_is_wrong_in_french(
    app: Flask, form: dict[str, str], french: str, english: str
) -> None:
    client = app.test_client()
    said = _flashed_after(client, "/admin/users", login(client, "admin"), **form)
    assert french in said and english not in said


def test_adding_a_site_says_what_is_wrong_in_french(app: Flask) -> None:
    client = app.test_client()
    said = _flashed_after(client, "/admin/sites", login(client, "admin"), id="Mon Fablab")
    assert "Identifiant de fablab « Mon Fablab » refusé" in said and "use lower-case" not in said


@pytest.mark.parametrize(
    ("form", "french", "english"),
    [
        ({"action": "lock"}, "Écris le motif : il s'affiche sur l'écran", "needs a reason"),
        ({"action": "explode"}, "Commande inconnue : choisis-en une", "action must be"),
        ({"action": "lock", "reason": "x" * 300}, "Motif trop long : 200 caractères", "at most"),
        ({"action": "revoke_badge"}, "Indique le numéro du badge à désactiver", "needs the badge"),
        ({"action": "revoke_badge", "uid": "ZZ"}, "Numéro de badge « ZZ » refusé", "bytes of hex"),
    ],
)
def test_a_command_says_what_is_wrong_in_french(
    app: Flask, form: dict[str, str], french: str, english: str
) -> None:
    client = app.test_client()
    said = _flashed_after(client, "/dash/stations/laser-1/commands", login(client, "yanis"), **form)
    assert french in said and english not in said


def test_a_command_to_a_revoked_station_is_said_in_french(
    app: Flask, store: SqliteCentralStore
) -> None:
    store.revoke_station("laser-1")
    client = app.test_client()
    token = login(client, "yanis")
    said = _flashed_after(client, "/dash/stations/laser-1/commands", token, action="unlock")
    assert "La station laser-1 n'est pas (ou plus) active" in said
    assert "no active station" not in said


def test_an_error_without_a_code_is_a_french_sentence(app: Flask) -> None:
    """A code the catalogs do not know (or none): a French sentence, the English after it."""
    from central.errors import BadRequest
    from web.central.pages import central_error_text

    with app.test_request_context("/?lang=fr"):
        text = central_error_text(BadRequest("the moon is full", code="lunar"))
    assert text.startswith("Le serveur central a refusé, pour une raison que cette page")
    assert text.endswith("(détail technique : the moon is full).")


def test_a_roster_file_that_cannot_be_read_is_said_in_french(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A roster error with no row to name (a file that is not a roster at all)."""
    from station.errors import RosterError
    from web.central import pages

    def unreadable(text: str, source: str) -> None:
        raise RosterError(f"{source}: cannot be read: it is a picture")

    monkeypatch.setattr(pages, "parse_roster_csv", unreadable)
    client = app.test_client()
    html = html_module.unescape(_import(client, login(client, "ines"), "whatever"))
    assert "Ce fichier ne peut pas être lu comme une liste de membres" in html
    assert "(détail technique : bad.csv: cannot be read: it is a picture)" in html
