"""Translation catalogs for both apps: gettext ``.po`` files read through Babel, French first.

``web/translations/<lang>/LC_MESSAGES/<domain>.po`` holds one domain per app: ``station`` (kiosk,
technician page, simulator) and ``central`` (the central store's pages). The msgid is a key
(``denial.not_qualified.title``), the msgstr a message with ``{placeholders}``; a plural entry
(``msgid_plural``) has one msgstr per form of the language's plural rules (French: 0 and 1 are
singular). The files are read as they are, with no compile step, so a translator's tool (Poedit,
Weblate, Lokalize) edits exactly what runs; a fuzzy or empty translation falls back to French.

Templates call ``_("key", name=...)`` and ``ngettext("key", count, name=...)``; the central pages
keep their ``t(...)``. The kiosk's JavaScript receives the catalogs (:meth:`Translator.for_script`)
and calls ``t("key", {name: ...})`` or ``tn("key", count, {...})``, which picks a plural form with
``Intl.PluralRules``: each plural entry is sent as ``{one: ..., other: ...}`` keyed by the CLDR
categories, the same ones Python picks with Babel. A missing key is a bug that
``tests/test_i18n.py`` catches; at run time it falls back to French, then to the key itself, so a
screen never breaks.

``python -m web.common.i18n import-json FILE --lang fr --domain station`` merges a flat JSON catalog
(the format the apps used before) into a ``.po`` file: see docs/translations.md.
"""

from __future__ import annotations

import argparse
import gettext as _gettext
import io
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po, write_po
from flask import Flask, current_app, request, session

LANGUAGES = ("fr", "en")
REFERENCE = "fr"
DOMAINS = ("station", "central")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
PROJECT = "Fabrique station"

Text = str | tuple[str, ...]
"""A message: one text, or one text per plural form (in the order of the catalog's header)."""


# --- plural rules ----------------------------------------------------------------------------


@cache
def plural_categories(lang: str) -> dict[str, int]:
    """CLDR category (``one``, ``many``, ``other``) → index of the form in the ``.po`` entry.

    The ``.po`` header numbers the forms with a C expression; the browser's ``Intl.PluralRules``
    and Babel name them with CLDR categories. Both come from the same CLDR rules, so sampling
    whole numbers maps one onto the other; ``other`` is always there (the last form).
    """
    catalog = Catalog(locale=lang)
    index_of = _gettext.c2py(catalog.plural_expr)
    locale = Locale.parse(lang)
    found: dict[str, int] = {}
    for n in [*range(0, 1001), 10**6, 2 * 10**6]:
        found.setdefault(locale.plural_form(n), index_of(n))
    found.setdefault("other", catalog.num_plurals - 1)
    return found


def num_plurals(lang: str) -> int:
    return Catalog(locale=lang).num_plurals


def plural_form(lang: str, count: float) -> int:
    """Index of the form to use for ``count`` (decimals too: French says « 1,5 heure »); a
    value that is no number (a missing field) takes the ``other`` form rather than failing."""
    categories = plural_categories(lang)
    if not isinstance(count, int | float) or isinstance(count, bool):
        return categories["other"]
    category = Locale.parse(lang).plural_form(abs(count))
    return categories.get(category, categories["other"])


# --- reading ---------------------------------------------------------------------------------


def po_path(lang: str, domain: str) -> Any:
    """The installed catalog (a Traversable: works from a wheel as from a checkout)."""
    return resources.files("web").joinpath("translations", lang, "LC_MESSAGES", f"{domain}.po")


def read_catalog(lang: str, domain: str) -> Catalog:
    with po_path(lang, domain).open("rb") as f:
        return read_po(f, locale=lang, domain=domain)


def _text(message: Message) -> Text:
    """A message's translation as the Translator keeps it: one text, or a tuple of forms."""
    string = message.string
    if isinstance(string, tuple | list):
        return tuple(str(form) for form in string)
    return string or ""


