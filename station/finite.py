"""JSON the central store accepts: no NaN or Infinity, which strict parsers refuse.

Python's ``json`` writes ``NaN`` for a float that is not a number (a meter that returned garbage,
a division by zero in a total). The central store refuses such a body with 400, so one NaN kept in
an event would block a station's sync for good. Events and statuses go through :func:`finite`
before they are stored or sent: a number that is not finite becomes ``null`` (unknown).
"""

from __future__ import annotations

import math
from typing import Any


def finite(value: Any) -> Any:
    """``value`` with every non-finite float, at any depth, replaced by ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value
