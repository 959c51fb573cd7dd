"""Issuing and revoking on a real SQLite central store: the rules an educator meets.

Consent first (a parent's for a minor), the level held now, one credential per level, nothing
half-issued, erasure revokes without touching anyone else's bit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from central.credentials import consent, issue, status_list, verify
from central.credentials.errors import CredentialError
from central.credentials.issue import Issuing
from central.credentials.keys import KeyRing
from central.privacy import erase_member
from central.sqlite import SqliteCentralStore
from central.store import CentralStore
from station.model import Level
from station.roster import parse_roster_csv
from tests.conftest import sample_roster_text
from tests.test_central_reports import Log
from tests.test_credentials_core import ISSUER, NOW, WORDS, independent_verify


@pytest.fixture
def store(central_store: CentralStore) -> Iterator[CentralStore]:
    """Both backends (tests/conftest.py)."""
    s = central_store
    s.import_roster(parse_roster_csv(sample_roster_text()))
    s.add_station("laser-1", kind="laser")
    log = Log(s, "laser-1", "laser")
    log.session("lea", "2026-03-02T10:00:00.000Z", "2026-03-02T11:00:00.000Z", 3600, sup="moussa")
    log.session("lea", "2026-03-04T10:00:00.000Z", "2026-03-04T11:30:00.000Z", 5400, sup="moussa")
    log.grant("lea", "moussa", "2026-03-04T11:30:00.000Z")
    log.session("lea", "2026-03-05T10:00:00.000Z", "2026-03-05T10:30:00.000Z", 1800)
    log.session("amina", "2026-03-06T10:00:00.000Z", "2026-03-06T11:00:00.000Z", 3600, sup="moussa")
    yield s


@pytest.fixture
def ctx(store: SqliteCentralStore, tmp_path: Path) -> Issuing:
    keys = KeyRing(tmp_path / "central" / "credential-keys")
    keys.rotate(NOW - timedelta(days=1))
    return Issuing(store=store, keys=keys, issuer=ISSUER, words=WORDS)


def agree(
    store: SqliteCentralStore, member: str, name: str = "Léa M.", minor: bool = False, by: str = ""
) -> None:
    store.record_consent(
        member,
        display_name=consent.check_display_name(name),
        minor=minor,
        consent_by=consent.check_consent_by(minor, by),
        by="ines",
        at=NOW.isoformat(),
    )


def check(ctx: Issuing, token: str) -> verify.Verdict:
    return verify.verify_token(
        token,
        issuer=ctx.issuer,
        keys=ctx.keys,
        now=NOW,
        revoked=lambda i: (
            ctx.store.credential_at_index(i)
            if ctx.store.credential_at_index(i) and ctx.store.credential_at_index(i)["revoked_at"]
            else None
        ),
    )


def test_an_educator_issues_what_the_trainee_earned(ctx: Issuing) -> None:
    agree(ctx.store, "lea")
    row = issue.issue(ctx, "lea", "laser", by="ines", now=NOW)
    assert (row["member_id"], row["kind"], row["level"]) == ("lea", "laser", "autonomous")
    cred = independent_verify(row["token"], ctx.keys.jwks(NOW, ISSUER.kid_url))
    text = " ".join(e.narrative for e in cred.evidence)
    # 1 h + 1,5 h + 0,5 h on the laser, two of the three sessions with Moussa
    assert "3 h de pratique (Découpe laser) en 3 sessions." in text
    assert "2 sessions accompagnées" in text
    assert "validé à la machine par un pair mentor" in text and "4 mars 2026" in text
    assert check(ctx, row["token"]).verdict == "valid"


def test_a_mentor_credential_counts_the_peers_they_raised(ctx: Issuing) -> None:
    agree(ctx.store, "moussa", "Moussa D.")
    row = issue.issue(ctx, "moussa", "laser", by="ines", now=NOW)
    cred = independent_verify(row["token"], ctx.keys.jwks(NOW, ISSUER.kid_url))
    assert cred.achievement.name == "Découpe laser — mentor"
    assert any("A formé 2 pairs" in e.narrative for e in cred.evidence)


def test_no_consent_no_credential(ctx: Issuing) -> None:
    with pytest.raises(CredentialError) as e:
        issue.issue(ctx, "sofiane", "laser", by="ines", now=NOW)
    assert e.value.code == "no_consent"
    assert ctx.store.credentials_of("sofiane") == []


def test_a_minor_needs_a_parent_named() -> None:
    with pytest.raises(CredentialError) as e:
        consent.check_consent_by(True, "  ")
    assert e.value.code == "guardian_needed" and "consent_by" in str(e.value)
    assert consent.check_consent_by(True, " Nadia  Martin ") == "Nadia Martin"


@pytest.mark.parametrize(
    ("raw", "code"),
    [("", "display_name_empty"), ("x" * 41, "display_name_long"), ("Léa\x00", "display_name_bad")],
)
def test_a_bad_display_name_says_what_to_fix(raw: str, code: str) -> None:
    with pytest.raises(CredentialError) as e:
        consent.check_display_name(raw)
    assert e.value.code == code and "display_name" in str(e.value)


def test_the_default_name_is_first_name_and_last_initial() -> None:
    assert consent.first_and_initial("Léa Martin") == "Léa M."
    assert consent.first_and_initial("Moussa Ba Diallo") == "Moussa D."
    assert consent.first_and_initial("Noah") == "Noah"


def test_below_autonomous_or_lowered_since_is_refused(ctx: Issuing) -> None:
    agree(ctx.store, "amina", "Amina T.")
    with pytest.raises(CredentialError) as e:
        issue.issue(ctx, "amina", "printer3d", by="ines", now=NOW)
    assert e.value.code == "level_too_low" and e.value.values["level"] == "supervised"
    agree(ctx.store, "sofiane", "Sofiane K.")
    ctx.store.set_qualification("sofiane", "laser", Level.SUPERVISED, "ines")
    with pytest.raises(CredentialError) as e:
        issue.issue(ctx, "sofiane", "laser", by="ines", now=NOW)
    assert e.value.code == "level_too_low"


def test_nothing_is_issued_twice(ctx: Issuing) -> None:
    agree(ctx.store, "lea")
    issue.issue(ctx, "lea", "laser", by="ines", now=NOW)
    with pytest.raises(CredentialError) as e:
        issue.issue(ctx, "lea", "laser", by="ines", now=NOW)
    assert e.value.code == "already_issued"
    assert len(ctx.store.credentials_of("lea")) == 1


def test_two_educators_issuing_at_once_make_one_credential(ctx: Issuing, tmp_path: Path) -> None:
    agree(ctx.store, "lea")
    results: list[object] = []
    start = threading.Barrier(4)

    def go() -> None:
        start.wait()
        try:
            results.append(issue.issue(ctx, "lea", "laser", by="ines", now=NOW))
        except CredentialError as e:
            results.append(e.code)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(r for r in results if isinstance(r, str)) == ["already_issued"] * 3
    assert len(ctx.store.credentials_of("lea")) == 1


def test_a_failed_signature_leaves_nothing_behind(ctx: Issuing) -> None:
    agree(ctx.store, "lea")
    (ctx.keys.directory / f"{ctx.keys.active(NOW).kid}.pem").write_text("not a key")
    with pytest.raises(CredentialError) as e:
        issue.issue(ctx, "lea", "laser", by="ines", now=NOW)
    assert e.value.code == "key_unreadable"
    assert ctx.store.credentials_of("lea") == []


def test_no_usable_key_is_a_clear_error_before_anything_is_written(ctx: Issuing) -> None:
    agree(ctx.store, "lea")
    ctx.keys.retire(ctx.keys.active(NOW).kid, NOW, "leaked")
    with pytest.raises(CredentialError) as e:
        issue.issue(ctx, "lea", "laser", by="ines", now=NOW)
    assert e.value.code == "no_active_key"
    assert ctx.store.credentials_of("lea") == []


def test_revocation_sets_the_bit_and_allows_a_new_issue(ctx: Issuing) -> None:
    agree(ctx.store, "lea")
    row = issue.issue(ctx, "lea", "laser", by="ines", now=NOW)
    issue.revoke(ctx, row["id"], by="ines", now=NOW, reason="erreur de niveau")
    assert ctx.store.revoked_indices() == [row["status_index"]]
    assert check(ctx, row["token"]).verdict == "revoked"
    with pytest.raises(CredentialError) as e:
        issue.downloadable(ctx, row["id"])
    assert e.value.code == "revoked"
    again = issue.issue(ctx, "lea", "laser", by="ines", now=NOW)
    assert again["status_index"] != row["status_index"]
    assert check(ctx, again["token"]).verdict == "valid"


def test_erasure_revokes_theirs_and_keeps_others_valid(ctx: Issuing) -> None:
    agree(ctx.store, "lea")
    agree(ctx.store, "sofiane", "Sofiane K.")
    lea = issue.issue(ctx, "lea", "laser", by="ines", now=NOW)
    sofiane = issue.issue(ctx, "sofiane", "laser", by="ines", now=NOW)
    erase_member(ctx.store, "lea")
    assert check(ctx, lea["token"]).verdict == "revoked"
    assert check(ctx, sofiane["token"]).verdict == "valid"
    row = ctx.store.credential(lea["id"])
    assert row is not None and row["token"] is None  # the signed copy with her name is gone
    assert ctx.store.consent("lea") is None
    bits = status_list.decode(
        status_list.list_credential(ISSUER, ctx.store.revoked_indices(), NOW)["credentialSubject"][
            "encodedList"
        ]
    )
    assert status_list.is_set(bits, lea["status_index"])
    assert not status_list.is_set(bits, sofiane["status_index"])
    with pytest.raises(CredentialError) as e:
        issue.issue(ctx, "lea", "printer3d", by="ines", now=NOW)
    assert e.value.code == "erased"


def test_the_badge_images_carry_the_stored_credential(ctx: Issuing) -> None:
    agree(ctx.store, "lea")
    row = issue.issue(ctx, "lea", "laser", by="ines", now=NOW)
    for image in (issue.badge_png(ctx, row), issue.badge_svg(ctx, row)):
        v = verify.verify_upload(
            image, issuer=ISSUER, keys=ctx.keys, now=NOW, revoked=lambda i: None
        )
        assert v.verdict == "valid"
    assert jwt.get_unverified_header(row["token"])["kid"] == ISSUER.kid_url(row["kid"])


@pytest.mark.parametrize("central_store", ["sqlite"], indirect=True)  # SQLite's dump: iterdump
def test_the_database_holds_no_private_key(ctx: Issuing, store: SqliteCentralStore) -> None:
    agree(ctx.store, "lea")
    issue.issue(ctx, "lea", "laser", by="ines", now=NOW)
    dump = "\n".join(store.db.conn.iterdump())
    assert "PRIVATE KEY" not in dump
    pem = next(ctx.keys.directory.glob("*.pem")).read_text()
    body = "".join(pem.splitlines()[1:-1])
    assert body not in dump
    assert datetime.now(UTC) > NOW  # (the dump is of a store that did sign)
