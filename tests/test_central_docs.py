"""The central store's docs cannot drift: every `station-central` command and config key."""

from __future__ import annotations

from pathlib import Path

from central.cli import build_parser
from central.config import documented_keys
from tests.test_docs import _commands

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_central_config_key_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    section = text.split("\n## Central store\n", 1)[-1]
    assert section != text, "docs/configuration.md needs a '## Central store' section"
    missing = [key for key, _ in documented_keys() if f"`{key}`" not in section]
    assert not missing, f"document these keys under 'Central store': {missing}"


def test_every_central_cli_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    commands = _commands(build_parser(), "station-central")
    assert "station-central station add" in commands
    missing = [c for c in commands if f"`{c}" not in text]
    assert not missing, f"document these commands in docs/cli.md: {missing}"
