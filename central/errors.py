"""The central store's errors, under the project's one root (StationError)."""

from __future__ import annotations

from station.errors import StationError


class CentralError(StationError):
    """Root of the central store's own errors. ``str()`` is the English the API and the CLI
    give; ``code`` (with ``values``) lets a page say it in its reader's language
    (``c.error.<code>`` in the central catalogs), as :class:`station.roster.RosterProblem`
    does for a roster's rows. None: the page says a generic sentence."""

    def __init__(self, message: str, *, code: str | None = None, **values: object) -> None:
        super().__init__(message)
        self.code, self.values = code, values


class CentralConfigError(CentralError, ValueError):
    """The config file is wrong; the message names the file and the key."""


class BadRequest(CentralError, ValueError):
    """A sync or admin payload is wrong; ``field`` names what to fix (HTTP 400)."""

    def __init__(
        self, message: str, field: str | None = None, *, code: str | None = None, **values: object
    ) -> None:
        super().__init__(message, code=code, **values)
        self.field = field


class TooLarge(BadRequest):
    """More events than one request may carry (HTTP 413: the station halves its batch)."""


class Conflict(CentralError, ValueError):
    """The payload contradicts what is stored (HTTP 409), e.g. a seq held with another id."""


class NotFound(CentralError, LookupError):
    """No such station, member, command… (HTTP 404)."""


class BadgeHeld(Conflict):
    """The badge belongs to another member: moving it needs a confirmation."""

    def __init__(self, uid: str, holder: str) -> None:
        super().__init__(
            f"badge {uid} belongs to {holder}: confirm to move it (they will lose it)",
            code="badge_held",
            uid=uid,
            holder=holder,
        )
        self.uid, self.holder = uid, holder


class BadgesHeldInImport(Conflict):
    """A roster file gives badges that other members hold: an import never moves a card from
    one member to another silently (nothing was written)."""

    def __init__(self, moves: list[tuple[str, str, str, str]]) -> None:
        self.moves = moves
        """(uid, holder's id, holder's name, the name of the member the file gives it to)"""
        listed = "; ".join(f"{uid} belongs to {holder} ({name}), the file gives it to {to}"
                           for uid, holder, name, to in moves[:20])  # fmt: skip
        super().__init__(
            f"nothing was imported: {listed}. A roster import does not take a badge from its "
            "holder: add it on the new member's page (with « take this badge from its holder »), "
            "or revoke it on the holder's page first"
        )


class OtherSite(CentralError, PermissionError):
    """A site's account asked to change what belongs to another site (HTTP 403); nothing was
    written."""

    def __init__(self, message: str, what: str) -> None:
        super().__init__(message, code="other_site", what=what)
        self.what = what


class StorageUnavailable(CentralError, ConnectionError):
    """The database cannot be reached or cannot write (server down, wrong DSN, disk full): the
    message says which server (never the password) and what to check. A sync gets 503 and the
    station keeps its backlog for later."""


class MigrationError(CentralError, RuntimeError):
    """A schema migration failed; it was rolled back whole (the schema is as before it)."""
