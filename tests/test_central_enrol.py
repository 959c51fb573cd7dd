"""Enrolment at the central store (POST /api/v1/enrol): a technician at a station gives an unknown
badge to a member, and every station gets it with its next roster sync."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from central.sqlite import SqliteCentralStore
from station.model import Role
from station.roster import parse_roster_csv
from tests.conftest import SOFIANE, UNKNOWN, sample_roster_text
from tests.test_central_helpers import central_config
from web.central.app import create_central_app


@pytest.fixture
def store(central_store: SqliteCentralStore) -> Iterator[SqliteCentralStore]:
    s = central_store
    s.import_roster(parse_roster_csv(sample_roster_text()))
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def client(tmp_path: Path, store: SqliteCentralStore) -> FlaskClient:
    return create_central_app(store, central_config(tmp_path)).test_client()


@pytest.fixture
def token(store: SqliteCentralStore) -> str:
    return store.add_station("laser-1", kind="laser")


def enrol(client: FlaskClient, token: str | None, body: Any) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = client.post("/api/v1/enrol", json=body, headers=headers)
    return r.status_code, r.get_json()


def test_a_badge_given_at_a_station_reaches_the_roster_with_who_and_where(
    client: FlaskClient, store: SqliteCentralStore, token: str
) -> None:
    version = store.roster_version()
    code, reply = enrol(client, token, {"uid": "de:ad:be:ef", "member_id": "noah", "by": "yanis"})
    assert code == 201, reply
    assert (reply["uid"], reply["member_id"], reply["member_name"]) == (
        UNKNOWN,
        "noah",
        "Noah Petit",
    )
    changes = store.roster_changes(version)
    assert changes is not None
    assert [(b["uid"], b["member_id"]) for b in changes["badges"]] == [(UNKNOWN, "noah")]
    (row,) = store.station_enrolments()
    assert (row["station_id"], row["by"], row["uid"], row["created_member"]) == (
        "laser-1",
        "yanis",
        UNKNOWN,
        0,
    )
    assert row["at"]


def test_a_new_trainee_is_created_with_the_badge(
    client: FlaskClient, store: SqliteCentralStore, token: str
) -> None:
    body = {"uid": UNKNOWN, "new_member": {"name": "Zoé Leroy"}, "by": "yanis"}
    code, reply = enrol(client, token, body)
    assert code == 201 and reply["member_id"] == "zoe-leroy" and reply["created_member"]
    members = {m["id"]: m for m in store.roster_rows()["members"]}
    assert (members["zoe-leroy"]["name"], members["zoe-leroy"]["role"]) == ("Zoé Leroy", "trainee")
    body = {"uid": "04112233", "new_member": {"name": "Zoé Leroy"}, "by": "yanis"}
    assert enrol(client, token, body)[1]["member_id"] == "zoe-leroy-2", "a namesake, another id"


def test_a_station_may_only_enrol_a_badge_no_one_holds(
    client: FlaskClient, store: SqliteCentralStore, token: str
) -> None:
    version = store.roster_version()
    code, reply = enrol(client, token, {"uid": SOFIANE, "member_id": "noah", "by": "yanis"})
    assert code == 409 and "already in the roster" in reply["error"]
    store.set_badge_active(SOFIANE, False)
    version = store.roster_version()
    code, _ = enrol(client, token, {"uid": SOFIANE, "member_id": "noah", "by": "yanis"})
    assert code == 409, "a revoked badge comes back only by an educator"
    assert store.roster_version() == version and store.station_enrolments() == []


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"uid": "xyz", "member_id": "noah", "by": "yanis"}, 400, "uid"),
        ({"uid": UNKNOWN, "by": "yanis"}, 400, "member_id"),
        (
            {"uid": UNKNOWN, "member_id": "noah", "new_member": {"name": "A"}, "by": "y"},
            400,
            "member_id",
        ),
        ({"uid": UNKNOWN, "member_id": "noah"}, 400, "by"),
        (
            {"uid": UNKNOWN, "new_member": {"name": "A\u202eB"}, "by": "yanis"},
            400,
            "new_member.name",
        ),
        ({"uid": UNKNOWN, "new_member": "Zoé", "by": "yanis"}, 400, "new_member"),
        ({"uid": UNKNOWN, "member_id": "nobody", "by": "yanis"}, 404, None),
        ([], 400, "body"),
    ],
)
def test_a_bad_enrolment_says_which_field(
    client: FlaskClient,
    store: SqliteCentralStore,
    token: str,
    body: Any,
    code: int,
    field: str | None,
) -> None:
    version = store.roster_version()
    got, reply = enrol(client, token, body)
    assert (got, reply["field"]) == (code, field) and reply["error"]
    assert store.roster_version() == version, "nothing written"


def test_an_inactive_member_or_no_token_is_refused(
    client: FlaskClient, store: SqliteCentralStore, token: str
) -> None:
    store.upsert_member("noah", "Noah Petit", Role.TRAINEE, active=False)
    code, reply = enrol(client, token, {"uid": UNKNOWN, "member_id": "noah", "by": "yanis"})
    assert code == 409 and "inactive" in reply["error"]
    assert enrol(client, None, {"uid": UNKNOWN, "member_id": "sofiane", "by": "y"})[0] == 401
    assert enrol(client, "forged", {"uid": UNKNOWN, "member_id": "sofiane", "by": "y"})[0] == 401


# --- the validator (Hypothesis) ------------------------------------------------------------------

_texts = st.text(max_size=12) | st.sampled_from(["04C0C1C2", "04:c0:c1:c2", "lea", "\u202eevil"])
_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | _texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_texts, inner, max_size=3),
    max_leaves=6,
)


@given(
    st.dictionaries(
        st.sampled_from(["uid", "by", "member_id", "new_member", "x"]), _values, max_size=4
    )
    | st.fixed_dictionaries(
        {"uid": _texts, "by": _texts, "new_member": st.fixed_dictionaries({"name": _texts})}
    )
    | _values
)
def test_any_enrolment_body_is_an_enrolment_or_a_bad_request_naming_a_field(raw: Any) -> None:
    """Whatever a token sends, the validator answers an enrolment it can store or a 400 that
    names the field; never another exception (a 500)."""
    from central.enrolment import parse_enrolment
    from central.errors import BadRequest
    from station.roster import normalise_uid, unsafe_text

    try:
        enrolment = parse_enrolment(raw)
    except BadRequest as e:
        assert e.field, str(e)
        return
    assert enrolment.uid == normalise_uid(enrolment.uid)
    assert (enrolment.member_id is None) != (enrolment.new_name is None)
    for text in (enrolment.by, enrolment.member_id, enrolment.new_name):
        assert text is None or (text.strip() and unsafe_text(text, "x") is None)
