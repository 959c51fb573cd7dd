"""The technician page: station health, the current session, the last events, and the actions.

Login required (local accounts from ``station technician add``). Every action is a controller
command or an enrolment signed with the technician's username, so the event log says who did it.
Forms post and redirect back (post/redirect/get), with a one-line result flashed on the page.
"""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlite_utils import Database

from station import accounts
from station.central_enrol import CentralEnrolError, enrol_at_central
from station.controller import Controller, ControllerStopped
from station.enrol import EnrolError, enrol_badge
from station.machine import Command
from station.roster import normalise_uid
from station.sync import urllib_transport
from web.common import format as fmt
from web.common.i18n import LANGUAGES, current_language, error_text, gettext, ngettext
from web.common.login import BLOCKED, LoginLimiter, attempt_login, safe_next
from web.common.login import init_app as init_login
from web.common.sessions import fresh_session
from web.station import kiosk
from web.station.public import event_stream
from web.station.tech_events import describe, reason_words

__all__ = ["LoginLimiter", "bp", "init_app"]

bp = Blueprint("technician", __name__, url_prefix="/tech")

EVENTS_SHOWN = 100
GENERATION = "technician_generation"
"""The account's session generation at login: logout or a new password bumps it."""
CPU_TEMP_FILE = Path("/sys/class/thermal/thermal_zone0/temp")
F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Any) -> None:
    init_login(app)
    app.register_blueprint(bp)
    app.teardown_appcontext(_close_db)
    app.context_processor(_page_globals)


def _page_globals() -> dict[str, Any]:
    return {
        "station_name": _controller().config.display_name,
        "reason_words": lambda reason: reason_words(reason, gettext),
    }


# --- helpers ---------------------------------------------------------------------------------


def _controller() -> Controller:
    c: Controller = current_app.extensions["controller"]
    return c


def _db() -> Database:
    """One connection per request: SQLite connections belong to the thread that opened them."""
    if "accounts_db" not in g:
        g.accounts_db = accounts.open_accounts(_controller().config.db_path)
    db: Database = g.accounts_db
    return db


def _close_db(_exc: BaseException | None = None) -> None:
    db = g.pop("accounts_db", None)
    if db is not None:
        db.close()


def current_user() -> str | None:
    user = session.get("technician")
    return user if isinstance(user, str) else None


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = current_user()
        if user is None or accounts.session_generation(_db(), user) != session.get(GENERATION):
            session.pop("technician", None)
            session.pop(GENERATION, None)
            if request.method == "GET":
                flash(gettext("tech.login.required"), "info")
                return redirect(url_for("technician.login", next=request.path))
            abort(401, "log in first")
        g.technician = user
        return view(*args, **kwargs)

    wrapped.required_roles = ("technician",)  # type: ignore[attr-defined] # read by the URL-map test
    return wrapped  # type: ignore[return-value]


def _safe_next(target: str | None) -> str:
    return safe_next(target, url_for("technician.dashboard"), prefix="/tech")


# --- login ------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("tech_login.html", next=request.args.get("next", ""))
    username, account, status = attempt_login(
        lambda user, password: user if accounts.authenticate(_db(), user, password) else None
    )
    if account is None:
        flash(
            gettext("tech.login.rate_limited" if status == BLOCKED else "tech.login.failed"),
            "error",
        )
        return render_template("tech_login.html", next=request.form.get("next", "")), status
    _fresh_session()  # a new session (and a new CSRF token) at each login
    session["technician"] = username
    session[GENERATION] = accounts.session_generation(_db(), username)
    session.permanent = True
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Ends this account's sessions everywhere (a copied cookie dies with the others)."""
    user = current_user()
    if user is not None:
        accounts.end_sessions(_db(), user)
    _fresh_session()
    return redirect(url_for("technician.login"))


def _fresh_session() -> None:
    """A new session that keeps the page's language and, on the touchscreen, its kiosk pairing
    (a technician logging in and out at the machine must not silence the kiosk's buttons)."""
    fresh_session(keep=(kiosk.SESSION_KEY,))


@bp.post("/language")
def language() -> ResponseReturnValue:
    lang = request.form.get("lang")
    if lang not in LANGUAGES:
        abort(400, f"lang must be one of {LANGUAGES}")
    session["lang"] = lang
    return redirect(_safe_next(request.form.get("next")))


# --- the page ---------------------------------------------------------------------------------


@bp.get("/stream")
@login_required
def stream() -> Response:
    """The full status (with the last unknown badge's UID, for enrolment): staff only, and only
    while the session lasts (a logout elsewhere ends the stream at its next message)."""
    controller, user, generation = _controller(), g.technician, session.get(GENERATION)

    @contextmanager
    def still_allowed() -> Iterator[Callable[[], bool]]:
        db = accounts.open_accounts(controller.config.db_path)  # the stream's own thread
        try:
            yield lambda: accounts.session_generation(db, user) == generation
        finally:
            db.close()

    return event_stream(controller, lambda data: data, still_allowed)


