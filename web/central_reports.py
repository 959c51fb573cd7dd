"""Report pages for educators and funders: a chart (SVG), the table, and a CSV export of each.

Also a trainee's own progress page. Educators see it when logged in; they can give the trainee a
personal link, signed with the app's secret key, that shows only that trainee's progress.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import Blueprint, Flask, Response, abort, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from central import reports
from central.errors import BadRequest, NotFound
from web.central_charts import bar_chart, column_chart
from web.central_pages import requires, store, t

bp = Blueprint("central_reports", __name__, url_prefix="/reports")
public = Blueprint("central_progress", __name__)

REPORTS = ("hours", "mentors", "machines")
"""Each one's title is ``c.reports.<name>`` in the central catalogs."""

CSV_COLUMNS = {
    "hours": ["period", "member_id", "name", "kind", "sessions", "hours", "supervised_sessions"],
    "mentors": ["member_id", "name", "sessions_supervised", "hours_supervised", "grants_given"],
    "grants": [
        "granted_at",
        "member_id",
        "name",
        "kind",
        "previous_level",
        "level",
        "granted_by",
        "granted_by_name",
        "station_id",
    ],
    "machines": [
        "period",
        "station_id",
        "machine_id",
        "kind",
        "sessions",
        "hours",
        "energy_kwh",
        "occupancy_pct",
    ],
}
"""Each export's header, written even when no row matches (a spreadsheet macro expects it);
a test checks it is the header of a non-empty export too."""


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(public)


def _serializer() -> URLSafeSerializer:
    from flask import current_app

    return URLSafeSerializer(current_app.secret_key, salt="trainee-progress")  # type: ignore[arg-type]


def progress_link(member_id: str) -> str:
    return url_for("central_progress.own", token=_serializer().dumps(member_id), _external=False)


@bp.get("/")
@requires("educator")
def index() -> str:
    return render_template("central_reports.html", reports=REPORTS)


@bp.get("/<any(hours, mentors, machines):name>")
@requires("educator")
def report(name: str) -> Any:
    try:
        f = reports.Filters.parse(request.args)
    except BadRequest as e:
        return bad_filter(e, url_for("central_reports.report", name=name))
    s = store()
    extra: dict[str, Any] = {}
    if name == "hours":
        rows = reports.hours(s, f)
        per_person: dict[str, float] = defaultdict(float)
        per_period: dict[str, dict[str, float]] = defaultdict(dict)
        for r in rows:
            per_person[r["name"]] += r["hours"]
            per_period[r["kind"] or "?"][r["period"]] = (
                per_period[r["kind"] or "?"].get(r["period"], 0.0) + r["hours"]
            )
        periods = sorted({r["period"] for r in rows})
        charts = [
            column_chart(periods, per_period, title=t("c.chart.hours_period"), unit=" h"),
            bar_chart(
                sorted(per_person.items(), key=lambda kv: -kv[1])[:40],
                title=t("c.chart.hours_person"),
                unit=" h",
            ),
        ]
    elif name == "mentors":
        rows = reports.mentors(s, f)
        extra["grants"] = reports.grants(s, f)
        charts = [
            bar_chart(
                [(r["name"], float(r["grants_given"])) for r in rows][:40],
                title=t("c.chart.grants"),
            ),
            bar_chart(
                [(r["name"], float(r["sessions_supervised"])) for r in rows][:40],
                title=t("c.chart.supervised"),
            ),
        ]
        if request.args.get("format") == "csv" and request.args.get("table") == "grants":
            rows = extra["grants"]
            name = "grants"
    else:
        rows = reports.machines(s, f)
        energy: dict[str, dict[str, float]] = defaultdict(dict)
        for r in rows:
            energy[r["machine_id"]][r["period"]] = r["energy_kwh"]
        periods = sorted({r["period"] for r in rows})
        occupancy: dict[str, float] = defaultdict(float)
        hours_by: dict[str, float] = defaultdict(float)
        for r in rows:
            hours_by[r["machine_id"]] += r["hours"]
        total_h = sum(reports._period_hours(p) for p in periods) or 1.0
        for m, h in hours_by.items():
            occupancy[m] = round(100.0 * h / total_h, 2)
        charts = [
            column_chart(periods, energy, title=t("c.chart.energy"), unit=" kWh"),
            bar_chart(sorted(occupancy.items()), title=t("c.chart.occupancy"), unit=" %"),
        ]
    if request.args.get("format") == "csv":
        return Response(
            csv_text(rows, CSV_COLUMNS[name]),
            mimetype="text/csv",
            headers={"Content-Disposition": f"attachment; filename={name}.csv"},
        )
    return render_template(
        "central_report.html",
        name=name,
        f=f,
        rows=rows,
        charts=charts,
        periods=list(reports.PERIODS),
        **extra,
    )


def csv_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """The rows as CSV; no row still gives the header."""
    if rows:
        return reports.to_csv(rows)
    return ",".join(columns) + "\n"


def bad_filter(e: BadRequest, back: str) -> tuple[str, int]:
    """A page (not JSON) that names the filter to fix, with a way back to the report."""
    field = e.field if e.field in FILTER_FIELDS else "other"
    return render_template(
        "central_error.html",
        title=t("c.error.filter_title"),
        message=t(f"c.filter.{field}"),
        back=back,
    ), 400


FILTER_FIELDS = ("since", "until", "period", "kind")
"""Each one's message is ``c.filter.<field>`` (what to type instead)."""


@bp.get("/progress/<member_id>")
@requires("educator")
def progress(member_id: str) -> str:
    try:
        data = reports.progress(store(), member_id)
    except NotFound as e:
        abort(404, str(e))
    return render_template("central_progress.html", p=data, link=progress_link(member_id))


@public.get("/progress/<token>")
def own(token: str) -> str:
    """The trainee's own page, by the personal link an educator gave them; nothing else."""
    try:
        member_id = _serializer().loads(token)
    except BadSignature:
        abort(404, "this link is not valid: ask an educator for your personal link")
    try:
        data = reports.progress(store(), str(member_id))
    except NotFound:
        abort(404, "this link is not valid any more")
    return render_template("central_progress.html", p=data, link=None)
