"""Translation catalogs: one flat JSON file per language, French first, no compile step.

``web/translations/<lang>/messages.json`` maps a key (``denial.not_qualified.title``) to a message
with ``{placeholders}``. Templates call ``_("key", name=...)``; the kiosk's JavaScript receives the
catalogs and calls ``t("key", {name: ...})``. A missing key is a bug that ``tests/test_i18n.py``
catches; at run time it falls back to French, then to the key itself, so a screen never breaks.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

from flask import Flask, current_app, request, session

LANGUAGES = ("fr", "en")
REFERENCE = "fr"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def load_catalogs() -> dict[str, dict[str, str]]:
    root = resources.files("web").joinpath("translations")
    return {
        lang: json.loads(root.joinpath(lang, "messages.json").read_text("utf-8"))
        for lang in LANGUAGES
    }


def fill(message: str, values: dict[str, Any]) -> str:
    """Replace ``{name}`` placeholders; unknown ones stay visible rather than raising."""
    return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), message)


class Translator:
    def __init__(self, catalogs: dict[str, dict[str, str]], default: str) -> None:
        self.catalogs = catalogs
        self.default = default if default in catalogs else REFERENCE

    def gettext(self, lang: str, key: str, **values: Any) -> str:
        catalog = self.catalogs.get(lang) or self.catalogs[REFERENCE]
        message = catalog.get(key) or self.catalogs[REFERENCE].get(key) or key
        return fill(message, values)


def init_app(app: Flask, default_language: str) -> Translator:
    translator = Translator(load_catalogs(), default_language)
    app.extensions["i18n"] = translator
    app.jinja_env.globals["_"] = gettext
    app.jinja_env.globals["label"] = label
    app.jinja_env.globals["current_language"] = current_language
    return translator


def translator() -> Translator:
    t: Translator = current_app.extensions["i18n"]
    return t


def current_language() -> str:
    """``?lang=`` for this request, else the one chosen on the page, else the station's default."""
    t = translator()
    asked = request.args.get("lang")
    if asked in t.catalogs:
        return asked
    chosen = session.get("lang")
    return chosen if chosen in t.catalogs else t.default


def gettext(key: str, **values: Any) -> str:
    return translator().gettext(current_language(), key, **values)


def other_language(lang: str) -> str:
    return next(code for code in LANGUAGES if code != lang)


def label(prefix: str, code: str) -> str:
    """The message for a code that the catalogs may not know yet (an event type): else the code."""
    t = translator()
    key = prefix + code
    catalog = t.catalogs.get(current_language()) or {}
    return fill(catalog[key], {}) if key in catalog else code
