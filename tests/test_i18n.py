"""Translations: both apps read gettext ``.po`` catalogs (web/translations/<lang>/LC_MESSAGES/
<domain>.po) through Babel. French is the reference, English has the same keys, placeholders and
plural entries; the files parse as a translator's tool reads them; no visible word lives outside a
catalog. Keys used by templates and scripts exist; every state, denial reason, end reason and
problem choice has its message. Plurals follow each language's rules in Python and in the kiosk's
script, and the import tool merges other branches' JSON catalogs without losing a plural."""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import shutil
import subprocess
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from station.model import Denial, EndReason, Level, MachineState, Role
from web.common.i18n import (
    DOMAINS,
    LANGUAGES,
    PLACEHOLDER,
    REFERENCE,
    Translator,
    fill,
    load_catalogs,
    main,
    plural_categories,
)
from web.station.kiosk import PROBLEMS

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
CATALOGS = load_catalogs()
FR = CATALOGS["fr"]
BY_DOMAIN = {domain: load_catalogs(domain) for domain in DOMAINS}


def _po(lang: str, domain: str) -> Path:
    return WEB / "translations" / lang / "LC_MESSAGES" / f"{domain}.po"


def _read(path: Path, lang: str) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=lang, abort_invalid=True)


def _forms(text: str | tuple[str, ...]) -> tuple[str, ...]:
    return text if isinstance(text, tuple) else (text,)


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_po_files_are_what_a_translators_tool_reads(lang: str, domain: str) -> None:
    """Babel parses them strictly; the header carries the language and its plural rules; nothing
    is fuzzy (a fuzzy text is not used) and every plural entry has every form."""
    catalog = _read(_po(lang, domain), lang)
    assert str(catalog.locale) == lang
    assert catalog.plural_forms == Catalog(locale=lang).plural_forms
    assert catalog.num_plurals >= 2
    for message in catalog:
        if not message.id:
            continue
        assert not message.fuzzy, f"{lang}/{domain}: {message.id} is fuzzy"
        if message.pluralizable:
            assert len(message.string) == catalog.num_plurals, message.id
            assert all(form.strip() for form in message.string), f"{message.id}: empty form"
    assert len(BY_DOMAIN[domain][lang]) == len([m for m in catalog if m.id])


@pytest.mark.parametrize("domain", DOMAINS)
def test_languages_have_the_same_keys_and_plurals(domain: str) -> None:
    catalogs = BY_DOMAIN[domain]
    reference = catalogs[REFERENCE]
    for lang in LANGUAGES:
        assert set(catalogs[lang]) == set(reference), (
            f"{lang}: {set(catalogs[lang]) ^ set(reference)}"
        )
        differ = [
            k
            for k, v in catalogs[lang].items()
            if isinstance(v, tuple) != isinstance(reference[k], tuple)
        ]
        assert not differ, f"{lang}/{domain}: plural in one language only: {differ}"


@pytest.mark.parametrize("domain", DOMAINS)
def test_placeholders_match_in_every_language_and_form(domain: str) -> None:
    reference = BY_DOMAIN[domain][REFERENCE]
    for lang in LANGUAGES:
        for key, text in BY_DOMAIN[domain][lang].items():
            expected = set(PLACEHOLDER.findall(_forms(reference[key])[-1]))
            for form in _forms(text):
                assert form.strip(), f"{lang}: {key} is empty"
                assert set(PLACEHOLDER.findall(form)) == expected, (
                    f"{lang}: {key} ({form!r}) has other placeholders than French {expected}"
                )


SAME_IN_BOTH = {
    "app.name",
    "tech.session.remaining_value",
    "c.title",
    "c.admin.quals",
    "c.reports.grants_csv",
    "c.programme.csv_machines",
    "c.cred.achievement.name",
}


