"""Errors as JSON, never a traceback: one set of handlers for both apps.

An HTTP error keeps its status and says what to do in ``error`` (a body over the size limit gets
the app's own sentence, web/common/limits.py). Anything unexpected is logged: a storage failure
(a full disk, a corrupt database) is a 503 with the app's sentence about it, anything else a 500
that says where the log is. The central app adds ``"field": null`` to every error body, as its
API documents (docs/api.md, docs/sync.md), and its own handlers for its domain errors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def init_app(
    app: Flask,
    *,
    storage_failure: Callable[[BaseException], bool],
    storage_failed: Callable[[BaseException], str],
    unexpected: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """``storage_failure`` tells a storage error, ``storage_failed`` says it in a sentence;
    ``unexpected`` is the 500's sentence; ``extra`` goes into every error body."""
    fields = dict(extra or {})

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> tuple[Response, int]:
        code = e.code or 500
        message = e.description
        body_limit = current_app.extensions.get("body_limit")
        if code == 413 and body_limit is not None:
            message = body_limit[1]()
        return jsonify(error=message, **fields), code

    @app.errorhandler(Exception)
    def unexpected_error(e: Exception) -> tuple[Response, int]:
        """Never a traceback: a sentence that says what happened and what to do."""
        if storage_failure(e):
            log.error("storage failure serving %s: %r", request.path, e)
            return jsonify(error=storage_failed(e), **fields), 503
        log.exception("unexpected error serving %s", request.path)
        return jsonify(error=unexpected, **fields), 500
