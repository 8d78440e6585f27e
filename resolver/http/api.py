"""The HTTP front end: Handle.net-compatible REST JSON API, proxy pages, OpenAPI, metrics.

``make_app`` builds one aiohttp application over the shared
:class:`~resolver.core.service.ResolutionService`, so a handle resolves the same over
HTTP as over the Handle protocol.  The REST API follows the CNRI HANDLE.NET
server (``HandleJsonRestApiServlet``, ``BaseHandleRequestProcessingServlet``):

=========================================  ===========================================
``GET /api/handles/{handle}``              resolve (``type``, ``index`` repeatable,
                                           ``auth``, ``publicOnly``, ``doNotRefer``;
                                           ``verify=true`` adds ``verification``, see
                                           :mod:`resolver.core.verification`)
``PUT /api/handles/{handle}``              create or replace (``overwrite``,
                                           ``mintNewSuffix``); with ``index``: add or
                                           modify those values (``index=various``: all)
``DELETE /api/handles/{handle}``           delete the handle, or the values at ``index``
``GET /api/handles?prefix=P``              list handles (``page``, ``pageSize``)
``POST /api/sessions``, ``/api/sessions/this``  ``Handle`` authorization sessions
``GET /api/trace/{handle}``, ``/trace/{handle}``  traceability (:mod:`resolver.http.trace_pages`)
``GET /api/openapi.json``, ``/healthz``, ``/metrics``
``GET /``, ``GET /{handle}``               proxy pages (:mod:`resolver.http.pages`)
=========================================  ===========================================

HTTP statuses follow ``statusCodeFromResponse``: 200 (201 when something new
was created), 404 handle not found, 409 already exists, 400 bad input or values
not found on a write, 401 authentication needed or failed, 403 not permitted,
300 referral; JSON bodies carry ``responseCode`` (and ``handle``, ``values``,
``message``).  JSON is encoded with orjson; ``callback`` gives JSONP to
requests without credentials only (never an authenticated answer, never a
Basic prompt) and ``pretty`` indents.
"""

from __future__ import annotations

import base64
import logging
import re
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from protocol.constants import (
    RC_AUTHENTICATION_FAILED,
    RC_AUTHENTICATION_NEEDED,
    RC_ERROR,
    RC_HANDLE_ALREADY_EXISTS,
    RC_HANDLE_NOT_FOUND,
    RC_INSUFFICIENT_PERMISSIONS,
    RC_INVALID_ADMIN,
    RC_INVALID_CREDENTIAL,
    RC_INVALID_HANDLE,
    RC_INVALID_VALUE,
    RC_OPERATION_NOT_SUPPORTED,
    RC_PREFIX_REFERRAL,
    RC_PROTOCOL_ERROR,
    RC_SERVER_BACKUP,
    RC_SERVER_NOT_RESP,
    RC_SERVER_TOO_BUSY,
    RC_SERVICE_REFERRAL,
    RC_SUCCESS,
    RC_VALUE_ALREADY_EXISTS,
    RC_VALUES_NOT_FOUND,
)
from protocol.rest_json import value_from_json, value_to_json
from protocol.values import HandleValue
from registry.names import name_key
from resolver.core.auth_sessions import SessionRefused, Sessions, UseGuard
from resolver.core.backlinks import BacklinkReceiver
from resolver.core.connections import ConnectionGate
from resolver.core.far_recall import FarRecall
from resolver.core.hot import HotAnswers
from resolver.core.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from resolver.core.metrics import Metrics
from resolver.core.model import ANONYMOUS, Caller, ServiceError
from resolver.core.service import CredentialChanged, ResolutionService
from resolver.core.trace import Tracer, record_verifier
from resolver.core.verification import report_json, verify
from resolver.http import hot_rest, openapi
from resolver.http import pages as http_pages
from resolver.http.auth import (
    Authenticator,
    AuthResult,
    HandleAuthHeader,
    memory_sessions,
    www_authenticate,
)
from resolver.http.backlinks import backlink_routes
from resolver.http.cert_requests import cert_request_routes
from resolver.http.connections import GuardedSite
from resolver.http.fast_put import FastPuts
from resolver.http.fast_rest import FastReads
from resolver.http.guard import HttpGuard
from resolver.http.identifiers import identifier_routes
from resolver.http.native import NativeAnswer, native_route
from resolver.http.post_as_get import params, post_as_get
from resolver.http.product.page import not_found_page, product_answer
from resolver.http.product.signed_values import signature_notes
from resolver.http.qr import qr_routes
from resolver.http.site_prefixes import site_prefix_routes
from resolver.http.trace_pages import trace_routes
from resolver.http.viewer import viewer_of

