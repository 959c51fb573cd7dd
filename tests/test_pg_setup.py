"""The PostgreSQL backend's set-up: config, DSN and password, errors at start, migrations."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest

from central.cli import main as central_main
from central.config import load_config, parse_config
from central.dsn import DsnError, parse_dsn, redact
from central.errors import CentralConfigError, MigrationError, StorageUnavailable
from central.pg import migrations, partitions
from central.pg.migrations import Migration

SECRET = "s3cr3t-Pa55"


# --- config, DSN, password (no server needed) -------------------------------------------------


def pg_config(tmp_path: Path, **storage: Any) -> Any:
    raw = {"storage": {"backend": "postgresql", "dsn": "postgresql://f@127.0.0.1/f", **storage}}
    return parse_config(raw, tmp_path / "central.toml")


def test_postgresql_needs_a_dsn_and_the_message_says_which_key(tmp_path: Path) -> None:
    with pytest.raises(CentralConfigError, match=r"storage.dsn, e.g. dsn = \"postgresql://"):
        parse_config({"storage": {"backend": "postgresql"}}, tmp_path / "central.toml")


@pytest.mark.parametrize(
    "dsn",
    [f"postgresql://fab:{SECRET}@db.lan/fab", f"host=db.lan password={SECRET} dbname=fab"],
)
def test_a_password_in_the_dsn_is_refused_without_being_printed(tmp_path: Path, dsn: str) -> None:
    with pytest.raises(CentralConfigError) as e:
        pg_config(tmp_path, dsn=dsn)
    assert "storage.dsn" in str(e.value) and "password_file" in str(e.value)
    assert SECRET not in str(e.value)


@pytest.mark.parametrize(
    ("dsn", "says"),
    [
        ("mysql://db.lan/fab", "starts with mysql://"),
        ("host=db.lan colour=blue", "unknown parameter 'colour'"),
        ("postgresql://db.lan:fivefour/fab", "port that is not a number"),
    ],
)
def test_a_wrong_dsn_says_what_to_fix(tmp_path: Path, dsn: str, says: str) -> None:
    with pytest.raises(CentralConfigError, match=r"storage\.dsn") as e:
        pg_config(tmp_path, dsn=dsn)
    assert says in str(e.value)


def test_dsn_forms_read_the_same() -> None:
    url = parse_dsn("postgresql://fab@db.lan:5433/fabrique?sslmode=require")
    pairs = parse_dsn("host=db.lan port=5433 dbname=fabrique user=fab sslmode='require'")
    assert url.params == pairs.params
    assert url.where() == "fab@db.lan:5433/fabrique"
    with pytest.raises(DsnError):
        parse_dsn("   ")


def test_redact_hides_passwords_in_both_forms() -> None:
    assert redact(f"postgresql://u:{SECRET}@h/db failed") == "postgresql://u:***@h/db failed"
    assert SECRET not in redact(f"host=h password='{SECRET} x' dbname=d")
    assert redact("postgresql://u@h:5432/db") == "postgresql://u@h:5432/db"


def test_the_password_comes_from_the_file_then_the_environment(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(SECRET + "\n", encoding="utf-8")
    assert pg_config(tmp_path, password_file="pw").db_password({}) == SECRET
    env = {"FABRIQUE_DB_PASSWORD": "from-env"}
    assert pg_config(tmp_path).db_password(env) == "from-env"
    assert pg_config(tmp_path, password_env="OTHER").db_password({"OTHER": "o"}) == "o"
    assert pg_config(tmp_path, password_env="").db_password(env) is None


def test_a_missing_password_file_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(CentralConfigError, match=r"storage\.password_file = 'nope'"):
        pg_config(tmp_path, password_file="nope").db_password({})
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    with pytest.raises(CentralConfigError, match="is empty"):
        pg_config(tmp_path, password_file="empty").db_password({})


def test_sample_config_still_loads_and_mentions_postgresql(tmp_path: Path) -> None:
    from central.config import write_config

    write_config(tmp_path / "c.toml")
    config = load_config(tmp_path / "c.toml")
    assert config.storage.backend == "sqlite"
    assert "postgresql" in (tmp_path / "c.toml").read_text(encoding="utf-8")


# --- a server down or a wrong database, at start ----------------------------------------------


def test_a_server_down_at_start_is_one_clear_message_without_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("psycopg")
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = tmp_path / "central.toml"
    path.write_text(
        f'[storage]\nbackend = "postgresql"\ndsn = "postgresql://fab@127.0.0.1:{port}/fab"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("FABRIQUE_DB_PASSWORD", SECRET)
    assert central_main(["migrate", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"PostgreSQL at fab@127.0.0.1:{port}/fab" in err
    assert "pg_isready" in err and "[storage] dsn" in err
    assert SECRET not in err


def test_a_database_that_does_not_exist_says_so(pg_database: str) -> None:
    from adapters.postgresql import open_database

    dsn = pg_database.rsplit("/", 1)[0] + "/no_such_fablab"
    with pytest.raises(StorageUnavailable, match='database "no_such_fablab" does not exist'):
        open_database(dsn, SECRET, pool_size=1)


# --- migrations ---------------------------------------------------------------------------------


def tables(db: Any) -> set[str]:
    with db.transaction() as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
    return {r[0] for r in rows}


def test_migrate_applies_each_migration_once(pg_dsn: str, tmp_path: Path) -> None:
    from adapters.postgresql import open_database

    db = open_database(pg_dsn, None, pool_size=2)
    try:
        assert migrations.pending(db) == [m.name for m in migrations.MIGRATIONS]
        assert migrations.migrate(db) == [m.name for m in migrations.MIGRATIONS]
        assert migrations.migrate(db) == []
        assert {"events", "stations", "sessions", "schema_migrations"} <= tables(db)
    finally:
        db.close()


def test_the_cli_migrates_and_says_what_it_did(
    pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "central.toml"
    path.write_text(f'[storage]\nbackend = "postgresql"\ndsn = "{pg_dsn}"\n', encoding="utf-8")
    names = [m.name for m in migrations.MIGRATIONS]
    assert central_main(["migrate", "--config", str(path), "--dry-run"]) == 0
    assert f"postgresql: {len(names)} pending migration(s): {', '.join(names)}" in (
        capsys.readouterr().out
    )
    assert central_main(["migrate", "--config", str(path)]) == 0
    assert f"applied {', '.join(names)}" in capsys.readouterr().out
    assert central_main(["migrate", "--config", str(path)]) == 0
    assert f"up to date ({len(names)} migrations), nothing to do" in capsys.readouterr().out


def test_the_cli_migrates_sqlite_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "central.toml"
    path.write_text('[storage]\ndata_dir = "data"\n', encoding="utf-8")
    assert central_main(["migrate", "--config", str(path), "--dry-run"]) == 0
    assert re.search(
        r"sqlite: \d+ pending migration\(s\): m001_stations_events, ", capsys.readouterr().out
    )
    assert central_main(["migrate", "--config", str(path)]) == 0
    assert "applied m001_stations_events" in capsys.readouterr().out
    assert central_main(["migrate", "--config", str(path)]) == 0
    assert "nothing to do" in capsys.readouterr().out


def test_a_migration_that_fails_half_way_leaves_nothing_behind(pg_db: Any) -> None:
    broken = Migration(
        "m999_broken",
        (
            "CREATE TABLE half_done (x INTEGER)",
            "ALTER TABLE stations ADD COLUMN half_column TEXT",
            "INSERT INTO no_such_table VALUES (1)",
        ),
    )
    with pytest.raises(MigrationError, match=r"m999_broken failed .* rolled back whole") as e:
        migrations.migrate(pg_db, (*migrations.MIGRATIONS, broken))
    assert "station-central migrate" in str(e.value)
    assert "half_done" not in tables(pg_db)
    with pg_db.transaction() as conn:
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'stations'"
        ).fetchall()
    assert "half_column" not in {c[0] for c in columns}
    assert "m999_broken" in migrations.pending(pg_db, (*migrations.MIGRATIONS, broken))


def test_a_database_from_a_newer_version_is_refused(pg_db: Any) -> None:
    newer = (*migrations.MIGRATIONS, Migration("m900_future", ("CREATE TABLE future (x INT)",)))
    migrations.migrate(pg_db, newer)
    with pytest.raises(MigrationError, match=r"m900_future that this version .* does not know"):
        migrations.migrate(pg_db)


def test_processes_starting_at_once_apply_each_migration_once(pg_dsn: str) -> None:
    from adapters.postgresql import open_database

    dbs = [open_database(pg_dsn, None, pool_size=2) for _ in range(4)]
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(dbs))

    def run(db: Any) -> None:
        barrier.wait()
        try:
            results.append(migrations.migrate(db))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(db,)) for db in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for db in dbs:
        db.close()
    assert errors == []
    applied = sorted(name for r in results for name in r)
    assert applied == sorted(m.name for m in migrations.MIGRATIONS)


# --- partitions ---------------------------------------------------------------------------------


def test_months(pg_db: Any) -> None:
    assert partitions.month_of("2026-12-31T23:59:59.999Z") == "2026-12"
    assert partitions.next_month("2026-12") == "2027-01"
    assert partitions.next_month("2027-01") == "2027-02"
    assert partitions.ensure_months(pg_db, ["2026-12", "2027-01", "2026-12"]) == [
        "2026-12",
        "2027-01",
    ]
    assert partitions.ensure_months(pg_db, ["2026-12"]) == []
    row = (
        "INSERT INTO events (station_id, seq, id, type, at, clock_synced, boot_id, mono, data, "
        "received_at) VALUES ('s', %s, %s, 't', %s, 1, 'b', 0, '{}', %s)"
    )
    with pg_db.transaction() as conn:
        conn.execute(row, (1, "a", "2026-12-05T10:00:00.000Z", "2026-12-05T10:00:01.000Z"))
        conn.execute(row, (2, "b", "2027-01-05T10:00:00.000Z", "2027-01-05T10:00:01.000Z"))
        conn.execute(row, (3, "c", "1970-01-01T00:00:00.000Z", "2031-03-01T00:00:00.000Z"))
    assert partitions.partitions(pg_db) == [
        ("events_2026_12", 1),
        ("events_2027_01", 1),
        ("events_default", 1),
    ]
    # A month whose rows already sit in the default partition is left there (no failure).
    assert partitions.ensure_months(pg_db, ["2031-03"]) == []


# --- the shared SQL's parameters ---------------------------------------------------------------


def test_sqlite_parameters_become_psycopg_ones_and_nothing_else_changes() -> None:
    from central.pg.base import to_psycopg

    assert to_psycopg("SELECT a FROM t WHERE b = ? AND c = :c") == (
        "SELECT a FROM t WHERE b = %s AND c = %(c)s"
    )
    assert to_psycopg("SELECT '?:x%' || ? , x::text, 5 % 2") == (
        "SELECT '?:x%' || %s , x::text, 5 %% 2"
    )
    assert to_psycopg("SELECT 'it''s ?' , \"col?\"") == "SELECT 'it''s ?' , \"col?\""


def test_executemany_is_one_multi_row_insert_per_500_rows(pg_db: Any) -> None:
    from central.pg.base import SharedSqlConnection

    statements: list[str] = []
    with pg_db.transaction() as raw:

        class Spy:
            def execute(self, query: Any, params: Any = None) -> Any:
                statements.append(query)
                return raw.execute(query, params)

        conn = SharedSqlConnection(Spy())  # type: ignore[arg-type]
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(f"k{i}", str(i)) for i in range(1200)],
        )
        assert conn.execute("SELECT COUNT(*) FROM meta WHERE key LIKE 'k%'").fetchone()[0] == 1200
    assert len(statements) == 3 + 1
    assert statements[0].endswith("(%s, %s) ON CONFLICT DO NOTHING")
