"""HTTP routes that resolve other schemes' identifiers to the record of their handle.

* ``GET /api/resolve?id=TEXT`` — any scheme (GS1 in any spelling, OID): 302 to
  ``/api/handles/{handle}`` with a JSON body naming the handle and the
  identifier's canonical form; 400 naming the reason for a malformed one; 404
  when no handle carries it.
* GS1 Digital Link, ``GET /01/{gtin}[/10/{lot}][/21/{serial}]`` (and ``/00/``,
  ``/414/``, ``/8004/``): what a phone opens when it scans a Digital Link QR
  code; 302 to the product page ``/{handle}`` (query string kept, so
  ``?noredirect`` works), or an HTML-free JSON error as above.

These routes go before the ``/{handle}`` page route: a prefix named ``01``,
``00``, ``414`` or ``8004`` would otherwise be shadowed (none is allocated in
the Handle system's numeric prefix tree under 88).
"""

from __future__ import annotations

from urllib.parse import quote

import orjson
from aiohttp import web

from protocol.constants import RC_HANDLE_NOT_FOUND, RC_INVALID_HANDLE, RC_SUCCESS
from registry.schemes import SchemeError
from registry.store import HandleStore
from resolver.core.identifiers import IdentifierMatch, find_handle
from resolver.http.pages import RESPONSE_CODE

DIGITAL_LINK_KEYS = ("01", "00", "414", "8004")


def _json(body: dict[str, object], status: int, code: int,
          location: str | None = None) -> web.Response:
    response = web.Response(body=orjson.dumps(body), status=status,
                            content_type="application/json",
                            headers={"Location": location} if location else None)
    response[RESPONSE_CODE] = code
    return response


def _answer(match: IdentifierMatch, target: str) -> web.Response:
    ident = {"scheme": match.identifier.scheme, "key": match.identifier.key,
             "display": match.identifier.display}
    if match.handle is None:
        return _json({"responseCode": RC_HANDLE_NOT_FOUND, "identifier": ident,
                      "message": match.not_found_message()}, 404, RC_HANDLE_NOT_FOUND)
    location = target + quote(match.handle, safe="/")
    return _json({"responseCode": RC_SUCCESS, "identifier": ident, "handle": match.handle},
                 302, RC_SUCCESS, location)


def _malformed(exc: SchemeError) -> web.Response:
    return _json({"responseCode": RC_INVALID_HANDLE, "message": str(exc)}, 400,
                 RC_INVALID_HANDLE)


def identifier_routes(store: HandleStore) -> list[web.RouteDef]:
    """``/api/resolve`` and the GS1 Digital Link paths (register before ``/{handle}``)."""

    async def resolve_any(request: web.Request) -> web.StreamResponse:
        text = request.query.get("id", "")
        try:
            match = await find_handle(store, text)
        except SchemeError as exc:
            return _malformed(exc)
        return _answer(match, "/api/handles/")

    async def digital_link(request: web.Request) -> web.StreamResponse:
        try:
            match = await find_handle(store, request.rel_url.raw_path)
        except SchemeError as exc:
            return _malformed(exc)
        response = _answer(match, "/")
        if match.handle is not None and request.query_string:
            response.headers["Location"] += "?" + request.query_string
        return response

    return [
        web.get("/api/resolve", resolve_any),
        *(web.get(f"/{ai}/{{rest:.+}}", digital_link) for ai in DIGITAL_LINK_KEYS),
    ]
