"""The induction quiz: its text format, every problem named with its line, the marking, and one
pass however often it is answered at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from central import quiz
from central.privacy import erase_member
from central.sqlite import SqliteCentralStore
from central.store import CentralStore
from station.roster import parse_roster_csv
from tests.conftest import sample_roster_text


def test_the_sample_parses_and_marks() -> None:
    q = quiz.parse(quiz.SAMPLE)
    assert q.title == "Induction sécurité — découpe laser" and q.pass_mark == 3
    assert len(q.questions) == 4 and q.questions[0].picture == "extractor"
    assert q.questions[3].correct == 0 and q.questions[3].answers[1] == "Le contreplaqué"
    assert quiz.mark(q, {0: 0, 1: 0, 2: 0, 3: 1}) == quiz.Mark(3, 4, True, (3,))
    assert quiz.mark(q, {0: 0, 1: 2}) == quiz.Mark(1, 4, False, (1, 2, 3))


def test_a_percentage_pass_mark_rounds_up() -> None:
    q = quiz.parse(quiz.SAMPLE.replace("pass_mark: 3", "pass_mark: 80 %"))
    assert q.pass_mark == 4  # 80 % of 4 questions is 3.2: four right answers


@pytest.mark.parametrize(
    ("text", "line", "code"),
    [
        ("title: t\npass_mark: 1\nquestion: q\n* a\n* b\n", 5, "two_correct"),
        ("title: t\npass_mark: 1\nquestion: q\n- a\n- b\n", 3, "no_correct"),
        ("title: t\npass_mark: 1\nquestion: q\n* a\n", 3, "answer_count"),
        ("title: t\npass_mark: 1\nquestion: q\npicture: robot\n* a\n- b\n", 4, "unknown_picture"),
        ("title: t\npass_mark: 2\nquestion: q\n* a\n- b\n", 2, "bad_pass_mark"),
        ("title: t\npass_mark: 150 %\nquestion: q\n* a\n- b\n", 2, "bad_pass_mark"),
        ("title: t\npass_mark: 1\n* a\nquestion: q\n* a\n- b\n", 3, "before_question"),
        ("title: t\npass_mark: 1\nquestion: q\n* a\n- b\nréponse: c\n", 6, "unknown_line"),
        ("pass_mark: 1\nquestion: q\n* a\n- b\n", None, "no_title"),
        ("title: t\nquestion: q\n* a\n- b\n", None, "no_pass_mark"),
        ("title: t\npass_mark: 1\n", None, "no_questions"),
    ],
)
def test_each_problem_names_its_line(text: str, line: int | None, code: str) -> None:
    with pytest.raises(quiz.QuizError) as e:
        quiz.parse(text)
    assert (e.value.problems[0].line, e.value.problems[0].code) == (line, code)
    if line:
        assert str(e.value).startswith(f"line {line}: ")


def test_every_problem_is_listed_not_only_the_first() -> None:
    text = "title: t\npass_mark: 9\nquestion: q\n* a\n* b\npicture: nope\n"
    with pytest.raises(quiz.QuizError) as e:
        quiz.parse(text)
    assert [(p.line, p.code) for p in e.value.problems] == [
        (2, "bad_pass_mark"),
        (5, "two_correct"),
        (6, "unknown_picture"),
    ]


def test_a_huge_file_is_refused() -> None:
    with pytest.raises(quiz.QuizError) as e:
        quiz.parse("# x\n" * 20000)
    assert e.value.problems[0].code == "too_large"


@pytest.fixture
def store(central_store: CentralStore) -> Iterator[CentralStore]:
    """Both backends (tests/conftest.py)."""
    s = central_store
    s.import_roster(parse_roster_csv(sample_roster_text()))
    yield s


def test_a_quiz_answered_twice_at_once_records_one_pass(store: SqliteCentralStore) -> None:
    version = store.save_quiz("laser", quiz.SAMPLE, by="ines", at="2026-11-20T10:00:00+00:00")
    results: list[bool] = []
    start = threading.Barrier(4)

    def answer() -> None:
        start.wait()
        results.append(
            store.record_quiz_pass(
                "noah", "laser", at="2026-11-20T11:00:00+00:00", correct=4, total=4,
                version=version,
            )
        )  # fmt: skip

    threads = [threading.Thread(target=answer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results) == [False, False, False, True]
    assert [p["kind"] for p in store.quiz_passes("noah")] == ["laser"]


def test_saving_again_moves_the_version_and_erasure_forgets_the_pass(
    store: SqliteCentralStore,
) -> None:
    assert store.save_quiz("laser", quiz.SAMPLE, by="ines", at="t1") == 1
    assert store.save_quiz("laser", quiz.SAMPLE, by="ines", at="t2") == 2
    assert store.quiz("laser")["version"] == 2  # type: ignore[index]
    store.record_quiz_pass("noah", "laser", at="t3", correct=4, total=4, version=2)
    erase_member(store, "noah")
    assert store.quiz_passes("noah") == []
