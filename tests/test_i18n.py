"""Translations: French is the reference, English has the same keys, and no visible word lives
outside a catalog. Keys used by templates and scripts exist; every state, denial reason, end
reason and problem choice has its message."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from station.model import Denial, EndReason, Level, MachineState, Role
from web.i18n import LANGUAGES, PLACEHOLDER, Translator, fill, load_catalogs
from web.kiosk import PROBLEMS

WEB = Path(__file__).resolve().parent.parent / "web"
CATALOGS = load_catalogs()
FR = CATALOGS["fr"]


def test_languages_have_the_same_keys() -> None:
    for lang in LANGUAGES:
        assert set(CATALOGS[lang]) == set(FR), f"{lang}: {set(CATALOGS[lang]) ^ set(FR)}"


def test_messages_are_not_empty_and_placeholders_match() -> None:
    for lang in LANGUAGES:
        for key, message in CATALOGS[lang].items():
            assert message.strip(), f"{lang}: {key} is empty"
            assert set(PLACEHOLDER.findall(message)) == set(PLACEHOLDER.findall(FR[key])), (
                f"{lang}: {key} has other placeholders than French"
            )


SAME_IN_BOTH = {"app.name", "tech.session.remaining_value"}


def test_english_is_translated() -> None:
    same = [
        k for k, v in CATALOGS["en"].items() if v == FR[k] and len(v) > 12 and k not in SAME_IN_BOTH
    ]
    assert not same, f"copied from French, not translated: {same}"


@pytest.mark.parametrize(
    ("prefix", "values", "suffixes"),
    [
        ("state", [s.value for s in MachineState], [""]),
        ("denial", [d.value for d in Denial], [".title", ".next"]),
        ("end_reason", [e.value for e in EndReason], [""]),
        ("problem", list(PROBLEMS), [""]),
        ("level", [lv.value for lv in Level], [""]),
        ("role", [r.value for r in Role], [""]),
    ],
)
def test_every_code_has_a_message(prefix: str, values: list[str], suffixes: list[str]) -> None:
    missing = [f"{prefix}.{v}{s}" for v in values for s in suffixes if f"{prefix}.{v}{s}" not in FR]
    assert not missing


def _template_keys() -> set[str]:
    keys: set[str] = set()
    for path in (WEB / "templates").glob("*.html"):
        text = path.read_text("utf-8")
        keys |= set(re.findall(r"""_\(\s*["']([\w.]+)["']""", text))
        keys |= set(re.findall(r'data-i18n(?:-label)?="([\w.]+)"', text))
    return keys


def _script_keys() -> set[str]:
    keys: set[str] = set()
    for path in (WEB / "static").glob("*.js"):
        lines = path.read_text("utf-8").splitlines()
        text = "\n".join(line for line in lines if not line.lstrip().startswith("//"))
        keys |= set(re.findall(r"""\bt\(\s*["']([\w.]+)["']""", text))
        keys |= set(re.findall(r'"((?:kiosk|denial|helpers|state|language)\.[\w.]+)"', text))
    return keys


def test_keys_used_by_templates_and_scripts_exist() -> None:
    used = _template_keys() | _script_keys()
    assert len(used) > 60
    # A key that ends with "." (or names a group, like "kiosk.fault") is completed in code:
    # it must be the prefix of catalog keys.
    missing = sorted(
        k for k in used if k not in FR and not any(f.startswith(k.rstrip(".") + ".") for f in FR)
    )
    assert not missing


def test_dynamic_prefixes_used_by_templates_are_covered() -> None:
    """Templates build some keys: ``"state." + s``, ``"event." + type``, ``"problem." + code``."""
    text = "".join(p.read_text("utf-8") for p in (WEB / "templates").glob("*.html"))
    prefixes = set(re.findall(r"""_\(\s*["']([\w]+\.)["']\s*\+""", text))
    assert prefixes <= {"state.", "problem."}, prefixes
    from station.model import MachineState as M

    assert all(f"state.{s.value}" in FR for s in M)


class _VisibleText(HTMLParser):
    """Collects text and the visible attributes that are not Jinja expressions."""

    VISIBLE_ATTRS = frozenset({"title", "alt", "placeholder", "aria-label", "value"})

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in self.VISIBLE_ATTRS and value and tag != "input":
                self._check(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._check(data)

    def _check(self, text: str) -> None:
        text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", text, flags=re.S)
        if re.search(r"[^\W\d_]{2,}", text):
            self.found.append(text.strip())


@pytest.mark.parametrize("name", sorted(p.name for p in (WEB / "templates").glob("*.html")))
def test_templates_have_no_words_outside_the_catalogs(name: str) -> None:
    parser = _VisibleText()
    parser.feed((WEB / "templates" / name).read_text("utf-8"))
    assert not parser.found, f"{name}: put these in web/translations: {parser.found}"


def test_scripts_put_no_literal_words_on_screen() -> None:
    """Scripts set text from t(...), names and numbers: no string literal goes into textContent."""
    for path in (WEB / "static").glob("*.js"):
        for line in path.read_text("utf-8").splitlines():
            assert not re.search(r"""textContent\s*=\s*["'`][^"'`]*[A-Za-zÀ-ÿ]{2}""", line), line
            assert not re.search(r"""text:\s*["'`][^"'`]*[A-Za-zÀ-ÿ]{2}""", line), line
            assert "innerHTML" not in line, f"{path.name}: use textContent ({line.strip()})"


def test_translator_falls_back_to_french_then_the_key() -> None:
    t = Translator({"fr": {"a": "Salut {name}"}, "en": {}}, default="de")
    assert t.default == "fr"
    assert t.gettext("en", "a", name="Léa") == "Salut Léa"
    assert t.gettext("en", "missing.key") == "missing.key"
    assert fill("{x} et {y}", {"x": 1}) == "1 et {y}"


def test_every_event_type_the_station_stores_has_a_label() -> None:
    """The technician page names events in words (it shows the code for a type it does not know)."""
    root = Path(__file__).resolve().parent.parent / "station"
    types = {"badge_enrolled"}
    for path in root.glob("*.py"):
        text = path.read_text("utf-8")
        types |= set(re.findall(r'Record\(\s*"([a-z_]+)"', text))
        types |= set(re.findall(r'\(\s*"([a-z_]+)",\s*\{', text))
    assert {"session_started", "access_denied", "station_started"} <= types
    missing = sorted(t for t in types if f"event.{t}" not in FR)
    assert not missing, f"add event.<type> to web/translations: {missing}"
