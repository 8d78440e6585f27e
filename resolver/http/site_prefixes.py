"""``/api/site`` and ``/api/prefixes`` of the REST API, as CNRI's ``SiteServlet`` and
``PrefixesServlet``.

=====================================  ===============================================
``GET /api/site``                      ``{"responseCode": 1, "site": {...}}``: this
                                       node's HS_SITE in REST JSON form
``GET /api/prefixes``                  the homed prefixes (server admins only):
                                       ``{"responseCode", "totalCount", "prefixes"}``,
                                       ``page``/``pageSize`` as ``/api/handles``
``POST /api/prefixes/{prefix}``        home a prefix (``OC_HOME_NA``)
``DELETE /api/prefixes/{prefix}``      unhome it (``OC_UNHOME_NA``)
=====================================  ===============================================

The prefix may also come as the ``prefix`` parameter (query, or a JSON body
object); ``GET /api/prefixes/{prefix}`` is 405, as CNRI.  Who may home what is
:mod:`resolver.core.homing`.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson
from aiohttp import web

from protocol.constants import RC_ERROR, RC_PROTOCOL_ERROR, RC_SUCCESS
from protocol.rest_json import site_to_json
from protocol.site_info import decode_site_info
from resolver.core.homing import home_prefix, homed_prefixes, unhome_prefix
from resolver.core.service import ResolutionService, ServiceError
from resolver.http.auth import AuthResult


class _HasService(Protocol):
    @property
    def service(self) -> ResolutionService:
        """The resolution service behind the API."""
        ...


class RestHelpers(Protocol):
    """What these routes use of :class:`resolver.http.api.RestApi` (which builds them; a
    protocol here keeps this module from importing the API module that imports it)."""

    @property
    def s(self) -> _HasService:
        """The API's settings."""
        ...

    def json(self, request: web.Request, body: dict[str, Any], status: int) -> web.Response:
        """A JSON answer."""
        ...

    def error(self, request: web.Request, code: int, message: str = "") -> web.Response:
        """A JSON error answer."""
        ...

    async def authenticate(self, request: web.Request) -> AuthResult:
        """The caller of ``request``."""
        ...

    async def auth_failed(self, request: web.Request, result: AuthResult,
                          handle: str | None = None) -> web.Response:
        """The answer to credentials that proved nothing."""
        ...

    async def service_error(self, request: web.Request, exc: ServiceError,
                            handle: str | None) -> web.Response:
        """The answer to a refused service call."""
        ...


def site_prefix_routes(api: RestHelpers) -> list[web.RouteDef]:
    """The routes, answering through ``api``'s JSON, error and authentication helpers."""

    async def site(request: web.Request) -> web.StreamResponse:
        value = await api.s.service.get_site_info()
        if value is None:
            return api.error(request, RC_ERROR, "this node has no site information")
        body = {"responseCode": RC_SUCCESS, "site": site_to_json(decode_site_info(value.data))}
        return api.json(request, body, 200)

    async def list_prefixes(request: web.Request) -> web.StreamResponse:
        if await _prefix(request):
            return web.Response(status=405, headers={"Allow": "POST, DELETE, TRACE, OPTIONS"})
        result = await api.authenticate(request)
        if result.failed:
            return await api.auth_failed(request, result)
        try:
            page = int(request.query.get("page", "-1"))
            page_size = int(request.query.get("pageSize", "-1"))
        except ValueError:
            return api.error(request, RC_PROTOCOL_ERROR, "page and pageSize must be numbers")
        try:
            prefixes = await homed_prefixes(api.s.service, result.caller)
        except ServiceError as exc:
            return await api.service_error(request, exc, None)
        body: dict[str, Any] = {"responseCode": RC_SUCCESS, "totalCount": str(len(prefixes))}
        if page >= 0 and page_size >= 0:
            body |= {"page": page, "pageSize": page_size}
            prefixes = prefixes[page * page_size:(page + 1) * page_size]
        body["prefixes"] = prefixes
        return api.json(request, body, 200)

    async def home_or_unhome(request: web.Request) -> web.StreamResponse:
        prefix = await _prefix(request)
        verb = "homing" if request.method == "POST" else "unhoming"
        if not prefix:
            return api.error(request, RC_ERROR, f"Prefix not specified in {verb} request")
        result = await api.authenticate(request)
        if result.failed:
            return await api.auth_failed(request, result, prefix)
        act = home_prefix if request.method == "POST" else unhome_prefix
        try:
            await act(api.s.service, prefix, result.caller)
        except ServiceError as exc:
            return await api.service_error(request, exc, prefix)
        return api.json(request, {"responseCode": RC_SUCCESS, "handle": prefix}, 200)

    return [
        web.get("/api/site", site),
        web.get("/api/site/", site),
        web.get("/api/prefixes", list_prefixes),
        web.get("/api/prefixes/{prefix:.*}", list_prefixes),
        web.post("/api/prefixes", home_or_unhome),
        web.post("/api/prefixes/{prefix:.*}", home_or_unhome),
        web.delete("/api/prefixes", home_or_unhome),
        web.delete("/api/prefixes/{prefix:.*}", home_or_unhome),
    ]


async def _prefix(request: web.Request) -> str:
    """The prefix named by the ``prefix`` parameter (query or JSON body), else the path."""
    named = request.query.get("prefix")
    if named is None and request.content_type == "application/json":
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("prefix"), str):
            named = body["prefix"]
    return named if named is not None else request.match_info.get("prefix", "")
