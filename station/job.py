"""The whole job: a session and the finishing phase after it, as one set of totals.

A 3D print that goes on after badge-out is logged in two events: ``session_ended`` (the
session's own figures, with ``finishing: true``) and later ``finishing_ended`` (the phase's
figures). People read one job: the projections (the station's ``sessions``, the central store's)
keep the phase's figures in ``finishing_*`` columns and the whole job's in the usual columns
(``duration_s``, ``energy_wh``...), whichever of the two events is projected first, and
projecting one again (a timestamp repair) changes nothing. Pure SQL text: no database here.
"""

from __future__ import annotations

import math

PHASE_COLUMNS = {
    "duration_s": "finishing_s",
    "enabled_s": "finishing_enabled_s",
    "active_s": "finishing_active_s",
    "idle_s": "finishing_idle_s",
    "unknown_s": "finishing_unknown_s",
    "energy_wh": "finishing_energy_wh",
}
"""A session's total column → the column that holds its finishing phase's share."""


def _add(a: str, b: str) -> str:
    """``a + b`` in SQL where a missing part counts 0, but unknown stays unknown (NULL)."""
    both = f"COALESCE({a}, 0) + COALESCE({b}, 0)"
    return f"CASE WHEN {a} IS NULL AND {b} IS NULL THEN NULL ELSE {both} END"


def session_totals_sql(totals: tuple[str, ...]) -> str:
    """SET clauses for ``session_ended``: each total is the session's figure (the named
    parameter of the same name) plus its finishing phase's, if that was projected first."""
    return ", ".join(f"{t} = {_add(':' + t, PHASE_COLUMNS[t])}" for t in totals)


def finishing_totals_sql(totals: tuple[str, ...]) -> str:
    """SET clauses for ``finishing_ended``: the phase's figures (named parameters
    ``finishing_<total>``) go in the ``finishing_*`` columns, and each total, once the session
    has ended, becomes the session's figure plus the new phase figure (an older phase figure,
    from a projection run before, is taken out first)."""
    parts = []
    for t in totals:
        phase, param = PHASE_COLUMNS[t], f":finishing_{t}"
        session_part = f"({t} - COALESCE({phase}, 0))"
        parts.append(
            f"{t} = CASE WHEN ended_at IS NULL THEN {t} ELSE {_add(session_part, param)} END"
        )
        parts.append(f"{phase} = {param}")
    return ", ".join(parts)


def finishing_params(data: dict[str, object], totals: tuple[str, ...]) -> dict[str, object]:
    """The named parameters of :func:`finishing_totals_sql` from a ``finishing_ended``'s data."""
    return {f"finishing_{t}": number(data.get(t)) for t in totals}


def number(value: object) -> float | None:
    """A finite number from event data, or None (a station's data is checked, not trusted)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)
