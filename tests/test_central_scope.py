"""A station's token applies events only within its station's scope (central/scope.py).

Everything a token sends is kept (exactly once, the high-water mark moves on) but an event outside
the station's scope is evidence only: never projected, and an ``event_out_of_scope`` alert on the
fleet dashboard.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central import scope
from central.ingest import parse_event
from central.sqlite import SqliteCentralStore
from central.store import CentralStore
from station.model import LEVEL_ORDER, Level, Role
from station.roster import parse_roster_csv
from tests.conftest import sample_roster_text
from tests.test_central_web import login
from web.central.app import create_central_app

REPO = Path(__file__).resolve().parent.parent
AT = "2026-03-02T10:00:00.000Z"


def ev(station: str, seq: int, type_: str, at: str = AT, **data: Any) -> Any:
    raw = {
        "id": f"{station}-{seq}",
        "seq": seq,
        "type": type_,
        "at": at,
        "clock_synced": True,
        "boot_id": f"boot-{station}",
        "mono": 1000.0 + seq,
        "data": data,
    }
    return parse_event(raw, 0, station)


def grant(seq: int, member: str, level: str, by: str, kind: str = "laser", **kw: Any) -> Any:
    return ev("laser-1", seq, "qualification_granted", member_id=member, kind=kind, level=level,
              granted_by=by, **kw)  # fmt: skip


@pytest.fixture
def store(central_store: SqliteCentralStore) -> Iterator[SqliteCentralStore]:
    s = central_store
    s.import_roster(parse_roster_csv(sample_roster_text()))
    s.add_station("laser-1", kind="laser")
    s.add_station("laser-2", kind="laser")
    try:
        yield s
    finally:
        s.close()


def level_of(store: SqliteCentralStore, member: str, kind: str = "laser") -> str:
    row = store.db.conn.execute(
        "SELECT level FROM qualifications WHERE member_id = ? AND kind = ?", (member, kind)
    ).fetchone()
    return row[0] if row else "none"


def refused(store: SqliteCentralStore, station: str = "laser-1") -> dict[int, str]:
    rows = store.db.conn.execute(
        "SELECT seq, refused FROM events WHERE station_id = ? AND applied = 0", (station,)
    )
    return dict(rows.fetchall())


def scope_alerts(store: SqliteCentralStore) -> list[dict[str, Any]]:
    return [a["data"] for a in store.recent_alerts() if a["kind"] == scope.EVENT_OUT_OF_SCOPE]


# --- grants -------------------------------------------------------------------------------------


def test_the_issue_grant_is_kept_as_evidence_never_applied(store: SqliteCentralStore) -> None:
    """Noah has no laser training; a token pushes laser:mentor for him, 'granted by' Inès."""
    version = store.roster_version()
    result = store.ingest("laser-1", [grant(1, "noah", "mentor", "ines")])
    assert result["high_water"] == 1 and result["refused"] == 1  # the real station goes on
    assert level_of(store, "noah") == "none"
    assert store.roster_version() == version  # no station gets anything to apply
    assert store.db.conn.execute("SELECT COUNT(*) FROM grants").fetchone()[0] == 0
    assert refused(store) == {1: "not_one_level_up"}
    (alert,) = scope_alerts(store)
    assert alert["station_id"] == "laser-1" and alert["rule"] == "not_one_level_up"
    assert [e["type"] for e in store.events("laser-1")] == ["qualification_granted"]


def supervised_session(seq: int, member: str = "lea", by: str | None = "moussa") -> Any:
    """The session a machine grants in: the member trains under the granter at laser-1."""
    return ev("laser-1", seq, "session_started", session_id=f"s-{member}", member_id=member,
              kind="laser", supervisor_id=by)  # fmt: skip


@pytest.mark.parametrize(
    ("event", "rule"),
    [
        (grant(2, "lea", "autonomous", "moussa", kind="cnc"), "wrong_kind"),
        (grant(2, "nobody", "supervised", "ines"), "unknown_member"),
        (grant(2, "noah", "autonomous", "ines"), "not_one_level_up"),
        (grant(2, "lea", "mentor", "moussa"), "not_one_level_up"),
        (grant(2, "sofiane", "supervised", "ines"), "not_one_level_up"),  # a step down
        (grant(2, "lea", "bogus", "moussa"), "not_one_level_up"),
        (grant(2, "noah", "supervised", "ines"), "not_a_machine_grant"),  # the educator's page
        (grant(2, "sofiane", "mentor", "ines"), "not_a_machine_grant"),
        (grant(2, "lea", "autonomous", "sofiane"), "granter_not_allowed"),  # autonomous only
        (grant(2, "lea", "autonomous", "yanis"), "granter_not_allowed"),  # a technician
        (grant(2, "lea", "autonomous", "ghost"), "granter_not_allowed"),
        (grant(2, "lea", "autonomous", "lea"), "self_grant"),
        (grant(2, "lea", "autonomous", "ines", session_id="s-lea"), "not_in_session"),
        (grant(2, "lea", "autonomous", "moussa", session_id="nope"), "not_in_session"),
        (grant(2, "lea", "autonomous", "moussa"), "not_in_session"),  # no session named
    ],
)
def test_a_grant_outside_the_rules_is_refused(
    store: SqliteCentralStore, event: Any, rule: str
) -> None:
    before = {m: level_of(store, m, event.data["kind"]) for m in ("lea", "noah", "sofiane")}
    store.ingest("laser-1", [supervised_session(1), event])
    assert refused(store) == {2: rule}
    assert {m: level_of(store, m, event.data["kind"]) for m in before} == before
    assert scope_alerts(store)[0]["rule"] == rule


@pytest.mark.parametrize("by", ["moussa", "ines"])
def test_a_grant_at_the_machine_by_the_sessions_supervisor_applies(
    store: SqliteCentralStore, by: str
) -> None:
    """What a station really sends: Léa (supervised) raised to autonomous by the mentor or the
    educator who supervises her session at this station."""
    store.ingest(
        "laser-1",
        [supervised_session(1, by=by), grant(2, "lea", "autonomous", by, session_id="s-lea")],
    )
    assert level_of(store, "lea") == "autonomous" and refused(store) == {}
    assert scope_alerts(store) == []


def test_three_grants_by_an_educator_cannot_make_a_mentor_of_someone_untrained(
    store: SqliteCentralStore,
) -> None:
    """A stolen token chains none → supervised → autonomous → mentor « by Inès », even inside
    a forged session that Inès supervised: nothing applies, every step is evidence, and no
    other station gets a level for Amina."""
    forged = ev("laser-1", 1, "session_started", session_id="s-amina", member_id="amina",
                kind="laser", supervisor_id="ines")  # fmt: skip
    steps = [
        grant(2 + i, "amina", level, "ines", session_id="s-amina")
        for i, level in enumerate(("supervised", "autonomous", "mentor"))
    ]
    version = store.roster_version()
    store.ingest("laser-1", [forged, *steps])
    assert level_of(store, "amina") == "none" and store.roster_version() == version
    assert refused(store) == {
        2: "not_a_machine_grant",
        3: "not_one_level_up",
        4: "not_one_level_up",
    }
    changes = store.roster_changes(0, "laser-2")
    assert changes is not None
    laser = [q for q in changes["qualifications"] if q["member_id"] == "amina"]
    assert all(q["kind"] != "laser" for q in laser)


def test_a_grant_already_held_changes_nothing_and_raises_no_alert(
    store: SqliteCentralStore,
) -> None:
    """A station offline while an educator raised the trainee is no attacker."""
    store.ingest("laser-1", [grant(1, "sofiane", "autonomous", "moussa")])
    assert refused(store) == {1: scope.ALREADY_HELD} and scope_alerts(store) == []


def test_the_granter_is_judged_as_of_the_grant(
    central_store: CentralStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Moussa was a laser mentor from March 1st to March 5th: his grants count in between."""
    s = central_store  # empty: the roster comes with the dates below
    s.add_station("laser-1", kind="laser")
    monkeypatch.setattr("central.clock.now_iso", lambda: "2026-03-01T09:00:00.000Z")
    s.import_roster(parse_roster_csv(sample_roster_text()))
    monkeypatch.setattr("central.clock.now_iso", lambda: "2026-03-05T09:00:00.000Z")
    s.set_qualification("moussa", "laser", Level.AUTONOMOUS, by="ines")
    monkeypatch.undo()
    s.ingest(
        "laser-1",
        [
            supervised_session(1),
            ev("laser-1", 2, "qualification_granted", at="2026-03-06T10:00:00.000Z",
               member_id="lea", kind="laser", level="autonomous", granted_by="moussa",
               session_id="s-lea"),
            ev("laser-1", 3, "qualification_granted", at="2026-03-02T10:00:00.000Z",
               member_id="lea", kind="laser", level="autonomous", granted_by="moussa",
               session_id="s-lea"),
        ],
    )  # fmt: skip
    assert refused(s) == {2: "granter_not_allowed"}
    assert level_of(s, "lea") == "autonomous"


