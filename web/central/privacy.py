"""A member's data: export as JSON (right of access) and erasure (educators; events kept,
pseudonymised). The erase form asks to type the member's id, so a slip of the mouse erases
nothing."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Flask, Response, abort, flash, redirect, request, url_for

from central.errors import NotFound
from central.privacy import erase_member, export_member
from web.central.pages import member_in_scope, requires, store, t, tn

bp = Blueprint("central_privacy", __name__, url_prefix="/admin/members")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.get("/<member_id>/export.json")
@requires("educator")
def export(member_id: str) -> Response:
    member_in_scope(member_id)
    try:
        data = export_member(store(), member_id)
    except NotFound as e:
        abort(404, str(e))
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        mimetype="application/json",
        headers={"Content-Disposition": f"attachment; filename={member_id}.json"},
    )


@bp.post("/<member_id>/erase")
@requires("educator")
def erase(member_id: str) -> Any:
    member_in_scope(member_id)
    if request.form.get("confirm", "").strip() != member_id:
        flash(t("c.member.erase.typo", id=member_id), "error")
        return redirect(url_for("central_admin.member", member_id=member_id))
    try:
        result = erase_member(store(), member_id)
    except NotFound as e:
        abort(404, str(e))
    flash(
        tn(
            "c.member.erased_flash",
            result["events"],
            id=member_id,
            events=result["events"],
            anon=result["pseudonym"],
        ),
        "ok",
    )
    return redirect(url_for("central_admin.members"))
