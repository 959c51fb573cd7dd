"""The one place where implementations are chosen, by name from config.

Backends are named like gpiozero's pin factories: ``mock`` (the ``mocks`` package) or ``pi``
(the ``hardware`` package). They are imported by name here so that the domain never imports
hardware code, and a laptop never imports Pi-only libraries.
"""

from __future__ import annotations

import atexit
import importlib
import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path

from station.clock import (
    Clock,
    SystemClock,
    read_saved_time,
    resumed_simulated_clock,
    save_time,
)
from station.config import Config
from station.latch import LatchingRelay
from station.ports import Hardware

BACKENDS = {"mock": "mocks.backend", "pi": "hardware.backend"}
EMULATED_READER = "mocks.mfrc522_chip"
"""The emulated MFRC522 (``[reader] type = "mfrc522-emulated"``): shipped with the mocks."""


def build_hardware(config: Config, clock: Clock | None = None) -> Hardware:
    """The backend named in config; ``clock`` drives emulated devices on the mock backend.

    Its relay comes wrapped in a :class:`~station.latch.LatchingRelay`: a stop latches it off.
    """
    module = importlib.import_module(BACKENDS[config.hardware.backend])
    hardware: Hardware = module.build_hardware(config, clock)
    hardware.relay.off()
    hardware.relay = LatchingRelay(hardware.relay)
    return hardware


def emulated_reader_available() -> bool:
    """Whether this install has the emulated reader (the demo falls back to the fake one)."""
    try:
        importlib.import_module(EMULATED_READER)
    except ImportError:
        return False
    return True


def build_clock(config: Config) -> Clock:
    if config.clock.simulated:
        saved = config.data_path / SIMULATED_CLOCK_FILE
        clock = resumed_simulated_clock(last_record_at(config.db_path), read_saved_time(saved))
        atexit.register(save_time, clock, saved)
        return clock
    return SystemClock()


SIMULATED_CLOCK_FILE = "simulated-clock"
"""In the data dir: the simulated clock's time when the station stopped, to go on from it."""


def last_record_at(db_path: Path) -> datetime | None:
    """The time of the station's latest event, or None before its first run.

    Read-only and quiet: a store that cannot be read is the controller's to report, in its
    one sentence, when it opens it.
    """
    if not db_path.exists():
        return None
    try:
        with closing(sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            row = conn.execute("SELECT MAX(at) FROM events").fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None
    except (sqlite3.Error, ValueError, TypeError):
        return None
