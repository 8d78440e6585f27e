"""The reader a request was answered for, kept on the request, and marking its answer private.

:mod:`resolver.http.viewer` finds the reader and keeps it under :data:`READER`;
the routes that show values (:mod:`resolver.http.pages`, the trace and product
pages) call :func:`mark_private` on their answer, so an answer made for a known
reader is never kept by a shared cache.  A module of its own: the pages import
it without importing the console the viewer reads sessions from.
"""

from __future__ import annotations

from aiohttp import web

from resolver.core.model import Caller

#: the reader of a request, once found (a page asks again for its product view)
READER = web.RequestKey("idnode_reader", Caller)


def mark_private(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """``response`` marked for this reader only when it was made for a known reader."""
    reader = request.get(READER)
    if reader is not None and not reader.anonymous:
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["Vary"] = "Accept, Cookie, Authorization"
    return response
