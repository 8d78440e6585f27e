"""The ``/{handle}`` hooks: a browser gets the product page of a templated record, and one
not-found page (``/{handle}`` and ``/trace/{handle}`` alike) in the reader's language."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from protocol.constants import RC_HANDLE_NOT_FOUND, RC_SUCCESS
from protocol.values import HandleValue
from registry.templates import TYPE_TEMPLATE
from resolver.core.trace import Tracer
from resolver.http.console.i18n import LANG_COOKIE, LOCALES, pick_locale
from resolver.http.pages import PeoplePage, html_response
from resolver.http.product.render import render_not_found, render_product
from resolver.http.product.view import product_view
from resolver.http.viewer import ViewerOf


def wants_html(request: web.Request) -> bool:
    """Whether the client is a browser (asks for HTML), not a machine following redirects."""
    return "text/html" in request.headers.get("Accept", "")


def product_answer(tracer: Tracer, viewer: ViewerOf) -> PeoplePage:
    """What ``/{handle}`` answers a browser for a templated record (None: not a product);
    each reader sees what it may read (``viewer``, :mod:`resolver.http.viewer`)."""

    async def answer(request: web.Request, handle: str, values: tuple[HandleValue, ...]
                     ) -> web.StreamResponse | None:
        if not wants_html(request) or not any(v.type == TYPE_TEMPLATE for v in values):
            return None
        caller = await viewer(request)
        view = await product_view(tracer, handle, values, caller)
        response = _localized(request, lambda locale: render_product(view, locale), 200,
                              RC_SUCCESS)
        if not caller.anonymous:
            response.headers["Cache-Control"] = "private, no-store"
        response.headers["Vary"] = "Accept, Cookie, Authorization"
        return response

    return answer


def not_found_page(request: web.Request, handle: str) -> web.StreamResponse:
    """404 for a handle not registered here, worded alike for ``/{handle}`` and ``/trace/…``."""
    return _localized(request, lambda locale: render_not_found(handle, locale), 404,
                      RC_HANDLE_NOT_FOUND)


def _localized(request: web.Request, render: Callable[[str], str], status: int,
               code: int) -> web.StreamResponse:
    """A page in the language the request picks (``?lang=`` remembered in a cookie)."""
    asked = request.query.get("lang")
    locale = pick_locale(asked, request.cookies.get(LANG_COOKIE))
    response = html_response(render(locale), status, code)
    if asked in LOCALES:
        response.set_cookie(LANG_COOKIE, asked, max_age=365 * 86400, samesite="Lax",
                            httponly=True)
    response.headers["Vary"] = "Accept, Cookie"
    return response
