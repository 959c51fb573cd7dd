"""The README's pictures of the demo, taken from a running demo (``station demo``).

    .venv/bin/python -m tests.demo_screenshots [--port 8080] [--out docs/screenshots]

Starts the demo in a fresh data directory on ``--port`` (it uses N, N+1, N+2 and N+10), plays
an afternoon at the fablab through each station's ``/sim`` API (sessions, a print that runs on
after badge-out, Moussa raising Léa to autonomous, a CNC waiting for its check, smoke at the
laser), then saves, in headless Chromium:

    kiosk-idle.png, kiosk-session.png     the laser's kiosk, 800×480
    technician.png                        the laser's /tech/ page (technician yanis), 1366×768
    central-dashboard.png                 the fleet dashboard /dash/, 1366×768
    central-progress.png                  Léa's progression /reports/progress/lea, 1280×900
    central-programme.png                 the programme report /reports/programme/, 1280×900

Each PNG is reduced to a 256-colour palette (a third of the size, the text as sharp). The
other screens (every kiosk state) come from the browser tests:
``FABRIQUE_UPDATE_SCREENSHOTS=1 ./deploy.sh test -k browser``; those tests leave the six names
above to this script. Needs /usr/bin/chromium and Playwright, like the browser tests.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
DEMO_SHOTS = frozenset(
    {
        "kiosk-idle",
        "kiosk-session",
        "technician",
        "central-dashboard",
        "central-progress",
        "central-programme",
    }
)
"""The pictures this script owns; the browser tests write the others."""
PASSWORD = "fabrique-demo"
SOFIANE, LEA, MOUSSA, NOAH = "04C0C1C2", "04B0B1B2", "0411223344AA80", "04F0F1F2"
JADE, KARIM, IBRAHIMA, SAMIR = "04A3A4A5", "04A0A1A2", "04A6A7A8", "04ACADAE"


def optimise(path: Path) -> None:
    """A screenshot as a 256-colour palette PNG: flat colours and antialiased text keep their
    look at a third of the bytes."""
    with Image.open(path) as image:
        rgb = image.convert("RGB")
    rgb.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        path, optimize=True
    )


class Station:
    def __init__(self, url: str) -> None:
        self.url = url

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/api/status", timeout=10) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def tap(self, uid: str) -> str:
        return str(self.post("/sim/badge", {"uid": uid}).get("action"))

    def advance(self, seconds: float) -> None:
        self.post("/sim/advance", {"seconds": seconds})


def wait_for(cond: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = cond()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit(f"demo_screenshots: timed out waiting for {what}")


def play_an_afternoon(laser: Station, printer: Station, cnc: Station) -> None:
    """Sessions on every machine, with what the pages are there to show."""
    # The laser: Sofiane works 25 minutes; Noah, not trained yet, is told what to do.
    assert laser.tap(SOFIANE) == "session_started"
    laser.advance(25 * 60)
    laser.tap(SOFIANE)
    laser.advance(60)
    laser.tap(NOAH)
    laser.advance(60)
    # Learning by teaching: Léa works under Moussa, who then raises her to autonomous.
    assert laser.tap(LEA) == "waiting_for_supervisor"
    assert laser.tap(MOUSSA) == "session_started"
    laser.advance(35 * 60)
    laser.tap(MOUSSA)
    laser.advance(5)
    laser.tap(MOUSSA)
    assert laser.tap(LEA) == "qualification_granted"
    laser.advance(5)
    laser.tap(LEA)
    laser.advance(120)
    # The printer: Jade's print runs on after she badges out; it stops when the print is done.
    assert printer.tap(JADE) == "session_started"
    printer.post("/sim/power", {"watts": 140})
    printer.advance(30 * 60)
    printer.tap(JADE)
    printer.advance(20 * 60)
    printer.post("/sim/power", {"watts": 2})
    printer.advance(10 * 60)
    # The CNC: Ibrahima under Samir; after use it waits for a technician's check.
    assert cnc.tap(IBRAHIMA) == "waiting_for_supervisor"
    assert cnc.tap(SAMIR) == "session_started"
    cnc.advance(40 * 60)
    cnc.tap(IBRAHIMA)
    cnc.advance(60)


def synced(station: Station) -> bool:
    sync = station.status()["sync"]
    return sync.get("state") == "ok" and sync.get("backlog") == 0


def start_demo(data: Path, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "station.cli", "demo", "--data-dir", str(data), "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("Logs in"):
            return proc
    proc.wait(30)
    raise SystemExit(f"demo_screenshots: the demo did not start (exit {proc.returncode})")


def login(page: Any, url: str, username: str) -> None:
    page.goto(url)
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.press("#password", "Enter")  # the header's first button switches the language


def take(out: Path, port: int) -> list[Path]:
    from playwright.sync_api import sync_playwright

    laser, printer, cnc = (Station(f"http://127.0.0.1:{port + i}") for i in range(3))
    central = f"http://127.0.0.1:{port + 10}"
    saved: list[Path] = []

    def shot(page: Any, name: str, clip_bottom: float | None = None) -> None:
        """The viewport; or, with ``clip_bottom``, the page from its top down to there."""
        assert name in DEMO_SHOTS, name
        page.wait_for_timeout(500)  # the live updates' first render
        path = out / f"{name}.png"
        if clip_bottom is None:
            page.screenshot(path=str(path))
        else:
            width = page.viewport_size["width"]
            clip = {"x": 0, "y": 0, "width": width, "height": clip_bottom}
            page.screenshot(path=str(path), full_page=True, clip=clip)
        optimise(path)
        saved.append(path)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        kiosk_ctx = browser.new_context(viewport={"width": 800, "height": 480}, locale="fr-FR")
        kiosk = kiosk_ctx.new_page()
        kiosk.goto(laser.url + "/kiosk/")
        kiosk.wait_for_selector("#screen h2")
        shot(kiosk, "kiosk-idle")

        play_an_afternoon(laser, printer, cnc)
        # Karim is at the laser now, ten minutes in: the kiosk shows his session.
        assert laser.tap(KARIM) == "session_started"
        laser.advance(10 * 60)
        kiosk.wait_for_timeout(9000)  # the decision screen gives way to the session
        shot(kiosk, "kiosk-session")
        for s in (laser, printer, cnc):
            wait_for(lambda s=s: synced(s), f"{s.url} synced")
        pages = browser.new_context(viewport={"width": 1366, "height": 768}, locale="fr-FR")
        tech = pages.new_page()
        login(tech, laser.url + "/tech/login", "yanis")
        shot(tech, "technician")

        # Karim is done; then smoke at the laser: the dashboard shows the alarm and its reading.
        laser.advance(5)
        laser.tap(KARIM)
        laser.post("/sim/air", {"pm25": 48})
        for s in (laser, printer, cnc):
            wait_for(lambda s=s: synced(s), f"{s.url} synced")
        dash = pages.new_page()
        login(dash, central + "/login", "yanis")
        dash.goto(central + "/dash/")
        shot(dash, "central-dashboard")

        educator = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
        page = educator.new_page()
        login(page, central + "/login", "ines")
        page.goto(central + "/reports/progress/lea")
        # From her name down to the machine where Moussa just raised her (granted_by).
        granted = page.locator("section.card").filter(has_text="Moussa").first
        box = granted.bounding_box()
        shot(page, "central-progress", clip_bottom=box["y"] + box["height"] + 16 if box else None)
        page.goto(central + "/reports/programme/")
        shot(page, "central-programme")
        browser.close()
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fabrique-shots-") as tmp:
        demo = start_demo(Path(tmp) / "demo", args.port)
        try:
            for path in take(args.out, args.port):
                print(
                    f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: "
                    f"{path.stat().st_size // 1024} KiB"
                )
        finally:
            demo.send_signal(signal.SIGTERM)
            demo.wait(60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
