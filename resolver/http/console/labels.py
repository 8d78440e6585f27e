"""QR-code labels of identifiers: PNG or SVG per identifier and a printable A4 sheet.

A label's code encodes the product page URL of the identifier
(``<public_url>/<handle>``, the node's resolution page), drawn by
:mod:`resolver.http.qr` (segno, level M, 4-module quiet zone) like the public
``/{handle}/qr.svg``.  The A4 sheet is an HTML page laid out in millimetres
for printing (3 x 8 labels), the codes inline SVG; printing is logged.
"""

from __future__ import annotations

from aiohttp import web
from markupsafe import Markup

from resolver.http.console.context import actor_of, render, settings_of
from resolver.http.console.portal import handle_of, scope
from resolver.http.console.security import ENTERPRISE, allow
from resolver.http.qr import FORMATS, QrOptions, page_url, qr_code

routes = web.RouteTableDef()
MAX_LABELS = 240
LABEL_SCALE = 3


@routes.get("/portal/qr", name="qr")
@allow(*ENTERPRISE)
async def qr_image(request: web.Request) -> web.StreamResponse:
    """One identifier's QR code, ``fmt=svg`` (default) or ``png``."""
    owned = await scope(request)
    handle = handle_of(request, owned)
    kind = "png" if request.query.get("fmt") == "png" else "svg"
    body = qr_code(page_url(settings_of(request).public_url, handle), QrOptions(kind=kind))
    return web.Response(body=body, content_type=FORMATS[kind])


@routes.get("/portal/labels", name="labels")
@allow(*ENTERPRISE)
async def label_sheet(request: web.Request) -> web.StreamResponse:
    """An A4 sheet of labels for the identifiers ticked in the list (``h=`` repeated)."""
    owned = await scope(request)
    handles = [h for h in request.query.getall("h", []) if owned.owns(h)][:MAX_LABELS]
    if not handles:
        raise web.HTTPBadRequest(text="tick at least one identifier of your enterprise")
    public_url = settings_of(request).public_url
    options = QrOptions(scale=LABEL_SCALE)
    labels = []
    for handle in handles:
        url = page_url(public_url, handle)
        svg = qr_code(url, options).decode()
        labels.append((handle, url, Markup(svg)))  # noqa: S704 - segno's own SVG, URL escaped
    await settings_of(request).store.log_console_action(
        actor_of(request), "labels.print", detail={"count": len(handles), "first": handles[0]})
    return render(request, "labels.html", {"labels": labels})