# --- sessions and commands ----------------------------------------------------------------------


def started(station: str, seq: int, session: str, **kw: Any) -> Any:
    data = {"session_id": session, "member_id": "sofiane", "kind": "laser", **kw}
    return ev(station, seq, "session_started", **data)


def ended(station: str, seq: int, session: str, duration_s: float) -> Any:
    return ev(station, seq, "session_ended", session_id=session, member_id="sofiane",
              end_reason="badge_out", duration_s=duration_s)  # fmt: skip


def test_a_token_cannot_rewrite_another_stations_sessions(store: SqliteCentralStore) -> None:
    store.ingest("laser-1", [started("laser-1", 1, "s-1"), ended("laser-1", 2, "s-1", 600.0)])
    result = store.ingest(
        "laser-2",
        [
            ended("laser-2", 1, "s-1", 36_000_000.0),  # 10,000 hours
            started("laser-2", 2, "s-1", member_id="noah"),
            ended("laser-2", 3, "s-nowhere", 36_000_000.0),
            started("laser-2", 4, "s-2", kind="cnc"),
        ],
    )
    assert result["high_water"] == 4 and result["refused"] == 4
    assert refused(store, "laser-2") == {
        1: "other_station_session",
        2: "other_station_session",
        3: "unknown_session",
        4: "wrong_kind",
    }
    rows = store._rows("SELECT id, station_id, member_id, duration_s FROM sessions")
    assert rows == [
        {"id": "s-1", "station_id": "laser-1", "member_id": "sofiane", "duration_s": 600.0}
    ]
    alerts = scope_alerts(store)
    assert {a["rule"]: a["count"] for a in alerts} == {
        "other_station_session": 2,
        "unknown_session": 1,
        "wrong_kind": 1,
    }


