"""Credentials on the central store's pages: what verifiers fetch over HTTP, what educators and
trainees do. The independent checks (PyJWT's JWKS client, openbadgeslib's status check) reach a
real server on 127.0.0.1."""

from __future__ import annotations

import html
import io
import json
import re
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
import waitress
from flask import Flask
from flask.testing import FlaskClient
from openbadgeslib.ob3 import OB3VerificationError, OB3Verifier, check_credential_status

from central.config import parse_config
from central.credentials import jws
from central.sqlite import SqliteCentralStore
from station.roster import parse_roster_csv
from tests.conftest import open_central_store, sample_roster_text
from tests.test_central_helpers import CentralServer
from tests.test_central_web import PASSWORD, csrf_of, login
from web.central.app import create_central_app


def credentials_config(tmp_path: Path, public_url: str = "https://badges.fabrique.example") -> Any:
    raw = {
        "server": {"host": "127.0.0.1", "port": 0},
        "storage": {"data_dir": str(tmp_path / "central")},
        "credentials": {"public_url": public_url, "issuer_name": "Fabrique de Gonesse"},
    }
    return parse_config(raw, tmp_path / "central.toml")


def fill(store: SqliteCentralStore) -> None:
    store.import_roster(parse_roster_csv(sample_roster_text()))
    for user, role in (("admin", "admin"), ("ines", "educator"), ("yanis", "technician")):
        store.add_user(user, PASSWORD, role)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    store = open_central_store(tmp_path / "central" / "central.sqlite")
    fill(store)
    app = create_central_app(store, credentials_config(tmp_path))
    app.config["TESTING"] = True
    try:
        yield app
    finally:
        store.close()


def text_of(r: Any) -> str:
    return html.unescape(r.get_data(as_text=True))


