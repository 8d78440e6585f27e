"""POST as GET on the REST API (``BaseHandleRequestProcessingServlet.doPost``).

CNRI answers a POST to ``/api/handles/{handle}`` (and ``/api/handles``) as the
GET with the same parameters, taken from the query string and then from the
body: form fields, or the members of a JSON object (``JsonParameterServletReq``;
for an array member its first element).  A query parameter wins over a body
one of the same name.  A body that is not a JSON object is RC_PROTOCOL_ERROR.
The merged parameters are kept on the request (aiohttp cannot re-make a request
whose body was read); the GET handlers read them with :func:`params`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web
from multidict import MultiDict, MultiDictProxy, MultiMapping

from protocol.constants import RC_PROTOCOL_ERROR

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_JSON = ("application/json",)
_PARAMS = "idnode.post_as_get.params"


def params(request: web.Request) -> MultiMapping[str]:
    """The request's parameters: the query string, plus a POST-as-GET body's."""
    kept = request.get(_PARAMS)
    return kept if isinstance(kept, MultiDictProxy) else request.query


async def body_parameters(request: web.Request) -> MultiDict[str]:
    """The parameters a POST body carries; ValueError for a JSON body that is no object."""
    found: MultiDict[str] = MultiDict()
    if request.content_type in _JSON:
        raw = await request.read()
        if not raw.strip():
            return found
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"body is not JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise ValueError("Expected JSON object")
        for name, value in obj.items():
            if isinstance(value, list):
                value = value[0] if value else None
            if value is not None:
                found.add(name, value if isinstance(value, str) else orjson.dumps(value).decode())
        return found
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in (await request.post()).items():
            if isinstance(value, str):
                found.add(name, value)
    return found


def post_as_get(get: Handler) -> Handler:
    """A POST handler answering like ``get`` with the body's parameters added."""

    async def post(request: web.Request) -> web.StreamResponse:
        try:
            extra = await body_parameters(request)
        except ValueError as exc:
            body = orjson.dumps({"responseCode": RC_PROTOCOL_ERROR, "message": str(exc)})
            return web.Response(body=body, status=400, content_type="application/json")
        query: MultiDict[str] = MultiDict(request.query)
        for name, value in extra.items():
            if name not in request.query:
                query.add(name, value)
        request[_PARAMS] = MultiDictProxy(query)
        return await get(request)

    return post