def test_a_session_started_and_ended_in_one_batch_applies(store: SqliteCentralStore) -> None:
    store.ingest("laser-2", [started("laser-2", 1, "s-9"), ended("laser-2", 2, "s-9", 60.0)])
    assert store._rows("SELECT duration_s FROM sessions") == [{"duration_s": 60.0}]
    assert refused(store, "laser-2") == {}


def test_a_command_of_another_station_is_not_acknowledged(store: SqliteCentralStore) -> None:
    sent = store.add_command("laser-1", {"action": "lock", "reason": "lens"}, by="t")
    ack = ev("laser-2", 1, "command_applied", command_id=sent["id"], action="lock", ok=True)
    store.ingest("laser-2", [ack])
    assert refused(store, "laser-2") == {1: "other_station_command"}
    assert [c["id"] for c in store.pending_commands("laser-1")] == [sent["id"]]


def test_an_unknown_type_is_kept_and_alerted_and_exactly_once_holds(
    store: SqliteCentralStore,
) -> None:
    batch = [ev("laser-1", 1, "qualification_forged"), ev("laser-1", 2, "heartbeat")]
    assert store.ingest("laser-1", batch)["high_water"] == 2
    again = store.ingest("laser-1", batch)
    assert (again["stored"], again["duplicates"], again["high_water"]) == (0, 2, 2)
    assert refused(store) == {1: "unknown_type"} and len(scope_alerts(store)) == 1


