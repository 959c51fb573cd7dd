"""The induction quiz of a machine kind: its file format, its checks, its marking.

Educators write it as plain text in the central admin, one line per thing, French first::

    # Lines starting with # are comments.
    title: Induction sécurité — découpe laser
    pass_mark: 4            (correct answers needed; or a percentage, « 80 % »)

    question: Avant de lancer une découpe, que vérifies-tu ?
    picture: extractor      (optional: one of PICTURES)
    * L'extracteur d'air tourne     (« * »: the right answer, exactly one)
    - Rien, la machine s'en occupe
    - Que le capot est ouvert
    why: Sans extraction, les fumées sont toxiques.   (optional: shown after answering)

A bad file is refused whole, every problem named with its line and field, in the reader's
language (``c.quiz.err.<code>``): nothing half-saved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from central.errors import CentralError

PICTURES = ("extractor", "goggles", "extinguisher", "stop", "hands", "fire")
"""Safety pictograms drawn by the pages (web), named in a ``picture:`` line."""
MAX_QUESTIONS = 20
MAX_TEXT = 300
MAX_ANSWERS = 6
MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class Problem:
    line: int | None
    code: str
    english: str
    values: dict[str, object] = field(default_factory=dict)


class QuizError(CentralError, ValueError):
    """A quiz file is wrong; ``problems`` names each line and field."""

    def __init__(self, problems: list[Problem]) -> None:
        first = problems[0]
        where = f"line {first.line}: " if first.line else ""
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{where}{first.english}{more}")
        self.problems = problems


@dataclass(frozen=True)
class Question:
    text: str
    answers: tuple[str, ...]
    correct: int
    picture: str | None = None
    why: str = ""


@dataclass(frozen=True)
class Quiz:
    title: str
    pass_mark: int
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Mark:
    correct: int
    total: int
    passed: bool
    wrong: tuple[int, ...]  # 0-based questions answered wrongly (or not at all)


_KEY = re.compile(r"^(title|pass_mark|question|picture|why)\s*:\s*(.*)$")
_PERCENT = re.compile(r"^(\d{1,3})\s*%$")


class _Builder:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.title = ""
        self.pass_raw: tuple[int, str] | None = None
        self.questions: list[dict[str, object]] = []

    def problem(self, line: int | None, code: str, english: str, **values: object) -> None:
        self.problems.append(Problem(line, code, english, values))

    def current(self, line: int, what: str) -> dict[str, object] | None:
        if not self.questions:
            self.problem(
                line, "before_question", f"{what} comes before any « question: » line", field=what
            )
            return None
        return self.questions[-1]


def parse(text: str) -> Quiz:
    """The quiz in ``text``, or QuizError listing every problem with its line."""
    b = _Builder()
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise QuizError([Problem(None, "too_large", "the file is larger than 64 KiB")])
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if len(line) > MAX_TEXT + 20:
            b.problem(number, "too_long", f"at most {MAX_TEXT} characters", max=MAX_TEXT)
            continue
        if line[0] in "*-":
            q = b.current(number, "answer")
            if q is not None:
                answer = line[1:].strip()
                if not answer:
                    b.problem(number, "empty_answer", "an answer has no text", field="answer")
                answers = q["answers"]
                assert isinstance(answers, list)
                if line[0] == "*":
                    if q["correct"] is not None:
                        b.problem(
                            number,
                            "two_correct",
                            "a question has one right answer (one « * »)",
                            field="answer",
                        )
                    q["correct"] = len(answers)
                answers.append(answer)
            continue
        m = _KEY.match(line)
        if m is None:
            b.problem(
                number,
                "unknown_line",
                "start a line with « question: », « * », « - », "
                "« picture: », « why: », « title: » or « pass_mark: »",
                text=line[:40],
            )
            continue
        key, value = m.group(1), m.group(2).strip()
        if key == "title":
            b.title = value
        elif key == "pass_mark":
            b.pass_raw = (number, value)
        elif key == "question":
            if not value:
                b.problem(number, "empty_question", "the question has no text", field="question")
            b.questions.append(
                {
                    "line": number,
                    "text": value,
                    "answers": [],
                    "correct": None,
                    "picture": None,
                    "why": "",
                }
            )
        elif key == "picture":
            q = b.current(number, "picture")
            if q is not None:
                if value not in PICTURES:
                    b.problem(
                        number,
                        "unknown_picture",
                        f"picture: one of {', '.join(PICTURES)}",
                        field="picture",
                        value=value,
                        choices=", ".join(PICTURES),
                    )
                q["picture"] = value
        else:
            q = b.current(number, "why")
            if q is not None:
                q["why"] = value
    return _finish(b)


def _finish(b: _Builder) -> Quiz:
    if not b.title:
        b.problem(None, "no_title", "give the quiz a « title: » line", field="title")
    if not b.questions:
        b.problem(None, "no_questions", "the quiz has no « question: » line", field="question")
    if len(b.questions) > MAX_QUESTIONS:
        b.problem(None, "too_many", f"at most {MAX_QUESTIONS} questions", max=MAX_QUESTIONS)
    questions = []
    for q in b.questions:
        answers = q["answers"]
        assert isinstance(answers, list)
        line = q["line"]
        assert isinstance(line, int)
        if not 2 <= len(answers) <= MAX_ANSWERS:
            b.problem(
                line,
                "answer_count",
                f"a question has 2 to {MAX_ANSWERS} answers",
                field="answer",
                count=len(answers),
                max=MAX_ANSWERS,
            )
        elif q["correct"] is None:
            b.problem(line, "no_correct", "mark the right answer with « * »", field="answer")
        else:
            questions.append(
                Question(
                    str(q["text"]),
                    tuple(answers),
                    int(q["correct"]),  # type: ignore[call-overload]
                    q["picture"] if isinstance(q["picture"], str) else None,
                    str(q["why"]),
                )
            )
    pass_mark = _pass_mark(b, len(b.questions))
    if b.problems:
        raise QuizError(sorted(b.problems, key=lambda p: (p.line is None, p.line or 0)))
    return Quiz(b.title, pass_mark, tuple(questions))


def _pass_mark(b: _Builder, count: int) -> int:
    if b.pass_raw is None:
        b.problem(
            None,
            "no_pass_mark",
            "give a « pass_mark: » line (answers needed, or « 80 % »)",
            field="pass_mark",
        )
        return 0
    line, value = b.pass_raw
    if count == 0:
        return 0  # « no questions » says it already
    m = _PERCENT.match(value)
    if m:
        percent = int(m.group(1))
        if not 1 <= percent <= 100:
            b.problem(
                line,
                "bad_pass_mark",
                "pass_mark: a percentage from 1 to 100",
                field="pass_mark",
                value=value,
            )
            return 0
        return max(1, -(-percent * count // 100))
    if value.isdigit() and count and 1 <= int(value) <= count:
        return int(value)
    b.problem(
        line,
        "bad_pass_mark",
        f"pass_mark: a number from 1 to {count} (the questions), or a percentage such as « 80 % »",
        field="pass_mark",
        value=value,
        max=count,
    )
    return 0


def mark(quiz: Quiz, answers: dict[int, int]) -> Mark:
    """Mark the answers (question index → answer index); a missing answer is wrong."""
    wrong = tuple(i for i, q in enumerate(quiz.questions) if answers.get(i) != q.correct)
    correct = len(quiz.questions) - len(wrong)
    return Mark(correct, len(quiz.questions), correct >= quiz.pass_mark, wrong)


SAMPLE = """\
# Le quiz d'induction : une ligne « question: », puis les réponses.
# « * » marque la bonne réponse (une seule), « - » les autres.
title: Induction sécurité — découpe laser
pass_mark: 3

question: Avant de lancer une découpe, que vérifies-tu ?
picture: extractor
* L'extracteur d'air tourne
- Rien, la machine s'en occupe
- Que le capot est ouvert
why: Sans extraction, les fumées de découpe sont toxiques.

question: Une flamme apparaît pendant la découpe. Que fais-tu ?
picture: fire
* J'appuie sur l'arrêt d'urgence et je préviens l'équipe
- J'attends qu'elle s'éteigne seule
- J'ouvre le capot pour souffler dessus
why: L'arrêt coupe le laser ; l'équipe sait utiliser l'extincteur.

question: Peux-tu quitter la pièce pendant une découpe ?
picture: stop
* Non, je reste devant la machine jusqu'à la fin
- Oui, si la découpe est longue
- Oui, si quelqu'un d'autre est dans la pièce
why: Un départ de feu se maîtrise dans les premières secondes.

question: Quels matériaux sont interdits dans la découpe laser ?
picture: hands
* Le PVC et les plastiques inconnus
- Le contreplaqué
- Le carton
why: Le PVC dégage du chlore, toxique et corrosif.
"""
