"""One root exception; each subclass also inherits the built-in it resembles."""


class StationError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(StationError, ValueError):
    """The config file is wrong; the message names the file, the key and what is allowed."""


class RosterError(StationError, ValueError):
    """A roster file is wrong; the message names the line and the field."""


class StoreError(StationError, RuntimeError):
    """The station's SQLite store cannot be used."""
