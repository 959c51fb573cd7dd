"""The controller's status projection: what the kiosk, the pages and ``/api/status`` show.

One concern: turning the controller's state (machine state, session, sensors, sync) into a
JSON-able snapshot, published on every change and refreshed for times that move.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from station import __version__
from station.clock import Now, SimulatedClock, iso
from station.machine import Session, State, idle_off_mono
from station.roster_age import AGE_UNKNOWN

if TYPE_CHECKING:
    from station.controller import Controller


def publish(ctl: Controller) -> None:
    """Project the controller's state once, after each change, and tell every open page."""
    s = ctl.state
    status = {
        "station": {
            "id": ctl.config.station.id,
            "name": ctl.config.display_name,
            "version": __version__,
            "language": ctl.config.station.language,
            "timezone": ctl.config.station.timezone,
            "backend": ctl.config.hardware.backend,
            "simulated_clock": isinstance(ctl.clock, SimulatedClock),
        },
        "machine": {
            "id": ctl.config.machine.id,
            "name": ctl.config.machine.name,
            "kind": ctl.config.machine.kind,
            "state": s.machine.value,
            "reason": s.reason,
            "relay_on": s.machine.relay_on,
        },
        "session": session_status(ctl, s),
        "waiting": (
            {
                "member_name": s.waiting.member_name,
                "expires_at": iso(ctl.clock.now().at_mono(s.waiting.expires_mono)),
            }
            if s.waiting
            else None
        ),
        "grant": (
            {
                "step": s.grant.taps,
                "expires_at": iso(ctl.clock.now().at_mono(s.grant.expires_mono)),
            }
            if s.grant
            else None
        ),
        "checklist": (
            {
                "items": list(ctl.config.machine.checklist),
                "member_id": s.pending.member_id,
                "member_name": ctl.first_name(s.pending.member_id),
                "expires_at": iso(ctl.clock.now().at_mono(s.pending.expires_mono)),
            }
            if s.pending
            else None
        ),
        "check_requested": s.check_requested,
        "finishing": (
            {
                "session_id": s.finishing.session_id,
                "member_name": s.finishing.member_name,
                "since": iso(ctl.clock.now().at_mono(s.finishing.started_mono)),
            }
            if s.finishing
            else None
        ),
        "power": power_json(ctl, s) if ctl.metering is not None else None,
        "air": (
            {
                "pm25": s.air[1] if s.air else None,
                "alarm": s.air_alarm,
                "threshold": ctl.config.machine.pm25_alarm or None,
            }
            if ctl.hardware.air_sensor is not None
            else None
        ),
        "last_decision": ctl._last_decision,
        "last_unknown_uid": ctl._last_unknown_uid,
        "roster_version": ctl.roster_version,
    }
    ctl._status = status
    ctl.broadcaster.publish({"kind": "status", "status": snapshot(ctl)})


def session_status(ctl: Controller, s: State) -> dict[str, Any] | None:
    """The session for the kiosk, with when it stops for want of work (None: not idle)."""
    if s.session is None:
        return None
    now = ctl.clock.now()
    idle_off = idle_off_mono(s, ctl._context())
    return {
        **session_json(s.session, now),
        "idle_off_at": None if idle_off is None else iso(now.at_mono(idle_off)),
    }


def power_json(ctl: Controller, s: State) -> dict[str, Any]:
    """The last power reading, or None once it is stale (a silent meter is not zero watts)."""
    now = ctl.clock.now().mono
    assert ctl.metering is not None
    fresh = s.power is not None and now - s.power[0] <= ctl.metering.stale_after_s
    return {
        "watts": s.power[1] if s.power and fresh else None,
        "busy": bool(fresh and s.power and s.power[1] > ctl.config.machine.busy_watts),
        "busy_watts": ctl.config.machine.busy_watts,
    }


def sync_json(ctl: Controller, now: Now) -> dict[str, Any]:
    """The sync status with what is true now: every event above the acknowledged seq is
    waiting (online or not), and how long ago the last successful sync was."""
    sync = dict(ctl._sync)
    if not sync.get("enabled"):
        return sync
    sync["backlog"] = max(0, ctl._last_seq - ctl._acked_seq)
    sync["acked_seq"] = ctl._acked_seq
    since: float | None = None
    mono = sync.pop("last_success_mono", None)
    last = sync.get("last_success_at")
    if isinstance(mono, int | float) and sync.get("boot_id") == ctl.clock.boot_id:
        since = now.mono - mono
    elif isinstance(last, str) and now.synced:
        try:
            since = (now.at - datetime.fromisoformat(last)).total_seconds()
        except ValueError:
            since = None
    sync.pop("boot_id", None)
    sync["seconds_since_success"] = None if since is None else round(max(0.0, since), 1)
    return sync


def snapshot(ctl: Controller) -> dict[str, Any]:
    """A fresh JSON-able snapshot; times that move (elapsed, remaining) computed now."""
    status = dict(ctl._status)
    now = ctl.clock.now()
    session = status.get("session")
    if session:
        started = datetime.fromisoformat(session["started_at"])
        ends = datetime.fromisoformat(session["ends_at"])
        session = dict(session)
        session["elapsed_s"] = round((now.at - started).total_seconds(), 1)
        session["remaining_s"] = round(max(0.0, (ends - now.at).total_seconds()), 1)
        status["session"] = session
    status["now"] = now.iso()
    status["health"] = ctl.health()
    status["sync"] = sync_json(ctl, now)
    exp = ctl._roster.expires_mono
    status["roster_expired"] = exp is not None and now.mono >= exp
    status["roster_age_unknown"] = exp == AGE_UNKNOWN
    return status


def session_json(s: Session, now: Now) -> dict[str, Any]:
    """The session's fixed fields for the kiosk; energy metered up to ``now``."""
    energy = None
    if s.meter is not None:
        energy = round(s.meter.totals(now.mono).energy_wh, 3)
    return {
        "energy_wh": energy,
        "id": s.id,
        "member_id": s.member_id,
        "member_name": s.member_name,
        "supervisor_id": s.supervisor_id,
        "supervisor_name": s.supervisor_name,
        "started_at": s.started_at,
        "ends_at": iso(now.at_mono(s.ends_mono)),
        "warned": s.warned,
        "idle_warned": s.idle_warned,
        "extensions": s.extensions,
    }
