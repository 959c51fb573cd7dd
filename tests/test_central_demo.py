"""``station demo``: one command starts a central store and three stations that sync with it."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from central.demo import DEMO_ROSTER, STATIONS, set_toml
from central.store import SqliteCentralStore
from station.roster import parse_roster_csv
from tests.conftest import sample_roster_text
from tests.test_central_helpers import REPO, post_json, wait_for


def test_the_demo_roster_extends_the_sample_one() -> None:
    demo = parse_roster_csv(DEMO_ROSTER)
    sample = parse_roster_csv(sample_roster_text())
    assert {b.uid: b.member_id for b in sample.badges}.items() <= {
        b.uid: b.member_id for b in demo.badges
    }.items()
    cnc = {q.member_id: q.level.value for q in demo.qualifications if q.kind == "cnc"}
    trainees = {m.id for m in demo.members if m.role.value == "trainee"}
    assert {lv for mid, lv in cnc.items() if mid in trainees} == {"supervised", "mentor"}


def test_set_toml_changes_one_key_in_one_section() -> None:
    text = '[machine]\nid = "a"\nkind = "x"\n[web]\nid = "b"\n'
    assert (
        set_toml(text, "web", "id", '"c"') == '[machine]\nid = "a"\nkind = "x"\n[web]\nid = "c"\n'
    )


def _free_base() -> int:
    """A port p with p, p+1, p+2 and p+10 free (the demo's layout)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base > 65000:
            continue
        try:
            socks = []
            for off in (0, 1, 2, 10):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + off))
            return int(base)
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free ports for the demo")


@pytest.mark.e2e
def test_station_demo_runs_a_central_store_and_three_stations(tmp_path: Path) -> None:
    base = _free_base()
    demo = ["demo", "--data-dir", str(tmp_path / "d"), "--port", str(base)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "station.cli", *demo],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = []
        while not banner or not banner[-1].startswith("Logs in"):
            line = proc.stdout.readline()
            assert line, f"the demo stopped: {proc.stderr.read() if proc.stderr else ''}"
            banner.append(line.rstrip())
        text = "\n".join(banner)
        for st in STATIONS:
            assert st.id in text
        assert len(re.findall(r"/kiosk/", text)) == 3
        assert len(re.findall(r"/sim/\n", text + "\n")) == 3
        assert f"http://127.0.0.1:{base + 10}/dash/" in text
        # The README's first tap works on the laser, and its events reach the central store.
        status, decision = post_json(
            f"http://127.0.0.1:{base}/sim/badge", {"uid": "04C0C1C2"}, timeout=10
        )
        assert status == 200 and decision["action"] == "session_started", decision
        store = SqliteCentralStore(tmp_path / "d" / "central" / "central.sqlite")
        try:
            wait_for(
                lambda: any(
                    e["type"] == "session_started" for e in store.events(station_id="laser-1")
                ),
                20,
                "the session at the central store",
            )
        finally:
            store.close()
        # On the CNC a trainee needs a supervisor.
        _, cnc = post_json(f"http://127.0.0.1:{base + 2}/sim/badge", {"uid": "04B0B1B2"})
        assert cnc["reason"] == "needs_supervisor"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()
    assert proc.returncode == 0
