"""QR codes that open a product's page: ``GET /{handle}/qr.svg|png`` and ``idnode qr``.

The code carries the URL of the handle's page on this node
(``{public base}/{handle}``), made by ``segno`` (a maintained, pure-Python QR
encoder that follows ISO/IEC 18004): byte mode, the smallest version that
fits, error-correction level M by default (15 % of the symbol may be damaged —
labels get scratched; ``H`` for harsh places), and the 4-module quiet zone the
standard asks for.  Every cost a client controls is bounded: the URL by the
handle length limit, the scale (pixels per module) by :data:`MAX_SCALE`, the
level by its four letters; a code is made only for a handle that resolves.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

import segno
from aiohttp import web

from protocol.constants import RC_HANDLE_NOT_FOUND, RC_SUCCESS, RC_VALUES_NOT_FOUND
from resolver.http.pages import RESPONSE_CODE

QUIET_ZONE = 4          # modules, ISO/IEC 18004 section 6.3.8
DEFAULT_SCALE = 8       # pixels (PNG) or user units (SVG) per module
MAX_SCALE = 40
LEVELS = ("L", "M", "Q", "H")
FORMATS = {"svg": "image/svg+xml", "png": "image/png"}


class QrError(ValueError):
    """A QR request that cannot be made (bad scale, level or format)."""


@dataclass(frozen=True, slots=True)
class QrOptions:
    """How to draw one code."""

    kind: str = "svg"
    scale: int = DEFAULT_SCALE
    level: str = "M"

    def __post_init__(self) -> None:
        if self.kind not in FORMATS:
            raise QrError(f"format {self.kind!r}: use svg or png")
        if not 1 <= self.scale <= MAX_SCALE:
            raise QrError(f"scale {self.scale}: use 1 to {MAX_SCALE} (pixels per module)")
        if self.level not in LEVELS:
            raise QrError(f"error correction {self.level!r}: use L, M, Q or H")


def page_url(base: str, handle: str) -> str:
    """The product page of ``handle`` under ``base`` (``http://host:port``)."""
    return base.rstrip("/") + "/" + quote(handle, safe="/")


def qr_code(url: str, options: QrOptions) -> bytes:
    """The QR code of ``url`` as SVG or PNG bytes."""
    code = segno.make_qr(url, error=options.level.lower(), boost_error=False)
    out = io.BytesIO()
    if options.kind == "svg":
        code.save(out, kind="svg", scale=options.scale, border=QUIET_ZONE, xmldecl=False,
                  title=url)
    else:
        code.save(out, kind="png", scale=options.scale, border=QUIET_ZONE)
    return out.getvalue()


Resolver = Callable[[str], Awaitable[tuple[int, object]]]


def qr_routes(resolve: Resolver, public_url: str | None = None) -> list[web.RouteDef]:
    """``/{handle}/qr.svg`` and ``/{handle}/qr.png`` (register before the ``/{handle}`` page).

    The code carries ``public_url`` + ``/{handle}`` (the node's configured address), or
    the request's own origin when none is configured.
    """

    async def code(request: web.Request) -> web.StreamResponse:
        handle, kind = request.match_info["handle"], request.match_info["kind"]
        try:
            options = QrOptions(kind, int(request.query.get("scale", DEFAULT_SCALE)),
                                request.query.get("level", "M").upper())
        except ValueError as exc:  # QrError, or a scale that is no number
            return _text(f"{exc}\n", 400, RC_SUCCESS)
        response_code, _values = await resolve(handle)
        if response_code not in (RC_SUCCESS, RC_VALUES_NOT_FOUND):
            return _text(f"{handle}: not found here\n", 404, RC_HANDLE_NOT_FOUND)
        body = qr_code(page_url(public_url or str(request.url.origin()), handle), options)
        response = web.Response(body=body, content_type=FORMATS[kind],
                                headers={"Cache-Control": "public, max-age=86400"})
        response[RESPONSE_CODE] = response_code
        return response

    return [web.get("/{handle:.+}/qr.{kind:svg|png}", code)]


def _text(message: str, status: int, code: int) -> web.Response:
    response = web.Response(text=message, status=status, content_type="text/plain")
    response[RESPONSE_CODE] = code
    return response
