"""Words for a 16-year-old (issue 11, item 6), checked on every French message the kiosk and the
pages can show: no median dot (« technicien·ne »: epicene words instead), no English level or
role name, and no space a line could break before « : ; ! ? » on the kiosk."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

REPO = Path(__file__).resolve().parent.parent
CATALOGS = REPO / "web" / "translations" / "fr" / "LC_MESSAGES"

FILE_TOKENS = ("c.import.",)
"""Messages that tell what to type in a roster file, whose values are its English tokens."""
BILINGUAL = ("c.cred.achievement.description.",)
"""A credential's description carries its English beside the French (Open Badges readers)."""


def french_messages(domain: str) -> list[tuple[str, str]]:
    with (CATALOGS / f"{domain}.po").open("rb") as f:
        catalog = read_po(f)
    out = []
    for m in catalog:
        if not m.id:
            continue
        key = m.id if isinstance(m.id, str) else m.id[0]
        forms = m.string if isinstance(m.string, tuple | list) else [m.string]
        out += [(key, text) for text in forms if text]
    return out


@pytest.mark.parametrize("domain", ["station", "central"])
def test_no_median_dot_in_a_word(domain: str) -> None:
    dotted = [(k, s) for k, s in french_messages(domain) if re.search(r"\w·\w", s)]
    assert dotted == [], "use an epicene word (« une personne mentor », « l'équipe »)"


@pytest.mark.parametrize("domain", ["station", "central"])
def test_no_english_level_or_role_names_in_french(domain: str) -> None:
    english = re.compile(r"\b(none|supervised|autonomous|trainee|educator|technician)\b")
    found = [
        (k, s)
        for k, s in french_messages(domain)
        if english.search(re.sub(r"\{\w+\}", "", s)) and not k.startswith(FILE_TOKENS + BILINGUAL)
    ]
    assert found == []


def test_the_kiosk_never_breaks_a_line_before_french_punctuation() -> None:
    """kiosk.js turns « Salut Léa ! » into « Salut Léa\u00a0! » for French (a no-break space),
    so a narrow screen never starts a line with the sign."""
    script = (REPO / "web" / "station" / "static" / "kiosk.js").read_text(encoding="utf-8")
    body = script.split("function frenchSpaces(text) {")[1].split("}")[0]
    probe = (
        "const frenchSpaces = function (text) {" + body + "};\n"
        'console.log(JSON.stringify(frenchSpaces("Salut Léa ! Il reste 0:50 : vas-y ; ok ?")));'
    )
    node = subprocess.run(["node", "-e", probe], capture_output=True, text=True, check=True)
    nbsp = "\u00a0"
    said = f"Salut Léa{nbsp}! Il reste 0:50{nbsp}: vas-y{nbsp}; ok{nbsp}?"
    assert node.stdout.strip() == f'"{said}"'
