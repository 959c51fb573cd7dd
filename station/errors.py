"""One root exception; each subclass also inherits the built-in it resembles."""


class StationError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(StationError, ValueError):
    """The config file is wrong; the message names the file, the key and what is allowed."""


class RosterError(StationError, ValueError):
    """A roster file is wrong; the message names the line and the field.

    ``problems`` holds each one apart (``station.roster.RowProblem``: line, code, values), so a
    page can say them in its reader's language; ``bad_rows`` counts lines, not problems.
    """

    def __init__(self, message: str, problems: tuple[object, ...] = (), bad_rows: int = 0) -> None:
        super().__init__(message)
        self.problems, self.bad_rows = problems, bad_rows


class StoreError(StationError, RuntimeError):
    """The station's SQLite store cannot be used."""