def texts(catalog: Catalog) -> dict[str, Text]:
    """The usable translations: fuzzy and empty ones are left out (French is used instead)."""
    found: dict[str, Text] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        key = message.id[0] if isinstance(message.id, tuple | list) else message.id
        text = _text(message)
        if all(text) if isinstance(text, tuple) else text:
            found[key] = text
    return found


def load_catalogs(domain: str = "station") -> dict[str, dict[str, Text]]:
    return {lang: texts(read_catalog(lang, domain)) for lang in LANGUAGES}


def fill(message: str, values: dict[str, Any]) -> str:
    """Replace ``{name}`` placeholders; unknown ones stay visible rather than raising."""
    return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), message)


# --- translating -----------------------------------------------------------------------------


class Translator:
    """One domain's catalogs in every language: the same class serves the station and central."""

    def __init__(self, catalogs: dict[str, dict[str, Text]], default: str) -> None:
        self.catalogs = catalogs
        self.default = default if default in catalogs else REFERENCE

    @classmethod
    def load(cls, domain: str, default: str) -> Translator:
        return cls(load_catalogs(domain), default)

    def _lookup(self, lang: str, key: str) -> tuple[str, Text]:
        own = (self.catalogs.get(lang) or {}).get(key)
        if own is not None:
            return lang, own
        return REFERENCE, self.catalogs[REFERENCE].get(key) or key

    def gettext(self, lang: str, key: str, **values: Any) -> str:
        """A plural entry called without a count (an old call) takes its ``count`` value, if any."""
        count = values.get("count")
        if isinstance(count, int | float) and not isinstance(count, bool):
            rest = {name: value for name, value in values.items() if name != "count"}
            return self.ngettext(lang, key, count, **rest)
        _, text = self._lookup(lang, key)
        return fill(text[-1] if isinstance(text, tuple) else text, values)

    def ngettext(self, lang: str, key: str, count: float, /, **values: Any) -> str:
        """The form for ``count`` by the language's plural rules; ``{count}`` is filled with it
        unless ``values`` gives its own (a number formatted for the reader)."""
        found_in, text = self._lookup(lang, key)
        if isinstance(text, tuple):
            index = plural_form(found_in, count)
            text = text[index] if index < len(text) else text[-1]
        return fill(text, {"count": count, **values})

    def for_script(self) -> dict[str, dict[str, str | dict[str, str]]]:
        """The catalogs as the kiosk's script reads them: a plural entry maps CLDR categories to
        forms, so ``Intl.PluralRules(lang).select(n)`` picks one."""
        out: dict[str, dict[str, str | dict[str, str]]] = {}
        for lang, catalog in self.catalogs.items():
            categories = plural_categories(lang)
            out[lang] = {
                key: (
                    {cat: text[min(i, len(text) - 1)] for cat, i in categories.items()}
                    if isinstance(text, tuple)
                    else text
                )
                for key, text in catalog.items()
            }
        return out


# --- the Flask side --------------------------------------------------------------------------


def init_app(
    app: Flask,
    default_language: str,
    domain: str = "station",
    language: Callable[[], str] | None = None,
) -> Translator:
    """Load ``domain`` and give templates ``_``, ``ngettext``, ``label`` and the language."""
    translator = Translator.load(domain, default_language)
    app.extensions["i18n"] = translator
    app.extensions["i18n_language"] = language or current_language
    app.jinja_env.globals["_"] = gettext
    app.jinja_env.globals["ngettext"] = ngettext
    app.jinja_env.globals["label"] = label
    app.jinja_env.globals["current_language"] = language or current_language
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