def test_english_is_translated() -> None:
    same = [
        k
        for catalogs in BY_DOMAIN.values()
        for k, v in catalogs["en"].items()
        if v == catalogs["fr"][k] and len(_forms(v)[-1]) > 12 and k not in SAME_IN_BOTH
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
    for path in WEB.glob("*/templates/*.html"):
        text = path.read_text("utf-8")
        keys |= set(re.findall(r"""_\(\s*["']([\w.]+)["']""", text))
        keys |= set(re.findall(r'data-i18n(?:-label)?="([\w.]+)"', text))
    return keys


def _script_keys() -> set[str]:
    keys: set[str] = set()
    for path in WEB.glob("*/static/*.js"):
        lines = path.read_text("utf-8").splitlines()
        text = "\n".join(line for line in lines if not line.lstrip().startswith("//"))
        keys |= set(re.findall(r"""\btn?\(\s*["']([\w.]+)["']""", text))
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
    text = "".join(p.read_text("utf-8") for p in WEB.glob("*/templates/*.html"))
    prefixes = set(re.findall(r"""_\(\s*["']([\w]+\.)["']\s*\+""", text))
    assert prefixes <= {"state.", "problem."}, prefixes
    from station.model import MachineState as M

    assert all(f"state.{s.value}" in FR for s in M)


class _VisibleText(HTMLParser):
    """Collects the words a page shows that are not a catalog's: text, the visible attributes
    (an input's placeholder and a button's value included), string literals inside Jinja
    expressions (``{{ x or "Aucun" }}``) and literals in inline scripts."""

    VISIBLE_ATTRS = frozenset({"title", "alt", "placeholder", "aria-label", "value"})
    BUTTON_INPUTS = frozenset({"submit", "button", "reset"})

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._script = 0
        self._style = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self._script += 1
        if tag == "style":
            self._style += 1
        kind = dict(attrs).get("type") or "text"
        for name, value in attrs:
            if name not in self.VISIBLE_ATTRS or not value:
                continue
            if tag == "input" and name == "value" and kind not in self.BUTTON_INPUTS:
                continue  # a radio's or a hidden field's value is data, not shown
            self._check(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script -= 1
        if tag == "style":
            self._style -= 1

    def handle_data(self, data: str) -> None:
        if self._script:
            self.found += _prose_literals(data)
        elif not self._style:
            self._check(data)

    def _check(self, text: str) -> None:
        text = re.sub(r"\{#.*?#\}", "", text, flags=re.S)
        for expr in re.findall(r"\{\{.*?\}\}|\{%.*?%\}", text, flags=re.S):
            self.found += _prose_literals(expr)
            if BARE_CODE.fullmatch(expr):
                self.found.append(expr)  # « trainee », « autonomous » on a French page
        text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", text, flags=re.S)
        if re.search(r"[^\W\d_]{2,}", text):
            self.found.append(text.strip())


BARE_CODE = re.compile(
    r"\{\{\s*[\w.]+\.(?:role|level|state|status|action|end_reason|data\.reason|data\.to)\s*\}\}"
)
"""A code printed as it is (``{{ m.role }}``): shown, it needs its catalog word
(``t("c.role." ~ m.role)``); in a class or a data- attribute it is not text."""
LITERAL = re.compile(r"""\"((?:[^"\\\n]|\\.)*)\"|'((?:[^'\\\n]|\\.)*)'|`((?:[^`\\]|\\.)*)`""")
PROSE = re.compile(r"[A-Za-zÀ-ÿ]{2,}\s+[A-Za-zÀ-ÿ]{2,}|[À-ÿ]|\b[A-Z][a-zà-ÿ]{2,}\b")
"""Words a person reads: two words, an accented letter, or a capitalised word. A key
(``kiosk.idle.title``), a class, an id, an event name or a URL is none of these."""
NOT_PROSE = {
    "use strict",
    "Europe/Paris",  # the default time zone
    "Content-Type",
    "X-CSRF-Token",
    "#commands tbody",
    "banner tone-",
    "banner notice tone-",
    "checklist many",
    " urgent",  # tech.html: a class
    "extractor, goggles, extinguisher, stop, hands, fire",  # quiz pictogram codes
}


def _prose_literals(code: str) -> list[str]:
    """String literals of a script or a Jinja expression that read as words on a screen."""
    code = re.sub(r"(?m)^\s*//.*$", "", code)
    found = []
    for m in LITERAL.finditer(code):
        text = next(g for g in m.groups() if g is not None)
        bare = re.sub(r"\$\{[^}]*\}", "", text)
        if PROSE.search(bare) and text not in NOT_PROSE:
            found.append(text)
    return found


TEMPLATES = sorted(p.relative_to(WEB).as_posix() for p in WEB.glob("*/templates/**/*.html"))
SCRIPTS = sorted(WEB.glob("*/static/**/*.js"))


def test_the_checks_see_every_app_and_every_kind_of_text() -> None:
    """Station and central templates and scripts are all read; each kind of hiding place for a
    word is caught (a check that saw nothing would pass)."""
    assert {n.split("/")[0] for n in TEMPLATES} == {"station", "central", "common"}
    assert {p.parent.parent.name for p in SCRIPTS} == {"station", "central"}
    leaks = {
        "<p>Machine libre</p>": "Machine libre",
        '<input type="submit" value="Envoyer">': "Envoyer",
        '<input name="q" placeholder="Nom du membre">': "Nom du membre",
        '<button aria-label="Fermer la fenêtre">x</button>': "Fermer la fenêtre",
        "<p>{{ name or 'Personne' }}</p>": "Personne",
        '{% set title = "Tableau de bord" %}': "Tableau de bord",
        '<script>el.textContent = "Libre";</script>': "Libre",
        "<td>{{ m.role }}</td>": "{{ m.role }}",
    }
    for html, word in leaks.items():
        parser = _VisibleText()
        parser.feed(html)
        assert word in parser.found, html
    clean = _VisibleText()
    clean.feed(
        '<input type="hidden" name="next" value="dash"><p>{{ _("kiosk.idle.title") }}</p>'
        '<p class="state-{{ s.state }}">{{ t("c.role." ~ m.role) }}</p>'
        '<script>el.textContent = t("state." + s);</script>'
    )
    assert clean.found == []
    assert _prose_literals('banner.title = "Air sale";') == ["Air sale"]
    assert _prose_literals('x.textContent = n + " min restantes";') == [" min restantes"]
    assert _prose_literals("x.textContent = `${n} événements`;") == ["${n} événements"]


@pytest.mark.parametrize("name", TEMPLATES)
def test_templates_have_no_words_outside_the_catalogs(name: str) -> None:
    parser = _VisibleText()
    parser.feed((WEB / name).read_text("utf-8"))
    assert not parser.found, f"{name}: put these in web/translations: {parser.found}"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_scripts_put_no_literal_words_on_screen(path: Path) -> None:
    """Scripts set text from t(...), names and numbers: no string literal of theirs reads as
    words (in textContent, a title, a view's lines, an alert or anywhere else)."""
    found = _prose_literals(path.read_text("utf-8"))
    assert not found, f"{path.name}: put these in web/translations: {found}"
    for line in path.read_text("utf-8").splitlines():
        assert "innerHTML" not in line, f"{path.name}: use textContent ({line.strip()})"


def test_translator_falls_back_to_french_then_the_key() -> None:
    t = Translator({"fr": {"a": "Salut {name}"}, "en": {}}, default="de")
    assert t.default == "fr"
    assert t.gettext("en", "a", name="Léa") == "Salut Léa"
    assert t.gettext("en", "missing.key") == "missing.key"
    assert fill("{x} et {y}", {"x": 1}) == "1 et {y}"


def test_every_event_type_the_station_stores_has_a_label() -> None:
    """The technician page names events in words (it shows the code for a type it does not know)."""
    from station.events import EVENT_TYPES

    types = set(EVENT_TYPES)
    assert {"session_started", "access_denied", "station_started"} <= types
    missing = sorted(t for t in types if f"event.{t}" not in FR)
    assert not missing, f"add event.<type> to web/translations: {missing}"


# --- keys used by each app ---------------------------------------------------------------------


def _used_keys(paths: list[Path], call: str) -> set[str]:
    keys: set[str] = set()
    for path in paths:
        keys |= set(re.findall(call + r"""\(\s*["']([\w.]+)["']""", path.read_text("utf-8")))
    return keys


def test_keys_the_central_pages_and_the_station_code_use_exist() -> None:
    central = sorted(WEB.glob("central/templates/*.html")) + sorted(WEB.glob("central/*.py"))
    used = _used_keys(central, r"\btn?")
    assert len(used) > 100
    missing = [k for k in used if not k.endswith(".") and k not in BY_DOMAIN["central"]["fr"]]
    assert not missing, missing
    station = [
        WEB / "station" / f"{name}.py" for name in ("technician", "kiosk", "public", "sim_panel")
    ]
    used = _used_keys(station, r"\b(?:n?gettext)")
    assert "tech.sync.backlog" in used
    assert not [k for k in used if not k.endswith(".") and k not in FR]


def _plural_calls() -> set[str]:
    """Keys on a line that calls ``tn(`` or ``ngettext(`` (a conditional picks one of two)."""
    keys: set[str] = set()
    paths = [*WEB.glob("**/*.py"), *WEB.glob("*/templates/*.html"), *WEB.glob("*/static/*.js")]
    paths += [*(WEB.parent / "central").rglob("*.py")]  # the credentials' own words
    for path in paths:
        text = path.read_text("utf-8")
        for call in re.finditer(r"\b(?:tn|ngettext)\(((?:[^()]|\([^()]*\))*)\)", text):
            keys |= set(re.findall(r"""["']([a-z_]+\.[\w.]*\w)["']""", call.group(1)))
    return keys


def test_plural_entries_are_called_with_a_count() -> None:
    """A plural entry read without a count would always say « événements »; a count given to a
    plain entry would be lost: both sides agree."""
    plural = {
        key
        for catalogs in BY_DOMAIN.values()
        for key, text in catalogs["fr"].items()
        if isinstance(text, tuple)
    }
    called = _plural_calls()
    assert len(plural) >= 12
    assert plural - called == set(), "call these with tn()/ngettext()"
    assert called - plural == set(), "make these plural entries (or call t()/gettext())"


def test_no_message_counts_with_parentheses() -> None:
    """« membre(s) » is what plural entries are for."""
    for domain, catalogs in BY_DOMAIN.items():
        for lang in LANGUAGES:
            found = [k for k, v in catalogs[lang].items() if any("(s)" in f for f in _forms(v))]
            assert not found, f"{lang}/{domain}: make these plural entries: {found}"


# --- plural rules ------------------------------------------------------------------------------


def test_plurals_follow_each_languages_rules() -> None:
    t = Translator(load_catalogs(), default="fr")
    say = t.ngettext
    assert say("fr", "tech.sync.backlog", 0) == "0 événement attend d'être envoyé."
    assert say("fr", "tech.sync.backlog", 1) == "1 événement attend d'être envoyé."
    assert say("fr", "tech.sync.backlog", 3) == "3 événements attendent d'être envoyés."
    assert (
        say("fr", "tech.sync.backlog", 1_000_000) == "1000000 événements attendent d'être envoyés."
    )
    assert say("en", "tech.sync.backlog", 0) == "0 events waiting to be sent."
    assert say("en", "tech.sync.backlog", 1) == "1 event waiting to be sent."
    # An old call that passes count= gets the right form too; no count means the plural form.
    assert t.gettext("fr", "tech.sync.backlog", count=1) == "1 événement attend d'être envoyé."
    assert t.gettext("en", "tech.sync.backlog") == "{count} events waiting to be sent."
    # A count that is not a number does not break the page.
    assert say("fr", "tech.sync.backlog", None) == "None événements attendent d'être envoyés."  # type: ignore[arg-type]


def test_decimal_counts_follow_french_rules() -> None:
    """« 1,5 h » is singular in French (CLDR: i = 0 or 1), plural in English."""
    t = Translator(load_catalogs("central"), default="fr")
    assert t.ngettext("en", "c.progress.more", 1.5, hours="1.5", then="x").startswith(
        "1.5 more hours"
    )
    assert t.ngettext("en", "c.progress.more", 1, hours="1", then="x").startswith("1 more hour ")


def test_the_script_gets_forms_by_cldr_category() -> None:
    script = Translator(load_catalogs(), default="fr").for_script()
    fr = script["fr"]["tech.sync.backlog"]
    en = script["en"]["tech.sync.backlog"]
    assert isinstance(fr, dict) and isinstance(en, dict)
    assert fr["one"] == "{count} événement attend d'être envoyé."
    assert fr["other"] == fr["many"] == "{count} événements attendent d'être envoyés."
    assert set(en) == {"one", "other"}
    assert script["fr"]["kiosk.idle.title"] == FR["kiosk.idle.title"]
    json.dumps(script)  # it goes into the page as JSON


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node (Intl.PluralRules)")
def test_the_browsers_plural_rules_pick_the_same_forms_as_python() -> None:
    """kiosk.js picks ``forms[new Intl.PluralRules(lang).select(n)]``: the categories it gets
    must be the ones Babel uses, and each must be a key the script receives."""
    from babel import Locale

    numbers = [0, 1, 1.5, 2, 5, 21, 100, 1_000_000, 2_000_000]
    code = (
        "const out = {};"
        f"for (const lang of {json.dumps(list(LANGUAGES))}) {{"
        f"  out[lang] = {json.dumps(numbers)}.map(n => new Intl.PluralRules(lang).select(n)); }}"
        "console.log(JSON.stringify(out));"
    )
    browser = json.loads(
        subprocess.run(["node", "-e", code], capture_output=True, check=True, text=True).stdout
    )
    for lang in LANGUAGES:
        python = [Locale.parse(lang).plural_form(n) for n in numbers]
        assert browser[lang] == python, lang
        assert set(python) <= set(plural_categories(lang))


def test_kiosk_script_picks_plural_forms_with_intl() -> None:
    script = (WEB / "station" / "static" / "kiosk.js").read_text("utf-8")
    assert "new Intl.PluralRules(lang).select(count)" in script
    assert re.search(r'tn\("kiosk\.repeat\.next", [^,()]+(\([^()]*\))?[^,()]*, values\)', script)


# --- the import tool ---------------------------------------------------------------------------


def _po_copy(tmp_path: Path, lang: str, domain: str = "station") -> Path:
    target = tmp_path / "translations" / lang / "LC_MESSAGES" / f"{domain}.po"
    target.parent.mkdir(parents=True)
    shutil.copy(_po(lang, domain), target)
    return target


def _entries(po: Path, lang: str) -> dict[str, str | tuple[str, ...]]:
    from web.common.i18n import texts

    return texts(_read(po, lang))


def test_import_json_merges_new_keys_and_plural_pairs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    po = _po_copy(tmp_path, "fr")
    before = _entries(po, "fr")
    data = {
        "kiosk.idle.title": "Badge ici pour commencer",
        "kiosk.new.line": "Nouvelle ligne {name}",
        "kiosk.new.count.one": "{count} heure",
        "kiosk.new.count.other": "{count} heures",
        "language.other": "English",  # one key that ends in "other" is no plural
        "tech.sync.backlog": "{count} événement(s) en attente",  # an older branch's text
    }
    source = tmp_path / "messages.json"
    source.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    assert (
        main(["import-json", str(source), "--lang", "fr", "--domain", "station", "--po", str(po)])
        == 0
    )
    out = capsys.readouterr().out
    assert "2 added, 1 changed" in out and "tech.sync.backlog" in out
    after = _entries(po, "fr")
    assert after["kiosk.idle.title"] == "Badge ici pour commencer"
    assert after["kiosk.new.line"] == "Nouvelle ligne {name}"
    assert after["kiosk.new.count"] == ("{count} heure", "{count} heures", "{count} heures")
    assert after["language.other"] == "English"
    assert after["tech.sync.backlog"] == before["tech.sync.backlog"]
    assert list(after)[: len(before)] == list(before), "entries keep their place"
    assert {k: v for k, v in after.items() if k in before and k != "kiosk.idle.title"} == {
        k: v for k, v in before.items() if k != "kiosk.idle.title"
    }


def test_import_json_writes_a_translation_with_the_french_beside_it(tmp_path: Path) -> None:
    _po_copy(tmp_path, "fr")
    po = _po_copy(tmp_path, "en")
    source = tmp_path / "messages.json"
    source.write_text(json.dumps({"kiosk.idle.title": "Tap to start now"}), "utf-8")
    assert (
        main(["import-json", str(source), "--lang", "en", "--domain", "station", "--po", str(po)])
        == 0
    )
    message = _read(po, "en").get("kiosk.idle.title")
    assert message is not None and message.string == "Tap to start now"
    assert message.auto_comments == [f"fr: {FR['kiosk.idle.title']}"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "cannot read it as JSON"),
        ('["a"]', "expected an object"),
        ('{"a.b": ""}', "a.b: the text must be a non-empty string"),
        ('{"a.one": "x", "a.other": "y", "a.two": "z"}', "fr has no plural form named ['two']"),
    ],
)
def test_import_json_says_what_is_wrong_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    po = _po_copy(tmp_path, "fr")
    before = po.read_bytes()
    source = tmp_path / "bad.json"
    source.write_text(content, "utf-8")
    assert (
        main(["import-json", str(source), "--lang", "fr", "--domain", "station", "--po", str(po)])
        == 2
    )
    assert expected in capsys.readouterr().err
    assert po.read_bytes() == before


