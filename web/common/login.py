"""Logging in, the same way on the station's technician page and the central store's pages:
the form's check through the login limiter, and the redirect after login.

The limiter counts failed logins per client address and per username; after ``attempts``
failures in ``window_s`` both are refused (429) until the window has passed, even with the right
password. Its memory is bounded: keys are hashed (a 10 MB username costs 32 bytes) and at most
``max_keys`` are tracked, the stalest dropped first.

The password check itself is constant-time for unknown users (``station.accounts.verify``).
It costs 16 MiB (scrypt): one check runs at a time, and the buffer goes back to the system
after it (:func:`give_back_large_buffers`), so wrong passwords cannot grow the process.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

from flask import Flask, current_app, request

M_MMAP_THRESHOLD = -3
"""glibc's ``mallopt`` parameter (malloc.h)."""
MMAP_THRESHOLD_BYTES = 1 << 20
_ONE_CHECK_AT_A_TIME = threading.Lock()
MAX_USERNAME = 64
"""Longer usernames are not looked up (no account can have one)."""
BLOCKED = 429
WRONG = 401
Account = TypeVar("Account")


class LoginLimiter:
    """At most ``attempts`` failed logins per ``window_s``, counted per address and per username."""

    def __init__(
        self,
        attempts: int = 5,
        window_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self.clock = clock
        self.max_keys = max_keys
        self._failures: OrderedDict[bytes, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(key: str) -> bytes:
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()

    def _recent(self, key: bytes, now: float) -> deque[float]:
        q = self._failures.get(key)
        if q is None:
            return deque()
        while q and now - q[0] >= self.window_s:
            q.popleft()
        if not q:
            del self._failures[key]
        return q

    def blocked(self, *keys: str) -> bool:
        now = self.clock()
        with self._lock:
            return any(len(self._recent(self._key(k), now)) >= self.attempts for k in keys)

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for k in keys:
                hashed = self._key(k)
                q = self._recent(hashed, now)
                q.append(now)
                if len(q) > self.attempts:
                    q.popleft()  # only the last few count: a flood costs no memory
                self._failures[hashed] = q
                self._failures.move_to_end(hashed)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for k in keys:
                self._failures.pop(self._key(k), None)

    @property
    def tracked(self) -> int:
        with self._lock:
            return len(self._failures)


class FailureStore(Protocol):
    """Where :class:`SharedLoginLimiter` keeps the failures (the central store)."""

    def login_failures(self, keys: list[str], since: float) -> int: ...
    def record_login_failure(self, keys: list[str], at: float, forget_before: float) -> None: ...
    def clear_login_failures(self, keys: list[str]) -> None: ...


class SharedLoginLimiter(LoginLimiter):
    """The same limits, counted in the central store: several central processes behind one
    address refuse the sixth try wherever it lands. The clock is the wall clock (processes on
    several machines share it, not a monotonic one); keys are stored hashed."""

    def __init__(
        self,
        store: FailureStore,
        attempts: int = 5,
        window_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(attempts, window_s, clock)
        self.store = store

    @classmethod
    def _hex(cls, keys: tuple[str, ...]) -> list[str]:
        return [cls._key(k).hex() for k in keys]

    def blocked(self, *keys: str) -> bool:
        since = self.clock() - self.window_s
        return self.store.login_failures(self._hex(keys), since) >= self.attempts

    def failed(self, *keys: str) -> None:
        now = self.clock()
        self.store.record_login_failure(self._hex(keys), now, now - self.window_s)

    def succeeded(self, *keys: str) -> None:
        self.store.clear_login_failures(self._hex(keys))


def limiter_keys(username: str) -> tuple[str, str]:
    """The keys a login attempt counts against: the client's address and the username."""
    return (f"ip:{request.remote_addr}", f"user:{username[:MAX_USERNAME]}")


def safe_next(target: str | None, default: str, prefix: str = "/") -> str:
    """``target`` if it is a path on this site under ``prefix``, else ``default``.

    Browsers drop tabs and newlines from URLs and read a backslash as a slash, so
    ``/\\t/evil.example`` and ``/\\evil.example`` would leave the site: anything but a plain
    path is refused.
    """
    if not target or not target.startswith(prefix) or not target.startswith("/"):
        return default
    if any(c in target for c in "\\") or any(ord(c) < 0x21 or ord(c) == 0x7F for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return default
    return target


def init_app(app: Flask) -> None:
    """One limiter per app (a test may put its own, with a fake clock, before)."""
    app.extensions.setdefault("login_limiter", LoginLimiter())


@functools.cache
def give_back_large_buffers() -> bool:
    """Give memory blocks of 1 MiB and more back to the system when they are freed.

    glibc raises its threshold for that after the first large block is freed, so each server
    thread then kept a password check's 16 MiB for good: a few wrong passwords grew a station
    from 45 to 143 MiB (bench/bench_login_memory.py). False where there is no glibc."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def attempt_login(
    authenticate: Callable[[str, str], Account | None],
) -> tuple[str, Account | None, int]:
    """Check the login form: ``(username, account, 200)`` when right, ``(username, None, 429)``
    while the address or the username is blocked (even with the right password), and
    ``(username, None, 401)`` when wrong. A failure counts against both; a success clears them.
    The username is lower-cased; one longer than :data:`MAX_USERNAME` is never looked up."""
    limiter: LoginLimiter = current_app.extensions["login_limiter"]
    username = request.form.get("username", "").strip().lower()
    password = request.form.get("password", "")
    keys = limiter_keys(username)
    if limiter.blocked(*keys):
        return username, None, BLOCKED
    account = None
    if username and len(username) <= MAX_USERNAME:
        give_back_large_buffers()
        with _ONE_CHECK_AT_A_TIME:  # 16 MiB and a core each: never eight at once
            account = authenticate(username, password)
    if account is None:
        limiter.failed(*keys)
        return username, None, WRONG
    limiter.succeeded(*keys)
    return username, account, 200
