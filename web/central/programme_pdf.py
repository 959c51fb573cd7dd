"""The programme report as a PDF (fpdf2, pure Python: no browser on the central server).

The same figures, charts (the page's own SVG) and tables as the printable page, on A4. A Unicode
font (DejaVu, in Debian's fonts-dejavu-core) is used when present, so names keep their accents and
letters; without it, the built-in Helvetica and characters it lacks become « ? ».
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from web.common import format as fmt

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
"""Where Debian and Fedora put DejaVu Sans."""

Translate = Callable[..., str]


def core_font_text(text: str) -> str:
    """Text a core PDF font (latin-1) can draw: fpdf2 draws an SVG chart's words in one, whatever
    the page's font, and stops at the first other character (the « — » of an empty chart)."""
    return text.replace("—", "-").replace("’", "'").encode("latin-1", "replace").decode("latin-1")


class _Report(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = footer_text
        self.family = self._font()
        self.set_auto_page_break(auto=True, margin=15)
        self.set_margins(15, 15, 15)

    def _font(self) -> str:
        for folder in FONT_DIRS:
            regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
            if regular.exists() and bold.exists():
                self.add_font("DejaVu", "", str(regular))
                self.add_font("DejaVu", "B", str(bold))
                return "DejaVu"
        return "helvetica"

    def text_of(self, text: str) -> str:
        """Text the font can draw."""
        if self.family != "helvetica":
            return text
        return core_font_text(text)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 8)
        self.cell(0, 5, self.text_of(f"{self.footer_text} — {self.page_no()}"), align="C")

    def line_of(self, text: str, size: float = 10, style: str = "", h: float = 5.5) -> None:
        self.set_font(self.family, style, size)
        self.multi_cell(0, h, self.text_of(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def rows(self, header: list[str], rows: list[list[str]], widths: tuple[int, ...]) -> None:
        self.set_font(self.family, "", 8.5)
        with self.table(col_widths=widths, text_align="LEFT", line_height=5) as table:
            table.row([self.text_of(h) for h in header])
            for r in rows:
                table.row([self.text_of(c) for c in r])
        self.ln(3)


def method_lines(tot: dict[str, Any], num: Callable[..., str]) -> list[tuple[str, str]]:
    """Peer teaching, one figure a line (no sentence to agree with a count)."""
    return [
        ("c.programme.m.teachers", num(tot["peer_teachers"])),
        ("c.programme.m.learners", num(tot["peer_learners"])),
        (
            "c.programme.m.hours",
            f"{num(tot['peer_hours'], 1)} h ({num(tot['peer_share_pct'], 1)} %)",
        ),
        ("c.programme.m.levels", num(tot["levels_by_peers"])),
        ("c.programme.m.educators", num(tot["levels_by_educators"])),
    ]


def programme_pdf(
    data: dict[str, Any], labels: dict[str, str], charts: list[Any], t: Translate, lang: str = "fr"
) -> bytes:
    """The report on A4: figures, what peer teaching did, charts, then the tables."""
    f, tot = data["filters"], data["totals"]
    period = t(
        "c.programme.range",
        since=fmt.local_date(f.since, lang),
        until=fmt.local_date(f.until, lang),
    )
    pdf = _Report(f"{t('c.programme.title')} · {period}")
    pdf.add_page()
    pdf.line_of(t("c.programme.title"), 16, "B", 8)
    pdf.line_of(period + (f" · {f.kind}" if f.kind else ""), 11)
    pdf.ln(2)
    num = lambda v, d=0: fmt.number(v, lang, d)  # noqa: E731
    figures = [
        (num(tot["active_trainees"]), t("c.programme.active", count=tot["active_trainees"])),
        (f"{num(tot['hours'], 1)} h", t("c.programme.hours")),
        (num(tot["sessions"]), t("c.programme.sessions", count=tot["sessions"])),
        (num(tot["levels_gained"]), t("c.programme.levels", count=tot["levels_gained"])),
        (num(tot["peer_teachers"]), t("c.programme.teachers", count=tot["peer_teachers"])),
        (f"{num(tot['peer_hours'], 1)} h", t("c.programme.peer_hours")),
        (f"{num(tot['energy_kwh'], 2)} kWh", t("c.programme.energy")),
    ]
    pdf.rows(
        [t("c.programme.value"), t("c.programme.figure")], [[a, b] for a, b in figures], (40, 140)
    )
    pdf.line_of(t("c.programme.method.title"), 12, "B", 7)
    pdf.line_of(t("c.programme.method"))
    for key, value in method_lines(tot, num):
        pdf.line_of(f"• {t(key)} : {value}" if lang == "fr" else f"• {t(key)}: {value}")
    pdf.ln(2)
    for chart in charts:
        if pdf.get_y() > 200:
            pdf.add_page()
        pdf.image(io.BytesIO(core_font_text(str(chart)).encode("utf-8")), w=150)
        pdf.ln(3)
    pdf.line_of(t("c.programme.trainees"), 12, "B", 7)
    pdf.rows(
        [
            t("c.programme.col.who"),
            t("c.programme.col.hours"),
            t("c.programme.col.sessions"),
            t("c.programme.col.levels"),
            t("c.programme.col.taught"),
            t("c.programme.col.received"),
            t("c.programme.col.energy"),
        ],
        [
            [
                labels[r["member_id"]],
                num(r["hours"], 1),
                num(r["sessions"]),
                num(r["levels_gained"]),
                num(r["hours_supervised"], 1),
                num(r["peer_hours_received"], 1),
                num(r["energy_kwh"], 2),
            ]
            for r in data["trainees"]
        ],
        (46, 20, 20, 20, 24, 24, 26),
    )
    pdf.line_of(t("c.programme.machines"), 12, "B", 7)
    pdf.rows(
        [
            t("c.programme.col.machine"),
            t("c.programme.col.kind"),
            t("c.programme.col.sessions"),
            t("c.programme.col.hours"),
            t("c.programme.col.energy"),
        ],
        [
            [
                m["machine_id"],
                m["kind"] or "",
                num(m["sessions"]),
                num(m["hours"], 1),
                num(m["energy_kwh"], 2),
            ]
            for m in data["machines"]
        ],
        (50, 40, 30, 30, 30),
    )
    return bytes(pdf.output())
