"""A relay that can be latched off: once a stop begins, no code path can switch it on again.

A stop (SIGTERM, SIGINT, exit) switches the relay off first, then cleans up: the controller ends
the session, the sync thread and the web server stop. Meanwhile a controller tick that runs late
would see a session ``in_use`` and call ``relay.on()``. Latching at the relay itself, not in the
controller's logic, makes "off from the first instant of a stop" hold whatever runs late.
:func:`station.wiring.build_hardware` wraps every backend's relay in one.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from station.ports import Relay

log = logging.getLogger(__name__)


class LatchingRelay:
    """Wraps a :class:`~station.ports.Relay`; after :meth:`latch_off` every ``on()`` is a
    no-op that logs. Other attributes (a mock pin, for tests) are the wrapped relay's."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self._latched = False
        # Re-entrant: a signal handler runs on the main thread, which may hold the lock.
        self._lock = threading.RLock()
        self.refused = 0
        """How many ``on()`` calls the latch refused (for tests and the log)."""

    @property
    def latched(self) -> bool:
        return self._latched

    @property
    def is_on(self) -> bool:
        return self.relay.is_on

    def latch_off(self) -> None:
        """Off now and for the rest of this process. Safe in a signal handler, safe twice."""
        self._latched = True  # first: an on() running now on another thread sees it
        self.off()

    def on(self) -> None:
        with self._lock:
            if self._latched:
                self.refused += 1
                log.warning("relay on refused: the station is stopping (relay latched off)")
                return
            self.relay.on()
            if self._latched:  # latched while switching (a signal on this very thread)
                self.relay.off()

    def off(self) -> None:
        try:
            self.relay.off()
        except Exception:
            log.exception("the relay did not switch off")
            raise

    def close(self) -> None:
        self._latched = True
        self.relay.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.relay, name)
