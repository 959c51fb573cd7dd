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
from werkzeug.middleware.proxy_fix import ProxyFix

from central.config import CentralConfig
from central.enrolment import parse_enrolment
from central.errors import BadRequest, CentralError, Conflict, NotFound, TooLarge
from central.ingest import PROTOCOL, parse_sync_request
from central.store import CentralStore
from web.central import credentials, pages, privacy, programme, quiz, reports, site_induction
from web.central.openapi import spec
from web.common import errors, hosts, limits
from web.common.metrics import init_central_metrics

log = logging.getLogger(__name__)


def create_central_app(store: CentralStore, config: CentralConfig) -> Flask:
    """Build the app around a store: the sync API, then the pages (dashboard, admin, reports)."""
    app = Flask(__name__)
    app.extensions["central_store"] = store
    app.extensions["central_config"] = config
    _guard_host_and_tls(app, config)
    limits.init_app(
        app,
        config.server.max_request_kb * 1024,
        lambda: (
            f"the request is larger than {config.server.max_request_kb} KiB: "
            "send fewer events per request"
        ),
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    init_central_metrics(app, config.server.metrics_from)

    errors.init_app(
        app,
        storage_failure=lambda e: isinstance(e, (*store.database_errors, CentralError, OSError)),
        storage_failed=lambda e: (
            f"the central store cannot use its database ({e}): try again "
            "in a minute; an admin checks the disk and the server's log (journalctl -u "
            "fabrique-central)"
        ),
        unexpected="the central store hit an unexpected error: try again; if it persists, an "
        "admin reads the server's log (journalctl -u fabrique-central)",
        extra={"field": None},
    )

    @app.errorhandler(BadRequest)
    def bad_request(e: BadRequest) -> tuple[Response, int]:
        return jsonify(error=str(e), field=e.field, **_code(e)), 413 if isinstance(
            e, TooLarge
        ) else 400

    @app.errorhandler(Conflict)
    def conflict(e: Conflict) -> tuple[Response, int]:
        return jsonify(error=str(e), field=None, **_code(e)), 409

    @app.errorhandler(NotFound)
    def not_found(e: NotFound) -> tuple[Response, int]:
        return jsonify(error=str(e), field=None, **_code(e)), 404

    @app.get("/api/v1/health")
    def health() -> Response:
        return jsonify(ok=True, protocol=PROTOCOL)

    @app.post("/api/v1/sync")
    def sync() -> tuple[Response, int] | Response:
        station_id = _station_from_token(store)
        if station_id is None:
            return _unauthorized()
        body = _json_body()
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
            roster=store.roster_changes(req.roster_version, station_id),
            commands=store.pending_commands(station_id),
            sync_interval_s=config.sync.station_interval_s,
        )

    @app.post("/api/v1/enrol")
    def enrol() -> tuple[Response, int]:
        """A technician at a station gives an unknown badge to a member: scope-checked (a badge
        no one holds, trainees only created), recorded with the station and who, and sent to
        every station with the next roster sync."""
        station_id = _station_from_token(store)
        if station_id is None:
            return _unauthorized()
        enrolment = parse_enrolment(_json_body())
        result = store.enrol_from_station(
            station_id,
            enrolment.uid,
            enrolment.by,
            member_id=enrolment.member_id,
            new_name=enrolment.new_name,
        )
        return jsonify(protocol=PROTOCOL, **result), 201

    @app.get("/api/v1/openapi.json")
    def openapi() -> Response:
        return jsonify(spec(app))

    # The pages, each its own blueprint; pages first (login, CSRF, language, sessions).
    for module in (pages, reports, programme, privacy, credentials, quiz, site_induction):
        module.init_app(app)
    app.jinja_env.globals["url_rules"] = {r.endpoint for r in app.url_map.iter_rules()}
    return app


def _unauthorized() -> tuple[Response, int]:
    response = jsonify(
        error="missing, unknown or revoked token: send Authorization: Bearer <token> "
        "as printed by `station-central station add`",
        field="Authorization",
    )
    response.headers["WWW-Authenticate"] = 'Bearer realm="fabrique-central"'
    return response, 401


def _json_body() -> Any:
    """The sync body, parsed strictly (no NaN, no deep nesting): a 400 that says why."""
    if not request.is_json:
        raise BadRequest(
            "the body must be a JSON object sent with Content-Type: application/json", "body"
        )
    try:
        return limits.strict_loads(request.get_data(cache=True))
    except ValueError as e:
        raise BadRequest(f"the body is not valid JSON: {e}", "body") from None


UNLISTED_HOSTS_OK = ("/api/v1/",)
"""The stations' API answers to any Host: a bearer token, never a cookie, so a rebinding page
gains nothing, and a station configured with the server's address keeps syncing."""


def allowed_hosts(config: CentralConfig) -> list[str]:
    """localhost, the listening address unless it is every address, and the configured names."""
    return hosts.allowed_hosts(config.server.host, config.server.allowed_hosts)


SERVER_OPTIONS: dict[str, Any] = {"clear_untrusted_proxy_headers": False}
"""waitress options of the central store: the app, not waitress, decides which proxy headers to
trust (:class:`LocalProxyFix`). waitress 3 would drop ``X-Forwarded-*`` before the app saw them:
behind a TLS proxy every client looked like the proxy (one client's wrong passwords locked
everyone out) and no response carried HSTS."""

LOOPBACK = frozenset({"127.0.0.1", "::1"})


class LocalProxyFix:
    """Behind a TLS proxy on this machine: ``X-Forwarded-For``/``-Proto`` are believed only from
    a loopback peer, and only their last hop (the proxy's own); from anyone else they are
    removed, so a LAN client that reaches the port directly cannot choose its address."""

    HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
               "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX", "HTTP_FORWARDED")  # fmt: skip

    def __init__(self, app: Any) -> None:
        self.app = app
        self.fixed = ProxyFix(app, x_for=1, x_proto=1)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REMOTE_ADDR") in LOOPBACK:
            return self.fixed(environ, start_response)
        for name in self.HEADERS:
            environ.pop(name, None)
        return self.app(environ, start_response)


def _guard_host_and_tls(app: Flask, config: CentralConfig) -> None:
    """The host allow-list; behind a TLS proxy, Secure cookies, HSTS and the proxy's headers."""
    trusted = allowed_hosts(config)
    if config.server.behind_tls:
        app.wsgi_app = LocalProxyFix(app.wsgi_app)  # type: ignore[method-assign]

    hosts.init_app(app, trusted, setting="[server] allowed_hosts", exempt=UNLISTED_HOSTS_OK)

    @app.after_request
    def strict_transport(response: Response) -> Response:
        if config.server.behind_tls and request.is_secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response


def _station_from_token(store: CentralStore) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return store.station_for_token(token.strip())


__all__: list[Any] = ["create_central_app"]


def _code(e: CentralError) -> dict[str, str]:
    """``code``: what went wrong as a stable word (a station's page says it in its technician's
    language); ``error`` stays the English sentence. Absent when the error has none."""
    return {"code": e.code} if e.code else {}
