"""The route for Handle protocol messages POSTed to the HTTP port (``NativeServlet``).

CNRI's proxy servlet hands a POST whose ``Content-Type`` and ``Accept`` both
name ``application/x-hdl-message`` to its ``NativeServlet``; any other POST to
``/{handle}`` is a resolution with form parameters, like a GET (POST-as-GET),
and is answered by ``fallback``.  The bytes are answered by a
:data:`NativeAnswer` given by the node wiring
(:class:`resolver.handle.over_http.NativeHttpAnswerer`), so this front end
never imports the Handle protocol server.  The answer always has a
``Content-Length``: CNRI's client reads the body as a raw stream and knows no
chunked encoding.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from protocol.constants import HDL_MIME_TYPE, RC_SUCCESS
from resolver.http.pages import RESPONSE_CODE

#: request body -> response body (envelope + message, repeated)
NativeAnswer = Callable[[bytes], Awaitable[bytes]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_native(request: web.Request) -> bool:
    """``HDLProxy.doPost``: both ``Accept`` and ``Content-Type`` name the Handle type."""
    accept = request.headers.get("Accept", "").lower()
    content_type = request.headers.get("Content-Type", "").lower()
    return HDL_MIME_TYPE in accept and HDL_MIME_TYPE in content_type


def native_route(answer: NativeAnswer | None, fallback: Handler) -> web.RouteDef:
    """``POST /{handle}``: Handle messages to ``answer``, other POSTs to ``fallback``."""

    async def post(request: web.Request) -> web.StreamResponse:
        if answer is None or not is_native(request):
            return await fallback(request)
        payload = await answer(await request.read())
        response = web.Response(body=payload, content_type=HDL_MIME_TYPE)
        response[RESPONSE_CODE] = RC_SUCCESS
        return response

    return web.post("/{handle:.*}", post)
