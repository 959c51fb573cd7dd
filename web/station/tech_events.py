"""The technician page's event log in sentences: « Léa a commencé une session avec Moussa. ».

A technician scans the log for what happened, not for JSON: each event type has one sentence in
the catalogs (``tech.sentence.<type>``) filled from the event's data, with members' names from the
roster, codes (states, reasons) in words, durations and energy as people write them. A type the
catalogs do not know yet keeps its label and its compact data, so nothing is hidden.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from web.common import format as fmt

Translate = Callable[..., str]


def describe(
    type_: str,
    data: Mapping[str, Any],
    names: Mapping[str, str],
    gettext: Translate,
    lang: str = "fr",
) -> str:
    """The event in one sentence in the page's language."""
    key = f"tech.sentence.{type_}{_variant(type_, data)}"
    values = _values(data, names, gettext, lang)
    text = gettext(key, **values)
    if text == key:  # not in the catalogs: the label and the data, compact
        details = {k: v for k, v in data.items() if v not in (None, "")}
        return f"{gettext('event.' + type_)} : {json.dumps(details, ensure_ascii=False)[:300]}"
    return text


STAFF_STATES = frozenset({"out_of_service", "to_check", "fault"})


def _variant(type_: str, data: Mapping[str, Any]) -> str:
    """A sentence has a longer variant when the event carries more worth reading."""
    if type_ == "session_started" and data.get("supervisor_id"):
        return "_supervised"
    if type_ in ("session_ended", "finishing_ended") and isinstance(
        data.get("energy_wh"), int | float
    ):
        return "_energy"
    if type_ == "machine_state_changed" and data.get("reason") and data.get("to") in STAFF_STATES:
        why = str(data.get("why") or "")
        if data.get("by") and why.startswith(("session_ended", "finishing_ended")):
            return "_after_session"  # her badge-out ended it: she did not cause the fault
        return "_reason"
    if type_ == "plug_fault" and data.get("kind") in PLUG_FAULT_KINDS:
        return f"_{data['kind']}"  # one sentence per kind: what the plug did
    if type_ == "power_without_permission" and data.get("source") == "plug":
        return "_plug"
    return ""


PLUG_FAULT_KINDS = frozenset({"no_ack", "unasked_on", "unasked_off", "overpower", "overtemp"})
NOT_PEOPLE = frozenset({"kiosk", "central"})
"""``by`` values that are not a person: the touchscreen, a command from the central store."""
PROBLEM_PREFIX = "problem_reported:"


def reason_words(reason: Any, gettext: Translate) -> str:
    """Why the machine is in its state, in words (``air_pm25``: « trop de particules dans
    l'air »; ``problem_reported:broken``: the problem as the kiosk offered it). A reason a
    technician typed (out of service) is shown as it is."""
    if not isinstance(reason, str) or not reason:
        return "—"
    if reason.startswith(PROBLEM_PREFIX):
        code = reason[len(PROBLEM_PREFIX) :]
        problem = gettext(f"problem.{code}")
        return gettext(
            "tech.reason.problem_reported",
            problem=code if problem == f"problem.{code}" else problem,
        )
    text = gettext(f"tech.reason.{reason}")
    return reason if text == f"tech.reason.{reason}" else text


def _values(
    data: Mapping[str, Any], names: Mapping[str, str], gettext: Translate, lang: str
) -> dict[str, str]:
    def name(key: str) -> str:
        who = data.get(key)
        if not isinstance(who, str) or not who:
            return gettext("tech.sentence.someone")
        if who in NOT_PEOPLE:
            return gettext(f"tech.sentence.by_{who}")
        return f"{names[who]} ({who})" if who in names else who

    def word(prefix: str, key: str) -> str:
        code = data.get(key)
        if not isinstance(code, str) or not code:
            return "—"
        text = gettext(prefix + code)
        return code if text == prefix + code else text

    def number(key: str) -> float | None:
        v = data.get(key)
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    by_key = "by" if data.get("by") else "granted_by"
    return {
        "who": name("member_id"),
        "supervisor": name("supervisor_id"),
        "by": name(by_key) if data.get(by_key) else gettext("tech.sentence.the_station"),
        "uid": str(data.get("uid") or "—"),
        "denial": word("tech.denial.", "reason"),
        "end_reason": word("end_reason.", "end_reason"),
        "from": word("state.", "from"),
        "to": word("state.", "to"),
        "why": reason_words(data.get("reason") or data.get("why"), gettext),
        "problem": word("problem.", "problem"),
        "kind": word("kind.", "kind"),
        "kind_on": word("kind.on.", "kind"),
        "level": word("level.", "level"),
        "action": word("tech.command.", "action"),
        "result": gettext("tech.sentence.applied" if data.get("ok") else "tech.sentence.refused"),
        "duration": fmt.duration(number("duration_s"), lang),
        "energy": fmt.kwh(number("energy_wh"), lang),
        "watts": fmt.number(number("watts"), lang),
        "pm25": fmt.number(number("pm25"), lang, 1),
        "threshold": fmt.number(number("threshold"), lang),
        "minutes": fmt.duration(number("remaining_s") or number("ends_in_s"), lang),
        "version": str(data.get("version") or "—"),
        "device": str(data.get("device") or "—"),
    }
