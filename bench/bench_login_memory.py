"""The login limiter's memory: VmRSS of `station run` before and after floods of failed logins.

Issue 10, item 11: 10 MB usernames grew a station from 46 MB to 277 MB (every failed login kept
its username as a key). A `station run` subprocess (mock backend, sample roster) is sent, over
HTTP, each with its own session and CSRF token:

1. ``--clients`` (500) wrong passwords for plausible usernames (20 characters), each from its
   own address: each runs the password check (scrypt, 16 MiB);
2. ``--huge`` logins with a 10 MB username (the issue's case: refused with 413 before the
   body is read);
3. ``--clients`` failed logins with a 60 KB username (just under the 64 KiB body limit), each
   from its own loopback address (127.x.y.z), so that every one is a new key for the limiter;
4. the same number again from one address (blocked after 5: 429).

Eight clients send at once (the server's threads). VmRSS is read from /proc after each phase.

    .venv/bin/python bench/bench_login_memory.py              # 20 huge, 500 clients
    .venv/bin/python bench/bench_login_memory.py --check      # exit 1 over +20 MiB
"""

from __future__ import annotations

import argparse
import http.client
import platform
import re
import sys
import tempfile
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.e2e_helpers import StationProcess, prepare_station, rss_kib  # noqa: E402

TARGET_GROWTH_MB = 20.0
USERNAME_KB = 60
PARALLEL = 8


def address(i: int) -> str:
    """The i-th loopback address after 127.0.0.1 (Linux answers on all of 127.0.0.0/8)."""
    n = i + 2
    return f"127.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def failed_login(port: int, source: str, username_bytes: int, tag: int) -> int:
    """Open the form (a session and its token), then send a wrong password; the status. The
    username starts with ``tag``: each is a new key for the limiter."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(source, 0))
    try:
        c.request("GET", "/tech/login")
        r = c.getresponse()
        html = r.read().decode()
        cookie = (r.getheader("Set-Cookie") or "").split(";", 1)[0]
        m = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert m, "no CSRF token in the login form"
        head = f"username={tag:08d}"
        tail = "&password=wrong&csrf_token=" + urllib.parse.quote(m.group(1))
        body = head.encode() + b"u" * max(0, username_bytes - 8) + tail.encode()
        try:
            c.request(
                "POST",
                "/tech/login",
                body=body,
                headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
            )
            r = c.getresponse()
            r.read()
            return r.status
        except (BrokenPipeError, ConnectionResetError):
            return 413  # refused before the body was read; the client was still sending
    finally:
        c.close()


def mib(pid: int) -> float:
    return rss_kib(pid) / 1024


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--huge", type=int, default=20, help="logins with a 10 MB username")
    p.add_argument("--clients", type=int, default=500, help="addresses with a 60 KB username")
    p.add_argument("--check", action="store_true", help=f"exit 1 over +{TARGET_GROWTH_MB} MiB")
    args = p.parse_args(argv)

    print(f"Python {platform.python_version()} on {platform.machine()}, {sys.platform}")
    with tempfile.TemporaryDirectory() as tmp:
        station = StationProcess(prepare_station(Path(tmp) / "station"))
        try:
            station.start_ready()
            print(f"after ready: {mib(station.pid):.1f} MiB")
            start = mib(station.pid)
            rows = []
            for label, n, size, spread in (
                (
                    f"{args.clients} wrong passwords, plausible usernames, one address each",
                    args.clients,
                    20,
                    True,
                ),
                (f"{args.huge} logins with a 10 MB username", args.huge, 10 << 20, True),
                (
                    f"{args.clients} failed logins, {USERNAME_KB} KB usernames, one address each",
                    args.clients,
                    USERNAME_KB * 1000,
                    True,
                ),
                (
                    f"{args.clients} failed logins, {USERNAME_KB} KB usernames, one address",
                    args.clients,
                    USERNAME_KB * 1000,
                    False,
                ),
            ):
                with ThreadPoolExecutor(PARALLEL) as pool:  # as many as the server's threads
                    codes = Counter(
                        pool.map(
                            lambda i, spread=spread, size=size: failed_login(
                                station.port, address(i) if spread else "127.0.0.1", size, i
                            ),
                            range(n),
                        )
                    )
                now = mib(station.pid)
                rows.append(now)
                print(
                    f"{label}: {now:.1f} MiB ({now - start:+.1f}), "
                    f"answers {dict(sorted(codes.items()))}"
                )
        finally:
            station.close()
    growth = max(rows) - start
    verdict = "ok" if growth <= TARGET_GROWTH_MB else "MISSED"
    print(f"largest growth: {growth:+.1f} MiB [target <= +{TARGET_GROWTH_MB} MiB: {verdict}]")
    return 1 if (args.check and growth > TARGET_GROWTH_MB) else 0


if __name__ == "__main__":
    sys.exit(main())