@bp.get("/")
@login_required
def dashboard() -> str:
    controller = _controller()
    status = controller.status()
    type_filter = request.args.get("type", "")
    member_filter = request.args.get("member", "").strip()
    heartbeats = request.args.get("heartbeats") == "1" or type_filter == "heartbeat"
    try:
        roster = controller.run_in_loop(lambda: _roster_members(controller))
    except (ControllerStopped, TimeoutError) as e:  # the page still shows what it can
        roster = {"members": [], "badges": set()}
        flash(unavailable_text(e), "error")
    unknown = status.get("last_unknown_uid")
    if unknown and unknown in roster["badges"]:
        unknown = None
    sent = session.get(ENROL_SENT)
    if isinstance(sent, dict) and sent.get("uid") in roster["badges"]:
        session.pop(ENROL_SENT, None)  # the roster brought it: the badge works here now
        sent = None
    if isinstance(sent, dict) and sent.get("uid") == unknown:
        unknown = None
    names = {m["id"]: m["name"] for m in roster["members"]}
    return render_template(
        "tech.html",
        status=status,
        health=health_rows(status, controller),
        events=recent_events(_db(), type_filter, member_filter, heartbeats, names),
        sessions=recent_sessions(_db()),
        event_types=event_types(_db()),
        type_filter=type_filter,
        member_filter=member_filter,
        heartbeats=heartbeats,
        members=roster["members"],
        unknown_uid=unknown,
        fallback=session.get(ENROL_FALLBACK),
        sent=sent if isinstance(sent, dict) else None,
        central=bool(controller.config.central.url),
        user=g.technician,
    )


def _roster_members(controller: Controller) -> dict[str, Any]:
    """Runs on the controller thread (it owns the store connection)."""
    assert controller.store is not None
    roster = controller.store.roster()
    members = sorted(
        ({"id": m.id, "name": m.name} for m in roster.members.values() if m.active),
        key=lambda m: m["name"].lower(),
    )
    badges = {uid for uid, b in roster.badges.items() if b.active}
    return {"members": members, "badges": badges}


def recent_sessions(db: Database, limit: int = 20) -> list[dict[str, Any]]:
    """The latest sessions, each as the whole job: its totals include the finishing phase (a
    print that ran on after badge-out), shown apart too."""
    return list(
        db.query(
            "SELECT id, member_id, member_name, supervisor_name, started_at, ended_at,"
            " finished_at, end_reason, duration_s, finishing_s, energy_wh, finishing_energy_wh"
            " FROM sessions ORDER BY started_seq DESC LIMIT ?",
            [limit],
        )
    )


