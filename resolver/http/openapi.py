"""The OpenAPI 3.0 description of the HTTP front end, served at ``/api/openapi.json``.

It documents every endpoint of :mod:`resolver.http.api` and
:mod:`resolver.http.pages` with the statuses and JSON bodies they really
answer, precisely enough for schemathesis to check responses against it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

_REF = "#/components/schemas/"
_JSON = "application/json"
_HTML = "text/html"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": _ref(schema)}}}


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {_HTML: {"schema": {"type": "string"}}}}


def _empty(description: str) -> dict[str, Any]:
    return {"description": description}


_HANDLE_PATH = {
    "name": "handle", "in": "path", "required": True,
    "description": "The handle, PREFIX/SUFFIX (a slash may be given as is or as %2F).",
    "schema": {"type": "string"},
}
_INDEX = {
    "name": "index", "in": "query", "required": False, "style": "form", "explode": True,
    "description": "Value indexes to select (repeatable).",
    "schema": {"type": "array", "items": {"type": "integer", "format": "int32"}},
}
_TYPE = {
    "name": "type", "in": "query", "required": False, "style": "form", "explode": True,
    "description": "Value types to select (repeatable; URL also selects URL.x).",
    "schema": {"type": "array", "items": {"type": "string"}},
}


def _flag(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name, "in": "query", "required": False, "description": description,
        "schema": {"type": "string", "enum": ["true", "false"]},
    }


_ERRORS = {
    "400": _json("Error", "Malformed request, invalid handle, or values not found (writes)."),
    "401": _json("Error", "Authentication needed or failed (responseCode 402 or 403)."),
    "403": _json("Error", "Insufficient permissions, or credentials sent without TLS."),
}
_SECURITY: list[dict[str, list[str]]] = [{}, {"basicAuth": []}, {"handleAuth": []}]

_VALUE_DATA = {
    "type": "object",
    "required": ["format", "value"],
    "properties": {
        "format": {
            "type": "string",
            "enum": ["string", "base64", "hex", "admin", "vlist", "site", "key"],
        },
        "value": {},
    },
}

_SCHEMAS: dict[str, Any] = {
    "HandleValue": {
        "type": "object",
        "required": ["index", "type", "data"],
        "properties": {
            "index": {"type": "integer"},
            "type": {"type": "string"},
            "data": _ref("ValueData"),
            "permissions": {"type": "string", "pattern": "^[01]{4}$"},
            "ttl": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
            "timestamp": {"type": "string"},
            "references": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["handle", "index"],
                    "properties": {"handle": {"type": "string"}, "index": {"type": "integer"}},
                },
            },
        },
    },
    "ValueData": _VALUE_DATA,
    "InputValue": {
        "type": "object",
        "required": ["index", "type", "data"],
        "description": "A value to write; data may also be a bare string.",
        "properties": {
            "index": {"type": "integer", "minimum": 1, "maximum": 2147483647},
            "type": {"type": "string", "minLength": 1, "maxLength": 64},
            "data": {"oneOf": [{"type": "string"}, _ref("ValueData")]},
            "ttl": {"type": "integer", "minimum": 0, "maximum": 2147483647},
        },
    },
    "HandleRecordInput": {
        "type": "object",
        "required": ["values"],
        "properties": {
            "handle": {"type": "string"},
            "values": {"type": "array", "items": _ref("InputValue"), "maxItems": 32},
        },
    },
    "Resolution": {
        "type": "object",
        "required": ["responseCode", "handle"],
        "properties": {
            "responseCode": {"type": "integer"},
            "handle": {"type": "string"},
            "values": {"type": "array", "items": _ref("HandleValue")},
            "verification": _ref("Verification"),
        },
    },
    "Verification": {
        "type": "object",
        "description": "The record's signatures checked up to the node's trust anchor "
        "(with verify=true).",
        "required": ["status", "reason", "failedValues", "chain"],
        "properties": {
            "status": {
                "type": "string",
                "enum": ["valid", "invalid", "unsigned", "expired", "revoked", "untrusted"],
            },
            "reason": {"type": "string"},
            "failedValues": {"type": "array", "items": {"type": "integer"}},
            "signer": {"type": "string", "description": "index:handle of the deciding signer"},
            "chain": {
                "type": "array",
                "description": "The deciding signature, then each certificate up the chain.",
                "items": {
                    "type": "object",
                    "required": ["handle", "index", "status", "issuer"],
                    "properties": {
                        "handle": {"type": "string"},
                        "index": {"type": "integer"},
                        "status": {"type": "string"},
                        "issuer": {"type": "string"},
                        "detail": {"type": "string"},
                    },
                },
            },
        },
    },
    "Written": {
        "type": "object",
        "required": ["responseCode", "handle"],
        "properties": {
            "responseCode": {"type": "integer", "enum": [1]},
            "handle": {"type": "string"},
        },
    },
    "HandleList": {
        "type": "object",
        "required": ["responseCode", "prefix", "totalCount", "handles"],
        "properties": {
            "responseCode": {"type": "integer", "enum": [1]},
            "prefix": {"type": "string"},
            "totalCount": {"type": "string", "pattern": "^[0-9]+$"},
            "page": {"type": "integer"},
            "pageSize": {"type": "integer"},
            "handles": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Error": {
        "type": "object",
        "required": ["responseCode"],
        "properties": {
            "responseCode": {"type": "integer"},
            "message": {"type": "string"},
            "handle": {"type": "string"},
        },
    },
    "TraceNode": {
        "type": "object",
        "required": ["handle"],
        "description": "A node of a parts or where-used tree (see resolver.core.trace).",
        "properties": {
            "handle": {"type": "string"},
            "relation": {"type": "string", "enum": ["component", "batch"]},
            "source": {"type": "string", "description": "local, or HOST:PORT that answered"},
            "signature": {"type": "string", "enum": [
                "valid", "invalid", "unsigned", "expired", "revoked", "untrusted", "unchecked"]},
            "template": {"type": "string"},
            "stale": {"type": "boolean"},
            "error": {"type": "string", "enum": ["cycle", "unreachable", "limit"]},
            "responseCode": {"type": "integer"},
            "message": {"type": "string"},
            "repeated": {"type": "boolean"},
            "more": {"type": "integer"},
            "children": {"type": "array", "items": _ref("TraceNode")},
            "usedIn": {"type": "array", "items": _ref("TraceNode")},
        },
    },
    "TraceEvent": {
        "type": "object",
        "required": ["index"],
        "properties": {
            "index": {"type": "integer"},
            "kind": {"type": "string"},
            "time": {"type": "string"},
            "actor": {"type": "string"},
            "place": {"type": "string"},
            "note": {"type": "string"},
            "error": {"type": "string"},
        },
    },
    "Trace": {
        "type": "object",
        "required": ["responseCode", "handle", "direction", "depth", "node", "nodes",
                     "truncated"],
        "properties": {
            "responseCode": {"type": "integer"},
            "handle": {"type": "string"},
            "direction": {"type": "string", "enum": ["down", "up", "events", "all"]},
            "depth": {"type": "integer"},
            "node": _ref("TraceNode"),
            "down": _ref("TraceNode"),
            "up": _ref("TraceNode"),
            "events": {"type": "array", "items": _ref("TraceEvent")},
            "nodes": {"type": "integer"},
            "truncated": {"type": "boolean"},
        },
    },
    "Session": {
        "type": "object",
        "properties": {
            "sessionId": {"type": "string"},
            "nonce": {"type": "string", "format": "byte"},
            "authenticated": {"type": "boolean"},
            "id": {"type": "string"},
            "error": {"type": "string"},
        },
    },
}


def _handles_paths() -> dict[str, Any]:
    handle_ops = {
        "parameters": [_HANDLE_PATH],
        "get": {
            "operationId": "resolveHandle",
            "summary": "Resolve a handle",
            "parameters": [
                _TYPE, _INDEX,
                _flag("auth", "Ask the authoritative source (accepted; always true here)."),
                _flag("publicOnly", "Only public values, even for an authenticated caller."),
                _flag("doNotRefer", "Do not follow referrals to other services."),
                _flag("verify", "Check the record's signatures up to the trust anchor and "
                      "add a verification member (responseCode 1 only)."),
            ],
            "security": _SECURITY,
            "responses": {
                "200": _json("Resolution", "Values (responseCode 1), or none (200)."),
                "300": _json("Resolution", "Referral (302/303): values name the service."),
                **_ERRORS,
                "404": _json("Error", "Handle not found (responseCode 100)."),
            },
        },
        "put": {
            "operationId": "putHandle",
            "summary": "Create or replace a handle; with index, add or modify values",
            "parameters": [
                {**_INDEX, "schema": {"type": "array", "items": {"type": "string",
                                                                 "pattern": "^([0-9]+|various)$"}}},
                _flag("overwrite", "Replace an existing handle or value (default true)."),
                _flag("mintNewSuffix", "Append a fresh UUID to the handle name."),
            ],
            "security": _SECURITY,
            "requestBody": {
                "required": True,
                "content": {_JSON: {"schema": {"oneOf": [
                    _ref("HandleRecordInput"),
                    {"type": "array", "items": _ref("InputValue"), "maxItems": 32},
                    _ref("InputValue"),
                ]}}},
            },
            "responses": {
                "200": _json("Written", "An existing handle or value was overwritten."),
                "201": _json("Written", "Created."),
                **_ERRORS,
                "404": _json("Error", "Handle not found (adding values)."),
                "409": _json("Error", "Handle (101) or value (201) already exists."),
            },
        },
        "delete": {
            "operationId": "deleteHandle",
            "summary": "Delete a handle, or the values at the given indexes",
            "parameters": [_INDEX],
            "security": _SECURITY,
            "responses": {
                "200": _json("Written", "Deleted."),
                **_ERRORS,
                "404": _json("Error", "Handle not found (responseCode 100)."),
            },
        },
    }
    listing = {
        "get": {
            "operationId": "listHandles",
            "summary": "List the handles under a prefix (needs list-handles permission)",
            "parameters": [
                {"name": "prefix", "in": "query", "required": False,
                 "schema": {"type": "string"}},
                {"name": "page", "in": "query", "required": False,
                 "schema": {"type": "integer", "format": "int32"}},
                {"name": "pageSize", "in": "query", "required": False,
                 "schema": {"type": "integer", "format": "int32"}},
            ],
            "security": _SECURITY,
            "responses": {"200": _json("HandleList", "The handles."), **_ERRORS},
        },
    }
    return {"/api/handles": listing, "/api/handles/{handle}": handle_ops}


def _sessions_paths() -> dict[str, Any]:
    this = {"name": "which", "in": "path", "required": True,
            "schema": {"type": "string", "enum": ["this"]}}
    state = {
        "security": [{}, {"handleAuth": []}],
        "responses": {
            "200": _json("Session", "The session and who it authenticated."),
            "401": _json("Session", "The signature did not prove the identity."),
            "403": _empty("No such session, or no TLS."),
        },
    }
    return {
        "/api/sessions": {
            "post": {
                "operationId": "createSession",
                "summary": "Start a session: its id and the nonce to sign",
                "security": [{}, {"basicAuth": []}],
                "responses": {
                    "201": _json("Session", "Created; Location is /api/sessions/this."),
                    "400": _empty("The request named a session already."),
                    "403": _empty("Sessions need TLS."),
                },
            },
        },
        "/api/sessions/{which}": {
            "parameters": [this],
            "get": {"operationId": "getSession", "summary": "The session", **state},
            "put": {"operationId": "authenticateSession",
                    "summary": "Authenticate the session with a signature", **state},
            "delete": {
                "operationId": "deleteSession",
                "summary": "End the session",
                "security": [{}, {"handleAuth": []}],
                "responses": {"204": _empty("Ended."), "403": _empty("No such session.")},
            },
        },
    }


def _trace_paths() -> dict[str, Any]:
    params = [
        _HANDLE_PATH,
        {"name": "direction", "in": "query", "required": False,
         "description": "down: parts tree; up: where-used; events; all (default).",
         "schema": {"type": "string", "enum": ["down", "up", "events", "all"]}},
        {"name": "depth", "in": "query", "required": False,
         "description": "Levels to follow (default 5, at most 20).",
         "schema": {"type": "integer", "minimum": 0, "maximum": 20}},
    ]
    return {
        "/api/trace/{handle}": {"get": {
            "operationId": "trace",
            "summary": "Traceability: parts tree, where-used and lifecycle events in one call",
            "parameters": params,
            "responses": {
                "200": _json("Trace", "The answer; problems with parts are inside it."),
                "400": _json("Error", "Bad direction or depth, or an invalid handle."),
                "401": _ERRORS["401"],
                "404": _json("Error", "The handle is not found (not for direction=up)."),
                "502": _json("Error", "The handle's server did not answer."),
            },
            "security": _SECURITY,
        }},
        "/trace/{handle}": {"get": {
            "operationId": "tracePage",
            "summary": "The trace of a handle as a page: parts, where-used, events",
            "parameters": params,
            "responses": {
                "200": _html("The trace page."),
                "400": _html("Bad request or invalid handle."),
                "401": _ERRORS["401"],
                "404": _html("Handle not found."),
                "502": _html("The handle's server did not answer."),
            },
            "security": _SECURITY,
        }},
    }


def _cert_request_paths() -> dict[str, Any]:
    answer = {"type": "object", "required": ["responseCode", "request"],
              "properties": {"responseCode": {"type": "integer"},
                             "request": {"type": "object"}}}
    queued = {"description": "The queued request: id, subject, enterprise, key thumbprint, "
              "state, decision, and the certificate (handle, index, expiry) once approved.",
              "content": {_JSON: {"schema": answer}}}
    return {
        "/api/cert-requests": {"post": {
            "operationId": "submitCertRequest",
            "summary": "Queue a certificate request (the JWS of 'idnode cert request') for review",
            "security": _SECURITY,
            "requestBody": {"required": True, "content": {
                "text/plain": {"schema": {"type": "string", "maxLength": 65536}}}},
            "responses": {"201": queued, **_ERRORS},
        }},
        "/api/cert-requests/{id}": {"get": {
            "operationId": "getCertRequest",
            "summary": "A queued request and its decision (admins of its subject's prefix)",
            "security": _SECURITY,
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 0,
                                       "maximum": 999_999_999_999_999_999}}],
            "responses": {"200": queued, **_ERRORS,
                          "404": _json("Error", "No such request, or not the caller's.")},
        }},
    }


def _other_paths() -> dict[str, Any]:
    return {
        "/api/openapi.json": {"get": {
            "operationId": "openapi", "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3.0",
                                  "content": {_JSON: {"schema": {"type": "object"}}}}},
        }},
        "/healthz": {"get": {
            "operationId": "healthz", "summary": "Liveness",
            "responses": {"200": {"description": "Alive", "content": {_JSON: {"schema": {
                "type": "object", "required": ["status"],
                "properties": {"status": {"type": "string"}}}}}}},
        }},
        "/metrics": {"get": {
            "operationId": "metrics", "summary": "Prometheus metrics (text format 0.0.4)",
            "responses": {"200": {"description": "Metrics",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}}},
        }},
        "/": {"get": {
            "operationId": "home", "summary": "Home page with the resolve box",
            "parameters": [
                {"name": "hdl", "in": "query", "required": False, "schema": {"type": "string"}},
                {"name": "noredirect", "in": "query", "required": False,
                 "schema": {"type": "string"}},
            ],
            "responses": {"200": _html("Home page."),
                          "302": _empty("Redirect to the page of the handle in hdl.")},
        }},
        "/{handle}": {"get": {
            "operationId": "handlePage",
            "summary": "Redirect to the handle's first URL, or show its values",
            "parameters": [
                _HANDLE_PATH,
                {"name": "noredirect", "in": "query", "required": False,
                 "schema": {"type": "string"}},
            ],
            "responses": {
                "200": _html("The values page."),
                "302": _empty("Redirect to the first URL value."),
                "300": _html("A referral the node did not follow."),
                "400": _html("Invalid handle."),
                "401": _ERRORS["401"],
                "404": _html("Handle not found."),
            },
            "security": _SECURITY,
        }},
    }


@cache
def document() -> dict[str, Any]:
    """The OpenAPI document (built once)."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "idnode HTTP API",
            "version": "1.0",
            "description": (
                "Handle.net-compatible REST JSON API of an idnode secondary node, with the "
                "proxy pages. Handle values use the Handle.net REST JSON form; responseCode "
                "is the Handle protocol response code."
            ),
        },
        "paths": {**_handles_paths(), **_sessions_paths(), **_trace_paths(),
                  **_cert_request_paths(), **_other_paths()},
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "basicAuth": {
                    "type": "http", "scheme": "basic",
                    "description": "User INDEX:HANDLE (URL-encoded), password the secret key.",
                },
                "handleAuth": {
                    "type": "apiKey", "in": "header", "name": "Authorization",
                    "description": (
                        'Handle version="0", sessionId=..., id=..., type=HS_PUBKEY|HS_SECKEY, '
                        "cnonce=..., alg=..., signature=... over nonce + cnonce."
                    ),
                },
            },
        },
    }
