"""What the station shows without a login, and its event stream.

A badge UID is the only credential a trainee has when ``[reader] verify_badges`` is off (the
default): whoever reads one can copy the badge. So every unauthenticated surface (``/api/status``,
``/api/events/stream``, the kiosk page) gets the status and the events *without* any badge UID;
first names, member ids and session ids stay (docs/api.md). The technician page, behind its
login, reads the full status and has its own stream (``/tech/stream``).
"""

from __future__ import annotations

import json
import queue
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager as ContextManager
from contextlib import nullcontext
from typing import Any

from flask import Flask, Response, current_app

from station.controller import Controller
from web.common.limits import StreamLimiter, stream_cap

KEEPALIVE_S = 15.0
"""The kiosk shows « La station ne répond pas » after a few missed heartbeats (kiosk.js)."""
SECRET_KEYS = frozenset({"uid", "uids", "last_unknown_uid"})
"""Keys whose values are badge UIDs, wherever they appear."""

Projection = Callable[[dict[str, Any]], dict[str, Any]]


def without_uids(value: Any) -> Any:
    """A copy of ``value`` without badge UIDs at any depth (``uid``, ``*_uid`` keys)."""
    if isinstance(value, dict):
        return {
            k: without_uids(v)
            for k, v in value.items()
            if k not in SECRET_KEYS and not k.endswith("_uid")
        }
    if isinstance(value, list):
        return [without_uids(v) for v in value]
    return value


def public_status(controller: Controller) -> dict[str, Any]:
    status: dict[str, Any] = without_uids(controller.status())
    return status


def init_app(app: Flask, controller: Controller) -> None:
    """The stream cap: a few server threads always stay free for the pages and the kiosk's
    actions, and the last stream is the touchscreen's (no LAN client can take it)."""
    app.extensions["stream_limiter"] = StreamLimiter(
        stream_cap(controller.config.web.threads), reserve=1
    )


def event_stream(
    controller: Controller,
    project: Projection,
    still_allowed: Callable[[], ContextManager[Callable[[], bool]]] | None = None,
    *,
    privileged: bool = False,
) -> Response:
    """Server-sent events: the status now, then every status change and event, ``project``-ed.

    ``still_allowed`` (a staff stream) opens a check that runs before every message: the stream
    ends when it says no (a logout, a disabled account). A ``privileged`` stream (the
    touchscreen's) may take the reserved slot.
    """
    limiter: StreamLimiter = current_app.extensions["stream_limiter"]

    def generate() -> Iterator[str]:
        with still_allowed() if still_allowed else nullcontext(_always) as allowed:
            yield from _messages(controller, project, allowed)

    return limiter.response(
        generate,
        "too many event streams are open on this station: close a tab, or try again in a minute",
        privileged=privileged,
    )


def _always() -> bool:
    return True


def _messages(
    controller: Controller, project: Projection, allowed: Callable[[], bool]
) -> Iterator[str]:
    subscription = controller.broadcaster.subscribe()
    try:
        yield _sse("status", project(controller.status()))
        while True:
            try:
                message = subscription.get(timeout=KEEPALIVE_S)
            except queue.Empty:
                message = None
            if not allowed():
                return
            if message is None:
                yield _sse("ping", {})  # a heartbeat the kiosk watches: silence means trouble
            elif message["kind"] == "status":
                yield _sse("status", project(message["status"]))
            else:
                yield _sse("event", project(message["event"]))
    finally:
        controller.broadcaster.unsubscribe(subscription)


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
