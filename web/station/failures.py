"""What the station's pages say when the station cannot act: a sentence with what to do.

A full SD card or a corrupt database stops the controller with the relay off (fail safe); every
request that needs it then answers 503 with this sentence, never a traceback.
"""

from __future__ import annotations

import errno
import sqlite3

from station.controller import Controller
from station.errors import StoreError
from station.store import store_problem

STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EIO, errno.EROFS, errno.EDQUOT})
STORAGE_FAILED = (
    "the station cannot use its storage ({error}): the machine stays off. A technician: free "
    "space on the SD card or restore the database (docs/troubleshooting.md), then restart the "
    "station"
)


def is_storage_failure(e: BaseException | None) -> bool:
    """A full disk, a corrupt or read-only database: the station fails safe and says so."""
    if isinstance(e, StoreError | sqlite3.Error):
        return True
    return isinstance(e, OSError) and e.errno in STORAGE_ERRNOS


def storage_failed(e: BaseException, controller: Controller) -> str:
    """The store's own sentence when it knows the problem (station/store.py), else ours."""
    sentence = store_problem(e, controller.config.db_path)
    if sentence is not None:
        return f"the machine stays off: {sentence}"
    return STORAGE_FAILED.format(error=e)


def not_running(controller: Controller, e: Exception) -> str:
    """Why the station cannot act, in a sentence that says what to do."""
    failure = controller.failure
    if failure is not None and is_storage_failure(failure):
        return storage_failed(failure, controller)
    if failure is not None:
        return (
            f"the station is not running ({failure!r}): the machine stays off; a technician "
            "restarts it and reads its log (journalctl -u fabrique-station)"
        )
    return f"the station is not running: {e}"
