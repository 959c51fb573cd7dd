"""A roster import does not silently undo the grants made since the file was written.

An educator re-imports last month's spreadsheet: since then, mentors raised trainees' levels
at the machines (``qualification_granted`` events) and educators on the member pages. The file
does not know. Left alone, the import would lower those levels again (Léa back to
``supervised``). So by default an import keeps every level set after the file's date (its
modification time, or a date the educator gives) that the file would lower or withdraw, and
says which it kept; ``--undo-grants`` applies the file as it is, after listing what it undoes.

Pure functions over rows: the store calls :func:`grants_to_keep` inside its import transaction,
so a grant that arrives during the import is either seen or applied after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from station.model import Level, Qualification
from station.roster import RosterImport

if TYPE_CHECKING:  # central.store names NewerGrant from here
    from central.store import Roster

IMPORTED_BY = "import"
"""``granted_by`` of a level that came from a file, not from a person."""


@dataclass(frozen=True)
class NewerGrant:
    """A level set after the file's date that the file would lower or withdraw."""

    member_id: str
    kind: str
    level: str
    """The level now in the roster master."""
    file_level: str
    """What the file would set (``none``: the file withdraws it)."""
    granted_by: str | None
    granted_at: str

    def describe(self) -> str:
        by = f" by {self.granted_by}" if self.granted_by else ""
        return (
            f"{self.member_id} {self.kind}: {self.level} (granted{by} on {self.granted_at}), "
            f"the file says {self.file_level}"
        )


def file_date(path: Path) -> datetime:
    """The date the file was last written: levels set after it are newer than the file."""
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def parse_date(text: str) -> datetime:
    """``2026-11-01`` or an ISO-8601 time; a date or a time without zone is taken as UTC."""
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date: write it as 2026-11-01 or 2026-11-01T18:30"
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def grants_to_keep(
    current: Iterable[Mapping[str, Any]],
    roster: RosterImport,
    *,
    replace_all: bool,
    since: datetime,
) -> list[NewerGrant]:
    """The levels in ``current`` (the master's qualification rows) set by a person after
    ``since`` that importing ``roster`` would lower, or withdraw (``replace_all`` withdraws a
    listed member's kinds the file leaves out)."""
    wanted = {(q.member_id, q.kind): q.level for q in roster.qualifications}
    in_file = {m.id for m in roster.members}
    out = []
    for row in current:
        key = (row["member_id"], row["kind"])
        level = Level(row["level"])
        at = _when(row.get("granted_at"))
        by = row.get("granted_by")
        if level is Level.NONE or by in (None, IMPORTED_BY) or at is None or at <= since:
            continue
        if key in wanted:
            file_level = wanted[key]
        elif replace_all and key[0] in in_file:
            file_level = Level.NONE
        else:
            continue  # the file leaves it alone
        if file_level.rank < level.rank:
            out.append(NewerGrant(*key, level.value, file_level.value, by, str(row["granted_at"])))
    return sorted(out, key=lambda g: (g.member_id, g.kind))


def keeping(roster: RosterImport, grants: Iterable[NewerGrant]) -> RosterImport:
    """The roster with each newer grant's level in place of the file's."""
    keep = {(g.member_id, g.kind): g for g in grants}
    if not keep:
        return roster
    quals: list[Qualification] = []
    for q in roster.qualifications:
        if (q.member_id, q.kind) not in keep:
            quals.append(q)
    for g in keep.values():
        quals.append(Qualification(g.member_id, g.kind, Level(g.level), g.granted_by, g.granted_at))
    return replace(roster, qualifications=quals)


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_date(value)
    except ValueError:
        return None


EVER = datetime.min.replace(tzinfo=UTC)
"""``since`` that takes in every level a person set."""


def import_file(
    store: Roster,
    roster: RosterImport,
    *,
    replace_all: bool,
    since: datetime,
    undo_grants: bool = False,
) -> tuple[dict[str, int], list[str]]:
    """Import for a person at a terminal: the counts, and lines listing every level a person
    set that the file lowers or withdraws — kept when set after ``since`` (unless
    ``undo_grants``), lowered when set before it (a file copied today looks newer than the
    grants it undoes: nothing is lowered without a word)."""
    when = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lowered = store.grants_an_import_undoes(roster, replace_all=replace_all, since=EVER)
    kept: list[NewerGrant] = []
    if undo_grants:
        counts = store.import_roster(roster, replace_all=replace_all)
    else:
        counts, kept = store.import_roster_keeping_grants(
            roster, replace_all=replace_all, since=since
        )
    lines: list[str] = []
    if kept:
        lines.append(
            f"kept {len(kept)} level(s) set since the file's date ({when}) that the file would "
            "lower (to apply the file's levels anyway, import again with --undo-grants):"
        )
        lines += [f"  {g.describe()}" for g in kept]
    kept_keys = {(k.member_id, k.kind) for k in kept}
    done = [g for g in lowered if (g.member_id, g.kind) not in kept_keys]
    if done:
        lines.append(
            f"lowered {len(done)} level(s) a person had set, as the file says (file's date "
            f"{when}; set it with --as-of if the file is older):"
        )
        lines += [f"  {g.describe()}" for g in done]
    return counts, lines
