"""The kiosk pairing in real Chromium: the launcher's start page pairs the touchscreen, whose
actions then work; the same page opened without the key cannot act (issue 10, item 10).

Not the mock backend: here a loopback page alone is not enough. The station app runs on waitress
in this process, on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import waitress

from station.controller import Controller
from tests import test_browser_helpers as helpers
from tests.test_central_helpers import stop_waitress
from tests.test_deploy import run_kiosk_launcher
from tests.test_web_helpers import make_app

helpers.require_browser_tools()

browser, page = helpers.browser, helpers.page  # fixtures

REPORT = """async () => {
  const r = await fetch("/kiosk/problem", {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": window.kiosk.csrf},
    body: JSON.stringify({problem: "missing_material"}),
    credentials: "same-origin",
  });
  return r.status;
}"""


@pytest.fixture
def base(controller: Controller) -> Iterator[str]:
    app = make_app(controller, simulator=False)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}/"  # type: ignore[union-attr]
    finally:
        # From the server's own loop thread: closing its sockets from here races its select()
        # (EBADF in the loop thread, seen under CI load).
        stop_waitress(server, thread)


def test_the_launchers_start_page_pairs_the_touchscreen(
    page: Any, base: str, controller: Controller, tmp_path: Path
) -> None:
    secret = (controller.config.data_path / "kiosk-secret").read_text().strip()
    args, _, _ = run_kiosk_launcher(tmp_path, secret, base)
    start = args.split()[-1]
    assert start.startswith("file://") and secret not in args
    page.goto(start)
    page.wait_for_url("**/kiosk/?pair=*")
    page.wait_for_function("window.kiosk && window.kiosk.csrf")
    assert page.evaluate(REPORT) == 200, "the paired touchscreen reports a problem"


def test_the_kiosk_page_without_the_key_cannot_act(page: Any, base: str) -> None:
    page.goto(base + "kiosk/")
    page.wait_for_function("window.kiosk")
    assert page.evaluate("() => window.kiosk.csrf") == "", "no token for a page without the key"
    assert page.evaluate("async () => (await fetch('/kiosk/token')).status") == 403
    assert page.evaluate(REPORT) == 400  # no token: refused before anything else