def remember_asked_language() -> None:
    """``?lang=en`` on any page sticks for the session (the central pages: no form to choose)."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session["lang"] = asked


def _language() -> str:
    choose: Callable[[], str] = current_app.extensions.get("i18n_language", current_language)
    return choose()


def gettext(key: str, **values: Any) -> str:
    return translator().gettext(_language(), key, **values)


def ngettext(key: str, count: float, /, **values: Any) -> str:
    return translator().ngettext(_language(), key, count, **values)


def other_language(lang: str) -> str:
    return next(code for code in LANGUAGES if code != lang)


def label(prefix: str, code: str) -> str:
    """The message for a code that the catalogs may not know yet (an event type): else the code."""
    t = translator()
    key = prefix + code
    text = (t.catalogs.get(_language()) or {}).get(key)
    if text is None:
        return code
    return fill(text[-1] if isinstance(text, tuple) else text, {})


def error_text(prefix: str, code: str | None, values: dict[str, Any], detail: str) -> str:
    """An error said by its stable code (``<prefix><code>``, filled with ``values``); a code
    the catalogs do not know (or none) gets ``<prefix>unknown``, a plain sentence with the
    English ``detail`` only after it, for whoever reads the logs. The one way both apps say
    an error that the core wrote in English (central/errors.py, station/enrol.py...)."""
    if code and (prefix + code) in translator().catalogs[REFERENCE]:
        return gettext(prefix + code, **values)
    return gettext(prefix + "unknown", detail=detail)


# --- writing: the import tool ----------------------------------------------------------------


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    kept_plural: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{len(self.added)} added, {len(self.changed)} changed"]
        if self.kept_plural:
            lines.append(
                f"{len(self.kept_plural)} kept as plural entries (the JSON has one text, the "
                f"catalog has plural forms; give '<key>.one' and '<key>.other' to change them): "
                + ", ".join(self.kept_plural)
            )
        return "\n".join(lines)


class CatalogImportError(ValueError):
    """A JSON catalog that cannot be imported: the message says which key and what to do."""


def new_catalog(lang: str, domain: str) -> Catalog:
    return Catalog(
        locale=lang,
        domain=domain,
        project=PROJECT,
        version="1",
        copyright_holder=PROJECT,
        msgid_bugs_address="",
        language_team=f"{Locale.parse(lang).english_name} <{lang}@li.org>",
        header_comment=(
            f"# {Locale.parse(lang).english_name} messages of the {domain} app ({PROJECT}).\n"
            "# msgid is a key; msgstr is what people read, with {placeholders} kept as they are.\n"
            "# See docs/translations.md."
        ),
        fuzzy=False,
    )


def _plural_pairs(data: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``<key>.one`` / ``<key>.other`` (and ``.few``, ``.many``…) grouped by ``<key>``."""
    categories = {"zero", "one", "two", "few", "many", "other"}
    groups: dict[str, dict[str, str]] = {}
    for key, text in data.items():
        base, _, last = key.rpartition(".")
        if last in categories and base:
            groups.setdefault(base, {})[last] = text
    # "language.other" alone is an ordinary key: a plural needs "other" and another form.
    return {base: forms for base, forms in groups.items() if "other" in forms and len(forms) > 1}


def _forms(lang: str, key: str, given: dict[str, str]) -> tuple[str, ...]:
    """The ``.po`` forms, in the header's order, from CLDR-named ones (missing ones = other)."""
    categories = plural_categories(lang)
    unknown = set(given) - set(categories)
    if unknown:
        raise CatalogImportError(
            f"{key}: {lang} has no plural form named {sorted(unknown)}; use {sorted(categories)}"
        )
    forms = [given["other"]] * num_plurals(lang)
    for category, index in categories.items():
        if category in given:
            forms[index] = given[category]
    return tuple(forms)


def merge_json(catalog: Catalog, data: dict[str, Any], lang: str) -> ImportReport:
    """Merge a flat JSON catalog into ``catalog``: new keys are added, changed texts replace the
    old ones, ``<key>.one``/``<key>.other`` pairs become one plural entry. A plain text never
    replaces a plural entry (the JSON of an older branch still has « membre(s) »)."""
    for key, text in data.items():
        if not isinstance(text, str) or not text.strip():
            raise CatalogImportError(f"{key}: the text must be a non-empty string")
    report = ImportReport()
    plurals = _plural_pairs(data)
    consumed = {f"{base}.{cat}" for base, forms in plurals.items() for cat in forms}
    entries: list[tuple[str, Text]] = [
        (key, text) for key, text in data.items() if key not in consumed
    ]
    entries += [(base, _forms(lang, base, forms)) for base, forms in plurals.items()]
    for key, text in entries:
        old = catalog.get(key)
        if old is not None and old.pluralizable and isinstance(text, str):
            report.kept_plural.append(key)
            continue
        new_string: Any = text
        if old is None:
            report.added.append(key)
        elif _text(old) != text:
            report.changed.append(key)
        else:
            continue
        msgid: Any = (key, key) if isinstance(text, tuple) else key
        if old is None:
            catalog.add(msgid, new_string)
        else:  # in place, so the entry keeps its position (Catalog.add keeps the old text);
            # no format flag: the msgid is a key, so a checker would find no placeholder in it
            old.id, old.string, old.flags = msgid, new_string, set()
    return report


