"""Numbers, times and durations as the fablab's people read them: French first, local time.

One implementation for both apps (the kiosk's JavaScript mirrors it with ``Intl``):
« 0,10 kWh », « 1 234,5 », « 42 min », « 1 déc. 2026, 19:47 » in the fablab's time zone
(``[station] timezone`` or ``[site] timezone``, Europe/Paris by default). Events are stored in
UTC; only what a person reads is converted. Babel holds the locale rules (decimal comma, narrow
no-break space for thousands).

In templates (after :func:`init_app`): ``{{ x | number(1) }}``, ``{{ wh | kwh }}``,
``{{ s | duration }}``, ``{{ s | hours }}``, ``{{ at | local_time }}``, ``{{ at | local_date }}``,
``{{ "2026-03" | period }}``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal

DEFAULT_TIMEZONE = "Europe/Paris"
LOCALES = {"fr": "fr_FR", "en": "en_GB"}


def _locale(lang: str) -> str:
    return LOCALES.get(lang, LOCALES["fr"])


def number(value: float | int | None, lang: str = "fr", digits: int = 0) -> str:
    """``value`` with exactly ``digits`` decimals in the language's style; « — » if unknown."""
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return format_decimal(value, format=pattern, locale=_locale(lang))


def kwh(wh: float | None, lang: str = "fr") -> str:
    """Energy in watt-hours shown in kWh with two decimals: « 0,10 kWh »."""
    if wh is None:
        return "—"
    return f"{number(wh / 1000.0, lang, 2)} kWh"


def hours(seconds: float | None, lang: str = "fr", digits: int = 1) -> str:
    """A duration in hours with ``digits`` decimals: « 1,5 h »."""
    if seconds is None:
        return "—"
    return f"{number(seconds / 3600.0, lang, digits)} h"


def duration(seconds: float | None, lang: str = "fr") -> str:
    """A duration as a person says it: « 45 s », « 42 min », « 1 h 05 »."""
    if seconds is None:
        return "—"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    minutes = round(s / 60)
    if minutes < 60:
        return f"{minutes} min"
    h, m = divmod(minutes, 60)
    return f"{h} h {m:02d}"


def _as_datetime(at: str | datetime) -> datetime:
    if isinstance(at, datetime):
        dt = at
    else:
        dt = datetime.fromisoformat(at.replace("Z", "+00:00"))
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def local_time(
    at: str | datetime | None, lang: str = "fr", tz: str = DEFAULT_TIMEZONE, style: str = "medium"
) -> str:
    """A UTC instant in the fablab's time zone: « 1 déc. 2026, 19:47 » (``style`` "medium"),
    « 19:47 » ("time") or « 01/12/2026 19:47 » ("short"). Unreadable text is shown as it is."""
    if at is None or at == "":
        return "—"
    try:
        dt = _as_datetime(at).astimezone(ZoneInfo(tz))
    except (TypeError, ValueError):
        return str(at)
    if style == "time":
        return format_time(dt, format="HH:mm", locale=_locale(lang))
    pattern = "dd/MM/yyyy HH:mm" if style == "short" else None
    if pattern:
        return format_datetime(dt, format=pattern, locale=_locale(lang))
    return format_datetime(dt, format="medium", locale=_locale(lang)).rsplit(":", 1)[0]


def local_date(
    at: str | datetime | date | None, lang: str = "fr", tz: str = DEFAULT_TIMEZONE
) -> str:
    """The day of a UTC instant (or a date) in the fablab's time zone: « 1 déc. 2026 »."""
    if at is None or at == "":
        return "—"
    try:
        if isinstance(at, date) and not isinstance(at, datetime):
            day = at
        else:
            day = _as_datetime(at).astimezone(ZoneInfo(tz)).date()
    except (TypeError, ValueError):
        return str(at)
    return format_date(day, format="medium", locale=_locale(lang))


def period(label: str | None, lang: str = "fr") -> str:
    """A report's period as people name it: « 2 mars 2026 » (a day), « mars 2026 » (a month),
    « 2026 » (a year); anything else as it is."""
    if not label:
        return "—"
    try:
        if len(label) == 10:
            return format_date(date.fromisoformat(label), format="medium", locale=_locale(lang))
        if len(label) == 7:
            day = date.fromisoformat(label + "-01")
            return format_date(day, format="LLLL y", locale=_locale(lang))
    except ValueError:
        pass
    return label


def init_app(app: Any, timezone: str, language: Any) -> None:
    """Register the filters; ``language()`` gives the request's language (web.common.i18n)."""
    app.extensions["timezone"] = timezone
    env = app.jinja_env
    env.filters["number"] = lambda v, digits=0: number(v, language(), digits)
    env.filters["kwh"] = lambda v: kwh(v, language())
    env.filters["hours"] = lambda v, digits=1: hours(v, language(), digits)
    env.filters["duration"] = lambda v: duration(v, language())
    env.filters["local_time"] = lambda v, style="medium": local_time(v, language(), timezone, style)
    env.filters["local_date"] = lambda v: local_date(v, language(), timezone)
    env.filters["period"] = lambda v: period(v, language())
    env.globals["timezone"] = timezone
