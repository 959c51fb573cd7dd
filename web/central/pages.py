"""The central store's web pages: login, fleet dashboard, roster admin (and reports, privacy).

One blueprint per audience: ``/dash`` for technicians, ``/admin`` for educators (roster) and
admins (stations, accounts), ``/reports`` for educators. Every page needs a login with the right
role; the check is a decorator on each view *and* a test that walks the URL map. Every POST carries
the session's CSRF token (checked before every request, so a new route cannot forget it); the
sync API is exempt because it is authenticated by a bearer token, never by a cookie.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    get_template_attribute,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)

from central.config import CentralConfig
from central.errors import (
    BadgeHeld,
    BadgesHeldInImport,
    BadRequest,
    CentralError,
    Conflict,
    NotFound,
    OtherSite,
)
from central.fleet import changed_rows, fleet, name_who_commanded, utcnow
from central.ingest import COMMAND_ACTIONS, parse_command
from central.privacy import retention_runs
from central.roster_export import roster_csv
from central.sites import DEFAULT_SITE
from central.store import ROLES, CentralStore, Filters
from station.errors import RosterError
from station.model import Level, Role
from station.roster import (
    KIND_PATTERN,
    MEMBER_ID_PATTERN,
    RosterProblem,
    RowProblem,
    normalise_uid,
    parse_roster_csv,
    unsafe_text,
)
from web.central import words
from web.common import csrf, i18n, layout, sessions
from web.common import format as fmt
from web.common.limits import StreamLimiter, stream_cap
from web.common.login import BLOCKED, SharedLoginLimiter, attempt_login, safe_next
from web.common.sessions import fresh_session

BEARER_API = ("/api/v1/sync", "/api/v1/enrol")
KEEPALIVE_S = 15.0
FLEET_POLL_S = 1.0

auth = Blueprint("central_auth", __name__)
dash = Blueprint("central_dash", __name__, url_prefix="/dash")
admin = Blueprint("central_admin", __name__, url_prefix="/admin")


def init_app(app: Flask) -> None:
    config: CentralConfig = app.extensions["central_config"]
    sessions.init_app(
        app,
        config.data_path,
        cookie_name="central_session",
        secure=config.server.behind_tls,
        secret=app.extensions["central_store"].shared_secret("web_session"),
    )
    # In the store: every central process on one database counts the same failures.
    app.extensions.setdefault("login_limiter", SharedLoginLimiter(app.extensions["central_store"]))
    layout.init_app(app)
    app.extensions["stream_limiter"] = StreamLimiter(stream_cap(config.server.threads))
    app.jinja_env.globals["current_user"] = current_user
    app.jinja_env.globals["t"] = t
    app.jinja_env.globals["tn"] = tn
    app.jinja_env.globals["lang"] = language
    fmt.init_app(app, config.site.timezone, language)
    words.init_app(app)
    i18n.init_app(app, "fr", domain="central")
    csrf.init_app(app, exempt=lambda: request.path in BEARER_API, exempt_json_only=False)
    app.before_request(load_user)
    app.before_request(i18n.remember_asked_language)
    app.register_blueprint(auth)
    app.register_blueprint(dash)
    app.register_blueprint(admin)


def load_catalogs() -> dict[str, dict[str, i18n.Text]]:
    """The central pages' own catalogs (domain ``central``), beside the stations'."""
    return i18n.load_catalogs("central")


language = i18n.current_language
"""``?lang=en`` on any page sticks for the session (it changes nothing else); French first."""
t = i18n.gettext
tn = i18n.ngettext
"""A plural message: the form for ``count`` (« 1 événement », « 3 événements »)."""


def store() -> CentralStore:
    return current_app.extensions["central_store"]  # type: ignore[no-any-return]


def config() -> CentralConfig:
    return current_app.extensions["central_config"]  # type: ignore[no-any-return]


def load_user() -> None:
    """The session's account, checked against the store on every request: a logout, a new
    password or role, or a disabled account ends every older session at once."""
    g.user = None
    user = session.get("user")
    if not isinstance(user, dict):
        return
    now = store().session_user(str(user.get("username")))
    if now is None or now["generation"] != user.get("generation"):
        fresh_session()
        return
    g.user = now


def current_user() -> dict[str, Any] | None:
    user = g.get("user")
    return user if isinstance(user, dict) else None


def requires(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Login with one of ``roles`` (``admin`` may do everything)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                if request.method == "GET":
                    return redirect(url_for("central_auth.login", next=request.full_path))
                abort(401, "log in first")
            if user["role"] != "admin" and user["role"] not in roles:
                abort(403, f"this page is for {' or '.join(roles)} accounts")
            return view(*args, **kwargs)

        wrapped.required_roles = roles  # type: ignore[attr-defined]
        return wrapped

    return decorate


# --- sites: what an account of one fablab may see ----------------------------------------------


def viewer_site() -> str | None:
    """The site the logged-in account is limited to; None for an account of the whole network
    (docs/network.md)."""
    user = current_user()
    site = user.get("site") if user else None
    return str(site) if site else None


def in_scope(site_id: str | None) -> bool:
    site = viewer_site()
    return site is None or site_id == site


def member_in_scope(member_id: str) -> None:
    """404 for a member the viewer may not see: another site's member looks like no member
    (the page does not tell which ids exist elsewhere)."""
    site = store().member_site(member_id)
    if site is None or not in_scope(site):
        abort(404, f"no member {member_id}")


def station_in_scope(station_id: str) -> dict[str, Any]:
    try:
        station = store().station(station_id)
    except NotFound:
        abort(404, f"no station {station_id}")
    if not in_scope(station.get("site_id")):
        abort(404, f"no station {station_id}")
    return station


def site_asked() -> str | None:
    """The site the page shows: the viewer's own, or for a network account the one it picked
    (``?site=``, none: every site)."""
    own = viewer_site()
    if own is not None:
        return own
    asked = request.args.get("site") or None
    if asked is not None and asked not in {s["id"] for s in store().sites()}:
        abort(404, f"no site {asked}")
    return asked


def scoped_filters(args: Any) -> Filters:
    """A report's filters, held to the viewer's site (a site's account cannot widen them)."""
    f = Filters.parse(args)
    own = viewer_site()
    return dataclasses.replace(f, site=own) if own is not None else f


# --- login ---------------------------------------------------------------------------------------


@auth.get("/")
def home() -> Any:
    user = current_user()
    if user is None:
        return redirect(url_for("central_auth.login"))
    if user["role"] == "educator":
        return redirect(url_for("central_admin.members"))
    return redirect(url_for("central_dash.index"))


@auth.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("central_login.html", error=None)
    _, user, status = attempt_login(store().authenticate)
    if user is None:
        error = t("c.login.rate_limited" if status == BLOCKED else "c.login.wrong")
        return render_template("central_login.html", error=error), status
    fresh_session()  # a new session (and a new CSRF token) at each login
    session["user"] = user
    session.permanent = True
    return redirect(safe_next(request.args.get("next"), url_for("central_auth.home")))


@auth.post("/logout")
def logout() -> Any:
    """Ends this account's sessions everywhere (a copied cookie dies with the others)."""
    user = current_user()
    if user is not None:
        store().end_sessions(user["username"])
    fresh_session()
    return redirect(url_for("central_auth.login"))


# --- fleet dashboard ---------------------------------------------------------------------------


FLEET_FIELDS = ("state", "who", "contact", "backlog", "health", "problems")
"""The live cells of a station's row (web/central/templates/central_dash_rows.html)."""


def site_stations(site: str | None) -> list[dict[str, Any]]:
    return [s for s in store().stations() if site is None or s.get("site_id") == site]


def fleet_now(site: str | None = None) -> list[dict[str, Any]]:
    """The fleet's rows, of one site or (None) of the network."""
    stations = site_stations(site)
    ids = {s["id"] for s in stations}
    problems = [
        e for e in store().recent_events(("problem_reported",), 50) if e["station_id"] in ids
    ]
    changes = [
        e for e in store().recent_events(("machine_state_changed",), 200) if e["station_id"] in ids
    ]
    rows = fleet(stations, problems, utcnow(), config().offline_after_s, changes)
    name_who_commanded(rows, store().commands(limit=200))
    return rows


def station_names() -> dict[str, str]:
    """Each station's name by id (the fleet's lists name stations as people do)."""
    return {s["id"]: s.get("name") or s["id"] for s in store().stations()}


def site_commands(site: str | None, limit: int = 20) -> list[dict[str, Any]]:
    if site is None:
        return store().commands(limit=limit)
    ids = {s["id"] for s in site_stations(site)}
    return [c for c in store().commands(limit=limit * 10) if c["station_id"] in ids][:limit]


def site_alerts(site: str | None, limit: int = 20) -> list[Any]:
    """The fleet's alerts about the site's stations (a badge alert names two stations: it
    shows where either is)."""
    alerts = store().recent_alerts(limit if site is None else limit * 10)
    if site is None:
        return alerts
    ids = {s["id"] for s in site_stations(site)}

    def named(a: Any) -> set[str]:
        d = a["data"]
        out = {d.get("station_id")}
        for k in ("first", "second"):
            if isinstance(d.get(k), dict):
                out.add(d[k].get("station_id"))
        return {x for x in out if isinstance(x, str)}

    return [a for a in alerts if named(a) & ids][:limit]


def fleet_message(
    previous: dict[str, str], last_commands: str | None, site: str | None = None
) -> tuple[str | None, dict[str, str], str]:
    """The next stream message: only the stations whose row changed (each with its cells as the
    page shows them, in the viewer's language) and the command log when it changed; None when
    nothing did."""
    cell = get_template_attribute("central_dash_rows.html", "cell")
    command_rows = get_template_attribute("central_dash_rows.html", "command_rows")
    changed, removed, index = changed_rows(previous, fleet_now(site))
    commands = str(command_rows(site_commands(site), station_names()))
    if not changed and not removed and commands == last_commands:
        return None, index, commands
    body: dict[str, Any] = {
        "stations": [
            {**row, "cells": {f: str(cell(f, row)) for f in FLEET_FIELDS}} for row in changed
        ],
        "removed": removed,
    }
    if commands != last_commands:
        body["commands"] = commands
    return json.dumps(body, ensure_ascii=False), index, commands


@dash.get("/")
@requires("technician")
def index() -> str:
    site = site_asked()
    return render_template(
        "central_dash.html",
        stations=fleet_now(site),
        fields=FLEET_FIELDS,
        commands=site_commands(site),
        names=station_names(),
        actions=COMMAND_ACTIONS,
        missed=config().sync.offline_after_missed,
        faults=[
            e
            for e in store().recent_events(("machine_state_changed",), 200)
            if site is None or e["station_id"] in {s["id"] for s in site_stations(site)}
        ],
        alerts=site_alerts(site),
        site=site,
        sites=store().sites() if viewer_site() is None else [],
    )


@dash.get("/fleet.json")
@requires("technician")
def fleet_json() -> Response:
    return Response(
        json.dumps({"stations": fleet_now(site_asked())}, ensure_ascii=False),
        mimetype="application/json",
    )


@dash.get("/stream")
@requires("technician")
def stream() -> Response:
    """Server-sent events: the first message carries every station, then each one only the
    stations (and the command log) that changed; a comment every 15 s otherwise."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    viewer = current_user() or {}
    site = site_asked()

    def still_allowed() -> bool:
        """A logout, a new role or a disabled account ends an open stream too."""
        now = store().session_user(str(viewer.get("username")))
        return now is not None and now["generation"] == viewer.get("generation")

    def generate() -> Iterator[str]:
        index: dict[str, str] = {}
        commands: str | None = None
        quiet = 0.0
        with app.app_context():
            seen = store().changes_seen()
            # Ends when the viewer goes away (the write fails: GeneratorExit) or loses the right.
            while still_allowed():
                payload, index, commands = fleet_message(index, commands, site)
                if payload is not None:
                    quiet = 0.0
                    yield f"event: fleet\ndata: {payload}\n\n"
                elif quiet >= KEEPALIVE_S:
                    quiet = 0.0
                    yield ": keep-alive\n\n"
                # Woken by a write through any central process (LISTEN/NOTIFY on PostgreSQL);
                # re-read at least every FLEET_POLL_S anyway: "offline" comes with time alone.
                started = time.monotonic()
                seen = store().wait_for_change(seen, FLEET_POLL_S)
                quiet += time.monotonic() - started

    limiter: StreamLimiter = current_app.extensions["stream_limiter"]
    return limiter.response(
        lambda: stream_with_context(generate()),  # the viewer's language in every message
        f"{limiter.max_open} dashboards are streaming already: close a tab, or try again in a "
        "minute",
    )


@dash.post("/stations/<station_id>/commands")
@requires("technician")
def send_command(station_id: str) -> Any:
    station_in_scope(station_id)
    body = {k: request.form.get(k, "") for k in ("action", "reason", "uid")}
    if not body["uid"]:
        body.pop("uid")
    try:
        command = parse_command(body)
        store().add_command(station_id, command, by=current_user()["username"])  # type: ignore[index]
    except (BadRequest, NotFound) as e:
        flash(central_error_text(e), "error")
    else:
        flash(
            t(
                "c.dash.sent",
                action=words.word("c.command.", command["action"]),
                station=station_names().get(station_id, station_id),
            ),
            "ok",
        )
    return redirect(url_for("central_dash.index"))


# --- roster admin --------------------------------------------------------------------------------


@admin.get("/")
@requires("educator")
def members() -> str:
    rows = store().roster_rows()
    q = request.args.get("q", "").strip().lower()
    badges: dict[str, list[dict[str, Any]]] = {}
    for b in rows["badges"]:
        badges.setdefault(b["member_id"], []).append(b)
    quals: dict[str, list[dict[str, Any]]] = {}
    for r in rows["qualifications"]:
        if r["level"] != "none":
            quals.setdefault(r["member_id"], []).append(r)
    people = [
        m
        for m in rows["members"]
        if in_scope(m["site_id"]) and (not q or q in m["id"].lower() or q in m["name"].lower())
    ]
    return render_template(
        "central_admin.html",
        members=people,
        badges=badges,
        quals=quals,
        q=q,
        roles=[r.value for r in Role],
        version=store().roster_version(),
        retention=retention_runs(store(), 5),
    )


@admin.post("/members")
@requires("educator")
def save_member() -> Any:
    member_id = request.form.get("id", "").strip()
    name = request.form.get("name", "").strip()
    role = request.form.get("role", "trainee")
    if not MEMBER_ID_PATTERN.match(member_id):
        flash(t("c.admin.bad_id"), "error")
    elif not name or len(name) > 120 or unsafe_text(name, "name"):
        flash(t("c.admin.bad_name"), "error")
    elif role not in [r.value for r in Role]:
        flash(t("c.admin.bad_role"), "error")
    else:
        try:
            store().upsert_member(
                member_id,
                name,
                Role(role),
                request.form.get("active", "1") == "1",
                site_id=viewer_site(),
            )
        except OtherSite:
            flash(t("c.sites.other_member", id=member_id), "error")
            return redirect(url_for("central_admin.members"))
        flash(t("c.admin.saved", name=name), "ok")
        return redirect(url_for("central_admin.member", member_id=member_id))
    return redirect(url_for("central_admin.members"))


@admin.get("/members/<member_id>")
@requires("educator")
def member(member_id: str) -> str:
    member_in_scope(member_id)
    try:
        detail = store().member_detail(member_id)
    except NotFound as e:
        abort(404, str(e))
    return render_template(
        "central_member.html",
        m=detail,
        levels=[lv.value for lv in Level],
        kinds=sorted({s["kind"] for s in store().stations() if s["kind"]} | {"laser", "cnc"}),
    )


@admin.post("/members/<member_id>/badges")
@requires("educator")
def add_badge(member_id: str) -> Any:
    member_in_scope(member_id)
    try:
        store().add_badge(
            normalise_uid(request.form.get("uid", "")),
            member_id,
            move=request.form.get("move") == "1",
        )
        flash(t("c.admin.badge_added"), "ok")
    except BadgeHeld as e:
        # Another site's holder is not named to this site's educator.
        holder = _name_of(e.holder) if in_scope(store().member_site(e.holder)) else "?"
        flash(t("c.admin.badge_held", uid=e.uid, name=holder), "error")
    except RosterProblem as e:
        flash(problem_text(e.code, e.values), "error")
    except NotFound as e:
        abort(404, str(e))
    return redirect(url_for("central_admin.member", member_id=member_id))


def _name_of(member_id: str) -> str:
    try:
        return str(store().member_detail(member_id)["name"])
    except NotFound:
        return member_id


@admin.post("/badges/<uid>/<any(revoke, restore):what>")
@requires("educator")
def badge_active(uid: str, what: str) -> Any:
    holder = next(
        (b["member_id"] for b in store().roster_rows()["badges"] if b["uid"] == uid), None
    )
    if holder is None:
        abort(404, f"no badge {uid}")
    member_in_scope(holder)
    try:
        store().set_badge_active(uid, what == "restore")
    except NotFound as e:
        abort(404, str(e))
    flash(t("c.admin.badge_revoked" if what == "revoke" else "c.admin.badge_restored"), "ok")
    return redirect(safe_next(request.form.get("next"), url_for("central_admin.members")))


@admin.post("/members/<member_id>/qualifications")
@requires("educator")
def set_qualification(member_id: str) -> Any:
    member_in_scope(member_id)
    kind = request.form.get("kind", "").strip().lower()
    level = request.form.get("level", "")
    if not KIND_PATTERN.match(kind) or level not in [lv.value for lv in Level]:
        flash(t("c.admin.bad_qual"), "error")
    else:
        try:
            store().set_qualification(
                member_id,
                kind,
                Level(level),
                by=current_user()["username"],  # type: ignore[index]
            )
        except NotFound as e:
            abort(404, str(e))
        flash(t("c.admin.qual_saved", kind=kind, level=level), "ok")
    return redirect(url_for("central_admin.member", member_id=member_id))


@admin.post("/roster/import")
@requires("educator")
def import_roster() -> Any:
    upload = request.files.get("csv")
    if upload is None or not upload.filename:
        flash(t("c.admin.no_file"), "error")
        return redirect(url_for("central_admin.members"))
    try:
        text = upload.read().decode("utf-8")
        roster = parse_roster_csv(text, upload.filename)
        counts, kept = store().import_roster_keeping_grants(
            roster,
            replace_all=not request.form.get("merge"),
            since=UPLOAD_KEEPS_SINCE,
            site_id=viewer_site(),
        )
    except UnicodeDecodeError:
        flash(t("c.admin.not_utf8"), "error")
    except OtherSite as e:
        flash(t("c.sites.other_member", id=e.what), "error")
    except BadgesHeldInImport as e:
        flash(tn("c.import.badges_held", len(e.moves)), "error")
        for uid, _holder, name, to in e.moves[:MAX_SHOWN_PROBLEMS]:
            flash(t("c.import.badge_held", uid=uid, name=name, member=to), "error")
    except RosterError as e:
        flash_roster_error(e)
    else:
        flash(
            t(
                "c.admin.imported",
                members=tn("c.admin.imported.members", counts["members"]),
                changed=tn("c.admin.imported.changes", counts["changed"]),
            ),
            "ok",
        )
        if kept:
            names = {m.id: m.name for m in roster.members}
            flash(t("c.admin.kept_grants", levels=kept_levels(kept, names)), "info")
    return redirect(url_for("central_admin.members"))


UPLOAD_KEEPS_SINCE = datetime.min.replace(tzinfo=UTC)
"""An upload has no date: it never lowers a level a person set (at a machine or on a member's
page); the member's page does, explicitly (central/roster_import.py)."""


def kept_levels(kept: list[Any], names: dict[str, str]) -> str:
    """« Léa Martin · laser : autonome »: the person's name and the level in the reader's
    language (not ``lea`` and ``autonomous``)."""
    return "; ".join(
        f"{names.get(g.member_id, g.member_id)} · {g.kind} : {t('c.level.' + g.level)}"
        for g in kept
    )


MAX_SHOWN_PROBLEMS = 30
"""A file with more bad lines shows the first ones and how many more: fix, import, repeat."""


def central_error_text(e: CentralError) -> str:
    """A central store's error in the reader's language by its code (``c.error.<code>``);
    the English ``str(e)`` stays for the API and the command line."""
    return i18n.error_text("c.error.", e.code, e.values, str(e))


def problem_text(code: str, values: dict[str, object]) -> str:
    """One roster problem in the reader's language (``c.import.<code>``)."""
    return t(f"c.import.{code}", **values)


def flash_roster_error(e: RosterError) -> None:
    """What is wrong with an uploaded roster, line by line, in the reader's language."""
    problems = [p for p in e.problems if isinstance(p, RowProblem)]
    if not problems:  # a file that cannot be read at all: say it plainly, the English after
        flash(i18n.error_text("c.import.", None, {}, str(e)), "error")
        return
    if e.bad_rows:
        flash(tn("c.import.bad_rows", e.bad_rows), "error")
    for p in problems[:MAX_SHOWN_PROBLEMS]:
        text = problem_text(p.code, p.values)
        flash(t("c.import.line", line=p.line, problem=text) if p.line else text, "error")
    if len(problems) > MAX_SHOWN_PROBLEMS:
        flash(tn("c.import.more", len(problems) - MAX_SHOWN_PROBLEMS), "error")


@admin.get("/roster/export.csv")
@requires("educator")
def export_roster() -> Response:
    return Response(
        roster_csv(store(), site=viewer_site()),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=roster.csv"},
    )


@admin.get("/stations")
@requires("admin")
def stations() -> str:
    own = viewer_site()
    return render_template(
        "central_stations.html",
        stations=site_stations(own),
        users=[u for u in store().users() if own is None or u["site_id"] == own],
        roles=ROLES,
        sites=[s for s in store().sites() if in_scope(s["id"])],
        network=own is None,
    )


@admin.post("/sites")
@requires("admin")
def add_site() -> Any:
    """A new fablab of the network (network admins only)."""
    if viewer_site() is not None:
        abort(403, "only a network admin creates sites")
    try:
        store().add_site(request.form.get("id", "").strip(), request.form.get("name", ""))
        flash(t("c.sites.saved"), "ok")
    except BadRequest as e:
        flash(central_error_text(e), "error")
    return redirect(url_for("central_admin.stations"))


@admin.post("/stations/<station_id>/site")
@requires("admin")
def move_station(station_id: str) -> Any:
    """A station moves to another site (network admins only): its past stays where it was."""
    station_in_scope(station_id)
    if viewer_site() is not None:
        abort(403, "only a network admin moves stations between sites")
    try:
        store().move_station(station_id, request.form.get("site", ""))
    except NotFound as e:
        abort(404, str(e))
    flash(t("c.sites.moved", id=station_id), "ok")
    return redirect(url_for("central_admin.stations"))


@admin.post("/stations")
@requires("admin")
def add_station() -> Any:
    sid = request.form.get("id", "").strip()
    kind = request.form.get("kind", "").strip().lower()
    if kind and not KIND_PATTERN.match(kind):
        flash(t("c.stations.bad_kind"), "error")
        return redirect(url_for("central_admin.stations"))
    try:
        token = store().add_station(
            sid,
            name=request.form.get("name", "").strip()[:120],
            machine_id=request.form.get("machine", "").strip()[:63],
            kind=kind,
            site_id=viewer_site() or request.form.get("site") or DEFAULT_SITE,
        )
    except (BadRequest, Conflict, NotFound) as e:
        flash(central_error_text(e), "error")
        return redirect(url_for("central_admin.stations"))
    return render_template("central_token.html", station_id=sid, token=token)


@admin.post("/stations/<station_id>/<any(revoke, token):what>")
@requires("admin")
def station_token(station_id: str, what: str) -> Any:
    station_in_scope(station_id)
    try:
        if what == "revoke":
            store().revoke_station(station_id)
            flash(t("c.stations.revoked", id=station_id), "ok")
            return redirect(url_for("central_admin.stations"))
        token = store().rotate_token(station_id)
    except NotFound as e:
        abort(404, str(e))
    return render_template("central_token.html", station_id=station_id, token=token)


@admin.post("/users")
@requires("admin")
def add_user() -> Any:
    """An account: a site's admin makes accounts of its own site only (and cannot take over
    another site's account); a network admin picks the site, or none for the network."""
    own = viewer_site()
    username = request.form.get("username", "").strip().lower()
    if own is not None:
        existing = next((u for u in store().users() if u["username"] == username), None)
        if existing is not None and existing["site_id"] != own:
            abort(404, f"no account {username} at this site")
        site: str | None = own
    else:
        site = request.form.get("site") or None
    try:
        store().add_user(
            username,
            request.form.get("password", ""),
            request.form.get("role", ""),
            replace=bool(request.form.get("replace")),
            site_id=site,
        )
        flash(t("c.stations.account_saved"), "ok")
    except (BadRequest, Conflict, NotFound) as e:
        flash(central_error_text(e), "error")
    return redirect(url_for("central_admin.stations"))


@admin.errorhandler(CentralError)
def central_error(e: CentralError) -> tuple[str, int]:
    return str(e), 400
