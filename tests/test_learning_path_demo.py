"""The whole learning path in the demo (issue 15, « done when »): Noah, at no level on the laser,
passes the induction quiz by his personal link, badges with Moussa for a supervised session, is
made `supervised`, then `autonomous` by Moussa at the machine; an educator records consent and
issues his credential; Noah downloads the badge, and an independent verifier (openbadgeslib on
PyJWT) accepts it with the keys and the status list fetched over HTTP from the central store."""

from __future__ import annotations

import html
import http.cookiejar
import json
import re
import signal
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import jwt
import pytest
from openbadgeslib.ob3 import OB3Verifier, check_credential_status

from central.credentials import issue
from central.demo import DEMO_PASSWORD
from tests.conftest import open_central_store
from tests.test_central_demo import _free_base, _start_demo
from tests.test_central_helpers import post_json, wait_for

NOAH, MOUSSA = "04F0F1F2", "0411223344AA80"


class Visitor:
    """A browser without a browser: cookies, the CSRF token of the last page, forms."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.csrf = ""

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=10) as r:
            page = r.read().decode()
        m = re.search(r'name="csrf_token" value="([^"]+)"', page)
        if m:
            self.csrf = m.group(1)
        return page

    def raw(self, path: str) -> bytes:
        with self.opener.open(self.base + path, timeout=10) as r:
            return bytes(r.read())

    def post(self, path: str, form: dict[str, str]) -> str:
        data = urllib.parse.urlencode({"csrf_token": self.csrf, **form}).encode()
        with self.opener.open(self.base + path, data=data, timeout=10) as r:
            page = r.read().decode()
        m = re.search(r'name="csrf_token" value="([^"]+)"', page)
        if m:
            self.csrf = m.group(1)
        return html.unescape(page)


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:  # 127.0.0.1 only
        return bytes(r.read())


@pytest.mark.e2e
def test_from_induction_to_a_verified_credential(tmp_path: Path) -> None:
    base = _free_base()
    proc, _banner = _start_demo(tmp_path, base)
    laser, central = f"http://127.0.0.1:{base}", f"http://127.0.0.1:{base + 10}"

    def tap(uid: str) -> dict[str, Any]:
        post_json(laser + "/sim/advance", {"seconds": 5})  # past the repeat-tap guard
        status, decision = post_json(laser + "/sim/badge", {"uid": uid}, timeout=10)
        assert status == 200, decision
        return decision  # type: ignore[no-any-return]

    store = open_central_store(tmp_path / "d" / "central" / "central.sqlite")
    try:
        first = tap(NOAH)
        assert (first["reason"], first.get("next_step")) == ("not_qualified", "induction")

        educator = Visitor(central)
        educator.get("/login")
        educator.post("/login", {"username": "ines", "password": DEMO_PASSWORD})
        page = educator.get("/reports/progress/noah")
        link = re.search(r"<code>http://[^/<]+(/progress/[^<]+)</code>", page)
        assert link, page
        noah = Visitor(central)
        noah.get(link.group(1) + "/quiz/laser")
        answers = {"version": "1", "q0": "0", "q1": "0", "q2": "0", "q3": "0"}
        result = noah.post(link.group(1) + "/quiz/laser", answers)
        assert "Induction réussie" in result

        # The pass reaches the laser with the roster: Noah now waits for a supervisor.
        wait_for(lambda: tap(NOAH)["action"] == "waiting_for_supervisor", 30, "the induction")
        started = tap(MOUSSA)
        assert started["action"] == "session_started", started
        post_json(laser + "/sim/advance", {"seconds": 1200})
        assert tap(NOAH)["action"] == "session_ended"

        educator.get("/admin/members/noah")
        educator.post(
            "/admin/members/noah/qualifications", {"kind": "laser", "level": "supervised"}
        )

        def level_at_laser() -> str:
            badges = json.loads(fetch(laser + "/sim/badges"))["badges"]
            return str(next(b["level"] for b in badges if b["member_id"] == "noah"))

        wait_for(lambda: level_at_laser() == "supervised", 30, "the supervised level")
        assert tap(NOAH)["action"] == "waiting_for_supervisor"
        assert tap(MOUSSA)["action"] == "session_started"
        # Learning by teaching: Moussa taps twice more, Noah accepts: autonomous.
        tap(MOUSSA)
        tap(MOUSSA)
        granted = tap(NOAH)
        assert granted["action"] == "qualification_granted", granted

        def autonomous() -> bool:
            quals = issue._member(store, "noah")["qualifications"]
            return any(q["kind"] == "laser" and q["level"] == "autonomous" for q in quals)

        wait_for(autonomous, 30, "the grant at the central store")

        educator.get("/reports/progress/noah")
        educator.post(
            "/admin/members/noah/credentials/consent",
            {"name_choice": "initial", "minor": "1", "consent_by": "Mme Petit"},
        )
        done = educator.post("/admin/members/noah/credentials/issue", {"kind": "laser"})
        assert "Badge « Découpe laser — autonome » délivré" in done

        own = noah.get(link.group(1))
        png_link = re.search(r'href="(/progress/[^"]+\.png)"', own)
        assert png_link, own
        badge = noah.raw(html.unescape(png_link.group(1)))

        # An independent verifier, with what the central store publishes over HTTP.
        token = OB3Verifier.extract_token_from_png(badge)
        key = jwt.PyJWKClient(central + "/.well-known/jwks.json").get_signing_key_from_jwt(token)
        cred = OB3Verifier(key.key).verify(token)
        assert cred.achievement.name == "Découpe laser — autonome"
        assert cred.issuer.id == central + "/credentials/issuer"
        check_credential_status(cred, download=fetch, verify_list=True, list_pubkey_pem=key.key)
        narratives = " ".join(e.narrative for e in cred.evidence)
        assert "2 sessions accompagnées" in narratives
        assert "validé à la machine par un pair mentor" in narratives
    finally:
        store.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()
