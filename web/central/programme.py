"""The programme report's pages: one printable page with charts, its PDF and its CSV.

Funders read it, so trainees are « Jeune 1 », « Jeune 2 »… unless the educator asks for names
(``names=1``, for the fablab's own use): the report shows what the programme does, not who.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Flask, Response, render_template, request, url_for

from central import programme, reports
from central.errors import BadRequest
from web.central.charts import bar_chart, column_chart
from web.central.pages import config, language, requires, scoped_filters, store, t, viewer_site
from web.central.programme_pdf import method_lines, programme_pdf
from web.central.reports import bad_filter, csv_response, kind_choices
from web.central.words import kind_name
from web.common.format import number, period

bp = Blueprint("central_programme", __name__, url_prefix="/reports/programme")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _filters() -> reports.Filters:
    """The range asked for; without one, this year up to today."""
    args = dict(request.args)
    today = reports.today(config().site.timezone)
    args.setdefault("since", date(today.year, 1, 1).isoformat())
    args.setdefault("until", today.isoformat())
    f = scoped_filters(args)
    if f.since and f.until and f.since > f.until:
        raise BadRequest("since must come before until", "order")
    return f


def _labels(data: dict[str, Any], names: bool) -> dict[str, str]:
    """Who each row is, as the report shows it: a name, or « Jeune N » by hours."""
    if names:
        return {r["member_id"]: r["name"] for r in data["trainees"]}
    return {
        r["member_id"]: t("c.programme.someone", n=i)
        for i, r in enumerate(data["trainees"], start=1)
    }


def _charts(data: dict[str, Any], labels: dict[str, str]) -> list[Any]:
    monthly: dict[str, dict[str, float]] = {}
    for r in data["monthly"]:
        kind = r["kind"] or "?"
        monthly.setdefault(kind, {})
        monthly[kind][r["period"]] = round(monthly[kind].get(r["period"], 0.0) + r["hours"], 2)
    periods = sorted({r["period"] for r in data["monthly"]})
    totals = data["totals"]
    teachers = [r for r in data["trainees"] if r["hours_supervised"] or r["levels_granted"]]
    return [
        column_chart(
            periods,
            monthly,
            title=t("c.programme.chart.monthly"),
            lang=language(),
            unit=" h",
            names_shown=kind_name,
            periods_shown=lambda p: period(p, language()),
        ),
        bar_chart(
            [(labels[r["member_id"]], float(r["hours_supervised"])) for r in teachers][:20],
            title=t("c.programme.chart.teaching"),
            lang=language(),
            unit=" h",
        ),
        bar_chart(
            [
                (t("c.programme.by_peers"), float(totals["levels_by_peers"])),
                (
                    t("c.programme.by_staff_machine"),
                    float(totals["levels_at_machine"] - totals["levels_by_peers"]),
                ),
                (t("c.programme.by_educators"), float(totals["levels_by_educators"])),
            ],
            title=t("c.programme.chart.levels"),
            lang=language(),
        ),
        bar_chart(
            [(m["name"], float(m["energy_kwh"])) for m in data["machines"] if m["metered"]],
            title=t("c.programme.chart.energy"),
            lang=language(),
            unit=" kWh",
        ),
    ]


@bp.get("/")
@requires("educator")
def page() -> Any:
    try:
        f = _filters()
    except BadRequest as e:
        return bad_filter(e, url_for("central_programme.page"))
    names = request.args.get("names") == "1"
    data = _named_machines(programme.programme(store(), f))
    labels = _labels(data, names)
    fmt = request.args.get("format")
    if fmt == "csv":
        return _csv(data, labels, names, request.args.get("table"))
    charts = _charts(data, labels)
    if fmt == "pdf":
        return Response(
            programme_pdf(data, labels, charts, t, language()),
            mimetype="application/pdf",
            headers={"Content-Disposition": f"attachment; filename={_filename(f)}.pdf"},
        )
    return render_template(
        "central_programme.html",
        d=data,
        f=f,
        labels=labels,
        names=names,
        charts=charts,
        method_lines=method_lines,
        kinds=kind_choices(),
        number=lambda v, d=0: number(v, language(), d),
        query={
            "since": f.since,
            "until": f.until,
            "kind": f.kind,
            "site": f.site,
            "names": "1" if names else None,
        },
        sites=store().sites() if viewer_site() is None else [],
        site_name=next((s["name"] for s in store().sites() if s["id"] == f.site), None),
    )


def _named_machines(data: dict[str, Any]) -> dict[str, Any]:
    """Each machine by its station's name and its kind in words (« Imprimante 3D »,
    « Impression 3D »), as a funder reads them; the CSV keeps the ids."""
    stations = store().stations()
    names = {s.get("machine_id") or s["id"]: s.get("name") or s["id"] for s in stations}
    unmetered = {s.get("machine_id") or s["id"] for s in stations if not _has_meter(s)}
    machines = [
        {
            **m,
            "name": names.get(m["machine_id"], m["machine_id"]),
            "kind_name": kind_name(m["kind"]),
            # « 0 kWh » would tell a funder the laser uses no power: it is not measured.
            "metered": m["machine_id"] not in unmetered or bool(m["energy_kwh"]),
        }
        for m in data["machines"]
    ]
    return {**data, "machines": machines}


def _has_meter(station: dict[str, Any]) -> bool:
    """Whether the station said it has a power meter: its last status's health names one
    (a station without one leaves it out). No status yet counts as yes."""
    status = station.get("last_status")
    health = status.get("health") if isinstance(status, dict) else None
    if not isinstance(health, dict) or "controller" not in health:
        return True
    return health.get("power_meter") is not None


def _filename(f: reports.Filters) -> str:
    return f"programme_{f.since}_{f.until}"


def _csv(data: dict[str, Any], labels: dict[str, str], names: bool, table: str | None) -> Response:
    """The trainees' table (or ``table=machines``); without names, no member id either."""
    if table == "machines":
        rows, columns = data["machines"], programme.MACHINE_COLUMNS
    else:
        rows = [
            {**r, "name": labels[r["member_id"]], "member_id": r["member_id"] if names else ""}
            for r in data["trainees"]
        ]
        columns = programme.TRAINEE_COLUMNS
    name = f"{_filename(data['filters'])}_{table or 'trainees'}"
    return csv_response([{c: r[c] for c in columns} for r in rows], columns, name)