_log = logging.getLogger(__name__)

FRONTEND_REST = "rest"
FRONTEND_PAGES = "http"
RESPONSE_CODE = http_pages.RESPONSE_CODE
MAX_BODY = 4 * 1024 * 1024
#: why credentials on a plain-HTTP request did not count (they were ignored, as CNRI does)
PLAIN_HTTP_CREDENTIALS = ("credentials are accepted only over HTTPS (http_tls_cert), or with "
                          "http_insecure_auth = true behind a TLS-terminating proxy; this "
                          "request came over plain HTTP")
#: seconds a store size read for /metrics is reused (counting a big table is not free)
STORE_COUNT_MAX_AGE = 30.0
_CALLBACK_BAD = re.compile(r"[^_$a-zA-Z0-9\u00a0-\uffff]")
_JSON_TYPE = re.compile(r"^application/json\s*(;.*)?$", re.IGNORECASE | re.DOTALL)


#: ``statusCodeFromResponse`` for the codes whose status does not depend on the operation
_STATUS = {
    RC_PREFIX_REFERRAL: 300, RC_SERVICE_REFERRAL: 300,
    RC_HANDLE_NOT_FOUND: 404,
    RC_HANDLE_ALREADY_EXISTS: 409, RC_VALUE_ALREADY_EXISTS: 409,
    RC_PROTOCOL_ERROR: 400, RC_INVALID_HANDLE: 400, RC_INVALID_VALUE: 400,
    RC_SERVER_NOT_RESP: 400,
    RC_OPERATION_NOT_SUPPORTED: 501,
    RC_SERVER_TOO_BUSY: 503, RC_SERVER_BACKUP: 503,
    RC_AUTHENTICATION_NEEDED: 401,
    RC_INVALID_ADMIN: 403, RC_INSUFFICIENT_PERMISSIONS: 403,
    RC_AUTHENTICATION_FAILED: 403, RC_INVALID_CREDENTIAL: 403,
}


def http_status(response_code: int, *, resolution: bool = False, created: bool = False) -> int:
    """CNRI ``statusCodeFromResponse``: the HTTP status for a Handle response code."""
    if response_code == RC_SUCCESS:
        return 201 if created else 200
    if response_code == RC_VALUES_NOT_FOUND:
        return 200 if resolution else 400
    return _STATUS.get(response_code, 500)


class _BadRequest(Exception):
    """The request could not be parsed: answered 400 with RC_PROTOCOL_ERROR."""


def _flag(value: str | None) -> bool:
    """``getBooleanParameter``: present and empty, ``yes`` or ``true``."""
    return value is not None and value.lower() in ("", "yes", "true")


def _java_bool(value: str | None) -> bool:
    """``Boolean.parseBoolean``."""
    return value is not None and value.lower() == "true"


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = params(request).get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise _BadRequest(f"invalid {name} parameter") from None


def _indexes(request: web.Request) -> tuple[int, ...] | None:
    raw = params(request).getall("index", [])
    if not raw:
        return None
    try:
        return tuple(int(i) for i in raw)
    except ValueError:
        raise _BadRequest("invalid index parameter") from None


@dataclass(frozen=True, slots=True)
class _Settings:
    service: ResolutionService
    authenticator: Authenticator
    metrics: Metrics
    recursive: bool
    allow_insecure_auth: bool
    hot: HotAnswers


SETTINGS = web.AppKey("idnode_http_settings", _Settings)


