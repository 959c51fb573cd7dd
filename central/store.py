"""The central store's interface: :class:`CentralStore`, the only door to what it keeps.

Everything the HTTP face, the CLI, the reports, privacy and the fleet need, in the users' words,
one protocol per concern (stations, ingest, alerts, roster, commands, accounts, reports, progress,
privacy, credentials, quizzes) put together in :class:`CentralStore`. No SQL leaves the
implementation: the default one is :class:`central.sqlite.SqliteCentralStore` (one module per
concern), and a PostgreSQL backend implements the same protocols beside it
(``tests/test_store_door.py`` fails on SQL or a private store member outside ``central/sqlite/``).

Events are keyed on ``(station_id, seq)``: a retried or duplicated batch is harmless, and each
station's *high-water mark* (the highest seq up to which every event is held) is what a sync
acknowledges. Projections (sessions, grants, the roster's qualifications, command
acknowledgements) are updated in the same transaction as the events they come from. Every method
is safe to call from any thread and returns plain values (dicts, lists, numbers), never a cursor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypedDict

from central.clock import now_iso
from central.errors import BadRequest
from central.ingest import Event
from central.roster_import import NewerGrant
from station.model import Level, Role
from station.roster import RosterImport

__all__ = ["ROLES", "CentralStore", "Filters", "now_iso"]

ROLES = ("educator", "technician", "admin")
"""Web roles. A technician sees the fleet; an educator manages the roster and reports; an admin
does both and manages accounts and stations."""

PERIODS = {"day": 10, "month": 7, "year": 4}
"""Period → length of the ISO date prefix that names it (``2026-03-02``, ``2026-03``, ``2026``)."""

Row = dict[str, Any]
"""One row of a report or a page: column name → plain value (str, int, float, bool or None)."""


# --- values the protocol returns (plain data: no cursor, no row object) -----------------------


class HoursRow(TypedDict):
    """Hours of practice of one trainee on one kind in one period."""

    period: str
    member_id: str
    name: str
    kind: str | None
    sessions: int
    hours: float
    supervised_sessions: int
    energy_kwh: float


class TraineeEnergyRow(TypedDict):
    """What one trainee's whole jobs cost (finishing phase included)."""

    member_id: str
    name: str
    sessions: int
    hours: float
    energy_kwh: float
    finishing_energy_kwh: float


class MentorRow(TypedDict):
    """Peer-teaching credit of one mentor."""

    member_id: str
    name: str
    sessions_supervised: int
    hours_supervised: float
    grants_given: int


class LevelGiven(TypedDict):
    """A level given to a member: at a machine (``station_id``) or on the pages (None)."""

    granted_at: str
    member_id: str
    name: str
    kind: str
    previous_level: str | None
    level: str
    granted_by: str | None
    granted_by_name: str | None
    station_id: str | None


class MachineUseRow(TypedDict):
    """Sessions, hours and energy of one machine in one period."""

    period: str
    station_id: str
    machine_id: str
    kind: str | None
    sessions: int
    hours: float
    energy_kwh: float


class SupervisionPair(TypedDict):
    """Sessions ``supervisor_id`` supervised for ``member_id``."""

    member_id: str
    supervisor_id: str
    sessions: int
    hours: float


class MemberRole(TypedDict):
    id: str
    name: str
    role: str


class PracticeSession(TypedDict):
    """One of a trainee's sessions on a kind, as the progress page counts it."""

    kind: str
    started_at: str
    seconds: float
    supervisor_id: str | None


class LevelChange(TypedDict):
    """One row of a member's qualification history, in the order the store saw it."""

    kind: str
    level: str
    at: str
    granted_by: str | None


class SessionRecord(TypedDict):
    """A session the member had or supervised (the right of access)."""

    id: str
    station_id: str
    machine_id: str | None
    kind: str | None
    member_id: str
    supervisor_id: str | None
    started_at: str | None
    ended_at: str | None
    end_reason: str | None
    duration_s: float | None
    energy_wh: float | None


class GrantRecord(TypedDict):
    """A grant the member received or gave (the right of access)."""

    station_id: str
    member_id: str
    kind: str
    level: str
    previous_level: str | None
    granted_by: str | None
    granted_at: str