def form_token(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m
    return m.group(1)


def consent_and_issue(client: FlaskClient, member: str = "sofiane", **form: str) -> str:
    csrf = login(client, "ines")
    r = client.post(
        f"/admin/members/{member}/credentials/consent",
        data={"csrf_token": csrf, "name_choice": "initial", **form},
    )
    assert r.status_code == 302
    r = client.post(
        f"/admin/members/{member}/credentials/issue", data={"csrf_token": csrf, "kind": "laser"}
    )
    assert r.status_code == 302
    page = client.get(f"/reports/progress/{member}").get_data(as_text=True)
    assert "délivré : le jeune peut le télécharger" in html.unescape(page)
    m = re.search(r'href="(/admin/credentials/[^"]+)\.png"', page)
    assert m, page
    return m.group(1)


def test_an_educator_issues_and_the_verification_page_says_genuine(app: Flask) -> None:
    client = app.test_client()
    base = consent_and_issue(client)
    page = html.unescape(client.get("/reports/progress/sofiane").get_data(as_text=True))
    assert "<strong>Découpe laser — autonome</strong> — délivré le" in page
    png = client.get(base + ".png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    public = app.test_client()
    form = public.get("/verify").get_data(as_text=True)
    r = public.post(
        "/verify",
        data={"csrf_token": form_token(form), "badge": (io.BytesIO(png.data), "badge.png")},
        content_type="multipart/form-data",
    )
    text = text_of(r)
    assert r.status_code == 200
    assert "Badge authentique et valable" in text and "Sofiane K." in text
    assert "Découpe laser — autonome" in text


def test_revoked_and_tampered_are_told_apart_on_the_page(app: Flask) -> None:
    client = app.test_client()
    base = consent_and_issue(client)
    token = client.get(base + ".jwt").get_data(as_text=True)
    h, p, s = token.split(".")
    forged = f"{h}.{p[:-4]}AAAA.{s}"
    public = app.test_client()
    csrf = form_token(public.get("/verify").get_data(as_text=True))
    r = public.post("/verify", data={"csrf_token": csrf, "credential": forged})
    assert r.status_code == 422
    assert "Badge modifié" in text_of(r) or "pas un badge lisible" in r.get_data(as_text=True)
    csrf_ed = csrf_of(client)
    cred_id = base.removeprefix("/admin/credentials/")
    r = client.post(
        f"/admin/credentials/{cred_id}/revoke", data={"csrf_token": csrf_ed, "reason": "erreur"}
    )
    assert r.status_code == 302
    r = public.post("/verify", data={"csrf_token": csrf, "credential": token})
    assert "Badge révoqué" in text_of(r)
    assert client.get(base + ".png").status_code == 410  # no longer downloadable


def test_a_signature_that_no_longer_matches_is_tampered(app: Flask) -> None:
    client = app.test_client()
    base = consent_and_issue(client)
    token = client.get(base + ".jwt").get_data(as_text=True)
    h, _p, s = token.split(".")
    body = jws.parse(token).payload
    body["credentialSubject"]["identifier"][0]["identityHash"] = "Quelqu'un"
    forged = f"{h}.{jws.b64url(jws.canonical_json(body))}.{s}"
    public = app.test_client()
    csrf = form_token(public.get("/verify").get_data(as_text=True))
    r = public.post("/verify", data={"csrf_token": csrf, "credential": forged})
    assert r.status_code == 422 and "Badge modifié" in text_of(r)


def test_a_minor_without_a_parent_is_refused_in_french(app: Flask) -> None:
    client = app.test_client()
    csrf = login(client, "ines")
    r = client.post(
        "/admin/members/lea/credentials/consent",
        data={"csrf_token": csrf, "name_choice": "initial", "minor": "1", "consent_by": ""},
        follow_redirects=True,
    )
    assert "écris le nom du parent ou responsable" in text_of(r)
    r = client.post(
        "/admin/members/sofiane/credentials/issue",
        data={"csrf_token": csrf, "kind": "laser"},
        follow_redirects=True,
    )
    assert "Enregistre d'abord l'accord" in text_of(r)


def test_a_level_too_low_is_a_clear_message(app: Flask) -> None:
    client = app.test_client()
    csrf = login(client, "ines")
    client.post(
        "/admin/members/lea/credentials/consent",
        data={"csrf_token": csrf, "name_choice": "custom", "display_name": "Léa"},
    )
    r = client.post(
        "/admin/members/lea/credentials/issue",
        data={"csrf_token": csrf, "kind": "laser"},
        follow_redirects=True,
    )
    assert "ce jeune est au niveau supervised sur laser" in text_of(r) or (
        "au niveau" in text_of(r)
    )
    store = app.extensions["central_store"]
    assert store.credentials_of("lea") == []


def test_the_trainee_downloads_hers_by_her_personal_link_and_nobody_elses(app: Flask) -> None:
    client = app.test_client()
    consent_and_issue(client, "sofiane")
    consent_and_issue(client, "moussa")
    page = client.get("/reports/progress/sofiane").get_data(as_text=True)
    link = re.search(r"<code>http://localhost(/progress/[^<]+)</code>", page)
    assert link, page
    own = app.test_client().get(link.group(1)).get_data(as_text=True)
    m = re.search(r'href="(/progress/[^"]+/credentials/[^"]+)\.png"', own)
    assert m, own
    r = app.test_client().get(m.group(1) + ".png")
    assert r.status_code == 200 and r.mimetype == "image/png"
    moussa = app.extensions["central_store"].credentials_of("moussa")[0]["id"]
    other = m.group(1).rsplit("/credentials/", 1)[0] + f"/credentials/{moussa}.png"
    assert app.test_client().get(other).status_code == 404


def test_without_a_public_url_credentials_stay_off(tmp_path: Path) -> None:
    store = open_central_store(tmp_path / "central" / "central.sqlite")
    fill(store)
    app = create_central_app(store, credentials_config(tmp_path, public_url=""))
    try:
        client = app.test_client()
        assert client.get("/.well-known/jwks.json").status_code == 404
        assert "pas encore en place" in client.get("/verify").get_data(as_text=True)
    finally:
        store.close()


# --- over real HTTP, checked by libraries nobody here wrote ------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[CentralServer]:
    # the public URL must be the server's own address: start once to learn the port, then set it
    probe = CentralServer(credentials_config(tmp_path))
    port = probe.port
    probe.stop()
    config = credentials_config(tmp_path, f"http://127.0.0.1:{port}")
    store = open_central_store(config.db_path)
    fill(store)
    s = CentralServer.__new__(CentralServer)
    s.config, s.store = config, store
    s.app = create_central_app(store, config)
    s.server = waitress.create_server(s.app, host="127.0.0.1", port=port, threads=4)
    s.port, s.url = port, f"http://127.0.0.1:{port}"
    s.thread = threading.Thread(target=s.server.run, daemon=True)
    s.thread.start()
    try:
        yield s
    finally:
        s.stop()


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:
        return bytes(r.read())


def test_a_verifier_finds_the_key_by_kid_and_the_revocation_over_http(
    server: CentralServer,
) -> None:
    client = server.app.test_client()
    base = consent_and_issue(client)
    token = client.get(base + ".jwt").get_data(as_text=True)
    kid = jwt.get_unverified_header(token)["kid"]
    assert kid.startswith(server.url + "/credentials/keys/")
    # the kid URL answers a bare JWK, the JWKS holds it, no private part anywhere
    jwk = json.loads(fetch(kid))
    assert jwk["kid"] == kid and "d" not in jwk
    signing = jwt.PyJWKClient(server.url + "/.well-known/jwks.json").get_signing_key_from_jwt(token)
    cred = OB3Verifier(signing.key).verify(token)
    assert cred.achievement.name == "Découpe laser — autonome"
    check_credential_status(cred, download=fetch, verify_list=True, list_pubkey_pem=signing.key)

    cred_id = base.removeprefix("/admin/credentials/")
    client.post(
        f"/admin/credentials/{cred_id}/revoke",
        data={"csrf_token": csrf_of(client), "reason": "test"},
    )
    with pytest.raises(OB3VerificationError, match="revocation"):
        check_credential_status(cred, download=fetch, verify_list=True, list_pubkey_pem=signing.key)
    profile = json.loads(fetch(server.url + "/credentials/issuer"))
    assert profile["id"] == cred.issuer.id and profile["name"] == "Fabrique de Gonesse"
    assert datetime.now(UTC).year >= 2026


def test_withdrawn_consent_stops_new_badges_and_keeps_the_issued_ones(app: Flask) -> None:
    client = app.test_client()
    consent_and_issue(client, "sofiane")
    csrf = csrf_of(client)
    r = client.post(
        "/admin/members/sofiane/credentials/consent/withdraw", data={"csrf_token": csrf}
    )
    assert r.status_code == 302
    page = text_of(client.get("/reports/progress/sofiane"))
    assert "Accord retiré" in page and "Pas encore d'accord" in page
    store = app.extensions["central_store"]
    assert store.consent("sofiane") is None
    assert [c["revoked_at"] for c in store.credentials_of("sofiane")] == [None]
    csrf = csrf_of(client)
    client.post(
        "/admin/members/moussa/credentials/issue", data={"csrf_token": csrf, "kind": "laser"}
    )
    assert store.credentials_of("moussa") == []
