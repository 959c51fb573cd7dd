"""The roster: who may use which machine kind at which level, and the CSV it is imported from.

The CSV header is ``member_id,name,role,badge_uid,qualifications``; qualifications read
``laser:autonomous;printer3d:supervised``. A member with several badges takes several rows (name,
role and qualifications must then agree). Parsing is all or nothing: one bad row and nothing from
the file is imported, and every bad row is reported with its line number.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from station.errors import RosterError
from station.model import Badge, Level, Member, Qualification, Role

CSV_HEADER = ["member_id", "name", "role", "badge_uid", "qualifications"]
UID_PATTERN = re.compile(r"^(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})$")
MEMBER_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
KIND_PATTERN = re.compile(r"^[a-z0-9_]+$")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting with one of these is a formula to a spreadsheet (``=HYPERLINK(…)``)."""
BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Characters that reverse how text reads on screen (a name that shows as another)."""
MAX_FIELD = {"member_id": 64, "name": 120, "role": 20, "badge_uid": 40, "qualifications": 500}
"""The longest each field may be, in characters."""


class RosterProblem(ValueError):
    """One thing wrong with a roster value: ``code`` and ``values`` let a page say it in the
    reader's language (``c.import.<code>`` in the central catalogs); ``str()`` is the English."""

    def __init__(self, code: str, english: str, **values: object) -> None:
        super().__init__(english)
        self.code, self.values = code, values


@dataclass(frozen=True)
class RowProblem:
    """A problem on one line of a roster file (``line`` None: the file as a whole)."""

    line: int | None
    code: str
    english: str
    values: dict[str, object]


def csv_cell(value: object) -> object:
    """A cell a spreadsheet will not run: text starting with a formula character (or with the
    quote that marks one) gets a leading ``'``; :func:`parse_roster_csv` takes it off again."""
    if isinstance(value, str) and value[:1] in (*FORMULA_START, "'"):
        return "'" + value
    return value


def _uncell(value: str) -> str:
    """The inverse of :func:`csv_cell`, for a cell read back from a file."""
    if len(value) > 1 and value[0] == "'" and value[1] in (*FORMULA_START, "'"):
        return value[1:]
    return value


def unsafe_text(value: str, what: str) -> str | None:
    """Why ``value`` cannot be stored (a control or bidi character), or None when it can."""
    problem = unsafe_problem(value, what)
    return str(problem) if problem else None


def unsafe_problem(value: str, what: str) -> RosterProblem | None:
    """:func:`unsafe_text` as a :class:`RosterProblem`, for pages in another language."""
    for ch in value:
        char = f"U+{ord(ch):04X}"
        if ch in BIDI:
            return RosterProblem(
                "bidi",
                f"{what} holds an invisible character that turns text around ({char}); type it "
                "again",
                field=what,
                char=char,
            )
        if unicodedata.category(ch) == "Cc":
            return RosterProblem(
                "control",
                f"{what} holds a control character ({char}); remove it",
                field=what,
                char=char,
            )
    return None


def normalise_uid(raw: str) -> str:
    """Upper-case hex without separators: ``04:a1:b2:c3`` → ``04A1B2C3``.

    Raises ValueError when the result is not 4, 7 or 10 bytes of hex.
    """
    uid = re.sub(r"[\s:\-]", "", raw).upper()
    if not UID_PATTERN.match(uid):
        raise RosterProblem(
            "badge_uid",
            f"badge_uid {raw!r} is not 4, 7 or 10 bytes of hex (e.g. 04A1B2C3 or 04:A1:B2:C3)",
            value=raw,
        )
    return uid


@dataclass(frozen=True)
class Roster:
    """An immutable in-memory view of the roster, rebuilt whenever the stored roster changes."""

    members: dict[str, Member] = field(default_factory=dict)
    badges: dict[str, Badge] = field(default_factory=dict)
    qualifications: dict[tuple[str, str], Qualification] = field(default_factory=dict)
    version: int = 0
    expires_mono: float | None = None
    """Monotonic time after which only staff are admitted (set by sync; None: never)."""
    site_induction_kinds: frozenset[str] = frozenset()
    """Kinds on which this station's site asks for its own induction (from the central store;
    empty with a store that sends none)."""

    def badge(self, uid: str) -> Badge | None:
        return self.badges.get(uid)

    def member(self, member_id: str) -> Member | None:
        return self.members.get(member_id)

    def level(self, member_id: str, kind: str) -> Level:
        q = self.qualifications.get((member_id, kind))
        return q.level if q else Level.NONE

    def inducted(self, member_id: str, kind: str) -> bool:
        """Passed the induction quiz of ``kind``: at level ``none``, may start a supervised
        session (the first step of the learning path)."""
        m = self.members.get(member_id)
        return m is not None and kind in m.inducted

    def site_inducted(self, member_id: str, kind: str) -> bool:
        """Had the site's own induction on ``kind``, or the site asks for none on it."""
        if kind not in self.site_induction_kinds:
            return True
        m = self.members.get(member_id)
        return m is not None and kind in m.site_inducted

    def mentors_for(self, kind: str) -> list[Member]:
        """Active members who can supervise ``kind`` (mentors first, then educators)."""
        mentors = [
            m
            for (mid, k), q in self.qualifications.items()
            if k == kind and q.level is Level.MENTOR and (m := self.members.get(mid)) and m.active
        ]
        educators = [m for m in self.members.values() if m.role is Role.EDUCATOR and m.active]
        return sorted(mentors, key=lambda m: m.name) + sorted(educators, key=lambda m: m.name)

    def with_qualification(self, q: Qualification) -> Roster:
        quals = dict(self.qualifications)
        quals[(q.member_id, q.kind)] = q
        return replace(self, qualifications=quals, version=self.version)


