"""Docs that cannot drift: every config key and every CLI command is documented."""

from __future__ import annotations

import argparse
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