def test_every_event_type_a_station_writes_is_in_scope() -> None:
    """If a new event type is added to the station, the central store must know it."""
    from station.events import EVENT_TYPES

    written = set(EVENT_TYPES)  # a Record of another type fails mypy (station.events.EventType)
    assert {"session_started", "qualification_granted"} <= written
    assert written <= scope.STATION_EVENT_TYPES, written - scope.STATION_EVENT_TYPES


# --- the alerts on the dashboard ---------------------------------------------------------------


def test_the_dashboard_shows_scope_and_power_alerts(
    tmp_path: Path, store: SqliteCentralStore
) -> None:
    from tests.test_central_helpers import central_config
    from tests.test_central_web import PASSWORD

    store.add_user("yanis", PASSWORD, "technician")
    store.ingest(
        "laser-1",
        [
            grant(1, "noah", "mentor", "ines"),
            ev("laser-1", 2, "power_without_permission", watts=850.0, seconds=12.0),
        ],
    )
    (power,) = [a for a in store.recent_alerts() if a["kind"] == "power_without_permission"]
    assert power["data"]["watts"] == 850.0 and power["data"]["station_id"] == "laser-1"
    app = create_central_app(store, central_config(tmp_path))
    client = app.test_client()
    login(client, "yanis")
    html = unescape(client.get("/dash/").get_data(as_text=True))
    assert "laser-1 a envoyé 1 évènement hors de ce qu'une station peut faire" in html
    assert "un niveau qui ne monte pas d'un seul cran" in html
    assert "la machine consomme 850.0 W depuis 12.0 s alors que son relais est coupé" in html


# --- the rules themselves (Hypothesis) --------------------------------------------------------


class FakeMaster:
    def __init__(
        self,
        levels: dict[str, Level],
        roles: dict[str, tuple[Role, bool]],
        sessions: dict[str, scope.SessionFacts] | None = None,
    ) -> None:
        self.levels, self.roles = levels, roles
        self.sessions = sessions or {
            "s-1": scope.SessionFacts("laser-1", "a", None),
            "s-2": scope.SessionFacts("cnc-1", "a", None),
        }

    def session_station(self, session_id: str) -> str | None:
        facts = self.sessions.get(session_id)
        return facts.station_id if facts else None

    def session(self, session_id: str) -> scope.SessionFacts | None:
        return self.sessions.get(session_id)

    def level(self, member_id: str, kind: str) -> Level | None:
        return self.levels.get(member_id, Level.NONE) if member_id in self.roles else None

    def could_grant(self, member_id: str, kind: str, at: str | None) -> bool:
        if member_id not in self.roles:
            return False
        role, active = self.roles[member_id]
        return scope.may_grant(role.value, active, self.levels.get(member_id, Level.NONE).value)

    def command_station(self, command_id: str) -> str | None:
        return None


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=4,
)
names = st.sampled_from(["a", "b", "c"])


two = st.sampled_from(["a", "b"])


