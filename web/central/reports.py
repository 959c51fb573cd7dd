"""Report pages for educators and funders: a chart (SVG), the table, and a CSV export of each.

Also a trainee's own progress page. Educators see it when logged in; they can give the trainee a
personal link, signed with the app's secret key, that shows only that trainee's progress. The link
expires (``[site] progress_link_days``) and an educator can revoke every link given so far.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from central import progress as ladder
from central import reports
from central.errors import BadRequest, NotFound
from central.store import now_iso
from web.central.charts import bar_chart, column_chart
from web.central.pages import (
    config,
    language,
    member_in_scope,
    requires,
    scoped_filters,
    station_names,
    store,
    t,
    viewer_site,
)
from web.central.words import kind_name
from web.common.format import period

bp = Blueprint("central_reports", __name__, url_prefix="/reports")
public = Blueprint("central_progress", __name__)

REPORTS = ("hours", "mentors", "machines")
"""Each one's title is ``c.reports.<name>`` in the central catalogs."""

CSV_COLUMNS = {
    "hours": [
        "period",
        "member_id",
        "name",
        "kind",
        "sessions",
        "hours",
        "supervised_sessions",
        "energy_kwh",
    ],
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
        "place",
        "station_id",
        "gain",
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


SHOWN_COLUMNS = {
    "hours": ["period", "name", "kind", "sessions", "hours", "supervised_sessions", "energy_kwh"],
    "mentors": ["name", "sessions_supervised", "hours_supervised", "grants_given"],
    "machines": [
        "period",
        "station_id",
        "kind",
        "sessions",
        "hours",
        "energy_kwh",
        "occupancy_pct",
    ],
}
"""The columns each page shows, headed in words (``c.col.<column>``); the CSV keeps them all."""


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(public)


def _now() -> float:
    """Wall-clock seconds; tests put a simulated clock in ``app.extensions["clock_now"]``."""
    clock: Callable[[], float] = current_app.extensions.get("clock_now", time.time)
    return clock()


class _ClockSigner(TimestampSigner):
    """Stamps and checks links with :func:`_now` (so tests move time instead of waiting)."""

    def get_timestamp(self) -> int:
        return int(_now())


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        current_app.secret_key,  # type: ignore[arg-type]
        salt="trainee-progress-v2",
        signer=_ClockSigner,
    )


def progress_link(member_id: str) -> str:
    """A signed link with the issue time (it expires) and the member's link generation (an
    educator revokes every older link by moving it on)."""
    token = _serializer().dumps([member_id, ladder.link_generation(store(), member_id)])
    return url_for("central_progress.own", token=token, _external=False)


@bp.get("/")
@requires("educator")
def index() -> str:
    return render_template("central_reports.html", reports=REPORTS)


@bp.get("/<any(hours, mentors, machines):name>")
@requires("educator")
def report(name: str) -> Any:
    try:
        f = scoped_filters(request.args)
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
            column_chart(
                periods,
                per_period,
                title=t("c.chart.hours_period"),
                lang=language(),
                unit=" h",
                names_shown=kind_name,
                periods_shown=shown_period,
            ),
            bar_chart(
                sorted(per_person.items(), key=lambda kv: -kv[1])[:40],
                title=t("c.chart.hours_person"),
                lang=language(),
                unit=" h",
            ),
        ]
    elif name == "mentors":
        rows = reports.mentors(s, f)
        extra["grants"] = ladder.who_trained(s, f)
        charts = [
            bar_chart(
                [(r["name"], float(r["grants_given"])) for r in rows][:40],
                title=t("c.chart.grants"),
                lang=language(),
            ),
            bar_chart(
                [(r["name"], float(r["sessions_supervised"])) for r in rows][:40],
                title=t("c.chart.supervised"),
                lang=language(),
            ),
        ]
        if request.args.get("format") == "csv" and request.args.get("table") == "grants":
            rows = extra["grants"]
            name = "grants"
    else:
        rows = reports.machines(s, f)
        machines = {
            st.get("machine_id") or st["id"]: st.get("name") or st["id"] for st in s.stations()
        }
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
            column_chart(
                periods,
                energy,
                title=t("c.chart.energy"),
                lang=language(),
                unit=" kWh",
                names_shown=lambda m: machines.get(m, m),
                periods_shown=shown_period,
            ),
            bar_chart(
                sorted((machines.get(m, m), v) for m, v in occupancy.items()),
                title=t("c.chart.occupancy"),
                lang=language(),
                unit=" %",
            ),
        ]
    if request.args.get("format") == "csv":
        return csv_response(rows, CSV_COLUMNS[name], name)
    return render_template(
        "central_report.html",
        name=name,
        f=f,
        rows=rows,
        columns=SHOWN_COLUMNS[name],
        names=station_names(),
        kinds=kind_choices(),
        charts=charts,
        periods=list(reports.PERIODS),
        sites=store().sites() if viewer_site() is None else [],
        **extra,
    )


