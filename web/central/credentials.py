"""Credentials on the central store's pages: what verifiers reach, what educators do.

Public, without login (a school or an employer checks without calling the fablab): the issuer's
profile, its public keys (a JWKS at ``/.well-known/jwks.json`` and each key at the URL its
``kid`` names), the revocation status list, each achievement and its picture, and the
verification page ``/verify`` (paste a credential or upload a badge image). Educators, from a
trainee's progress page: record consent and the name the credential will carry, print the
consent form, issue, download, revoke. Trainees download theirs from their personal link.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from central.credentials import consent, issue, openbadge, status_list, verify
from central.credentials.errors import CredentialError
from central.credentials.issue import Issuing
from central.credentials.issuer import OB3_CONTEXT, VC2_CONTEXT, Issuer
from central.credentials.keys import KeyRing
from central.errors import NotFound
from station.model import Level
from web.central.pages import config, current_user, member_in_scope, requires, store, t
from web.central.reports import LinkProblem, link_page, member_of_link
from web.common import i18n

public = Blueprint("central_credentials", __name__)
admin = Blueprint("central_credentials_admin", __name__, url_prefix="/admin")

FORMATS = {
    "png": "image/png",
    "svg": "image/svg+xml",
    "jwt": "application/vc+jwt",
}
MAX_PASTE = 64 * 1024


def init_app(app: Flask) -> None:
    app.register_blueprint(public)
    app.register_blueprint(admin)
    app.jinja_env.globals["credentials_view"] = credentials_view


def _now() -> datetime:
    clock = current_app.config.get("CREDENTIALS_CLOCK")
    return clock() if clock else datetime.now(UTC)


def issuing() -> Issuing | None:
    """The credentials' context, or None while ``[credentials] public_url`` is not set."""
    found = current_app.extensions.get("credentials")
    if found is None:
        c = config()
        if not c.credentials.public_url:
            return None
        found = Issuing(
            store=store(),
            keys=KeyRing.in_data_dir(c.data_path),
            issuer=Issuer(
                c.credentials.public_url, c.credentials.issuer_name, c.credentials.website
            ),
            words=i18n.Translator.load("central", openbadge.LANG),
        )
        current_app.extensions["credentials"] = found
    return found  # type: ignore[no-any-return]


def _required() -> Issuing:
    ctx = issuing()
    if ctx is None:
        abort(404)
    return ctx


def _error_text(e: CredentialError) -> str:
    key = f"c.cred.err.{e.code}"
    text = t(key, **e.values)
    return str(e) if text == key else text


# --- what verifiers reach --------------------------------------------------------------------


def _json(data: Any, mimetype: str = "application/json") -> Response:
    r = Response(json.dumps(data, ensure_ascii=False, indent=1), mimetype=mimetype)
    r.headers["Access-Control-Allow-Origin"] = "*"  # a verifier's page may fetch it
    r.headers["Cache-Control"] = "no-cache"
    return r


@public.get("/credentials/issuer")
def issuer_profile() -> Response:
    ctx = _required()
    return _json(
        {
            "@context": [VC2_CONTEXT, OB3_CONTEXT],
            **ctx.issuer.profile(),
            "description": t("c.cred.issuer.description"),
        },
        "application/ld+json",
    )


@public.get("/.well-known/jwks.json")
@public.get("/credentials/keys")
def jwks() -> Response:
    ctx = _required()
    return _json(ctx.keys.jwks(_now(), ctx.issuer.kid_url))


@public.get("/credentials/keys/<kid>")
def key(kid: str) -> Response:
    """The JWK a credential's ``kid`` names (OB 3.0 dereferences it); gone once retired."""
    ctx = _required()
    found = [
        k
        for k in ctx.keys.jwks(_now(), ctx.issuer.kid_url)["keys"]
        if k["kid"] == ctx.issuer.kid_url(kid)
    ]
    if not found:
        abort(410 if ctx.keys.info(kid) else 404)
    return _json(found[0], "application/jwk+json")


