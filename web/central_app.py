"""The central store's HTTP face: the sync API for stations, and the web pages for people.

``POST /api/v1/sync`` is the protocol of docs/sync.md: a station pushes a batch of events with its
bearer token and gets back the highest contiguous seq held, roster changes and pending commands.
Every bad input is a 4xx with a JSON ``{"error", "field"}`` that says what to fix, never a 500;
request bodies are bounded (413).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from central.config import CentralConfig
from central.errors import BadRequest, Conflict, NotFound, TooLarge
from central.ingest import PROTOCOL, parse_sync_request
from central.store import CentralStore

log = logging.getLogger(__name__)


def create_central_app(store: CentralStore, config: CentralConfig) -> Flask:
    """Build the app around a store; the pages (dashboard, admin, reports) register themselves."""
    app = Flask(__name__)
    app.extensions["central_store"] = store
    app.extensions["central_config"] = config
    app.config["MAX_CONTENT_LENGTH"] = config.server.max_request_kb * 1024
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> tuple[Response, int]:
        code = e.code or 500
        messages = {
            413: f"the request is larger than {config.server.max_request_kb} KiB: "
            "send fewer events per request",
        }
        return jsonify(error=messages.get(code, e.description), field=None), code

    @app.errorhandler(BadRequest)
    def bad_request(e: BadRequest) -> tuple[Response, int]:
        return jsonify(error=str(e), field=e.field), 413 if isinstance(e, TooLarge) else 400

    @app.errorhandler(Conflict)
    def conflict(e: Conflict) -> tuple[Response, int]:
        return jsonify(error=str(e), field=None), 409

    @app.errorhandler(NotFound)
    def not_found(e: NotFound) -> tuple[Response, int]:
        return jsonify(error=str(e), field=None), 404

    @app.get("/api/v1/health")
    def health() -> Response:
        return jsonify(ok=True, protocol=PROTOCOL)

    @app.post("/api/v1/sync")
    def sync() -> tuple[Response, int] | Response:
        station_id = _station_from_token(store)
        if station_id is None:
            response = jsonify(
                error="missing, unknown or revoked token: send Authorization: Bearer <token> "
                "as printed by `station-central station add`",
                field="Authorization",
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="fabrique-central"'
            return response, 401
        body = request.get_json(silent=True)
        if body is None:
            raise BadRequest(
                "the body must be a JSON object sent with Content-Type: application/json", "body"
            )
        req = parse_sync_request(body, station_id, config.sync.max_batch)
        result = store.ingest(station_id, req.events, status=req.status, backlog=req.backlog)
        g.sync_station = station_id
        return jsonify(
            protocol=PROTOCOL,
            acked_seq=result["high_water"],
            stored=result["stored"],
            duplicates=result["duplicates"],
            refused=result.get("refused", 0),
            status_error=result.get("status_error"),
            roster=store.roster_changes(req.roster_version),
            commands=store.pending_commands(station_id),
            sync_interval_s=config.sync.station_interval_s,
        )

    @app.get("/api/v1/openapi.json")
    def openapi() -> Response:
        from web.central_openapi import spec

        return jsonify(spec(app))

    _register_pages(app)
    app.jinja_env.globals["url_rules"] = {r.endpoint for r in app.url_map.iter_rules()}
    return app


def _station_from_token(store: CentralStore) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return store.station_for_token(token.strip())


def _register_pages(app: Flask) -> None:
    """The web pages, when their modules are present (each is its own blueprint)."""
    import importlib

    for name in ("web.central_pages",):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue
        module.init_app(app)


__all__: list[Any] = ["create_central_app"]