class StoredEvent(TypedDict):
    """An event as the pages show it: its station, seq, type, (repaired) time and data."""

    station_id: str
    seq: int
    type: str
    at: str
    data: dict[str, Any]


class Alert(TypedDict):
    """A fleet alert, with the badge's current holder when the roster knows it."""

    kind: str
    at: str
    data: dict[str, Any]
    member_id: str | None
    member_name: str | None


class Erasure(TypedDict):
    """What an erasure changed."""

    member_id: str
    pseudonym: str
    events: int
    sessions: int
    badges: int


class RetentionRun(TypedDict):
    at: str
    days: int
    erased: int
    dry_run: int


@dataclass(frozen=True)
class Filters:
    """What a report covers: a date range (``until`` included), a machine kind, a period, and
    one site (None: the whole network)."""

    since: str | None = None
    until: str | None = None
    kind: str | None = None
    period: str = "month"
    site: str | None = None

    @classmethod
    def parse(cls, args: Any) -> Filters:
        """From query arguments; a bad one is :class:`BadRequest` naming it."""
        since, until = args.get("since") or None, args.get("until") or None
        for name, value in (("since", since), ("until", until)):
            if value is not None:
                try:
                    date.fromisoformat(value)
                except ValueError:
                    raise BadRequest(f"{name} must be a date, e.g. 2026-03-01", name) from None
        period = args.get("period") or "month"
        if period not in PERIODS:
            raise BadRequest(f"period must be one of {', '.join(PERIODS)}", "period")
        kind = args.get("kind") or None
        if kind is not None and (len(kind) > 40 or not kind.replace("_", "").isalnum()):
            raise BadRequest("kind must be a machine kind such as laser", "kind")
        site = args.get("site") or None
        if site is not None and (
            len(site) > 63 or not site.replace("-", "").replace("_", "").isalnum()
        ):
            raise BadRequest("site must be a site id such as gonesse", "site")
        return cls(since, until, kind, period, site)


class Stations(Protocol):
    """Stations and their tokens."""

    def add_station(
        self,
        station_id: str,
        *,
        name: str = "",
        machine_id: str = "",
        kind: str = "",
        site_id: str = ...,
    ) -> str: ...
    def rotate_token(self, station_id: str) -> str: ...
    def revoke_station(self, station_id: str) -> None: ...
    def stations(self) -> list[Row]: ...
    def station(self, station_id: str) -> Row: ...
    def station_for_token(self, token: str) -> str | None: ...


class Ingest(Protocol):
    """Events in (exactly once on ``(station_id, seq)``), projections kept, events out."""

    def ingest(
        self,
        station_id: str,
        events: list[Event],
        *,
        status: dict[str, Any] | None = None,
        backlog: int = 0,
    ) -> dict[str, Any]: ...
    def record_bad_status(self, station_id: str, field: str | None, message: str) -> None: ...
    def high_water(self, station_id: str) -> int: ...
    def events(
        self, station_id: str | None = None, after_seq: int = 0, limit: int | None = None
    ) -> Iterator[Row]: ...
    def count_events(self, station_id: str | None = None) -> int: ...
    def recent_events(self, types: tuple[str, ...], limit: int = 20) -> list[StoredEvent]: ...


class Alerts(Protocol):
    """The fleet's alerts, newest first."""

    def recent_alerts(self, limit: int = 20) -> list[Alert]: ...


class Roster(Protocol):
    """Members, badges and qualifications, versioned for the stations' sync."""

    def roster_version(self) -> int: ...
    def roster_changes(
        self, since: int, station_id: str | None = None
    ) -> dict[str, Any] | None: ...
    def import_roster(
        self, roster: RosterImport, *, replace_all: bool = True
    ) -> dict[str, int]: ...
    def import_roster_keeping_grants(
        self,
        roster: RosterImport,
        *,
        replace_all: bool,
        since: datetime,
        site_id: str | None = None,
    ) -> tuple[dict[str, int], list[NewerGrant]]: ...
    def grants_an_import_undoes(
        self, roster: RosterImport, *, replace_all: bool, since: datetime
    ) -> list[NewerGrant]: ...
    def roster_rows(self) -> dict[str, list[Row]]: ...
    def member_detail(self, member_id: str) -> Row: ...
    def set_badge_active(self, uid: str, active: bool) -> None: ...
    def set_qualification(self, member_id: str, kind: str, level: Level, by: str) -> None: ...
    def upsert_member(
        self,
        member_id: str,
        name: str,
        role: Role,
        active: bool = True,
        *,
        site_id: str | None = None,
    ) -> None: ...
    def add_badge(self, uid: str, member_id: str, *, move: bool = False) -> None: ...
    def enrol_from_station(
        self,
        station_id: str,
        uid: str,
        by: str,
        *,
        member_id: str | None = None,
        new_name: str | None = None,
    ) -> dict[str, Any]: ...
    def station_enrolments(self, limit: int = 50) -> list[Row]: ...