@public.get("/credentials/status/revocation")
def revocation_list() -> Response:
    """The status list, signed afresh (valid one day): a replayed old copy is refused."""
    ctx = _required()
    now = _now()
    token, _kid = ctx.keys.sign(
        status_list.list_credential(ctx.issuer, ctx.store.revoked_indices(), now),
        now,
        ctx.issuer.kid_url,
    )
    r = Response(token, mimetype="application/vc+jwt")
    r.headers["Access-Control-Allow-Origin"] = "*"
    r.headers["Cache-Control"] = "no-cache"
    return r


@public.get("/credentials/achievements/<kind>/<any(autonomous, mentor):level>")
def achievement(kind: str, level: str) -> Response:
    ctx = _required()
    return _json(
        {
            "@context": [VC2_CONTEXT, OB3_CONTEXT],
            **openbadge.achievement(ctx.issuer, ctx.words, kind, level),
        },
        "application/ld+json",
    )


@public.get("/credentials/achievements/<kind>/<any(autonomous, mentor):level>.svg")
def achievement_picture(kind: str, level: str) -> Response:
    ctx = _required()
    title, level_word = issue.picture_words(ctx, kind, level)
    from central.credentials import baking

    return Response(baking.svg(title, level_word, ctx.issuer.name, level), mimetype="image/svg+xml")


@public.route("/verify", methods=["GET", "POST"])
def verify_page() -> Any:
    """Paste a credential or upload a badge image: valid, revoked, tampered, unknown key…"""
    ctx = issuing()
    if ctx is None:
        return render_template("central_verify.html", result=None, off=True), 404
    if request.method == "GET":
        return render_template("central_verify.html", result=None, off=False)
    upload = request.files.get("badge")
    pasted = request.form.get("credential", "").strip()

    def revoked(index: int) -> dict[str, Any] | None:
        row = ctx.store.credential_at_index(index)
        return row if row and row["revoked_at"] else None

    common: dict[str, Any] = {
        "issuer": ctx.issuer,
        "keys": ctx.keys,
        "now": _now(),
        "revoked": revoked,
    }
    if upload and upload.filename:
        result = verify.verify_upload(upload.read(verify.baking.MAX_IMAGE_BYTES + 1), **common)
    elif pasted:
        result = verify.verify_token(pasted[:MAX_PASTE], **common)
    else:
        result = verify.Verdict("empty")
    status = 200 if result.verdict in ("valid", "revoked", "empty") else 422
    return render_template("central_verify.html", result=result, off=False), status


# --- educators -------------------------------------------------------------------------------


def credentials_view(member_id: str) -> dict[str, Any]:
    """What the progress page shows about credentials (a template global)."""
    ctx = issuing()
    if ctx is None:
        return {"enabled": False}
    member = issue._member(ctx.store, member_id)
    levels = {q["kind"]: q["level"] for q in member["qualifications"]}
    rows = ctx.store.credentials_of(member_id)
    for row in rows:
        row["name"] = openbadge.achievement_name(ctx.words, row["kind"], row["level"])
        held = levels.get(row["kind"], "none")
        row["lowered"] = not row["revoked_at"] and (Level(held).rank < Level(row["level"]).rank)
    issued = {(r["kind"], r["level"]) for r in rows if not r["revoked_at"]}
    eligible = [
        {"kind": k, "level": lv, "name": openbadge.achievement_name(ctx.words, k, lv)}
        for k, lv in sorted(levels.items())
        if lv in openbadge.LEVELS and (k, lv) not in issued
    ]
    return {
        "enabled": True,
        "consent": ctx.store.consent(member_id),
        "suggested_name": consent.first_and_initial(member["name"]),
        "credentials": rows,
        "eligible": eligible,
        "verify_url": ctx.issuer.verify_url,
    }


def _back(member_id: str) -> Any:
    return redirect(url_for("central_reports.progress", member_id=member_id) + "#credentials")


