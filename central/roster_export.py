"""The central roster as the stations' CSV: ``station-central roster export`` and the admin
page's download (``/admin/roster/export.csv``) give the same file."""

from __future__ import annotations

from central.store import CentralStore
from station.model import Badge, Level, Member, Qualification, Role
from station.roster import roster_to_csv


def roster_csv(store: CentralStore, site: str | None = None) -> str:
    """The active roster in the stations' CSV format (full names: this is the master); of one
    site's members, or (None) of the network's."""
    rows = store.roster_rows()
    members = [
        Member(r["id"], r["name"], Role(r["role"]), True)
        for r in rows["members"]
        if r["active"] and (site is None or r["site_id"] == site)
    ]
    active = {m.id for m in members}
    badges = [
        Badge(r["uid"], r["member_id"], True)
        for r in rows["badges"]
        if r["active"] and r["member_id"] in active
    ]
    quals = [
        Qualification(r["member_id"], r["kind"], Level(r["level"]))
        for r in rows["qualifications"]
        if r["level"] != "none" and r["member_id"] in active
    ]
    return roster_to_csv(members, badges, quals)