@dataclass(frozen=True)
class RosterImport:
    """What a CSV file holds, ready to be stored in one transaction."""

    members: list[Member]
    badges: list[Badge]
    qualifications: list[Qualification]


def parse_roster_csv(text: str, source: str = "roster.csv") -> RosterImport:
    """Parse a roster CSV; raise :class:`RosterError` listing every bad line, importing nothing."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header_text = ",".join(CSV_HEADER)
    try:
        header = next(reader)
    except StopIteration:
        english = f"the file is empty; the first line must be the header {header_text}"
        problem = RowProblem(None, "empty", english, {"header": header_text})
        raise RosterError(f"{source}: {english}", (problem,)) from None
    header = [h.strip().lower() for h in header]
    if header != CSV_HEADER:
        found = ",".join(header)
        english = f"the header must be exactly {header_text} (found {found})"
        problem = RowProblem(1, "header", english, {"header": header_text, "found": found})
        raise RosterError(f"{source}, line 1: {english}", (problem,), 1)
    problems: list[RowProblem] = []
    members: dict[str, Member] = {}
    member_line: dict[str, int] = {}
    quals_of: dict[str, dict[str, Level]] = {}
    badges: dict[str, Badge] = {}
    badge_line: dict[str, int] = {}
    last = reader.line_num
    for row in reader:
        line, last = last + 1, reader.line_num  # where the row starts (a quoted cell may span)
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(CSV_HEADER):
            problems.append(
                RowProblem(
                    line,
                    "fields",
                    f"expected {len(CSV_HEADER)} fields ({header_text}), found {len(row)}",
                    {"expected": len(CSV_HEADER), "header": header_text, "found": len(row)},
                )
            )
            continue
        cells = [_uncell(cell.strip()) for cell in row]
        row_problems = _cell_problems(cells)
        if not row_problems:
            row_problems = _row_problems(cells, members, quals_of, member_line, badges, badge_line)
        if row_problems:
            problems.extend(RowProblem(line, p.code, str(p), dict(p.values)) for p in row_problems)
            continue
        member_id, name, role_raw, uid_raw, quals_raw = cells
        if member_id not in members:
            members[member_id] = Member(member_id, name, Role(role_raw.lower()), True)
            member_line[member_id] = line
            quals_of[member_id] = parse_qualifications(quals_raw)
        if uid_raw:
            uid = normalise_uid(uid_raw)
            badges[uid] = Badge(uid, member_id, True)
            badge_line[uid] = line
    if problems:
        raise _bad_rows(source, problems)
    qualifications = [
        Qualification(mid, kind, level) for mid, q in quals_of.items() for kind, level in q.items()
    ]
    return RosterImport(list(members.values()), list(badges.values()), qualifications)


def _bad_rows(source: str, problems: list[RowProblem]) -> RosterError:
    """One error for the whole file: every problem, and how many rows (not problems) are bad."""
    rows = len({p.line for p in problems})
    lines = [f"line {p.line}: {p.english}" for p in problems]
    shown = lines[:50]
    more = f"\n… and {len(lines) - 50} more" if len(lines) > 50 else ""
    what = "1 bad row" if rows == 1 else f"{rows} bad rows"
    return RosterError(
        f"{source}: {what}; nothing was imported. Fix them and import again:\n  "
        + "\n  ".join(shown)
        + more,
        tuple(problems),
        rows,
    )


def _row_problems(
    cells: list[str],
    members: dict[str, Member],
    quals_of: dict[str, dict[str, Level]],
    member_line: dict[str, int],
    badges: dict[str, Badge],
    badge_line: dict[str, int],
) -> list[RosterProblem]:
    """What is wrong with one row's values, and with how it agrees with the rows before it."""
    member_id, name, role_raw, uid_raw, quals_raw = cells
    out: list[RosterProblem] = []
    if not MEMBER_ID_PATTERN.match(member_id):
        out.append(
            RosterProblem(
                "member_id",
                f"member_id {member_id!r} must be letters, digits, '.', '_' or '-' (max 64)",
                value=member_id,
            )
        )
    if not name:
        out.append(RosterProblem("name_empty", "name is empty"))
    try:
        role = Role(role_raw.lower())
    except ValueError:
        out.append(
            RosterProblem(
                "role",
                f"role {role_raw!r} must be one of trainee, educator, technician",
                value=role_raw,
            )
        )
        role = Role.TRAINEE
    uid = None
    if uid_raw:
        try:
            uid = normalise_uid(uid_raw)
        except RosterProblem as e:
            out.append(e)
    try:
        quals = parse_qualifications(quals_raw)
    except RosterProblem as e:
        out.append(e)
        quals = {}
    if not out and member_id in members:
        first = members[member_id]
        if (first.name, first.role) != (name, role) or quals_of[member_id] != quals:
            out.append(
                RosterProblem(
                    "member_conflict",
                    f"member {member_id} is on line {member_line[member_id]} with another name, "
                    "role or qualifications; rows of one member must agree",
                    id=member_id,
                    first=member_line[member_id],
                )
            )
    if uid and uid in badges and badges[uid].member_id != member_id:
        out.append(
            RosterProblem(
                "badge_taken",
                f"badge {uid} is already given to {badges[uid].member_id} on line "
                f"{badge_line[uid]}",
                uid=uid,
                holder=badges[uid].member_id,
                first=badge_line[uid],
            )
        )
    return out


