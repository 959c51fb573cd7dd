"""The station's words: roles, levels, machine states, reasons, and the decisions it takes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    TRAINEE = "trainee"
    EDUCATOR = "educator"
    TECHNICIAN = "technician"

    @property
    def is_staff(self) -> bool:
        return self is not Role.TRAINEE


class Level(StrEnum):
    """A member's qualification for one machine kind, in increasing order."""

    NONE = "none"
    SUPERVISED = "supervised"
    AUTONOMOUS = "autonomous"
    MENTOR = "mentor"

    @property
    def rank(self) -> int:
        return LEVEL_ORDER.index(self)


LEVEL_ORDER = [Level.NONE, Level.SUPERVISED, Level.AUTONOMOUS, Level.MENTOR]


class MachineState(StrEnum):
    AVAILABLE = "available"
    IN_USE = "in_use"
    FINISHING = "finishing"
    TO_CHECK = "to_check"
    OUT_OF_SERVICE = "out_of_service"
    FAULT = "fault"

    @property
    def relay_on(self) -> bool:
        """Only these states power the machine: the single rule the relay follows."""
        return self in (MachineState.IN_USE, MachineState.FINISHING)


class Denial(StrEnum):
    """Why a tap did not switch the machine on. Each has a kiosk message saying what to do."""

    UNKNOWN_BADGE = "unknown_badge"
    BADGE_INACTIVE = "badge_inactive"
    MEMBER_INACTIVE = "member_inactive"
    NOT_QUALIFIED = "not_qualified"
    NEEDS_SUPERVISOR = "needs_supervisor"
    MACHINE_IN_USE = "machine_in_use"
    OUT_OF_SERVICE = "out_of_service"
    TO_CHECK = "to_check"
    FAULT = "fault"
    ROSTER_EXPIRED = "roster_expired"
    BADGE_INVALID = "badge_invalid"
    """The card failed the anti-clone check (see docs/hardware.md, "Against cloned badges")."""
    SITE_INDUCTION_NEEDED = "site_induction_needed"
    """This fablab asks for its own induction on the kind, and the member has not had it."""


class EndReason(StrEnum):
    BADGE_OUT = "badge_out"
    TIMEOUT = "timeout"
    IDLE = "idle"
    TECHNICIAN = "technician"
    TAKEOVER = "takeover"
    STATION_RESTART = "station_restart"
    STATION_STOPPED = "station_stopped"
    """A clean stop (SIGTERM, SIGINT) ended the session with its true totals."""
    FAULT = "fault"
    HANDOVER = "handover"
    """A mentor's own session handed to the supervised trainee who co-badged after them."""


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    role: Role
    active: bool = True
    inducted: frozenset[str] = frozenset()
    """Kinds whose induction quiz this member passed (central store, through the roster)."""
    site_inducted: frozenset[str] = frozenset()
    """Kinds on which this member had the station's site's own induction (issue 13)."""

    @property
    def first_name(self) -> str:
        """What a public screen may show: the first word of the name."""
        return self.name.split()[0] if self.name.strip() else self.id


@dataclass(frozen=True)
class Badge:
    uid: str
    member_id: str
    active: bool = True


@dataclass(frozen=True)
class Qualification:
    member_id: str
    kind: str
    level: Level
    granted_by: str | None = None
    granted_at: str | None = None