def kind_choices() -> list[tuple[str, str]]:
    """The machine kinds of the stations, for a report's filter: (code, words)."""
    kinds = {s["kind"] for s in store().stations() if s.get("kind")}
    return sorted(((k, kind_name(k)) for k in kinds), key=lambda kv: kv[1].lower())


def shown_period(label: str) -> str:
    return period(label, language())


def csv_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """The rows as CSV; no row still gives the header."""
    if rows:
        return reports.to_csv(rows)
    return ",".join(columns) + "\n"


def csv_response(rows: list[dict[str, Any]], columns: list[str], name: str) -> Response:
    """A CSV download named ``<name>.csv`` (every report and the programme report)."""
    return Response(
        csv_text(rows, columns),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={name}.csv"},
    )


def bad_filter(e: BadRequest, back: str) -> tuple[str, int]:
    """A page (not JSON) that names the filter to fix, with a way back to the report."""
    field = e.field if e.field in FILTER_FIELDS else "other"
    return render_template(
        "central_error.html",
        title=t("c.error.filter_title"),
        message=t(f"c.filter.{field}"),
        back=back,
    ), 400


FILTER_FIELDS = ("since", "until", "period", "kind", "order")
"""Each one's message is ``c.filter.<field>`` (what to type instead)."""


@bp.get("/progress/<member_id>")
@requires("educator")
def progress(member_id: str) -> Any:
    member_in_scope(member_id)
    try:
        data = ladder.progress(store(), member_id)
    except NotFound:
        return link_page("c.link.unknown_member", 404)
    link_days = config().site.progress_link_days
    return render_template(
        "central_progress.html",
        p=data,
        link=progress_link(member_id),
        expires=ladder.expires_on(datetime.fromtimestamp(_now(), UTC).date(), link_days),
        revoked_at=ladder.link_revoked_at(store(), member_id),
    )


@bp.post("/progress/<member_id>/revoke")
@requires("educator")
def revoke_link(member_id: str) -> Any:
    """Every personal link given to this member so far stops working; a new one is shown."""
    member_in_scope(member_id)
    try:
        ladder.revoke_links(store(), member_id, now_iso())
    except NotFound:
        return link_page("c.link.unknown_member", 404)
    flash(t("c.link.revoked_done"), "ok")
    return redirect(url_for("central_reports.progress", member_id=member_id))


class LinkProblem(Exception):
    """A personal link that does not (or no longer) work: the page's message and status."""

    def __init__(self, key: str, status: int) -> None:
        super().__init__(key)
        self.key, self.status = key, status


def member_of_link(token: str) -> tuple[str, dict[str, Any]]:
    """The member a personal link shows, and their progress; LinkProblem if it does not work
    (expired, revoked, forged, erased). The credentials' downloads use it too."""
    days = config().site.progress_link_days
    try:
        member_id, generation = _serializer().loads(token, max_age=days * 86400)
    except SignatureExpired:
        raise LinkProblem("c.link.expired", 410) from None
    except (BadSignature, ValueError, TypeError):
        raise LinkProblem("c.link.invalid", 404) from None
    member_id = str(member_id)
    if generation != ladder.link_generation(store(), member_id):
        raise LinkProblem("c.link.revoked", 410)
    try:
        data = ladder.progress(store(), member_id)
    except NotFound:
        raise LinkProblem("c.link.invalid", 404) from None
    if data["erased"]:
        raise LinkProblem("c.link.invalid", 404)
    return member_id, data


@public.get("/progress/<token>")
def own(token: str) -> Any:
    """The trainee's own page, by the personal link an educator gave them; nothing else."""
    try:
        _member_id, data = member_of_link(token)
    except LinkProblem as e:
        return link_page(e.key, e.status)
    return render_template("central_progress.html", p=data, link=None, token=token)


def link_page(key: str, status: int) -> tuple[str, int]:
    """A friendly page in the reader's language for a link that does not (or no longer) work."""
    return render_template(
        "central_error.html", title=t("c.link.title"), message=t(key), back=None
    ), status