class Commands(Protocol):
    """Commands to stations and their acknowledgements."""

    def add_command(self, station_id: str, command: dict[str, Any], by: str) -> dict[str, Any]: ...
    def pending_commands(self, station_id: str) -> list[Row]: ...
    def commands(self, station_id: str | None = None, limit: int = 50) -> list[Row]: ...


class Accounts(Protocol):
    """Accounts of the web pages and their sessions."""

    def add_user(
        self,
        username: str,
        password: str,
        role: str,
        *,
        replace: bool = False,
        site_id: str | None = "",
    ) -> bool: ...
    def authenticate(self, username: str, password: str) -> dict[str, Any] | None: ...
    def session_user(self, username: str) -> dict[str, Any] | None: ...
    def end_sessions(self, username: str) -> None: ...
    def set_user_active(self, username: str, active: bool) -> None: ...
    def users(self) -> list[Row]: ...


class LoginFailures(Protocol):
    """Failed logins, per hashed key (client address, username), in the database: every central
    process behind one address counts the same failures (web/common/login.py)."""

    def login_failures(self, keys: list[str], since: float) -> int:
        """The most failures any of ``keys`` has had after ``since`` (epoch seconds)."""
        ...

    def record_login_failure(self, keys: list[str], at: float, forget_before: float) -> None:
        """One failure for each key at ``at``; failures before ``forget_before`` are dropped."""
        ...

    def clear_login_failures(self, keys: list[str]) -> None: ...


class Secrets(Protocol):
    """Secrets every process on the store must share (the web session key)."""

    def shared_secret(self, name: str) -> bytes | None:
        """The secret ``name`` (made once), or None where the store is one machine's file and
        the data directory's key file serves (SQLite)."""
        ...


class Changes(Protocol):
    """A counter of committed writes, to wait on (the dashboard's live stream): with
    PostgreSQL, a write through any central process on the database moves it (LISTEN/NOTIFY)."""

    def changes_seen(self) -> int: ...
    def wait_for_change(self, seen: int, timeout_s: float) -> int:
        """The counter once it differs from ``seen``, or after ``timeout_s``."""
        ...


class Reports(Protocol):
    """The figures of the reports (central/reports.py, central/programme.py), from the sessions
    and grants ingest keeps, never from the raw events. Times are the repaired ones."""

    def hours_by_period(self, f: Filters) -> list[HoursRow]: ...
    def energy_by_trainee(self, f: Filters) -> list[TraineeEnergyRow]: ...
    def energy_by_member(self, f: Filters) -> dict[str, float]: ...
    def mentor_credit(self, f: Filters) -> list[MentorRow]: ...
    def grants_at_machines(self, f: Filters, limit: int = 5000) -> list[LevelGiven]: ...
    def levels_set_on_pages(
        self, f: Filters, limit: int, *, except_by: str
    ) -> list[LevelGiven]: ...
    def machine_use(self, f: Filters) -> list[MachineUseRow]: ...
    def supervision_pairs(self, f: Filters) -> list[SupervisionPair]: ...
    def member_roles(self) -> list[MemberRole]: ...


class Sites(Protocol):
    """The fablabs of a network (docs/network.md): a station, a member and an account belong
    to one (an account with none is the network's)."""

    def sites(self) -> list[Row]: ...
    def add_site(self, site_id: str, name: str) -> bool: ...
    def move_station(self, station_id: str, site_id: str) -> None: ...
    def move_member(self, member_id: str, site_id: str) -> None: ...
    def set_user_site(self, username: str, site_id: str | None) -> None: ...
    def member_site(self, member_id: str) -> str | None: ...
    def set_induction_required(self, site_id: str, kind: str, required: bool) -> None: ...
    def record_site_induction(self, member_id: str, site_id: str, kind: str, by: str) -> None: ...
    def site_inductions(self, site_id: str) -> dict[str, Any]: ...


