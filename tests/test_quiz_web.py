"""The induction quiz on the pages: an educator writes it (errors by line, in French), a trainee
takes it by their personal link, passes once, and is told the next step."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from central import quiz
from tests.conftest import open_central_store
from tests.test_central_web import csrf_of, login
from tests.test_credentials_web import credentials_config, fill
from web.central.app import create_central_app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    store = open_central_store(tmp_path / "central" / "central.sqlite")
    fill(store)
    store.add_station("laser-1", kind="laser")
    app = create_central_app(store, credentials_config(tmp_path))
    app.config["TESTING"] = True
    try:
        yield app
    finally:
        store.close()


def text(r: object) -> str:
    return html.unescape(r.get_data(as_text=True))  # type: ignore[attr-defined]


def save(client: FlaskClient, source: str) -> object:
    return client.post(
        "/admin/quizzes/laser", data={"csrf_token": csrf_of(client), "source": source}
    )


def test_a_bad_quiz_is_refused_with_each_line_in_french(app: Flask) -> None:
    client = app.test_client()
    login(client, "ines")
    page = text(client.get("/admin/quizzes/"))
    assert "laser" in page and "pas encore de quiz" in page
    bad = quiz.SAMPLE.replace("* L'extracteur d'air tourne", "- L'extracteur d'air tourne")
    bad = bad.replace("picture: fire", "picture: robot")
    r = save(client, bad)
    assert r.status_code == 422  # type: ignore[attr-defined]
    body = text(r)
    assert "Le quiz n'est pas enregistré : 2 problèmes à corriger." in body
    assert "Ligne 6 : marque la bonne réponse avec « * »." in body
    assert "Ligne 14 : image « robot » inconnue" in body
    assert "- L&#39;extracteur" not in body and "- L'extracteur d'air tourne" in body  # kept
    assert app.extensions["central_store"].quiz("laser") is None  # nothing half-saved


def personal_link(client: FlaskClient, member: str) -> str:
    page = client.get(f"/reports/progress/{member}").get_data(as_text=True)
    m = re.search(r"<code>http://localhost(/progress/[^<]+)</code>", page)
    assert m
    return m.group(1)


def test_a_trainee_takes_the_quiz_fails_then_passes_once(app: Flask) -> None:
    client = app.test_client()
    login(client, "ines")
    assert save(client, quiz.SAMPLE).status_code == 302  # type: ignore[attr-defined]
    link = personal_link(client, "noah")
    trainee = app.test_client()
    own = text(trainee.get(link))
    assert "Passer le quiz d'induction" in own
    form = text(trainee.get(link + "/quiz/laser"))
    assert "Avant de lancer une découpe" in form and 'aria-label="Extracteur d&#39;air"' in (
        trainee.get(link + "/quiz/laser").get_data(as_text=True)
    )
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    wrong = {"csrf_token": csrf, "version": "1", "q0": "1", "q1": "1", "q2": "0", "q3": "0"}
    r = text(trainee.post(link + "/quiz/laser", data=wrong))
    assert "Pas encore : réessaie" in r and "2 bonnes réponses sur 4 (il en faut 3)" in r
    assert "la bonne réponse : L'extracteur d'air tourne." in r
    right = {**wrong, "q0": "0", "q1": "0"}
    r = text(trainee.post(link + "/quiz/laser", data=right))
    assert "Induction réussie" in r and "Prochaine étape : ta première session accompagnée" in r
    r = text(trainee.post(link + "/quiz/laser", data=right))
    assert "Tu avais déjà réussi ce quiz" in r
    store = app.extensions["central_store"]
    assert [p["kind"] for p in store.quiz_passes("noah")] == ["laser"]
    assert "réussie le" in text(client.get("/reports/progress/noah"))


def test_an_answer_to_an_older_version_is_not_marked(app: Flask) -> None:
    client = app.test_client()
    login(client, "ines")
    save(client, quiz.SAMPLE)
    link = personal_link(client, "noah")
    trainee = app.test_client()
    form = text(trainee.get(link + "/quiz/laser"))
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    save(client, quiz.SAMPLE.replace("pass_mark: 3", "pass_mark: 4"))
    answers = {"csrf_token": csrf, "version": "1", "q0": "0", "q1": "0", "q2": "0", "q3": "0"}
    r = trainee.post(link + "/quiz/laser", data=answers, follow_redirects=True)
    assert "Le quiz a changé pendant que tu répondais" in text(r)
    assert app.extensions["central_store"].quiz_passes("noah") == []
