"""An OpenAPI 3.0 description of the sync API and the admin endpoints (served at
``/api/v1/openapi.json``). It documents the protocol for other implementations and drives the
fuzzer (tests/test_central_fuzz.py): whatever it sends, no request may end in a 500."""

from __future__ import annotations

from typing import Any

from flask import Flask

# The sync payloads and limits are station/protocol.py's: one owner for both sides and this.
from station.protocol import (
    COMMAND_ACTIONS,
    ENROL_REPLY_SCHEMA,
    ENROL_REQUEST_SCHEMA,
    PROTOCOL,
    STATUS_SCHEMA,
    SYNC_REPLY_SCHEMA,
    SYNC_REQUEST_SCHEMA,
)

ERROR = {
    "description": "What to fix",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "error": {"type": "string"},
                    "field": {"type": "string", "nullable": True},
                },
                "required": ["error"],
            }
        }
    },
}


def _form(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": properties, "required": required}
            }
        },
    }


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


PAGE = {
    "200": {"description": "A page or a file"},
    "302": {"description": "Done; back to the page (with a message)"},
    "400": ERROR,
    "401": ERROR,
    "403": ERROR,
    "404": ERROR,
}
ADMIN: list[dict[str, list[str]]] = [{"session": []}]


def spec(app: Flask | None = None) -> dict[str, Any]:
    s = {"type": "string"}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Fabrique central store", "version": str(PROTOCOL)},
        "components": {
            "securitySchemes": {
                "station": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "central_session"},
            },
            "schemas": {"Status": STATUS_SCHEMA},
        },
        "paths": {
            "/api/v1/health": {
                "get": {"responses": {"200": {"description": "Alive"}}, "security": []}
            },
            "/api/v1/sync": {
                "post": {
                    "summary": "Push events, get the acknowledgement, roster changes, commands",
                    "security": [{"station": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": SYNC_REQUEST_SCHEMA}},
                    },
                    "responses": {
                        "200": {
                            "description": "Held",
                            "content": {"application/json": {"schema": SYNC_REPLY_SCHEMA}},
                        },
                        "400": ERROR,
                        "401": ERROR,
                        "409": ERROR,
                        "413": ERROR,
                    },
                }
            },
            "/api/v1/enrol": {
                "post": {
                    "summary": "A technician at a station gives an unknown badge to a member "
                    "(or a new trainee); every station gets it with its next roster sync",
                    "security": [{"station": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": ENROL_REQUEST_SCHEMA}},
                    },
                    "responses": {
                        "201": {
                            "description": "Enrolled",
                            "content": {"application/json": {"schema": ENROL_REPLY_SCHEMA}},
                        },
                        "400": ERROR,
                        "401": ERROR,
                        "404": ERROR,
                        "409": ERROR,
                        "413": ERROR,
                    },
                }
            },
            "/admin/": {
                "get": {
                    "security": ADMIN,
                    "parameters": [{"name": "q", "in": "query", "schema": s}],
                    "responses": PAGE,
                }
            },
            "/admin/members": {
                "post": {
                    "security": ADMIN,
                    "requestBody": _form(
                        {"id": s, "name": s, "role": s, "active": s}, ["id", "name", "role"]
                    ),
                    "responses": PAGE,
                }
            },
            "/admin/members/{member_id}": {
                "get": {
                    "security": ADMIN,
                    "parameters": [_path_param("member_id")],
                    "responses": PAGE,
                }
            },
            "/admin/members/{member_id}/badges": {
                "post": {
                    "security": ADMIN,
                    "parameters": [_path_param("member_id")],
                    "requestBody": _form({"uid": s}, ["uid"]),
                    "responses": PAGE,
                }
            },
            "/admin/members/{member_id}/qualifications": {
                "post": {
                    "security": ADMIN,
                    "parameters": [_path_param("member_id")],
                    "requestBody": _form({"kind": s, "level": s}, ["kind", "level"]),
                    "responses": PAGE,
                }
            },
            "/admin/members/{member_id}/export.json": {
                "get": {
                    "security": ADMIN,
                    "parameters": [_path_param("member_id")],
                    "responses": PAGE,
                }
            },
            "/admin/badges/{uid}/revoke": {
                "post": {
                    "security": ADMIN,
                    "parameters": [_path_param("uid")],
                    "requestBody": _form({"next": s}, []),
                    "responses": PAGE,
                }
            },
            "/admin/stations": {
                "post": {
                    "security": ADMIN,
                    "requestBody": _form({"id": s, "name": s, "machine": s, "kind": s}, ["id"]),
                    "responses": PAGE,
                }
            },
            "/admin/users": {
                "post": {
                    "security": ADMIN,
                    "requestBody": _form(
                        {"username": s, "password": s, "role": s, "replace": s},
                        ["username", "password", "role"],
                    ),
                    "responses": PAGE,
                }
            },
            "/dash/": {"get": {"security": ADMIN, "responses": PAGE}},
            "/dash/fleet.json": {"get": {"security": ADMIN, "responses": PAGE}},
            "/dash/stations/{station_id}/commands": {
                "post": {
                    "security": ADMIN,
                    "parameters": [_path_param("station_id")],
                    "requestBody": _form(
                        {
                            "action": {"type": "string", "enum": [*COMMAND_ACTIONS, "x"]},
                            "reason": s,
                            "uid": s,
                        },
                        ["action"],
                    ),
                    "responses": PAGE,
                }
            },
            "/reports/{name}": {
                "get": {
                    "security": ADMIN,
                    "parameters": [
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "enum": ["hours", "mentors", "machines"]},
                        },
                        {"name": "since", "in": "query", "schema": s},
                        {"name": "until", "in": "query", "schema": s},
                        {"name": "kind", "in": "query", "schema": s},
                        {"name": "period", "in": "query", "schema": s},
                        {"name": "format", "in": "query", "schema": s},
                    ],
                    "responses": PAGE,
                }
            },
        },
    }
