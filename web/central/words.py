"""Codes told in words on the central pages: machine kinds, roles, levels, reasons, problems.

The stores keep codes (``printer3d``, ``air_pm25``, ``problem_reported:broken``); a person reads
« Impression 3D », « trop de particules dans l'air », « à vérifier : J'ai cassé quelque chose ».
Each word is in the central catalogs; a code they do not know (a kind a fablab made up, a reason
a technician typed) is shown as it is, so nothing is hidden.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from web.common.i18n import gettext as t

PROBLEM_PREFIX = "problem_reported:"
BY_WORDS = ("central", "kiosk")
"""Who did something, when it is not a person: the central store's command, the touchscreen."""


def word(prefix: str, code: Any) -> str:
    """The catalog's word for ``prefix + code``, or the code itself when there is none."""
    if code is None or code == "":
        return "—"
    key = f"{prefix}{code}"
    text = t(key)
    return str(code) if text == key else text


def kind_name(kind: Any) -> str:
    """« Découpe laser » for ``laser``."""
    return word("c.kind.", kind)


def problem_text(code: Any) -> str:
    """A problem reported at the machine: a kiosk choice in words, or what was typed."""
    return word("c.problem.", code)


def reason_text(reason: Any) -> str:
    """Why a machine is in its state: « trop de particules dans l'air », or for a problem
    reported on the kiosk, the problem in words."""
    if isinstance(reason, str) and reason.startswith(PROBLEM_PREFIX):
        return t("c.reason.problem_reported", problem=problem_text(reason[len(PROBLEM_PREFIX) :]))
    return word("c.reason.", reason)


def by_text(by: Any) -> str:
    """Who: a person's name or login as it is, the central store or the touchscreen in words."""
    if by in BY_WORDS:
        return t(f"c.by.{by}")
    return "—" if by is None or by == "" else str(by)


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        word=word,
        kind_name=kind_name,
        problem_text=problem_text,
        reason_text=reason_text,
        by_text=by_text,
    )
