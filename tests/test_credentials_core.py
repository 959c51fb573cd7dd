"""Open Badges 3.0 credentials, checked by an implementation nobody here wrote.

openbadgeslib (PyJWT underneath) verifies the VC-JWT against the key our JWKS publishes, reads
the baked PNG/SVG with its own extractor and decodes our status list; a tampered payload,
image or key fails there as it fails on our own page.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openbadgeslib.ob3 import OB3VerificationError, OB3Verifier, check_credential_status

from central.credentials import baking, jws, openbadge, status_list, verify
from central.credentials.errors import SigningKeyError
from central.credentials.issuer import Issuer
from central.credentials.keys import KeyRing
from web.common.i18n import Translator

NOW = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
ISSUER = Issuer(
    "https://badges.fabrique.example", "Fabrique de Gonesse", "https://fabrique.example"
)
WORDS = Translator.load("central", "fr")


def award(index: int = 7, level: str = "autonomous", **evidence: Any) -> openbadge.Award:
    e = {
        "hours": 23.5,
        "sessions": 12,
        "supervised_sessions": 5,
        "granted_by": "peer",
        "granted_at": "2026-11-03T16:00:00+00:00",
        "peers_trained": 0,
        **evidence,
    }
    return openbadge.Award(
        credential_id="urn:uuid:3f1c2a4e-1111-4222-8333-944455556666",
        subject_id="urn:uuid:0a0b0c0d-1111-4222-8333-944455556666",
        holder_name="Léa M.",
        kind="laser",
        level=level,
        valid_from=NOW,
        status_index=index,
        evidence=openbadge.Evidence(**e),
    )


@pytest.fixture
def keys(tmp_path: Path) -> KeyRing:
    ring = KeyRing(tmp_path / "credential-keys")
    ring.rotate(NOW - timedelta(days=30))
    return ring


def issue(keys: KeyRing, a: openbadge.Award | None = None) -> str:
    token, _kid = keys.sign(openbadge.credential(a or award(), ISSUER, WORDS), NOW, ISSUER.kid_url)
    return token


def independent_verify(token: str, jwks: dict[str, Any]) -> Any:
    """What a school's tool does: the key the token's kid names, from the published JWKS."""
    kid = jwt.get_unverified_header(token)["kid"]
    keyset = jwt.PyJWKSet.from_dict(jwks)
    key = next((k for k in keyset.keys if k.key_id == kid), None)
    if key is None:
        raise OB3VerificationError(f"no published key {kid}")
    return OB3Verifier(key.key).verify(token)


def test_the_credential_verifies_with_an_independent_library(keys: KeyRing) -> None:
    token = issue(keys)
    cred = independent_verify(token, keys.jwks(NOW, ISSUER.kid_url))
    assert cred.achievement.name == "Découpe laser — autonome"
    assert cred.issuer.id == ISSUER.id and cred.issuer.name == "Fabrique de Gonesse"
    assert cred.issuance_date == NOW
    narratives = " ".join(e.narrative for e in cred.evidence)
    assert "23,5 h de pratique (Découpe laser) en 12 sessions." in narratives
    assert "5 sessions accompagnées" in narratives
    assert "validé à la machine par un pair mentor" in narratives
    header = jwt.get_unverified_header(token)
    assert set(header) == {"alg", "kid", "typ"}  # OB 3.0: no other JOSE header
    assert header["alg"] == "EdDSA" and header["kid"].startswith(ISSUER.kid_url(""))


def test_the_payload_is_a_vc_2_0_open_badge_with_the_least_personal_data(keys: KeyRing) -> None:
    payload = jwt.decode(issue(keys), options={"verify_signature": False})
    assert payload["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert payload["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    subject = payload["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    assert subject["identifier"] == [
        {
            "type": "IdentityObject",
            "identityType": "name",
            "hashed": False,
            "identityHash": "Léa M.",
        }
    ]
    assert payload["iss"] == payload["issuer"]["id"] and payload["jti"] == payload["id"]
    assert payload["sub"] == subject["id"] and payload["nbf"] == int(NOW.timestamp())
    assert payload["credentialStatus"]["type"] == "BitstringStatusListEntry"
    text = json.dumps(payload, ensure_ascii=False)
    for private in ("lea", "Martin", "04B0B1B2"):  # member id, last name, badge UID
        assert private not in text


def test_a_mentor_credential_says_how_many_peers_they_trained(keys: KeyRing) -> None:
    token = issue(keys, award(level="mentor", peers_trained=4))
    cred = independent_verify(token, keys.jwks(NOW, ISSUER.kid_url))
    assert cred.achievement.name == "Découpe laser — mentor"
    teaching = [e for e in cred.evidence if e.name == "Apprendre en transmettant"]
    assert teaching and "A formé 4 pairs" in teaching[0].narrative


def test_no_credential_below_autonomous() -> None:
    with pytest.raises(ValueError, match="level"):
        openbadge.credential(award(level="supervised"), ISSUER, WORDS)


@pytest.mark.parametrize("part", ["header", "payload", "signature"])
def test_a_tampered_token_fails_both_verifiers(keys: KeyRing, part: str) -> None:
    token = issue(keys)
    h, p, s = token.split(".")
    if part == "payload":
        body = json.loads(jws.b64url_decode(p))
        body["credentialSubject"]["achievement"]["name"] = "Découpe laser — mentor"
        p = jws.b64url(jws.canonical_json(body))
    elif part == "header":
        h = jws.b64url(jws.canonical_json({**jwt.get_unverified_header(token), "typ": "vc"}))
    else:
        s = jws.b64url(bytes(64))
    forged = f"{h}.{p}.{s}"
    with pytest.raises(OB3VerificationError):
        independent_verify(forged, keys.jwks(NOW, ISSUER.kid_url))
    v = verify.verify_token(forged, issuer=ISSUER, keys=keys, now=NOW, revoked=lambda i: None)
    assert v.verdict == "tampered"


def test_our_page_says_valid_for_what_the_independent_verifier_accepts(keys: KeyRing) -> None:
    v = verify.verify_token(issue(keys), issuer=ISSUER, keys=keys, now=NOW, revoked=lambda i: None)
    assert v.verdict == "valid"
    assert v.details["name"] == "Découpe laser — autonome" and v.details["holder"] == "Léa M."


def test_rotation_keeps_old_credentials_verifying_until_their_key_is_retired(
    keys: KeyRing,
) -> None:
    old = issue(keys)
    old_kid = keys.active(NOW).kid
    keys.rotate(NOW)
    new = issue(keys)
    assert jwt.get_unverified_header(new)["kid"] != jwt.get_unverified_header(old)["kid"]
    jwks = keys.jwks(NOW, ISSUER.kid_url)
    assert len(jwks["keys"]) == 2 and all("d" not in k for k in jwks["keys"])
    independent_verify(old, jwks)
    independent_verify(new, jwks)

    keys.retire(old_kid, NOW, "leaked")
    jwks = keys.jwks(NOW, ISSUER.kid_url)
    with pytest.raises(OB3VerificationError, match="no published key"):
        independent_verify(old, jwks)
    independent_verify(new, jwks)
    v = verify.verify_token(old, issuer=ISSUER, keys=keys, now=NOW, revoked=lambda i: None)
    assert v.verdict == "retired_key"


def test_an_expired_key_neither_signs_nor_verifies(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path / "k")
    ring.rotate(NOW - timedelta(days=10), valid_days=5)
    with pytest.raises(SigningKeyError) as e:
        ring.sign({"a": 1}, NOW, ISSUER.kid_url)
    assert e.value.code == "no_active_key" and "rotate-key" in str(e.value)
    assert ring.jwks(NOW)["keys"] == []
    ring.rotate(NOW)
    assert len(ring.jwks(NOW)["keys"]) == 1


def test_key_files_are_private_and_never_in_the_jwks(keys: KeyRing) -> None:
    files = list(keys.directory.iterdir())
    assert files and all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    assert keys.directory.stat().st_mode & 0o777 == 0o700
    pem = next(f for f in files if f.suffix == ".pem").read_text()
    published = json.dumps(keys.jwks(NOW, ISSUER.kid_url))
    assert "PRIVATE KEY" in pem and "PRIVATE" not in published and '"d"' not in published


def test_a_token_signed_by_another_issuer_is_not_ours(keys: KeyRing, tmp_path: Path) -> None:
    other = Issuer("https://elsewhere.example", "Ailleurs")
    ring = KeyRing(tmp_path / "other")
    ring.rotate(NOW)
    token, _ = ring.sign(openbadge.credential(award(), other, WORDS), NOW, other.kid_url)
    v = verify.verify_token(token, issuer=ISSUER, keys=keys, now=NOW, revoked=lambda i: None)
    assert v.verdict == "not_ours"


# --- baking ------------------------------------------------------------------------------------


def test_a_baked_png_carries_the_credential_an_independent_extractor_finds(keys: KeyRing) -> None:
    token = issue(keys)
    png = baking.bake_png(baking.png("Découpe laser", "autonome", ISSUER.name, "autonomous"), token)
    assert OB3Verifier.extract_token_from_png(png) == token
    assert baking.extract(png) == token
    # baking again replaces the chunk: one credential per image
    again = baking.bake_png(png, token)
    assert again.count(baking.KEYWORD) == 1


def test_a_baked_svg_carries_the_credential_an_independent_extractor_finds(keys: KeyRing) -> None:
    token = issue(keys)
    svg = baking.svg("Découpe laser", "autonome", ISSUER.name, "autonomous", token=token)
    assert OB3Verifier.extract_token_from_svg(svg) == token
    assert baking.extract(svg) == token


def test_an_edited_png_is_caught(keys: KeyRing) -> None:
    token = issue(keys)
    png = bytearray(
        baking.bake_png(baking.png("Découpe laser", "autonome", ISSUER.name, "autonomous"), token)
    )
    at = png.index(b"openbadgecredential") + 40  # a byte inside the token
    png[at] = ord("A") if png[at] != ord("A") else ord("B")
    v = verify.verify_upload(bytes(png), issuer=ISSUER, keys=keys, now=NOW, revoked=lambda i: None)
    assert v.verdict == "damaged_image"


def test_a_png_rebuilt_around_a_forged_token_is_tampered(keys: KeyRing) -> None:
    """Someone re-bakes with valid CRCs but changes the payload: the signature catches it."""
    token = issue(keys)
    h, p, s = token.split(".")
    body = json.loads(jws.b64url_decode(p))
    body["credentialSubject"]["identifier"][0]["identityHash"] = "Quelqu'un d'autre"
    forged = f"{h}.{jws.b64url(jws.canonical_json(body))}.{s}"
    png = baking.bake_png(baking.png("x", "y", "z", "autonomous"), forged)
    v = verify.verify_upload(png, issuer=ISSUER, keys=keys, now=NOW, revoked=lambda i: None)
    assert v.verdict == "tampered"
    with pytest.raises(OB3VerificationError):
        independent_verify(OB3Verifier.extract_token_from_png(png), keys.jwks(NOW, ISSUER.kid_url))


def test_an_image_without_a_credential_says_so() -> None:
    plain = baking.png("Découpe laser", "autonome", "Fabrique", "autonomous")
    v = verify.verify_upload(
        plain, issuer=ISSUER, keys=KeyRing(Path("/nonexistent")), now=NOW, revoked=lambda i: None
    )
    assert v.verdict == "no_credential"
    v = verify.verify_upload(
        b"GIF89a....",
        issuer=ISSUER,
        keys=KeyRing(Path("/nonexistent")),
        now=NOW,
        revoked=lambda i: None,
    )
    assert v.verdict == "damaged_image"


def test_an_svg_with_entities_is_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg>&a;</svg>'
    with pytest.raises(baking.BadImage):
        baking.extract(bomb)


# --- status list -------------------------------------------------------------------------------


def test_the_status_list_round_trips_and_is_at_least_16_kib() -> None:
    encoded = status_list.encode([0, 9, 131071])
    bits = status_list.decode(encoded)
    assert len(bits) == status_list.MIN_BITS // 8
    assert [i for i in (0, 1, 8, 9, 131071) if status_list.is_set(bits, i)] == [0, 9, 131071]


def test_revocation_is_seen_by_the_independent_status_check(keys: KeyRing) -> None:
    token = issue(keys, award(index=4242))
    jwks = keys.jwks(NOW, ISSUER.kid_url)
    cred = independent_verify(token, jwks)

    def served(revoked: list[int]) -> Any:
        now = datetime.now(UTC)  # the library checks the list's window against its own clock
        signed, _ = keys.sign(
            status_list.list_credential(ISSUER, revoked, now), now, ISSUER.kid_url
        )
        return lambda url: signed.encode() if url == ISSUER.status_list_url else b""

    key = jwt.PyJWKSet.from_dict(jwks).keys[0].key
    check_credential_status(cred, download=served([1, 2]), verify_list=True, list_pubkey_pem=key)
    with pytest.raises(OB3VerificationError, match="revocation"):
        check_credential_status(
            cred, download=served([4242]), verify_list=True, list_pubkey_pem=key
        )
    v = verify.verify_token(
        token,
        issuer=ISSUER,
        keys=keys,
        now=NOW,
        revoked=lambda i: {"revoked_at": "2026-11-21"} if i == 4242 else None,
    )
    assert v.verdict == "revoked"


@pytest.mark.parametrize("level", ["autonomous", "mentor"])
def test_every_term_is_defined_by_the_vc_and_ob_contexts(keys: KeyRing, level: str) -> None:
    """JSON-LD expansion with the published contexts (bundled by openbadgeslib, expanded by
    pyld): a term no context defines would fall into the VC 2.0 ``@vocab`` catch-all."""
    from openbadgeslib.ob3.contexts import document_loader
    from pyld import jsonld

    payload = openbadge.credential(award(level=level, peers_trained=2), ISSUER, WORDS)
    claims = ("iss", "jti", "sub", "nbf", "iat")
    body = {k: v for k, v in payload.items() if k not in claims}
    expanded = json.dumps(jsonld.expand(body, {"documentLoader": document_loader()}))
    assert "issuer-dependent#" not in expanded
    for term in ("AchievementSubject", "IdentityObject", "BitstringStatusListEntry", "Evidence"):
        assert term in expanded
    status = status_list.list_credential(ISSUER, [3], NOW)
    body = {k: v for k, v in status.items() if k not in ("iss", "jti", "nbf", "exp")}
    expanded = json.dumps(jsonld.expand(body, {"documentLoader": document_loader()}))
    assert "issuer-dependent#" not in expanded and "encodedList" in expanded


def test_a_level_recognised_without_sessions_says_so(keys: KeyRing) -> None:
    token = issue(keys, award(hours=0.0, sessions=0, supervised_sessions=0, granted_by="import"))
    cred = independent_verify(token, keys.jwks(NOW, ISSUER.kid_url))
    practice = next(e.narrative for e in cred.evidence if e.name == "Pratique")
    assert practice.startswith("Aucune session enregistrée ici") and "0 h" not in practice
    validation = next(e.narrative for e in cred.evidence if e.name == "Validation")
    assert "reconnu par l'équipe éducative" in validation


@given(st.sets(st.integers(min_value=0, max_value=200_000), max_size=50))
def test_the_status_list_says_exactly_the_revoked_indices(revoked: set[int]) -> None:
    bits = status_list.decode(status_list.encode(revoked))
    assert len(bits) * 8 >= max([status_list.MIN_BITS, *(i + 1 for i in revoked)])
    probes = revoked | {i + 1 for i in revoked} | {0, 7, 8, status_list.MIN_BITS - 1}
    assert {i for i in probes if status_list.is_set(bits, i)} == revoked
