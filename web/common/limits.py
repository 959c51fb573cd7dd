"""Bounds on what a request may cost: body size, JSON shape, and open event streams.

Installed on both apps by :func:`init_app`, before any view runs, so that a route added later
inherits them. A request over a bound gets a 4xx that says what to send instead, never a 500
or a hang:

- a body larger than ``max_bytes`` is refused with 413 before it is read;
- JSON is parsed strictly: ``NaN``, ``Infinity``, numbers too large (``1e999``, 100 digits)
  and nesting deeper than :data:`MAX_JSON_DEPTH` are a 400 (the standard parser reads the
  first three as numbers and overflows the stack on the last);
- each event stream holds a server thread: :class:`StreamLimiter` keeps a few threads free for
  the pages, so open streams cannot starve ``/api/status`` or the dashboards.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask, Response, abort, request
from flask.json.provider import DefaultJSONProvider

MAX_JSON_DEPTH = 32
"""Deeper JSON is refused: no payload of this project nests more than a few levels."""
MAX_INT_DIGITS = 100
RETRY_AFTER_S = 30


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, but parsing refuses NaN, Infinity and deep nesting with a ``ValueError``
    (Flask turns it into a 400 ``Bad Request``)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return strict_loads(s)


def strict_loads(s: str | bytes) -> Any:
    """``json.loads`` for untrusted input: a ``ValueError`` that says what is wrong."""
    try:
        value = json.loads(
            s, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_int
        )
    except RecursionError:
        raise ValueError(f"the JSON nests deeper than {MAX_JSON_DEPTH} levels") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"the JSON nests deeper than {MAX_JSON_DEPTH} levels")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows: send a finite number")


def _finite_float(text: str) -> float:
    """A JSON number: ``1e999`` is valid JSON, but Python reads it as infinity."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is too large a number: send a finite number")
    return value


def _int(text: str) -> int:
    """A JSON integer; a hundred digits is more than any field of ours holds (Python's own
    refusal, past 4,300 digits, would tell the client to call a Python function)."""
    if len(text) > MAX_INT_DIGITS:
        raise ValueError(f"a number has {len(text)} digits: send at most {MAX_INT_DIGITS}")
    return int(text)


def _depth(value: Any) -> int:
    """Nesting depth, iteratively (a recursive walk would overflow on what we refuse)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def json_object(example: str = '{"key": "value"}') -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what to send (parse errors included)."""
    if not request.is_json:
        abort(400, "send a JSON object with Content-Type: application/json")
    try:
        body = strict_loads(request.get_data(cache=True))
    except ValueError as e:  # json.JSONDecodeError is a ValueError too
        abort(400, f"the body is not valid JSON ({e}): send for example {example}")
    if not isinstance(body, dict):
        abort(400, f"send a JSON object, for example {example}")
    return body


def init_app(app: Flask, max_bytes: int, too_large: Callable[[], str]) -> None:
    """Strict JSON, and bodies over ``max_bytes`` refused with 413 before they are read."""
    app.json = StrictJSONProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = max_bytes
    app.extensions["body_limit"] = (max_bytes, too_large)

    @app.before_request
    def refuse_large_bodies() -> None:
        # MAX_CONTENT_LENGTH acts only when a view reads the body: refuse it even if none does.
        length = request.content_length
        if length is not None and length > max_bytes:
            abort(413, too_large())


class StreamLimiter:
    """At most ``max_open`` event streams at once; the next one gets 503 with Retry-After.

    ``reserve`` of them are kept for privileged clients (the station's own touchscreen): others
    cannot take the last ones, so the screen at the machine always gets its stream."""

    def __init__(self, max_open: int, reserve: int = 0) -> None:
        self.max_open = max(1, max_open)
        self.reserve = max(0, reserve)
        self._open = 0
        self._lock = threading.Lock()

    @property
    def open(self) -> int:
        with self._lock:
            return self._open

    def _acquire(self, privileged: bool) -> bool:
        limit = self.max_open if privileged else max(1, self.max_open - self.reserve)
        with self._lock:
            if self._open >= limit:
                return False
            self._open += 1
            return True

    def _release(self) -> None:
        with self._lock:
            self._open = max(0, self._open - 1)

    def response(
        self, generate: Callable[[], Iterator[str]], busy: str, *, privileged: bool = False
    ) -> Response:
        """A ``text/event-stream`` response that holds one slot until the client goes away."""
        if not self._acquire(privileged):
            resp = Response(
                json.dumps({"error": busy, "field": None}),
                status=503,
                mimetype="application/json",
            )
            resp.headers["Retry-After"] = str(RETRY_AFTER_S)
            return resp
        resp = Response(
            generate(),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        resp.call_on_close(self._release)  # the server closes it, even if never iterated
        return resp


def stream_cap(threads: int) -> int:
    """Streams allowed for ``threads`` server threads: three stay free for pages and actions."""
    return max(1, threads - 3)