def annotate(catalog: Catalog, reference: Catalog | None) -> None:
    """Each translation shows the French text as a comment, for the translator."""
    if reference is None:
        return
    for message in catalog:
        if not message.id:
            continue
        key = message.id[0] if message.pluralizable else message.id
        source = reference.get(key)
        if source is None:
            continue
        text = _text(source)
        if isinstance(text, tuple):
            names = {i: cat for cat, i in plural_categories(REFERENCE).items()}
            message.auto_comments = [
                f"{REFERENCE} ({names.get(i, i)}): {form}" for i, form in enumerate(text)
            ]
        else:
            message.auto_comments = [f"{REFERENCE}: {text}"]


def write_catalog(catalog: Catalog, path: Path) -> None:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=0, include_lineno=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def source_path(lang: str, domain: str) -> Path:
    """The catalog in this checkout (the import tool writes there, not in an installed copy)."""
    return (
        Path(__file__).resolve().parent.parent
        / "translations"
        / lang
        / "LC_MESSAGES"
        / f"{domain}.po"
    )


def read_json(json_path: Path) -> dict[str, Any]:
    try:
        data = json.loads(json_path.read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise CatalogImportError(f"{json_path}: cannot read it as JSON ({e})") from e
    if not isinstance(data, dict):
        raise CatalogImportError(f"{json_path}: expected an object of key → text")
    return data


def import_json(
    json_path: Path,
    lang: str,
    domain: str,
    po: Path | None = None,
    base: Path | None = None,
) -> ImportReport:
    """Library side of ``python -m web.common.i18n import-json`` (the CLI only prints).

    With ``base`` (the same JSON file as it was where a branch started), only what the branch
    added or changed is merged: a text the branch did not touch never undoes a newer one.
    """
    po = po or source_path(lang, domain)
    data = read_json(json_path)
    if base is not None:
        before = read_json(base)
        data = {key: text for key, text in data.items() if before.get(key) != text}
    if po.exists():
        with po.open("rb") as f:
            catalog = read_po(f, locale=lang, domain=domain)
    else:
        catalog = new_catalog(lang, domain)
    report = merge_json(catalog, data, lang)
    reference = None
    ref_path = po.parent.parent.parent / REFERENCE / "LC_MESSAGES" / po.name
    if lang != REFERENCE and ref_path.exists():
        with ref_path.open("rb") as f:
            reference = read_po(f, locale=REFERENCE, domain=domain)
    annotate(catalog, reference)
    write_catalog(catalog, po)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m web.common.i18n", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    imp = commands.add_parser(
        "import-json", help="merge a flat JSON catalog (key → text) into a .po catalog"
    )
    imp.add_argument("json", type=Path, help="e.g. web/translations/fr/messages.json")
    imp.add_argument("--lang", required=True, choices=LANGUAGES)
    imp.add_argument("--domain", required=True, choices=DOMAINS)
    imp.add_argument("--po", type=Path, help="the .po file (default: the one in web/translations)")
    imp.add_argument(
        "--base",
        type=Path,
        help="the same JSON where the branch started: merge only the keys the branch changed",
    )
    args = parser.parse_args(argv)
    try:
        report = import_json(args.json, args.lang, args.domain, args.po, args.base)
    except CatalogImportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