class Rollups(Protocol):
    """The reports' sums per day, member, supervisor, machine and site, kept by ingest; a
    day is a calendar day in the fablab's zone (``[site] timezone``, set by the wiring)."""

    def rebuild_rollups(self) -> int: ...
    def rollups_timezone(self) -> str: ...
    def set_rollups_timezone(self, zone: str) -> int | None: ...
    def rollup_rows(self) -> list[Row]: ...


class Progress(Protocol):
    """A trainee's progress page and its personal links."""

    def member_names(self, ids: set[str]) -> dict[str, str]: ...
    def practice_sessions(self, member_id: str) -> list[PracticeSession]: ...
    def qualification_history(self, member_id: str) -> list[LevelChange]: ...
    def link_generation(self, member_id: str) -> int: ...
    def link_revoked_at(self, member_id: str) -> str | None: ...
    def revoke_links(self, member_id: str, at: str) -> None: ...


class Privacy(Protocol):
    """A member's data exported, erased (pseudonymised), and the retention runs."""

    def pseudonym(self, member_id: str) -> str: ...
    def sessions_of(self, member_id: str) -> list[SessionRecord]: ...
    def grants_of(self, member_id: str) -> list[GrantRecord]: ...
    def events_naming(self, member_id: str) -> list[StoredEvent]: ...
    def erase_member(self, member_id: str) -> Erasure: ...
    def retention_candidates(self, cutoff: str) -> list[str]: ...
    def record_retention_run(self, days: int, erased: int, *, dry_run: bool) -> None: ...
    def retention_runs(self, limit: int = 20) -> list[RetentionRun]: ...


class Credentials(Protocol):
    """Open Badges credentials: consent, the holder's id, what was issued and revoked
    (``central/credentials/``; the signing keys are files, never here)."""

    def consent(self, member_id: str) -> Row | None: ...
    def record_consent(
        self, member_id: str, *, display_name: str, minor: bool, consent_by: str, by: str, at: str
    ) -> None: ...
    def withdraw_consent(self, member_id: str) -> None: ...
    def add_credential(
        self,
        member_id: str,
        kind: str,
        level: str,
        *,
        by: str,
        at: str,
        sign: Callable[[str, str, int], tuple[str, str]],
    ) -> Row: ...
    def credential(self, credential_id: str) -> Row | None: ...
    def credentials_of(self, member_id: str) -> list[Row]: ...
    def revoke_credential(self, credential_id: str, *, by: str, at: str, reason: str) -> Row: ...
    def revoked_indices(self) -> list[int]: ...
    def credential_at_index(self, index: int) -> Row | None: ...
    def credential_figures(self, member_id: str, kind: str) -> Row: ...


class Quizzes(Protocol):
    """The induction quiz of each machine kind, the attempts, one pass per trainee and kind
    (a pass reaches the stations with the roster)."""

    def save_quiz(self, kind: str, source: str, *, by: str, at: str) -> int: ...
    def quiz(self, kind: str) -> Row | None: ...
    def quizzes(self) -> list[Row]: ...
    def record_quiz_attempt(
        self, member_id: str, kind: str, *, at: str, correct: int, total: int, passed: bool
    ) -> None: ...
    def record_quiz_pass(
        self, member_id: str, kind: str, *, at: str, correct: int, total: int, version: int
    ) -> bool: ...
    def quiz_passes(self, member_id: str) -> list[Row]: ...


class CentralStore(
    Stations,
    Ingest,
    Alerts,
    Roster,
    Commands,
    Accounts,
    LoginFailures,
    Changes,
    Secrets,
    Reports,
    Sites,
    Rollups,
    Progress,
    Privacy,
    Credentials,
    Quizzes,
    Protocol,
):
    """What the central store keeps: every concern's protocol. Safe to call from any thread."""

    database_errors: tuple[type[Exception], ...]
    """The exceptions of the backend's database (a full disk, a server down): the pages answer
    them with 503 and a sentence, never a traceback."""

    def close(self) -> None: ...
