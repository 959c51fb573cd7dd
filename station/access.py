"""Who is tapping, and what they may do with this machine kind. Pure functions of the roster."""

from __future__ import annotations

from dataclasses import dataclass

from station.model import Denial, Level, Member, Role
from station.roster import Roster


@dataclass(frozen=True)
class Identity:
    uid: str
    member: Member

    @property
    def id(self) -> str:
        return self.member.id


def identify(roster: Roster, uid: str) -> Identity | Denial:
    """The member behind a badge, or why the badge cannot be used at all."""
    badge = roster.badge(uid)
    if badge is None:
        return Denial.UNKNOWN_BADGE
    member = roster.member(badge.member_id)
    if member is None:
        return Denial.UNKNOWN_BADGE
    if not badge.active:
        return Denial.BADGE_INACTIVE
    if not member.active:
        return Denial.MEMBER_INACTIVE
    return Identity(uid, member)


def level_for(roster: Roster, member: Member, kind: str) -> Level:
    """Staff may use any machine: they count as mentors for every kind."""
    if member.role.is_staff:
        return Level.MENTOR
    return roster.level(member.id, kind)


def needs_a_supervisor(roster: Roster, member: Member, kind: str) -> bool:
    """Admitted only with a co-badge: a ``supervised`` trainee, or one at ``none`` who passed
    the induction quiz of this kind (the learning path's first step)."""
    level = level_for(roster, member, kind)
    return level is Level.SUPERVISED or (level is Level.NONE and roster.inducted(member.id, kind))


def lacks_site_induction(roster: Roster, member: Member, kind: str) -> bool:
    """This fablab asks for its own induction on ``kind`` and the member has not had it here.
    Staff are not asked: they run the machines and give the induction."""
    return not member.role.is_staff and not roster.site_inducted(member.id, kind)


def can_supervise(roster: Roster, member: Member, kind: str) -> bool:
    """A ``mentor`` for this kind, or an educator, may supervise a ``supervised`` trainee."""
    return member.role is Role.EDUCATOR or roster.level(member.id, kind) is Level.MENTOR


STAFF_ONLY_CHECKS = frozenset({"problem_reported:broken"})
"""``to_check`` reasons only staff clear: a peer mentor cannot judge whether a repair is needed."""


def can_clear_check(roster: Roster, member: Member, kind: str, reason: str | None = None) -> bool:
    """A technician, an educator or a mentor for this kind may clear ``to_check``.

    A report that the machine is broken (``reason`` in :data:`STAFF_ONLY_CHECKS`) needs staff.
    """
    if member.role.is_staff:
        return True
    return reason not in STAFF_ONLY_CHECKS and roster.level(member.id, kind) is Level.MENTOR


def helpers_for(roster: Roster, kind: str, limit: int = 3) -> list[str]:
    """First names of people a denied trainee can ask: mentors for the kind, then educators."""
    names: list[str] = []
    for m in roster.mentors_for(kind):
        if m.first_name not in names:
            names.append(m.first_name)
        if len(names) == limit:
            break
    return names


def trainers_for(roster: Roster, limit: int = 3) -> list[str]:
    """First names of educators: they arrange a first training for a trainee at level ``none``."""
    names: list[str] = []
    for m in sorted(roster.members.values(), key=lambda m: m.name):
        if m.role is Role.EDUCATOR and m.active and m.first_name not in names:
            names.append(m.first_name)
    return names[:limit]


def mentors_only(roster: Roster, kind: str, limit: int = 3) -> list[str]:
    """First names of peer mentors for ``kind`` (not educators): who teaches at the machine."""
    names: list[str] = []
    for m in roster.mentors_for(kind):
        if m.role is not Role.EDUCATOR and m.first_name not in names:
            names.append(m.first_name)
    return names[:limit]