class RestApi:
    """Request handlers of the REST API over one service."""

    def __init__(self, settings: _Settings) -> None:
        self.s = settings

    # --- responses ----------------------------------------------------------------

    @staticmethod
    def json(
        request: web.Request,
        body: dict[str, Any],
        status: int,
        *,
        headers: Sequence[tuple[str, str]] = (),
    ) -> web.Response:
        """A JSON (or JSONP with ``callback``) response carrying ``body``."""
        option = orjson.OPT_INDENT_2 if _flag(request.query.get("pretty")) else 0
        payload = orjson.dumps(body, option=option)
        callback = _jsonp_callback(request)
        if callback:
            payload = _scrub_callback(callback).encode() + b"(" + payload + b");"
            content_type = "application/javascript"
        else:
            content_type = "application/json"
        response = web.Response(
            body=payload, status=status, content_type=content_type, charset="utf-8"
        )
        for name, value in headers:
            response.headers.add(name, value)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response[RESPONSE_CODE] = body.get("responseCode", RC_SUCCESS)
        return response

    def error(
        self, request: web.Request, code: int, message: str = "", *, handle: str | None = None,
        status: int | None = None,
    ) -> web.Response:
        """An error body ``{"responseCode", "message", "handle"}`` with its HTTP status."""
        body: dict[str, Any] = {"responseCode": code}
        if message:
            body["message"] = message
        if handle:
            body["handle"] = handle
        return self.json(request, body, status or http_status(code))

    def auth_channel(self, request: web.Request) -> bool:
        """Whether credentials are accepted on this connection (TLS, or allowed plain)."""
        return request.secure or self.s.allow_insecure_auth

    async def unauthorized(
        self, request: web.Request, code: int, message: str, result: AuthResult | None = None,
        handle: str | None = None,
    ) -> web.Response:
        """401 with the ``WWW-Authenticate`` challenges; 403 on a channel without auth."""
        body: dict[str, Any] = {"responseCode": code, "message": message}
        if handle:
            body["handle"] = handle
        if not self.auth_channel(request):
            if "Authorization" in request.headers:
                body["message"] = f"{message}: {PLAIN_HTTP_CREDENTIALS}"
            return self.json(request, body, 403)
        session = result.session if result is not None and result.session else (
            await self.s.authenticator.new_session()
        )
        authorization = request.headers.get("Authorization")
        basic = (
            authorization.startswith("Basic") if authorization is not None
            else request.headers.get("X-Requested-With") != "XMLHttpRequest"
        ) and "callback" not in request.query  # no password prompt for a script tag
        errors = result.errors if result is not None else []
        challenges = www_authenticate(session, errors, basic=basic)
        return self.json(
            request, body, 401, headers=[("WWW-Authenticate", c) for c in challenges]
        )

    async def auth_failed(
        self, request: web.Request, result: AuthResult, handle: str | None = None
    ) -> web.Response:
        """401 for credentials that did not prove an identity (responseCode 403)."""
        why = "; ".join(result.errors)
        return await self.unauthorized(
            request, RC_AUTHENTICATION_FAILED,
            f"authentication failed: {why}" if why else "authentication failed", result, handle
        )

    async def service_error(self, request: web.Request, exc: ServiceError, handle: str | None,
                            *, resolution: bool = False) -> web.Response:
        """The answer to a refused service call."""
        if exc.response_code == RC_AUTHENTICATION_NEEDED:
            return await self.unauthorized(request, exc.response_code, exc.message or
                                     "authentication needed", handle=handle)
        status = http_status(exc.response_code, resolution=resolution)
        return self.error(request, exc.response_code, exc.message, handle=handle, status=status)

    # --- authentication ---------------------------------------------------------

    async def authenticate(self, request: web.Request, *, proven_later: bool = False
                           ) -> AuthResult:
        """The caller of ``request``; credentials on a plain channel are ignored (CNRI).
        ``proven_later``: see :meth:`Authenticator.authenticate`."""
        if not self.auth_channel(request):
            return AuthResult()
        return await self.s.authenticator.authenticate(request.headers.get("Authorization"),
                                                       proven_later=proven_later)

    # --- handles ------------------------------------------------------------------

    async def get_handle(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/handles/{handle}``: resolution (plain reads of cached records from
        their kept body, :mod:`resolver.http.hot_rest`)."""
        handle = request.match_info["handle"]
        plain = hot_rest.plain(request)
        if plain and (hit := hot_rest.answer_kept(request, self.s.hot, handle)) is not None:
            return hit
        cached = self.s.hot.lookup(handle) if plain else None  # what the answer is made from
        try:
            indexes = _indexes(request) or ()
        except _BadRequest as exc:
            return self.error(request, RC_PROTOCOL_ERROR, str(exc), handle=handle)
        result = await self.authenticate(request)
        if result.failed:
            return await self.auth_failed(request, result, handle)
        caller = result.caller
        public_only = params(request).get("publicOnly")
        if public_only is not None and _flag(public_only):
            caller = ANONYMOUS
        recursive = self.s.recursive and not _flag(params(request).get("doNotRefer"))
        try:
            res = await self.s.service.resolve(
                handle, types=tuple(params(request).getall("type", [])), indexes=indexes,
                caller=caller, recursive=recursive,
            )
        except ServiceError as exc:
            return await self.service_error(request, exc, handle, resolution=True)
        body: dict[str, Any] = {"responseCode": res.response_code, "handle": handle}
        if res.response_code in (RC_SUCCESS, RC_VALUES_NOT_FOUND):
            body["values"] = [value_to_json(v) for v in res.values]
        elif res.response_code in (RC_SERVICE_REFERRAL, RC_PREFIX_REFERRAL):
            body["values"] = [value_to_json(v) for v in res.referral_values]
        if res.response_code == RC_SUCCESS and _flag(params(request).get("verify")):
            report = await verify(self.s.service, handle, recursive=recursive)
            if report is not None:
                body["verification"] = report_json(report)
        if plain and res.response_code == RC_SUCCESS:
            kept = hot_rest.kept_body(orjson.dumps(body))
            hot_rest.keep(self.s.hot, handle, cached, kept)
            return hot_rest.json_response(request, kept)
        return self.json(request, body, http_status(res.response_code, resolution=True))

    async def list_handles(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/handles?prefix=P``: list the handles under a prefix."""
        prefix = params(request).get("prefix")
        if prefix is None:
            return self.error(request, RC_INVALID_HANDLE, "Empty handle invalid")
        try:
            page = _int_param(request, "page", -1)
            page_size = _int_param(request, "pageSize", -1)
        except _BadRequest as exc:
            return self.error(request, RC_PROTOCOL_ERROR, str(exc))
        result = await self.authenticate(request)
        if result.failed:
            return await self.auth_failed(request, result)
        try:
            handles = await self.s.service.all_handles(prefix, caller=result.caller)
        except ServiceError as exc:
            return await self.service_error(request, exc, None)
        body: dict[str, Any] = {
            "responseCode": RC_SUCCESS, "prefix": prefix, "totalCount": str(len(handles)),
        }
        if page >= 0 and page_size >= 0:
            body["page"] = page
            body["pageSize"] = page_size
            handles = handles[page * page_size : (page + 1) * page_size]
        body["handles"] = handles
        return self.json(request, body, 200)

    async def put_handle(self, request: web.Request) -> web.StreamResponse:
        """``PUT /api/handles/{handle}``: create, replace, or add/modify values."""
        handle = request.match_info["handle"]
        try:
            if not _JSON_TYPE.match(request.headers.get("Content-Type", "")):
                raise _BadRequest(
                    f"Unsupported media type {request.headers.get('Content-Type', '')}"
                )
            various = request.query.get("index") == "various"
            indexes = None if various else _indexes(request)
            values = self._values_from_body(handle, await request.read())
            if indexes is not None and set(indexes) != {v.index for v in values}:
                raise _BadRequest("Mismatched indexes in PUT request")
        except _BadRequest as exc:
            return self.error(request, RC_PROTOCOL_ERROR, str(exc), handle=handle)
        mint = _java_bool(request.query.get("mintNewSuffix"))
        record = not (various or indexes is not None or mint)
        # a record's create reads the session's credential with the handle it creates
        result = await self.authenticate(request, proven_later=record)
        if result.failed:
            return await self.auth_failed(request, result, handle)
        overwrite_param = request.query.get("overwrite")
        overwrite = True if overwrite_param is None else _java_bool(overwrite_param)
        caller = result.caller
        try:
            if various or indexes is not None:
                created = await self.s.service.put_values(
                    handle, values, caller=caller, overwrite=overwrite
                )
            elif mint:
                handle = await self._mint(handle, values, caller)
                created = True
            else:
                created = await self._put_record(handle, values, caller, overwrite,
                                                 result.proven, result.guard)
        except SessionRefused:
            # the session changed since this process read it: read it, then go again
            assert result.session is not None
            self.s.authenticator.sessions.forget(result.session.session_id)
            return await self.put_handle(request)
        except CredentialChanged:
            await self.s.authenticator.credential_changed(result)
            return await self.auth_failed(request, result, handle)
        except ServiceError as exc:
            return await self.service_error(request, exc, handle)
        return self.json(request, {"responseCode": RC_SUCCESS, "handle": handle},
                         http_status(RC_SUCCESS, created=created))

    async def put_now(self, handle: str, body: bytes, authorization: str) -> bool | None:
        """The record create (or replace) of a ``PUT /api/handles/{handle}`` without
        parameters, as :meth:`put_handle` makes it, for a request taken before aiohttp
        (:mod:`resolver.http.fast_put`): created (True) or replaced (False); None when
        it was refused, having changed nothing (aiohttp then answers it the usual way)."""
        try:
            values = self._values_from_body(handle, body)
        except _BadRequest:
            return None
        result = await self.s.authenticator.authenticate(authorization, proven_later=True)
        if result.failed:
            return None
        try:
            return await self._put_record(handle, values, result.caller, True,
                                          result.proven, result.guard)
        except SessionRefused:
            assert result.session is not None  # what aiohttp's try reads again
            self.s.authenticator.sessions.forget(result.session.session_id)
            return None
        except ServiceError:  # CredentialChanged too: aiohttp's try ends the session
            return None

    @staticmethod
    def _values_from_body(handle: str, raw: bytes) -> list[HandleValue]:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _BadRequest("Invalid JSON in PUT request") from None
        if isinstance(doc, dict) and "values" in doc:
            named = doc.get("handle")
            if named is not None and (not isinstance(named, str) or
                                      name_key(named) != name_key(handle)):
                raise _BadRequest("Mismatched handle in PUT request")
            items = doc["values"]
        elif isinstance(doc, dict) and {"index", "type", "data"} <= doc.keys():
            items = [doc]
        elif isinstance(doc, list):
            items = doc
        else:
            raise _BadRequest("Invalid JSON in PUT request")
        if items is None:
            return []
        if not isinstance(items, list):
            raise _BadRequest("Invalid JSON in PUT request")
        try:
            return [value_from_json(item) for item in items]
        except (ValueError, TypeError, KeyError) as exc:
            raise _BadRequest(str(exc)) from None

    async def _put_record(
        self, handle: str, values: list[HandleValue], caller: Caller, overwrite: bool,
        proven: bytes | None = None, guard: UseGuard | None = None,
    ) -> bool:
        """Create ``handle`` (True), or replace it when ``overwrite`` (False);
        ``proven``: the session's credential, checked by the create
        (:class:`CredentialChanged`) before anything else is done; ``guard``: the
        session's use, checked in the create's transaction (:class:`SessionRefused`)."""
        service = self.s.service
        try:
            await service.create_handle(handle, values, caller=caller, proven=proven,
                                        guard=guard)
        except ServiceError as exc:
            if not overwrite or exc.response_code != RC_HANDLE_ALREADY_EXISTS:
                raise
            await service.replace_handle(handle, values, caller=caller)
            return False
        return True

    async def _mint(self, stem: str, values: list[HandleValue], caller: Caller) -> str:
        """Create ``stem`` + a random UUID suffix (CNRI ``HandleSuffixMinter``)."""
        for _ in range(8):
            handle = stem + str(uuid.uuid4())
            try:
                await self.s.service.create_handle(handle, values, caller=caller)
            except ServiceError as exc:
                if exc.response_code != RC_HANDLE_ALREADY_EXISTS:
                    raise
                continue
            return handle
        raise ServiceError(RC_ERROR, "could not mint a unique suffix")

    async def delete_handle(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /api/handles/{handle}``: the whole handle, or the values at ``index``."""
        handle = request.match_info["handle"]
        try:
            indexes = _indexes(request)
        except _BadRequest as exc:
            return self.error(request, RC_PROTOCOL_ERROR, str(exc), handle=handle)
        result = await self.authenticate(request)
        if result.failed:
            return await self.auth_failed(request, result, handle)
        try:
            if indexes is None:
                await self.s.service.delete_handle(handle, caller=result.caller)
            else:
                await self.s.service.remove_values(handle, indexes, caller=result.caller)
        except ServiceError as exc:
            return await self.service_error(request, exc, handle)
        return self.json(request, {"responseCode": RC_SUCCESS, "handle": handle}, 200)

    async def empty_handle(self, request: web.Request) -> web.StreamResponse:
        """``PUT``/``DELETE /api/handles/``: CNRI's "Empty handle invalid"."""
        return self.error(request, RC_INVALID_HANDLE, "Empty handle invalid")

    # --- sessions ---------------------------------------------------------------

    async def create_session(self, request: web.Request) -> web.StreamResponse:
        """``POST /api/sessions``: a new session (authenticated at once with Basic)."""
        if not self.auth_channel(request):
            return web.Response(status=403, text=PLAIN_HTTP_CREDENTIALS)
        authorization = request.headers.get("Authorization")
        if self._named_session(authorization):
            return web.Response(status=400)
        session = await self.s.authenticator.new_session()
        result = await self.s.authenticator.authenticate(authorization, session=session)
        response = self._session_json(result, 201)
        response.headers["Location"] = "/api/sessions/this"
        return response

    async def this_session(self, request: web.Request) -> web.StreamResponse:
        """``GET``/``PUT``/``POST /api/sessions/this``: state of, or authenticate, the session."""
        if not self.auth_channel(request):
            return web.Response(status=403, text=PLAIN_HTTP_CREDENTIALS)
        if request.match_info["which"] != "this":
            return web.Response(status=403)
        authorization = request.headers.get("Authorization")
        result = await self.s.authenticator.authenticate(authorization, create_session=False)
        if result.session is None and self._requires_session(authorization):
            return web.Response(status=403)
        return self._session_json(result, 401 if result.failed else 200)

    async def delete_session(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /api/sessions/this``: end the session (204), 403 if there is none."""
        if not self.auth_channel(request) or request.match_info["which"] != "this":
            return web.Response(status=403)
        authorization = request.headers.get("Authorization")
        result = await self.s.authenticator.authenticate(authorization, create_session=False)
        if result.session is None:
            return web.Response(status=403)
        await self.s.authenticator.sessions.close(result.session.session_id)
        return web.Response(status=204)

    @staticmethod
    def _named_session(authorization: str | None) -> bool:
        header = HandleAuthHeader.parse(authorization)
        return header is not None and header.session_id is not None

    @staticmethod
    def _requires_session(authorization: str | None) -> bool:
        header = HandleAuthHeader.parse(authorization)
        return header is not None and (header.session_id is not None or header.authenticating)

    @staticmethod
    def _session_json(result: AuthResult, status: int) -> web.Response:
        body: dict[str, Any] = {}
        if result.session is not None:
            body["sessionId"] = result.session.session_id
            body["nonce"] = base64.b64encode(result.session.secret).decode("ascii")
        if result.caller.authenticated:
            body["authenticated"] = True
            body["id"] = f"{result.caller.index}:{result.caller.handle}"
        if result.errors:
            body["error"] = "; ".join(result.errors)
        if not body:
            body["authenticated"] = False
        response = web.Response(
            body=orjson.dumps(body), status=status, content_type="application/json"
        )
        response[RESPONSE_CODE] = RC_SUCCESS if status < 400 else RC_AUTHENTICATION_FAILED
        return response

    # --- the rest -------------------------------------------------------------------

    async def unknown(self, request: web.Request) -> web.StreamResponse:
        """Any other ``/api/...``: 404 (405 for a known path with another method)."""
        message = f"Unknown HTTP API endpoint {request.method} {request.path}"
        path = request.path
        for base, allowed in _ALLOWED.items():
            if path == base or path.startswith(base + "/"):
                response = self.error(request, RC_PROTOCOL_ERROR, message, status=405)
                response.headers["Allow"] = allowed
                return response
        return self.error(request, RC_PROTOCOL_ERROR, message, status=404)

    async def openapi_doc(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/openapi.json``."""
        return web.Response(body=orjson.dumps(openapi.document()), content_type="application/json")

    async def healthz(self, request: web.Request) -> web.StreamResponse:
        """``GET /healthz``: the process answers."""
        return web.Response(body=b'{"status":"ok"}', content_type="application/json")

    async def metrics_text(self, request: web.Request) -> web.StreamResponse:
        """``GET /metrics``: Prometheus text exposition."""
        return web.Response(
            body=(await self.s.metrics.render()).encode(),
            headers={"Content-Type": METRICS_CONTENT_TYPE},
        )


def _jsonp_callback(request: web.Request) -> str | None:
    """The JSONP ``callback`` of an anonymous request; None for a request carrying
    credentials: a script tag on another site would run the answer with the
    browser's cached credentials and read what only the admin may (issue 18 F11)."""
    if "Authorization" in request.headers:
        return None
    return request.query.get("callback") or None


def _scrub_callback(callback: str) -> str:
    """CNRI ``scrubCallbackParameter``: anything but an identifier character becomes ``_``."""
    head = _CALLBACK_BAD.sub("_", callback[0])
    if head.isdigit():
        head = "_"
    return head + _CALLBACK_BAD.sub("_", callback[1:])


#: methods of the API resources, for the ``Allow`` header of a 405
_ALLOWED = {
    "/api/handles": "GET, HEAD, PUT, DELETE, OPTIONS",
    "/api/sessions": "GET, HEAD, POST, PUT, DELETE, OPTIONS",
    "/api/trace": "GET, HEAD, OPTIONS",
}

_CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, PUT, DELETE, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "86400",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _frontend(path: str) -> str | None:
    if path.startswith(("/api/handles", "/api/sessions")):
        return FRONTEND_REST
    if path.startswith("/api/") or path in ("/metrics", "/healthz"):
        return None
    return FRONTEND_PAGES


@web.middleware
async def _front_door(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Metrics, CORS, OPTIONS, and JSON errors (never a stack trace) for ``/api``."""
    started = time.perf_counter()
    path = request.path
    api = path.startswith("/api")
    try:
        if api and request.method == "OPTIONS":
            response: web.StreamResponse = web.Response(
                status=200, headers={"Allow": _CORS_HEADERS["Access-Control-Allow-Methods"]}
            )
        else:
            response = await handler(request)
    except web.HTTPException as exc:
        if not api:
            raise
        response = _api_error(exc.status, exc.reason)
    except Exception:
        _log.exception("http: unhandled error serving %s %s", request.method, request.path)
        response = _api_error(500, "Internal error") if api else http_pages.server_error_page()
    if api and "Origin" in request.headers:
        response.headers.update(_CORS_HEADERS)
    frontend = _frontend(path)
    if frontend is not None:
        code = response.get(RESPONSE_CODE, RC_SUCCESS if response.status < 400 else RC_ERROR)
        request.app[SETTINGS].metrics.observe_request(
            frontend, code, time.perf_counter() - started
        )
    return response


def _api_error(status: int, message: str) -> web.Response:
    code = RC_ERROR if status >= 500 else RC_PROTOCOL_ERROR
    response = web.Response(
        body=orjson.dumps({"responseCode": code, "message": message}), status=status,
        content_type="application/json",
    )
    response[RESPONSE_CODE] = code
    return response


def make_app(
    service: ResolutionService,
    *,
    metrics: Metrics | None = None,
    recursive: bool = True,
    allow_insecure_auth: bool = False,
    sessions: Sessions | None = None,
    client_max_size: int = MAX_BODY,
    guard: HttpGuard | None = None,
    native: NativeAnswer | None = None,
    public_url: str | None = None,
    console: web.Application | None = None,
    backlinks: BacklinkReceiver | None = None,
) -> web.Application:
    """The HTTP application over ``service``.

    ``metrics`` is shared with the other front ends (a private one by default);
    ``recursive`` makes reads follow referrals (a request's ``doNotRefer`` turns
    it off); ``allow_insecure_auth`` accepts credentials without TLS (only behind
    a TLS-terminating proxy); ``sessions`` holds ``/api/sessions`` state (in this
    process by default; the node passes sessions in the registry database when
    several processes serve one address, :mod:`resolver.core.auth_sessions`);
    ``guard`` holds the abuse limits (rate per client, requests in flight, body
    read time; none by default);
    ``native`` answers Handle messages POSTed to ``/{handle}``
    (:mod:`resolver.http.native`; without it such a POST is read as a resolution);
    ``public_url`` (``http://host:port``) is what QR codes of product pages carry;
    ``console`` is the web console application, mounted at ``/console/``;
    ``backlinks`` takes other nodes' where-used links at ``POST /api/backlinks``
    (:mod:`resolver.http.backlinks`; without it that path is unknown).
    """
    settings = _Settings(
        service=service,
        authenticator=Authenticator(service, sessions or memory_sessions()),
        metrics=metrics or Metrics(),
        recursive=recursive,
        allow_insecure_auth=allow_insecure_auth,
        hot=HotAnswers(service),
    )
    settings.metrics.add_gauge(
        "idnode_store_handles", "Handles in the registry.", service.store.count_handles,
        max_age=STORE_COUNT_MAX_AGE,
    )
    middlewares = [_front_door] if guard is None else [_front_door, guard.middleware]
    app = web.Application(middlewares=middlewares, client_max_size=client_max_size)
    app[SETTINGS] = settings
    api = RestApi(settings)

    async def resolve_for_page(handle: str, caller: Caller = ANONYMOUS
                               ) -> tuple[int, tuple[HandleValue, ...]]:
        try:
            res = await service.resolve(handle, caller=caller, recursive=recursive)
        except ServiceError as exc:
            return exc.response_code, ()
        return res.response_code, tuple(res.values)

    viewer = viewer_of(api.authenticate, api.auth_failed, console)

    async def resolve_for_viewer(request: web.Request, handle: str
                                 ) -> tuple[int, tuple[HandleValue, ...]]:
        return await resolve_for_page(handle, await viewer(request))

    tracer = Tracer(service, verifier=record_verifier(service))
    pages = http_pages.page_routes(resolve_for_viewer, value_to_json, http_status,
                                   product=product_answer(tracer, viewer),
                                   not_found=not_found_page,
                                   notes=signature_notes(service))
    app.add_routes([
        web.get("/api/openapi.json", api.openapi_doc),
        *identifier_routes(service.store),
        web.get("/api/handles", api.list_handles),
        web.get("/api/handles/", api.list_handles),
        web.put("/api/handles/", api.empty_handle),
        web.delete("/api/handles/", api.empty_handle),
        web.get("/api/handles/{handle:.+}", api.get_handle),
        web.post("/api/handles", post_as_get(api.list_handles)),
        web.post("/api/handles/{handle:.+}", post_as_get(api.get_handle)),
        *site_prefix_routes(api),
        *cert_request_routes(api),
        web.put("/api/handles/{handle:.+}", api.put_handle),
        web.delete("/api/handles/{handle:.+}", api.delete_handle),
        web.post("/api/sessions", api.create_session),
        web.post("/api/sessions/", api.create_session),
        web.get("/api/sessions/{which:[^/]+}", api.this_session),
        web.put("/api/sessions/{which:[^/]+}", api.this_session),
        web.post("/api/sessions/{which:[^/]+}", api.this_session),
        web.delete("/api/sessions/{which:[^/]+}", api.delete_session),
        *trace_routes(tracer, http_status, viewer, not_found_page,
                      FarRecall(backlinks.finder) if backlinks is not None else None),
        *(backlink_routes(backlinks) if backlinks is not None else ()),
        web.route("*", "/api", api.unknown),
        web.route("*", "/api/{tail:.*}", api.unknown),
        web.get("/healthz", api.healthz),
        web.get("/metrics", api.metrics_text),
    ])
    if console is not None:
        app.add_subapp("/console/", console)
    app.add_routes([
        native_route(native, pages[-1].handler),
        *qr_routes(resolve_for_page, public_url),
        *pages,
    ])
    return app


async def run_http_server(
    service: ResolutionService,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    reuse_port: bool = False,
    guard: HttpGuard | None = None,
    **app_options: Any,
) -> tuple[web.AppRunner, int]:
    """Serve :func:`make_app` on ``host:port`` (0 picks a port); returns the runner and port.

    Stop with ``await runner.cleanup()``.  ``app_options`` go to :func:`make_app`;
    ``guard``'s read timeout also bounds the wait for each request's headers
    and the reading of what is left of a body after an early answer; its
    connection caps and TLS handshake timeout apply to every connection.
    """
    guard = guard or HttpGuard()
    runner = web.AppRunner(
        make_app(service, guard=guard, **app_options),
        keepalive_timeout=guard.read_timeout,
        lingering_time=guard.read_timeout,  # reading what is left of a refused body
    )
    await runner.setup()
    settings = runner.app[SETTINGS]
    fast = FastPuts(FastReads(settings.hot, settings.metrics, guard.limiter, FRONTEND_REST),
                    RestApi(settings).put_now, guard, settings.metrics, FRONTEND_REST,
                    insecure_auth=settings.allow_insecure_auth)
    site = GuardedSite(
        runner, host, port, ssl_context=ssl_context, reuse_port=reuse_port,
        gate=ConnectionGate(guard.max_connections, guard.max_connections_per_client),
        handshake_timeout=guard.tls_handshake_timeout, fast=fast,
    )
    await site.start()
    bound = runner.addresses[-1][1]
    return runner, int(bound)