def recent_events(
    db: Database,
    type_filter: str,
    member_filter: str,
    heartbeats: bool = False,
    names: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The last events, newest first, each told in one sentence. Heartbeats (one a minute
    during a session) drown the rest: hidden unless asked for."""
    where: list[str] = []
    params: list[Any] = []
    if not heartbeats:
        where.append("type != 'heartbeat'")
    if type_filter:
        where.append("type = ?")
        params.append(type_filter)
    if member_filter:
        where.append(
            "(json_extract(data, '$.member_id') = ? OR json_extract(data, '$.supervisor_id') = ?"
            " OR json_extract(data, '$.by') = ?)"
        )
        params += [member_filter] * 3
    sql = "SELECT seq, at, type, data FROM events"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY seq DESC LIMIT ?"
    params.append(EVENTS_SHOWN)
    out = []
    for seq, at, type_, data in db.execute(sql, params).fetchall():
        d = json.loads(data)
        out.append(
            {
                "seq": seq,
                "at": at,
                "type": type_,
                "sentence": describe(type_, d, names or {}, gettext, current_language()),
            }
        )
    return out


def event_types(db: Database) -> list[str]:
    return [r[0] for r in db.execute("SELECT DISTINCT type FROM events ORDER BY type").fetchall()]


def health_rows(status: dict[str, Any], controller: Controller) -> list[dict[str, Any]]:
    """(label key, ok?, value) rows for the health table; ok is None when it is only information."""
    h = status.get("health", {})
    rows: list[dict[str, Any]] = []

    def add(label: str, ok: bool | None, value: str, detail: Any = None) -> None:
        rows.append({"label": label, "ok": ok, "value": value, "detail": detail})

    add(
        "tech.health.controller",
        h.get("controller") == "running",
        gettext("tech.health.ok" if h.get("controller") == "running" else "tech.health.problem"),
        h.get("failure"),
    )
    for key in ("reader", "power_meter", "air_sensor"):
        part = h.get(key)
        if part is None:
            add(f"tech.health.{key}", None, gettext("tech.health.sensor_absent"))
            continue
        ok = part.get("ok")
        word = {True: "tech.health.ok", False: "tech.health.problem"}.get(ok, "tech.health.unknown")
        add(f"tech.health.{key}", ok, gettext(word), _compact(part))
    relay = h.get("relay", {})
    plug = relay.get("plug")  # a smart plug: its link, its answers, its last error
    add(
        "tech.health.relay",
        plug.get("ok") if isinstance(plug, dict) else None,
        gettext("tech.health.relay_on" if relay.get("on") else "tech.health.relay_off"),
        *([_compact(plug)] if isinstance(plug, dict) else []),
    )
    add(*sync_row(status.get("sync") or {}))
    add(*clock_row(controller))
    try:
        usage = shutil.disk_usage(controller.config.data_path)
        free, total = usage.free / 1e9, usage.total / 1e9
        add(
            "tech.health.disk",
            free / total > 0.05 if total else None,
            gettext(
                "tech.health.disk_value",
                free=fmt.number(free, current_language(), 1),
                total=fmt.number(total, current_language(), 1),
            ),
        )
    except OSError:
        add("tech.health.disk", None, gettext("tech.health.unknown"))
    celsius = cpu_temperature()
    add(
        "tech.health.cpu_temp",
        None if celsius is None else celsius < 80,
        gettext("tech.health.unknown")
        if celsius is None
        else gettext("tech.health.cpu_temp_value", celsius=f"{celsius:.0f}"),
    )
    add("tech.health.uptime", None, fmt.duration(h.get("uptime_s", 0), current_language()))
    add("tech.health.version", None, status["station"]["version"])
    return rows


JUST_NOW_S = 5.0
"""A success this recent is « à l'instant », not « il y a 0 s »."""

SYNC_PROBLEMS = {
    "offline": "tech.sync.offline",
    "unauthorized": "tech.sync.unauthorized",
    "rejected": "tech.sync.rejected",
    "error": "tech.sync.error",
}
"""The sync client's failure kinds (station/sync.py), each told as what it means and what to do."""


def sync_row(sync: dict[str, Any]) -> tuple[str, bool | None, str, Any]:
    """The sync in sentences: the backlog, how long since the last success, and when the
    central store cannot be reached, that the station goes on and what to do (the raw error
    stays available as a detail)."""
    if not sync.get("enabled"):
        return "tech.health.sync", None, gettext("tech.health.sync_disabled"), None
    lang = current_language()
    backlog = sync.get("backlog")
    count = backlog if isinstance(backlog, int) and not isinstance(backlog, bool) else 0
    parts = [ngettext("tech.sync.backlog", count, count=fmt.number(count, lang))]
    since = sync.get("seconds_since_success")
    if isinstance(since, int | float) and since < JUST_NOW_S:
        parts.insert(0, gettext("tech.sync.last_success_now"))
    elif isinstance(since, int | float):
        parts.insert(0, gettext("tech.sync.last_success", ago=fmt.duration(since, lang)))
    else:
        parts.insert(0, gettext("tech.health.sync_never"))
    problem = SYNC_PROBLEMS.get(str(sync.get("state") or ""))
    error = sync.get("last_error") or None
    if problem is None and error:
        problem = "tech.sync.error"
    if problem is not None:
        retry = sync.get("next_attempt_in_s")
        parts.insert(0, gettext(problem))
        if isinstance(retry, int | float):
            parts.append(gettext("tech.sync.retry", after=fmt.duration(retry, lang)))
    ok = problem is None if sync.get("state") or error else None
    return "tech.health.sync", ok, " ".join(parts), error


def clock_row(controller: Controller) -> tuple[str, bool | None, str, Any]:
    """Whether the wall clock is set (NTP): before it is, event times are repaired centrally."""
    now = controller.clock.now()
    at = fmt.local_time(now.at, current_language(), controller.config.station.timezone)
    if not now.synced:
        key = "tech.clock.not_synced"
    elif getattr(controller.clock, "simulated", False):
        key = "tech.clock.simulated"  # the demo's clock: set by /sim, not by the network
    else:
        key = "tech.clock.synced"
    return "tech.health.clock", bool(now.synced), gettext(key, now=at), None


def cpu_temperature(path: Path = CPU_TEMP_FILE) -> float | None:
    """The SoC temperature on a Raspberry Pi (millidegrees in sysfs); None elsewhere."""
    try:
        return int(path.read_text().strip()) / 1000
    except (OSError, ValueError):
        return None


def _compact(d: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.items() if k != "ok")


# --- actions ----------------------------------------------------------------------------------


def unavailable_text(e: BaseException) -> str:
    """The controller did not answer (stopped, or too slow): what to do, the detail after."""
    return gettext("tech.result.unavailable", error=str(e) or type(e).__name__)


def _run_command(action: str, reason: str = "") -> ResponseReturnValue:
    try:
        result = _controller().call(Command(action, by=g.technician, reason=reason))
    except (ControllerStopped, TimeoutError) as e:
        flash(unavailable_text(e), "error")
        return redirect(url_for("technician.dashboard"))
    if result.get("ok"):
        flash(gettext("tech.result.ok"), "ok")
    else:
        detail = str(result.get("error", ""))
        flash(error_text("tech.refused.", result.get("code"), {}, detail), "error")
    return redirect(url_for("technician.dashboard"))


@bp.post("/machine/out-of-service")
@login_required
def out_of_service() -> ResponseReturnValue:
    return _run_command("out_of_service", request.form.get("reason", "").strip())


@bp.post("/machine/back-in-service")
@login_required
def back_in_service() -> ResponseReturnValue:
    return _run_command("back_in_service")


@bp.post("/machine/clear-check")
@login_required
def clear_check() -> ResponseReturnValue:
    return _run_command("clear_check")


@bp.post("/session/end")
@login_required
def end_session() -> ResponseReturnValue:
    return _run_command("end_session")


ENROL_SENT = "enrol_sent"
"""A badge enrolled at the central store for a new member, until the roster brings it here."""
ENROL_FALLBACK = "enrol_fallback"
"""The enrolment the central store could not take, offered here only (one click)."""
CENTRAL_TRANSPORT = "central_transport"
"""``app.extensions`` key of the HTTP transport to the central store (a fake in tests)."""


@bp.post("/enrol")
@login_required
def enrol() -> ResponseReturnValue:
    """At the central store first, so the badge works at every station; here only when the
    technician chooses it (the central store is out of reach) — then it is marked local."""
    uid = request.form.get("uid", "")
    member_id = request.form.get("member_id", "").strip()
    new_name = request.form.get("new_name", "").strip() or None
    session.pop(ENROL_FALLBACK, None)
    if not _controller().config.central.url:  # a station on its own: here, as always
        _enrol_here(uid, member_id, at_central=None)
    elif request.form.get("local") == "1":
        _enrol_here(uid, member_id, at_central=False)
    elif new_name is None and not member_id:
        flash(gettext("tech.enrol.choose"), "error")
    else:
        _enrol_at_central(uid, member_id or None, new_name)
    return redirect(url_for("technician.dashboard"))


def _enrol_at_central(uid: str, member_id: str | None, new_name: str | None) -> None:
    controller = _controller()
    transport = current_app.extensions.get(CENTRAL_TRANSPORT, urllib_transport)
    try:
        uid = normalise_uid(uid)
        reply = enrol_at_central(
            controller.config.central,
            uid,
            g.technician,
            member_id=member_id,
            new_name=new_name,
            transport=transport,
        )
    except ValueError as e:
        flash(error_text("tech.enrol_refused.", "uid_bad", {"uid": uid}, str(e)), "error")
        return
    except CentralEnrolError as e:
        if e.kind == "refused":
            values = {"uid": uid, "member": member_id or new_name or ""}
            flash(error_text("tech.central.", e.code, values, str(e)), "error")
            return
        flash(gettext(f"tech.enrol.central_{e.kind}"), "error")
        if new_name is None:
            session[ENROL_FALLBACK] = {"uid": uid, "member_id": member_id, "error": str(e)}
        else:
            flash(gettext("tech.enrol.new_needs_central"), "info")
        return
    name = str(reply.get("member_name") or reply.get("member_id"))
    if new_name is None and member_id:
        _enrol_here(uid, member_id, at_central=True, quiet=True)  # works here at once
    else:  # a new member reaches this station with the roster: say so, do not offer it again
        session[ENROL_SENT] = {"uid": uid, "member": name}
    flash(gettext("tech.enrol.done_central", uid=uid, member=name), "ok")


def _enrol_here(uid: str, member_id: str, *, at_central: bool | None, quiet: bool = False) -> None:
    try:
        event = enrol_badge(_controller(), uid, member_id, by=g.technician, at_central=at_central)
    except EnrolError as e:
        if not quiet:
            flash(error_text("tech.enrol_refused.", e.code, e.values, str(e)), "error")
    except (ControllerStopped, TimeoutError) as e:
        flash(unavailable_text(e), "error")
    else:
        if not quiet:
            data = event["data"]
            key = "tech.enrol.done" if at_central is None else "tech.enrol.done_local"
            member = _controller().first_name(data["member_id"]) or data["member_id"]
            flash(gettext(key, uid=data["uid"], member=member), "ok")
