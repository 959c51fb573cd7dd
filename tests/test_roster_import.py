"""A roster import keeps the levels granted since the file's date, or lists what it undoes.

The educator re-imports last month's spreadsheet: Léa, granted ``autonomous`` on the laser by
Moussa since then, must not go back to ``supervised`` without anyone saying so.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from central.cli import main
from central.roster_import import grants_to_keep
from central.sqlite import SqliteCentralStore
from central.store import CentralStore
from station.roster import parse_roster_csv
from tests.conftest import sample_roster_text, storage_section
from tests.test_central_reports import Log

FILE_DATE = datetime(2026, 3, 1, tzinfo=UTC)
GRANT_AT = "2026-03-02T11:00:00.000Z"  # after the file's date


@pytest.fixture
def store(central_store: CentralStore) -> Iterator[CentralStore]:
    """Each backend; the CLI below runs on the same store (its config names it)."""
    s = central_store
    s.import_roster(parse_roster_csv(sample_roster_text()))
    s.add_station("laser-1", kind="laser")
    Log(s, "laser-1", "laser").grant("lea", "moussa", GRANT_AT)  # at the machine
    yield s


@pytest.fixture
def config(tmp_path: Path, store: CentralStore) -> Path:
    path = tmp_path / "central.toml"
    data = store.path.parent if isinstance(store, SqliteCentralStore) else tmp_path / "data"
    path.write_text(storage_section(store, data), encoding="utf-8")
    return path


def level(store: SqliteCentralStore, member: str, kind: str) -> str:
    for q in store.roster_rows()["qualifications"]:
        if (q["member_id"], q["kind"]) == (member, kind):
            return str(q["level"])
    return "none"


def old_file(tmp_path: Path, text: str | None = None) -> Path:
    """Last month's spreadsheet: written before the grant."""
    path = tmp_path / "roster-march.csv"
    path.write_text(text or sample_roster_text(), encoding="utf-8")
    os.utime(path, (FILE_DATE.timestamp(), FILE_DATE.timestamp()))
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_reimporting_an_older_file_keeps_the_grant_and_says_so(
    tmp_path: Path, config: Path, store: SqliteCentralStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert level(store, "lea", "laser") == "autonomous"
    code, out, _ = run(capsys, "roster", "import", str(old_file(tmp_path)), "--config", str(config))
    assert code == 0
    assert level(store, "lea", "laser") == "autonomous"
    assert "kept 1 level(s) set since the file's date (2026-03-01 00:00 UTC)" in out
    assert "lea laser: autonomous (granted by moussa on 2026-03-02T11:00:00.000Z)" in out
    assert "the file says supervised" in out and "--undo-grants" in out


def test_a_file_that_leaves_the_kind_out_does_not_withdraw_the_grant(
    tmp_path: Path, config: Path, store: SqliteCentralStore, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "\n".join(
        line.replace("laser:supervised;", "").replace(";laser:supervised", "")
        if line.startswith("lea,")
        else line
        for line in sample_roster_text().splitlines()
    )
    assert "laser" not in next(x for x in text.splitlines() if x.startswith("lea,"))
    code, out, _ = run(
        capsys, "roster", "import", str(old_file(tmp_path, text)), "--config", str(config)
    )
    assert code == 0 and level(store, "lea", "laser") == "autonomous"
    assert "the file says none" in out


def test_undo_grants_lists_what_it_undoes_then_applies_the_file(
    tmp_path: Path, config: Path, store: SqliteCentralStore, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(old_file(tmp_path))
    code, out, _ = run(capsys, "roster", "import", path, "--undo-grants", "--config", str(config))
    assert code == 0 and level(store, "lea", "laser") == "supervised"
    assert "lowered 1 level(s) a person had set, as the file says" in out
    assert "lea laser: autonomous (granted by moussa" in out


def test_a_file_newer_than_the_grant_wins(
    tmp_path: Path, config: Path, store: SqliteCentralStore, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(old_file(tmp_path))
    code, out, _ = run(
        capsys, "roster", "import", path, "--as-of", "2026-04-01", "--config", str(config)
    )
    assert code == 0 and level(store, "lea", "laser") == "supervised"
    # Lowered, as the file is newer, but not without a word: a file copied today looks new.
    assert "kept" not in out and "lowered 1 level(s) a person had set" in out
    assert "lea laser: autonomous (granted by moussa" in out and "--as-of" in out


def test_a_bad_as_of_date_names_the_option(
    tmp_path: Path, config: Path, store: SqliteCentralStore, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(old_file(tmp_path))
    code, _, err = run(
        capsys, "roster", "import", path, "--as-of", "March", "--config", str(config)
    )
    assert code == 2 and "--as-of" in err and "2026-11-01" in err
    assert level(store, "lea", "laser") == "autonomous"


def test_only_levels_set_by_a_person_after_the_date_are_kept() -> None:
    roster = parse_roster_csv(sample_roster_text())
    rows = [
        {"member_id": "lea", "kind": "laser", "level": "autonomous", "granted_by": "import",
         "granted_at": GRANT_AT},
        {"member_id": "sofiane", "kind": "laser", "level": "mentor", "granted_by": "moussa",
         "granted_at": "2026-02-01T00:00:00.000Z"},
        {"member_id": "amina", "kind": "laser", "level": "supervised", "granted_by": "ines",
         "granted_at": GRANT_AT},
        {"member_id": "ghost", "kind": "laser", "level": "mentor", "granted_by": "ines",
         "granted_at": GRANT_AT},
    ]  # fmt: skip
    kept = grants_to_keep(rows, roster, replace_all=True, since=FILE_DATE)
    assert [(g.member_id, g.level, g.file_level) for g in kept] == [("amina", "supervised", "none")]
    assert grants_to_keep(rows, roster, replace_all=False, since=FILE_DATE) == []


def test_an_upload_on_the_admin_page_keeps_the_grant_and_says_so(
    tmp_path: Path, store: SqliteCentralStore
) -> None:
    from tests.test_central_helpers import central_config
    from tests.test_central_web import PASSWORD, csrf_of
    from web.central.app import create_central_app

    store.add_user("ines", PASSWORD, "educator")
    app = create_central_app(store, central_config(tmp_path))
    app.config["TESTING"] = True
    client = app.test_client()
    client.post(
        "/login", data={"username": "ines", "password": PASSWORD, "csrf_token": csrf_of(client)}
    )
    r = client.post(
        "/admin/roster/import",
        data={
            "csv": (io.BytesIO(sample_roster_text().encode()), "old.csv"),
            "csrf_token": csrf_of(client),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert level(store, "lea", "laser") == "autonomous"
    page = r.get_data(as_text=True)
    assert "Niveaux gardés" in page and "Léa Martin · laser : autonome" in page
