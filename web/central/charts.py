"""Server-rendered SVG charts: no JavaScript, no CDN (a station or a funder's laptop may be
offline), readable when printed. Each chart has a <title> and the page has the same data as a
table, for screen readers and for the CSV export."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from markupsafe import Markup

from web.common.format import number

COLOURS = ("#2f6f9f", "#c8553d", "#588b5b", "#8e6bb8", "#d9a13b", "#4d908e")


def bar_chart(
    items: list[tuple[str, float]],
    *,
    title: str,
    unit: str = "",
    width: int = 640,
    lang: str = "fr",
) -> Markup:
    """Horizontal bars, one per label, longest first is up to the caller."""
    bar_h, gap, label_w, pad = 22, 6, 180, 60
    height = max(1, len(items)) * (bar_h + gap) + 40
    top = max((v for _, v in items), default=0.0) or 1.0
    plot_w = width - label_w - pad
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>',
        f'<text x="0" y="16" font-size="14" font-weight="600">{escape(title)}</text>',
    ]
    if not items:
        parts.append('<text x="0" y="40" font-size="13">—</text>')
    for i, (label, value) in enumerate(items):
        y = 28 + i * (bar_h + gap)
        w = max(1.0, plot_w * value / top) if value > 0 else 0.0
        colour = COLOURS[i % len(COLOURS)]
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_h * 0.7:.0f}" font-size="12" '
            f'text-anchor="end">{escape(label[:28])}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h * 0.7:.0f}" font-size="12">'
            f"{_num(value, lang)}{escape(unit)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def column_chart(
    periods: list[str],
    series: dict[str, dict[str, float]],
    *,
    title: str,
    unit: str = "",
    lang: str = "fr",
    names_shown: Callable[[str], str] = str,
    periods_shown: Callable[[str], str] = str,
) -> Markup:
    """Stacked columns: one per period, one colour per series (e.g. per machine kind).
    ``names_shown`` and ``periods_shown`` say a series and a period in words (« Impression
    3D », « mars 2026 »)."""
    width, height, left, bottom, top_pad = 640, 280, 48, 40, 30
    names = sorted(series)
    totals = [sum(series[n].get(p, 0.0) for n in names) for p in periods]
    top = max(totals, default=0.0) or 1.0
    plot_h = height - bottom - top_pad
    col_w = (width - left - 10) / max(1, len(periods))
    full_h = height + 20 * len(names)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{full_h}" '
        f'viewBox="0 0 {width} {full_h}"><title>{escape(title)}</title>',
        f'<text x="0" y="16" font-size="14" font-weight="600">{escape(title)}</text>',
        f'<text x="0" y="{top_pad + 10}" font-size="11">{_num(top, lang)}{escape(unit)}</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" '
        'stroke="#555"/>',
    ]
    if not periods:
        parts.append('<text x="60" y="80" font-size="13">—</text>')
    for i, p in enumerate(periods):
        x = left + i * col_w + col_w * 0.15
        y = float(height - bottom)
        for j, n in enumerate(names):
            v = series[n].get(p, 0.0)
            h = plot_h * v / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{col_w * 0.7:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[j % len(COLOURS)]}"><title>{escape(periods_shown(p))} '
                f"{escape(names_shown(n))}: "
                f"{_num(v, lang)}{escape(unit)}</title></rect>"
            )
        parts.append(
            f'<text x="{x + col_w * 0.35:.1f}" y="{height - bottom + 16}" font-size="11" '
            f'text-anchor="middle">{escape(periods_shown(p))}</text>'
        )
    for j, n in enumerate(names):
        y = height + 20 * j
        parts.append(
            f'<rect x="{left}" y="{y - 10}" width="12" height="12" '
            f'fill="{COLOURS[j % len(COLOURS)]}"/>'
            f'<text x="{left + 18}" y="{y}" font-size="12">{escape(names_shown(n))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _num(v: float, lang: str) -> str:
    """« 2,9 » in French, « 2.9 » in English; whole numbers without decimals."""
    return number(v, lang, 1 if round(v, 1) % 1 else 0)