def _cell_problems(cells: list[str]) -> list[RosterProblem]:
    """Control and bidi characters, over-long fields: each named, for the line's message."""
    out = []
    for header, cell in zip(CSV_HEADER, cells, strict=True):
        if len(cell) > MAX_FIELD[header]:
            out.append(
                RosterProblem(
                    "too_long",
                    f"{header} is longer than {MAX_FIELD[header]} characters",
                    field=header,
                    max=MAX_FIELD[header],
                )
            )
        elif problem := unsafe_problem(cell, header):
            out.append(problem)
    return out


def read_roster_file(path: Path) -> RosterImport:
    """Parse a roster CSV file; :class:`RosterError` says what is wrong with the file or rows."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RosterError(f"{path}: no such file") from None
    except UnicodeDecodeError as e:
        raise RosterError(f"{path}: not UTF-8 text ({e}); save it as CSV UTF-8") from None
    except OSError as e:
        raise RosterError(f"{path}: cannot be read: {e}") from None
    return parse_roster_csv(text, str(path))


def parse_qualifications(raw: str) -> dict[str, Level]:
    """``laser:autonomous;printer3d:supervised`` → ``{"laser": AUTONOMOUS, ...}``."""
    out: dict[str, Level] = {}
    for part in filter(None, (p.strip() for p in raw.split(";"))):
        kind, sep, level_raw = part.partition(":")
        kind, level_raw = kind.strip().lower(), level_raw.strip().lower()
        if not sep or not KIND_PATTERN.match(kind):
            raise RosterProblem(
                "qual_format",
                f"qualification {part!r} must read kind:level, e.g. laser:autonomous",
                value=part,
            )
        try:
            level = Level(level_raw)
        except ValueError:
            raise RosterProblem(
                "qual_level",
                f"qualification level {level_raw!r} for {kind} must be supervised, autonomous or "
                "mentor",
                value=level_raw,
                kind=kind,
            ) from None
        if level is Level.NONE:
            raise RosterProblem(
                "qual_none",
                f"qualification {part!r}: leave a kind out instead of 'none'",
                value=part,
            )
        if kind in out:
            raise RosterProblem("qual_twice", f"qualification for {kind} is given twice", kind=kind)
        out[kind] = level
    return out


def roster_to_csv(
    members: Iterable[Member], badges: Iterable[Badge], qualifications: Iterable[Qualification]
) -> str:
    """The inverse of :func:`parse_roster_csv` (one row per badge; members without one too)."""
    quals: dict[str, list[str]] = {}
    for q in sorted(qualifications, key=lambda q: (q.member_id, q.kind)):
        quals.setdefault(q.member_id, []).append(f"{q.kind}:{q.level.value}")
    badges_of: dict[str, list[str]] = {}
    for b in badges:
        badges_of.setdefault(b.member_id, []).append(b.uid)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_HEADER)
    for m in members:
        for uid in sorted(badges_of.get(m.id, [""])):
            cells = [m.id, m.name, m.role.value, uid, ";".join(quals.get(m.id, []))]
            w.writerow([csv_cell(c) for c in cells])
    return out.getvalue()
