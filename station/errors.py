"""One root exception; each subclass also inherits the built-in it resembles."""


class StationError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(StationError, ValueError):
    """The config file is wrong; the message names the file, the key and what is allowed."""


class RosterError(StationError, ValueError):
    """A roster file is wrong; the message names the line and the field. ``problems`` (one per
    problem, "line N: ...") and ``bad_rows`` (how many rows) let a page say it in its reader's
    language."""

    def __init__(self, message: str, problems: tuple[str, ...] = (), bad_rows: int = 0) -> None:
        super().__init__(message)
        self.problems = problems
        self.bad_rows = bad_rows


class StoreError(StationError, RuntimeError):
    """The station's SQLite store cannot be used."""
