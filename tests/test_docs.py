"""Docs that cannot drift: every config key and every CLI command is documented."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from station.cli import build_parser
from station.config import documented_keys

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_config_key_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [key for key, _ in documented_keys() if f"`{key}`" not in text]
    assert not missing, f"document these keys in docs/configuration.md: {missing}"


def _commands(parser: argparse.ArgumentParser, prefix: str = "station") -> list[str]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found = _commands(sub, f"{prefix} {name}")
                out += found or [f"{prefix} {name}"]
    return out


def test_every_cli_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    commands = _commands(build_parser())
    assert "station roster import" in commands
    missing = [c for c in commands if f"`{c}" not in text]
    assert not missing, f"document these commands in docs/cli.md: {missing}"


def test_every_test_that_docs_security_names_exists() -> None:
    """docs/security.md names the test that holds each rule; a renamed test must not leave the
    threat model pointing at nothing (`::name` refers to the last file named before it)."""
    text = (DOCS / "security.md").read_text(encoding="utf-8")
    current: Path | None = None
    named = 0
    for match in re.finditer(r"`(tests/[\w/]+\.py)(?:::(\w+))?`|`::(\w+)`", text):
        file, name, short = match.groups()
        if file:
            current = DOCS.parent / file
            assert current.exists(), file
        test = name or short
        if test:
            assert current is not None, f"::{test} before any file"
            source = current.read_text(encoding="utf-8")
            assert re.search(rf"def {test}\b", source), f"{current.name}::{test} does not exist"
            named += 1
    assert named >= 20


MAX_SCREENSHOT_BYTES = 100_000
"""A screenshot is a 256-colour PNG (tests/demo_screenshots.py's ``optimise``): a full page of
text stays well under this."""


def test_screenshots_the_docs_show_exist_are_small_and_none_is_left_over() -> None:
    from tests.demo_screenshots import DEMO_SHOTS
    from tests.test_browser_helpers import documented_screenshots

    shown = documented_screenshots()
    on_disk = {p.stem: p for p in (DOCS / "screenshots").glob("*.png")}
    assert shown >= DEMO_SHOTS, "the demo's pictures are the README's"
    assert sorted(shown - set(on_disk)) == [], "referenced but missing"
    assert sorted(set(on_disk) - shown) == [], "in docs/screenshots/ but shown nowhere"
    big = {
        n: p.stat().st_size for n, p in on_disk.items() if p.stat().st_size > MAX_SCREENSHOT_BYTES
    }
    assert big == {}, "optimise them (tests/demo_screenshots.py optimise())"
