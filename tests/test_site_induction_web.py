"""Educators record a site's own induction on the member's page (issue 13): CSRF, scoped to the
educator's site (another site's member is a 404 and nothing is written), the roster version moves
so the stations get it. On both backends (the ``central_store`` fixture)."""

from __future__ import annotations

from flask import Flask

from central.store import CentralStore
from tests.test_security_sites import app, login, store  # noqa: F401 (fixtures)

URL = "/admin/members/{}/site-induction"


def test_an_educator_records_her_sites_induction_for_her_member(
    app: Flask,  # noqa: F811
    store: CentralStore,  # noqa: F811
) -> None:
    client, token = login(app, "ed-a")
    page = client.get("/admin/members/lea").get_data(as_text=True)
    assert "Induction du fablab" in page and "Enregistrer l&#39;induction" in page
    before = store.roster_version()
    r = client.post(URL.format("lea"), data={"csrf_token": token, "kind": "laser"})
    assert r.status_code == 302
    assert ["lea", "laser"] in store.site_inductions("site-a")["inducted"]
    assert store.roster_version() > before  # the stations' next sync carries it
    page = client.get("/admin/members/lea").get_data(as_text=True)
    assert "enregistrée" in page and "Enregistrer l&#39;induction" not in page


def test_a_kind_the_site_does_not_ask_for_records_nothing(
    app: Flask,  # noqa: F811
    store: CentralStore,  # noqa: F811
) -> None:
    client, token = login(app, "ed-a")
    r = client.post(
        URL.format("lea"), data={"csrf_token": token, "kind": "cnc"}, follow_redirects=True
    )
    assert "ne demande pas sa propre induction pour cnc" in r.get_data(as_text=True)
    assert store.site_inductions("site-a")["inducted"] == []


def test_without_the_csrf_token_nothing_is_recorded(
    app: Flask,  # noqa: F811
    store: CentralStore,  # noqa: F811
) -> None:
    client, _ = login(app, "ed-a")
    r = client.post(URL.format("lea"), data={"kind": "laser"})
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)
    assert store.site_inductions("site-a")["inducted"] == []


def test_another_sites_educator_gets_404_and_writes_nothing(
    app: Flask,  # noqa: F811
    store: CentralStore,  # noqa: F811
) -> None:
    store.add_user("ed-b", "a long passphrase", "educator", site_id="site-b")
    client, token = login(app, "ed-b")
    assert client.get("/admin/members/lea").status_code == 404
    for site in ("site-a", "site-b"):
        r = client.post(
            URL.format("lea"), data={"csrf_token": token, "kind": "laser", "site": site}
        )
        assert r.status_code == 404
    assert store.site_inductions("site-a")["inducted"] == []
    assert store.site_inductions("site-b")["inducted"] == []


def test_a_network_account_picks_the_site(
    app: Flask,  # noqa: F811
    store: CentralStore,  # noqa: F811
) -> None:
    client, token = login(app, "network")
    page = client.get("/admin/members/amina").get_data(as_text=True)
    assert "(site-a)" in page and "(site-b)" in page
    r = client.post(
        URL.format("amina"), data={"csrf_token": token, "kind": "laser", "site": "site-a"}
    )
    assert r.status_code == 302
    assert store.site_inductions("site-a")["inducted"] == [["amina", "laser"]]
    assert store.site_inductions("site-b")["inducted"] == []
    r = client.post(
        URL.format("amina"), data={"csrf_token": token, "kind": "laser", "site": "nowhere"}
    )
    assert r.status_code == 404