def test_package_data_ships_every_catalog() -> None:
    """A fresh ``pip install .`` must carry the .po files the apps read at start."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["web"]
    for lang in LANGUAGES:
        for domain in DOMAINS:
            relative = _po(lang, domain).relative_to(WEB).as_posix()
            assert any(fnmatch.fnmatch(relative, p) for p in patterns), relative


def test_import_json_with_a_base_merges_only_what_the_branch_changed(tmp_path: Path) -> None:
    """A branch made before « Importé : {members}, {changed}. » still has the old text: with the
    JSON where it started as ``--base``, its untouched texts cannot undo the newer ones."""
    po = _po_copy(tmp_path, "fr", "central")
    now = _entries(po, "fr")["c.admin.imported"]
    old = {"c.admin.imported": "Importé : {members} membres, {changed} changements."}
    base, branch = tmp_path / "base.json", tmp_path / "branch.json"
    base.write_text(json.dumps(old, ensure_ascii=False), "utf-8")
    branch.write_text(json.dumps({**old, "c.new.key": "Nouveau"}, ensure_ascii=False), "utf-8")
    args = ["import-json", str(branch), "--lang", "fr", "--domain", "central", "--po", str(po)]
    assert main([*args, "--base", str(base)]) == 0
    after = _entries(po, "fr")
    assert after["c.admin.imported"] == now
    assert after["c.new.key"] == "Nouveau"


# --- messages the Python code puts on a page ---------------------------------------------------

TRANSLATING = {"t", "tn", "gettext", "ngettext", "_", "label"}
"""Calls that read a catalog; a helper named ``*_text`` does too (``problem_text``)."""
RAW_MESSAGES_LEFT: set[str] = set()
"""Forms that still show an exception's English text on a page, alone or inside a catalog
sentence: none left (errors are said by their ``code``, web/common/i18n.py error_text); it
stays empty."""


def _translated(node: ast.expr) -> bool:
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        return name in TRANSLATING or name.endswith("_text")
    if isinstance(node, ast.IfExp):
        return _translated(node.body) and _translated(node.orelse)
    return isinstance(node, ast.Name) or (isinstance(node, ast.Constant) and node.value is None)


def _english_inside(node: ast.expr) -> bool:
    """``str(e)`` or ``result.get("error")``: a text the code wrote in English."""
    return any(
        isinstance(n, ast.Call)
        and (
            (isinstance(n.func, ast.Name) and n.func.id == "str")
            or (
                isinstance(n.func, ast.Attribute)
                and n.func.attr == "get"
                and n.args
                and isinstance(n.args[0], ast.Constant)
                and n.args[0].value == "error"
            )
        )
        for n in ast.walk(node)
    )


def _messages_of(tree: ast.Module, path: Path) -> list[tuple[str, str]]:
    """(``file:function``, source) of each message that reaches a page without a catalog: a
    flash()'s text, or a template's ``error``/``message``/``title``/``notice``."""
    found: list[tuple[str, str]] = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef):
            continue
        for call in ast.walk(func):
            if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
                continue
            shown: list[ast.expr] = []
            if call.func.id == "flash" and call.args:
                shown.append(call.args[0])
            if call.func.id == "render_template":
                shown += [
                    k.value
                    for k in call.keywords
                    if k.arg in ("error", "message", "title", "notice")
                ]
            where = f"{path.relative_to(ROOT).as_posix()}:{func.name}"
            found += [(where, ast.unparse(node)) for node in shown if not _translated(node)]
            # A catalog sentence around an exception's English (« Refusé : no session »).
            found += [
                (where, ast.unparse(node))
                for node in shown
                if isinstance(node, ast.Call)
                and any(_english_inside(k.value) for k in node.keywords)
            ]
    return found


def test_python_puts_no_words_outside_the_catalogs_on_a_page() -> None:
    """What the station's and the central store's views flash or hand to a template as a
    message comes from a catalog (t(), gettext(), a ``*_text`` helper), never a literal, an
    f-string or an exception's English ``str(e)``."""
    paths = sorted(WEB.glob("*/*.py"))
    assert {p.parent.name for p in paths} >= {"station", "central", "common"}
    found = [m for p in paths for m in _messages_of(ast.parse(p.read_text("utf-8")), p)]
    new = [m for m in found if m[0] not in RAW_MESSAGES_LEFT]
    assert not new, f"say these through web/translations: {new}"
    probe = ast.parse(
        "def v(e):\n flash(str(e))\n flash(f'no {e}')\n flash(t('c.ok'))\n"
        " flash(gettext('tech.result.refused', error=str(e)))\n"
        " return render_template('x.html', error='Mot de passe faux', message=problem_text(e))\n"
    )
    assert sorted(src for _, src in _messages_of(probe, ROOT / "probe.py")) == [
        "'Mot de passe faux'",
        "f'no {e}'",
        "gettext('tech.result.refused', error=str(e))",
        "str(e)",
    ]


def test_central_pages_have_a_word_for_every_role_and_level() -> None:
    """The central pages print a member's role, an account's role and a level through
    ``c.role.*``, ``c.account.*`` and ``c.level.*`` (never ``trainee`` on a French page)."""
    from central.store import ROLES

    central = BY_DOMAIN["central"]["fr"]
    wanted = [f"c.role.{r.value}" for r in Role] + [f"c.level.{lv.value}" for lv in Level]
    wanted += [f"c.account.{r}" for r in ROLES]
    assert [k for k in wanted if k not in central] == []


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_gnu_gettext_reads_the_catalogs_too(lang: str, domain: str) -> None:
    """Not only Babel: GNU gettext's own checker (what Poedit and Weblate run) accepts each
    file, plural forms and header included."""
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("msgfmt is not installed (apt-get install gettext)")
    done = subprocess.run(
        [msgfmt, "--check", "-o", "/dev/null", str(_po(lang, domain))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
