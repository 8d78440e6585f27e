"""``POST /api/cert-requests`` of the REST API: an enterprise queues a certificate request.

=====================================  ===============================================
``POST /api/cert-requests``            body: the compact JWS of ``idnode cert
                                       request`` (at most
                                       :data:`~registry.trust.requests.MAX_REQUEST_BYTES`);
                                       ``201 {"responseCode": 1, "request": {...}}``
``GET /api/cert-requests/{id}``        its state, decision and reason, for an admin of
                                       its subject's prefix (others: 404)
=====================================  ===============================================

Authenticated as the other write endpoints; who may queue what is
:mod:`resolver.core.cert_requests`.  A malformed, tampered or expired request
is 400 (responseCode 202, the message says which), a subject outside the
caller's prefixes 403.  An operator decides the queue with ``idnode cert
approve|reject``.
"""

from __future__ import annotations

import time

from aiohttp import web

from protocol.constants import RC_INVALID_VALUE, RC_SUCCESS
from registry.trust.requests import MAX_REQUEST_BYTES
from resolver.core.cert_requests import cert_request_status, submit_cert_request
from resolver.core.service import ServiceError
from resolver.http.site_prefixes import RestHelpers


def cert_request_routes(api: RestHelpers) -> list[web.RouteDef]:
    """The routes, answering through ``api``'s JSON, error and authentication helpers."""

    async def submit(request: web.Request) -> web.StreamResponse:
        body = await request.read()  # bounded by the app's client_max_size, then here
        if len(body) > MAX_REQUEST_BYTES:
            return api.error(request, RC_INVALID_VALUE,
                             f"certificate request: more than {MAX_REQUEST_BYTES} bytes")
        result = await api.authenticate(request)
        if result.failed:
            return await api.auth_failed(request, result)
        try:
            text = body.decode("ascii")
        except UnicodeDecodeError:
            return api.error(request, RC_INVALID_VALUE, "certificate request: not ASCII")
        try:
            info = await submit_cert_request(api.s.service, text, result.caller,
                                             int(time.time()))
        except ServiceError as exc:
            return await api.service_error(request, exc, None)
        return api.json(request, {"responseCode": RC_SUCCESS, "request": info.to_json()}, 201)

    async def status(request: web.Request) -> web.StreamResponse:
        result = await api.authenticate(request)
        if result.failed:
            return await api.auth_failed(request, result)
        try:
            info = await cert_request_status(api.s.service, int(request.match_info["id"]),
                                             result.caller)
        except ServiceError as exc:
            return await api.service_error(request, exc, None)
        return api.json(request, {"responseCode": RC_SUCCESS, "request": info.to_json()}, 200)

    return [web.post("/api/cert-requests", submit), web.post("/api/cert-requests/", submit),
            web.get(r"/api/cert-requests/{id:\d{1,18}}", status)]