@admin.post("/members/<member_id>/credentials/consent")
@requires("educator")
def record_consent(member_id: str) -> Any:
    member_in_scope(member_id)  # another site's member is no member (docs/network.md)
    ctx = _required()
    try:
        member = issue._member(ctx.store, member_id)
        choice = request.form.get("name_choice", "initial")
        raw = (
            request.form.get("display_name", "")
            if choice == "custom"
            else consent.first_and_initial(member["name"])
        )
        minor = request.form.get("minor") == "1"
        ctx.store.record_consent(
            member_id,
            display_name=consent.check_display_name(raw),
            minor=minor,
            consent_by=consent.check_consent_by(minor, request.form.get("consent_by", "")),
            by=_username(),
            at=_now().isoformat(),
        )
    except NotFound:
        abort(404)
    except CredentialError as e:
        flash(_error_text(e), "error")
        return _back(member_id)
    flash(t("c.cred.consent_recorded"), "ok")
    return _back(member_id)


@admin.post("/members/<member_id>/credentials/consent/withdraw")
@requires("educator")
def withdraw_consent(member_id: str) -> Any:
    member_in_scope(member_id)  # another site's member is no member (docs/network.md)
    _required().store.withdraw_consent(member_id)
    flash(t("c.cred.consent_withdrawn"), "ok")
    return _back(member_id)


@admin.get("/members/<member_id>/credentials/consent-form")
@requires("educator")
def consent_form(member_id: str) -> Any:
    """The paper a trainee (and for a minor, a parent) signs before the first credential."""
    member_in_scope(member_id)  # another site's member is no member (docs/network.md)
    ctx = _required()
    try:
        member = issue._member(ctx.store, member_id)
    except NotFound:
        abort(404)
    return render_template(
        "central_consent_form.html",
        member=member,
        suggested=consent.first_and_initial(member["name"]),
        issuer=ctx.issuer,
    )


@admin.post("/members/<member_id>/credentials/issue")
@requires("educator")
def issue_credential(member_id: str) -> Any:
    member_in_scope(member_id)  # another site's member is no member (docs/network.md)
    ctx = _required()
    kind = request.form.get("kind", "")
    try:
        row = issue.issue(ctx, member_id, kind, by=_username(), now=_now())
    except NotFound:
        abort(404)
    except CredentialError as e:
        flash(_error_text(e), "error")
        return _back(member_id)
    flash(t("c.cred.issued", name=openbadge.achievement_name(ctx.words, kind, row["level"])), "ok")
    return _back(member_id)


@admin.post("/credentials/<path:credential_id>/revoke")
@requires("educator")
def revoke_credential(credential_id: str) -> Any:
    ctx = _required()
    row = ctx.store.credential(credential_id)
    if row is None:
        abort(404)
    member_in_scope(row["member_id"])
    issue.revoke(
        ctx, credential_id, by=_username(), now=_now(), reason=request.form.get("reason", "")[:200]
    )
    flash(t("c.cred.revoked_done"), "ok")
    return _back(row["member_id"])


@admin.get("/credentials/<path:credential_id>.<any(png, svg, jwt):fmt>")
@requires("educator")
def download_for_educator(credential_id: str, fmt: str) -> Any:
    return _download(credential_id, fmt, None)


@public.get("/progress/<token>/credentials/<path:credential_id>.<any(png, svg, jwt):fmt>")
def download_own(token: str, credential_id: str, fmt: str) -> Any:
    """The trainee downloads theirs by the personal link (nobody else's)."""
    try:
        member_id, _ = member_of_link(token)
    except LinkProblem as e:
        return link_page(e.key, e.status)
    return _download(credential_id, fmt, member_id)


def _download(credential_id: str, fmt: str, member_id: str | None) -> Any:
    ctx = _required()
    try:
        row = issue.downloadable(ctx, credential_id)
    except CredentialError as e:
        if e.code == "unknown_credential":
            abort(404)
        return render_template(
            "central_error.html", title=t("c.cred.title"), message=_error_text(e), back=None
        ), 410
    if member_id is None:
        member_in_scope(row["member_id"])  # an educator: the member's site
    elif row["member_id"] != member_id:
        abort(404)
    if fmt == "png":
        body: bytes = issue.badge_png(ctx, row)
    elif fmt == "svg":
        body = issue.badge_svg(ctx, row)
    else:
        body = row["token"].encode()
    name = f"badge-{row['kind']}-{row['level']}.{fmt}"
    return Response(
        body, mimetype=FORMATS[fmt], headers={"Content-Disposition": f"attachment; filename={name}"}
    )


def _username() -> str:
    user = current_user()
    return str(user["username"]) if user else "?"