@given(
    levels=st.dictionaries(two, st.sampled_from(LEVEL_ORDER)),
    roles=st.dictionaries(two, st.tuples(st.sampled_from(list(Role)), st.booleans())),
    member=two,
    granter=two,
    level=st.sampled_from([*LEVEL_ORDER, "bogus"]),
    kind=st.sampled_from(["laser", "cnc"]),
    session=st.sampled_from(["s", "none"]),
    session_station=st.sampled_from(["laser-1", "laser-2"]),
    session_member=two,
    supervisor=st.none() | two,
    fits=st.booleans(),
)
@settings(max_examples=300)
def test_a_grant_applies_only_as_a_machine_grants(
    levels: dict[str, Level],
    roles: dict[str, tuple[Role, bool]],
    member: str,
    granter: str,
    level: Any,
    kind: str,
    session: str,
    session_station: str,
    session_member: str,
    supervisor: str | None,
    fits: bool,
) -> None:
    """One level up, supervised → autonomous only, from an allowed granter who supervised the
    member in a session of this station: every other combination is refused with a rule."""
    if fits:  # the session a machine grants in, often enough to test the rest
        session_station, session_member, supervisor = "laser-1", member, granter
    facts = scope.SessionFacts(session_station, session_member, supervisor)
    master = FakeMaster(levels, roles, {"s": facts})
    data = {"member_id": member, "kind": kind, "level": str(level), "granted_by": granter,
            "session_id": session}  # fmt: skip
    v = scope.check("qualification_granted", data, "laser-1", "laser", AT, master)
    current = levels.get(member, Level.NONE)
    expected = (
        kind == "laser"
        and member in roles
        and member != granter
        and current is Level.SUPERVISED
        and level is Level.AUTONOMOUS
        and granter in roles
        and roles[granter][1]
        and (roles[granter][0] is Role.EDUCATOR or levels.get(granter) is Level.MENTOR)
        and session == "s"
        and (session_station, session_member, supervisor) == ("laser-1", member, granter)
    )
    assert v.applied == expected
    assert v.applied or v.rule is not None


@given(
    type_=st.sampled_from([*sorted(scope.STATION_EVENT_TYPES), "x_forged"]),
    data=st.dictionaries(
        st.sampled_from(["session_id", "member_id", "kind", "level", "granted_by", "command_id"]),
        json_values,
        max_size=4,
    ),
    kind=st.sampled_from(["", "laser"]),
)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_the_rules_never_raise_on_any_content(type_: str, data: dict[str, Any], kind: str) -> None:
    v = scope.check(type_, data, "laser-1", kind, None, FakeMaster({}, {}))
    assert isinstance(v, scope.Verdict)
    assert json.dumps({"rule": v.rule})


# --- the shape of each event (station/events.py) -------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "data"),
    [
        # Every station writes it at start; the central store used to flag it unknown_type.
        ("station_started", {"version": "1", "backend": "mock", "machine_id": "l", "kind": "x"}),
        # A null where the station scrubbed a number that was not finite is not malformed.
        ("session_idle_warned", {"session_id": "s1", "member_id": "lea", "idle_s": None}),
    ],
)
def test_a_well_formed_known_event_is_applied_without_alert(
    store: SqliteCentralStore, type_: str, data: dict[str, Any]
) -> None:
    store.ingest("laser-1", [ev("laser-1", 1, type_, **data)])
    assert refused(store) == {} and scope_alerts(store) == []


def test_an_event_with_malformed_data_is_kept_refused_and_the_alert_names_the_field(
    store: SqliteCentralStore,
) -> None:
    bad = ev("laser-1", 1, "session_started", session_id=42, member_id="lea", kind="laser")
    batch = [bad, ev("laser-1", 2, "heartbeat", session_id="s1", member_id="lea")]
    result = store.ingest("laser-1", batch)
    assert result["high_water"] == 2 and result["refused"] == 1  # the station goes on
    assert refused(store) == {1: "bad_data"}
    assert store.db.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
    (alert,) = scope_alerts(store)
    assert alert["rule"] == "bad_data" and "session_started.session_id" in alert["detail"]
    again = store.ingest("laser-1", batch)
    assert (again["stored"], again["duplicates"]) == (0, 2) and len(scope_alerts(store)) == 1
