"""What the project's two command lines share: run the chosen command, turn errors into exit codes.

``station`` (station/cli.py) and ``station-central`` (central/cli.py) both end here, so a bad
input is reported the same way by each: one message that names what to fix, exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys

from station.errors import StationError


def dispatch(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Run the chosen command: bad input exits 2 with one message naming what to fix (the
    project's errors all derive from StationError), Ctrl-C exits 130."""
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except StationError as e:
        print(f"{parser.prog}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
