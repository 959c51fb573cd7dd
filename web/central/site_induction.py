"""A site's own induction, recorded by its educators on the member's page (issue 13): the
stations of that site then admit the member on the kind (the roster carries it). A site's
educator records their own site's induction for their own site's members only; a network account
picks the site."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, request, url_for

from central.errors import NotFound
from web.central.pages import current_user, member_in_scope, requires, store, t, viewer_site

bp = Blueprint("central_site_induction", __name__, url_prefix="/admin/members")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["site_induction_rows"] = site_induction_rows


def _sites_in_view() -> list[str]:
    own = viewer_site()
    return [own] if own is not None else [str(s["id"]) for s in store().sites()]


def site_induction_rows(member_id: str) -> list[dict[str, Any]]:
    """For the member's page: each kind a site in view asks its own induction for, and whether
    the member had it there."""
    rows = []
    for site in _sites_in_view():
        ind = store().site_inductions(site)
        had = {kind for mid, kind in ind["inducted"] if mid == member_id}
        rows += [{"site": site, "kind": k, "had": k in had} for k in ind["induction_required"]]
    return rows


@bp.post("/<member_id>/site-induction")
@requires("educator")
def record(member_id: str) -> Any:
    member_in_scope(member_id)  # another site's member is no member (docs/network.md)
    kind = request.form.get("kind", "").strip()
    site = viewer_site() or request.form.get("site", "").strip()
    if site not in _sites_in_view():
        abort(404, f"no site {site}")
    if kind not in store().site_inductions(site)["induction_required"]:
        flash(t("c.site_induction.not_asked", kind=kind or "?"), "error")
    else:
        try:
            store().record_site_induction(
                member_id,
                site,
                kind,
                current_user()["username"],  # type: ignore[index]
            )
        except NotFound as e:
            abort(404, str(e))
        flash(t("c.site_induction.recorded", kind=kind), "ok")
    return redirect(url_for("central_admin.member", member_id=member_id))
