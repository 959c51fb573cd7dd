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
        abort(400, str(e))
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
            reports.to_csv(rows),
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
