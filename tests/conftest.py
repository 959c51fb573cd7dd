"""Shared fixtures: a config on a temp data dir, the sample roster, a simulated clock, and a
controller running on gpiozero's MockFactory with a fake badge reader."""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from central.sqlite import SqliteCentralStore
from central.store import CentralStore
from station.clock import SimulatedClock
from station.config import Config, parse_config
from station.controller import Controller
from station.machine import Context
from station.roster import Roster, parse_roster_csv
from station.store import Store

SOFIANE = "04C0C1C2"  # trainee, autonomous on laser
LEA = "04B0B1B2"  # trainee, supervised on laser
MOUSSA = "0411223344AA80"  # trainee, mentor on laser (7-byte UID)
INES = "04A1B2C3"  # educator
YANIS = "04D4E5F6"  # technician
AMINA = "04E0E1E2"  # trainee, nothing on laser
NOAH = "04F0F1F2"  # trainee, no qualification at all
UNKNOWN = "DEADBEEF"


def sample_roster_text() -> str:
    return resources.files("station").joinpath("sample_roster.csv").read_text("utf-8")


def make_config(tmp_path: Path, sensors: dict[str, Any] | None = None, **machine: Any) -> Config:
    raw = {
        "station": {"id": "laser-1", "data_dir": str(tmp_path / "data")},
        "machine": {"id": "laser-1", "name": "Découpe laser", "kind": "laser", **machine},
        "hardware": {"backend": "mock"},
        "reader": {"type": "fake"},
        "clock": {"simulated": True},
        "sensors": sensors or {},
        "web": {"port": 0},
    }
    return parse_config(raw, tmp_path / "station.toml")


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def roster() -> Roster:
    parsed = parse_roster_csv(sample_roster_text())
    return Roster(
        {m.id: m for m in parsed.members},
        {b.uid: b for b in parsed.badges},
        {(q.member_id, q.kind): q for q in parsed.qualifications},
    )


def make_context(config: Config, roster: Roster) -> Context:
    counter = itertools.count(1)
    return Context(config.machine, roster, lambda: f"s{next(counter)}")


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(mono=1000.0)


def import_sample_roster(config: Config) -> None:
    store = Store(config.db_path, config.station.id, config.machine.id)
    try:
        store.import_roster(parse_roster_csv(sample_roster_text()))
    finally:
        store.close()


def start_controller(config: Config, clock: SimulatedClock) -> Controller:
    from station.wiring import build_hardware

    import_sample_roster(config)
    controller = Controller(config, build_hardware(config, clock), clock)
    controller.start()
    return controller


@pytest.fixture
def controller(config: Config, clock: SimulatedClock) -> Iterator[Controller]:
    c = start_controller(config, clock)
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def checklist_controller(tmp_path: Path, clock: SimulatedClock) -> Iterator[Controller]:
    """A station whose machine asks for a two-item safety checklist before the relay closes."""
    config = make_config(tmp_path, checklist=["Lunettes", "Aspiration allumée"])
    c = start_controller(config, clock)
    try:
        yield c
    finally:
        c.stop()


def open_central_store(path: Path) -> SqliteCentralStore:
    """The central store the tests use, on ``path``: the one place that picks its backend (issue
    13 parametrises it with PostgreSQL)."""
    return SqliteCentralStore(path)


CENTRAL_BACKENDS = ("sqlite", "postgresql")
"""Every test of the central store runs on both backends (issue 13)."""


@pytest.fixture(params=CENTRAL_BACKENDS)
def central_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CentralStore]:
    """An empty central store of its own for each test, closed after it: SQLite, then
    PostgreSQL (a fresh schema of this run's database, tests/pg_server.py)."""
    if request.param == "postgresql":
        store = open_pg_store(request.getfixturevalue("pg_store_dsn"))
    else:
        store = open_central_store(tmp_path / "central" / "central.sqlite")
    try:
        yield store
    finally:
        store.close()


PG_DSNS: weakref.WeakKeyDictionary[CentralStore, str] = weakref.WeakKeyDictionary()
"""The DSN of each PostgreSQL store the fixtures opened (for a config file naming it), keyed by
the store itself: an entry goes with its store. (Keyed by ``id()``, a SQLite store allocated
where a freed PostgreSQL store had been inherited its DSN, and "another process" on it was a
PostgreSQL store on another test's data: a flaky ``NotFound``.)"""


def open_pg_store(dsn: str) -> CentralStore:
    from adapters.postgresql import open_database
    from central.pg import PgCentralStore

    store = PgCentralStore(open_database(dsn, None, pool_size=8))
    PG_DSNS[store] = dsn
    return store


def pg_dsn_of(store: CentralStore) -> str | None:
    """The DSN of a PostgreSQL store :func:`open_pg_store` opened; None for a SQLite store."""
    if isinstance(store, SqliteCentralStore):
        return None
    return PG_DSNS[store]


def another_process(store: CentralStore) -> CentralStore:
    """A second store on the same database, as another central process would open it."""
    dsn = pg_dsn_of(store)
    if dsn is not None:
        return open_pg_store(dsn)
    assert isinstance(store, SqliteCentralStore)
    return SqliteCentralStore(store.path)


def storage_section(store: CentralStore, data_dir: Path) -> str:
    """The ``[storage]`` section of a config file on ``store`` (a CLI run on the same store)."""
    dsn = pg_dsn_of(store)
    if dsn is not None:
        return f'[storage]\nbackend = "postgresql"\ndsn = "{dsn}"\ndata_dir = "{data_dir}"\n'
    return f'[storage]\ndata_dir = "{data_dir}"\n'


# PostgreSQL: a database per run, a schema per test (tests/pg_server.py).
from tests.pg_server import (  # noqa: E402, F401
    pg_database,
    pg_db,
    pg_dsn,
    pg_shared_schema,
    pg_store_dsn,
)
