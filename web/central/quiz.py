"""The induction quizzes on the central pages: educators edit them, trainees take them.

Educators (``/admin/quizzes``) write each kind's quiz as text (``central/quiz.py``); a bad file
is refused whole and every problem shown with its line, in the reader's language. A trainee
takes the quiz from their personal progress link; a pass is recorded once
(``record_quiz_pass``) and the next step is said.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from central import quiz
from web.central.pages import current_user, requires, store, t, viewer_site
from web.central.reports import LinkProblem, link_page, member_of_link

admin = Blueprint("central_quiz_admin", __name__, url_prefix="/admin/quizzes")
public = Blueprint("central_quiz", __name__)

KIND = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def init_app(app: Flask) -> None:
    app.register_blueprint(admin)
    app.register_blueprint(public)
    app.jinja_env.globals["induction_view"] = induction_view


def _now() -> datetime:
    clock = current_app.config.get("CREDENTIALS_CLOCK")
    return clock() if clock else datetime.now(UTC)


def problem_text(p: quiz.Problem) -> str:
    key = f"c.quiz.err.{p.code}"
    text = t(key, **p.values)
    if text == key:
        text = p.english
    return t("c.quiz.err.line", line=p.line, problem=text) if p.line else text


def _kinds() -> list[str]:
    s = store()
    kinds = {st["kind"] for st in s.stations() if st.get("kind")}
    kinds |= {q["kind"] for q in s.quizzes()}
    return sorted(kinds)


@admin.get("/")
@requires("educator")
def index() -> str:
    saved = {q["kind"]: q for q in store().quizzes()}
    return render_template("central_quiz_admin.html", kinds=_kinds(), saved=saved, edit=None)


@admin.route("/<kind>", methods=["GET", "POST"])
@requires("educator")
def edit(kind: str) -> Any:
    if not KIND.match(kind):
        abort(404)
    saved = store().quiz(kind)
    source = saved["source"] if saved else quiz.SAMPLE
    problems: list[str] = []
    if request.method == "POST" and not may_edit():
        problems = [t("c.quiz.network_only")]
        return _page(kind, source, problems, saved), 403
    if request.method == "POST":
        source = request.form.get("source", "").replace("\r\n", "\n")
        try:
            quiz.parse(source)
        except quiz.QuizError as e:
            problems = [problem_text(p) for p in e.problems]
        else:
            user = current_user()
            version = store().save_quiz(
                kind, source, by=str(user["username"]) if user else "?", at=_now().isoformat()
            )
            flash(t("c.quiz.saved", kind=kind, version=version), "ok")
            return redirect(url_for("central_quiz_admin.edit", kind=kind))
    return _page(kind, source, problems, saved), (422 if problems else 200)


def may_edit() -> bool:
    """A quiz is the network's (one per kind): with several fablabs, only a network account
    changes it, so that one site's educator cannot rewrite another site's induction."""
    return viewer_site() is None or len(store().sites()) <= 1


def _page(kind: str, source: str, problems: list[str], saved: Any) -> str:
    preview = None
    try:
        preview = quiz.parse(source)
    except quiz.QuizError:
        pass
    return render_template(
        "central_quiz_admin.html",
        kinds=_kinds(),
        saved={q["kind"]: q for q in store().quizzes()},
        edit={
            "kind": kind,
            "source": source,
            "problems": problems,
            "preview": preview,
            "saved": saved,
        },
    )


# --- the trainee -------------------------------------------------------------------------------


def induction_view(member_id: str, kinds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per kind with a quiz: passed (when), or to take (the trainee is at level ``none``)."""
    s = store()
    passes = {p["kind"]: p for p in s.quiz_passes(member_id)}
    levels = {k["kind"]: k["level"] for k in kinds}
    out = []
    for q in s.quizzes():
        kind = q["kind"]
        if kind in passes:
            out.append({"kind": kind, "passed": passes[kind]})
        elif levels.get(kind, "none") == "none":
            out.append({"kind": kind, "passed": None})
    return out


def _quiz_of(kind: str) -> tuple[dict[str, Any], quiz.Quiz]:
    row = store().quiz(kind)
    if row is None:
        abort(404)
    return row, quiz.parse(row["source"])


@public.route("/progress/<token>/quiz/<kind>", methods=["GET", "POST"])
def take(token: str, kind: str) -> Any:
    """The trainee's induction quiz, by their personal link."""
    try:
        member_id, data = member_of_link(token)
    except LinkProblem as e:
        return link_page(e.key, e.status)
    row, q = _quiz_of(kind)
    if request.method == "GET":
        return render_template(
            "central_quiz.html",
            q=q,
            kind=kind,
            token=token,
            version=row["version"],
            result=None,
            p=data,
        )
    if request.form.get("version") != str(row["version"]):
        flash(t("c.quiz.changed"), "error")
        return redirect(url_for("central_quiz.take", token=token, kind=kind))
    answers: dict[int, int] = {}
    for i in range(len(q.questions)):
        value = request.form.get(f"q{i}", "")
        if value.isdigit():
            answers[i] = int(value)
    result = quiz.mark(q, answers)
    s = store()
    at = _now().isoformat()
    s.record_quiz_attempt(
        member_id, kind, at=at, correct=result.correct, total=result.total, passed=result.passed
    )
    first = result.passed and s.record_quiz_pass(
        member_id, kind, at=at, correct=result.correct, total=result.total, version=row["version"]
    )
    return render_template(
        "central_quiz.html",
        q=q,
        kind=kind,
        token=token,
        version=row["version"],
        result=result,
        first=first,
        answers=answers,
        p=data,
    )
