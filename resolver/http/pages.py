"""Proxy pages, as hdl.handle.net serves them: redirect to a handle's URL or show its values.

``GET /88.118.8/TV-0001`` answers 302 to the first URL value; with
``?noredirect`` (or when the handle has no usable URL) it answers a plain
server-rendered HTML page of the values.  ``GET /`` is a home page whose resolve
box is a form that GETs ``/?hdl=...&noredirect=on``, answered by a redirect to
the handle's page, so the site works without JavaScript.  Every string from a
record is HTML-escaped; pages carry their small stylesheet inline and load
nothing from elsewhere (a strict Content-Security-Policy says so).
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiohttp import web

from protocol.constants import RC_ERROR, RC_HANDLE_NOT_FOUND, RC_SUCCESS, RC_VALUES_NOT_FOUND
from protocol.values import HandleValue
from resolver.http.locations import choose_location
from resolver.http.reader import mark_private

#: ``(response code, values)`` of a handle for the reader of a request
Resolver = Callable[[web.Request, str], Awaitable[tuple[int, tuple[HandleValue, ...]]]]
Renderer = Callable[[HandleValue], Mapping[str, Any]]

#: key under which a response carries its Handle response code (for the metrics)
RESPONSE_CODE = web.ResponseKey("idnode_response_code", int)

_REDIRECT_SCHEMES = ("http://", "https://", "ftp://", "mailto:")
_LINK_SCHEMES = ("http://", "https://")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1b1f23;background:#f6f8fa}
main{max-width:960px;margin:2rem auto;padding:0 1rem}
h1{font-size:1.5rem;word-break:break-all}
form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:1rem 0}
input[type=text]{flex:1 1 20rem;font:inherit;padding:.4rem .6rem}
button{font:inherit;padding:.4rem 1rem}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #d0d7de;padding:.35rem .6rem;text-align:left;vertical-align:top}
td.data{word-break:break-all;font-family:ui-monospace,monospace}
.muted{color:#57606a}
.sig{padding:.4rem .6rem;border-radius:6px}
.sig-valid{background:#dafbe1;color:#116329}.sig-bad{background:#ffebe9;color:#b42318}
.sig-none{background:#eaeef2;color:#424a53}
summary{cursor:pointer;color:#57606a}
"""


@dataclass(frozen=True)
class PageNotes:
    """What the values page adds about a record: ``section`` (HTML above the values) and,
    by index, HTML shown instead of a value's raw data (the raw data kept in a
    ``<details>`` labelled ``raw_label``)."""

    section: str = ""
    cells: Mapping[int, str] = field(default_factory=dict)
    raw_label: str = "raw"


#: the notes of a record's values page, for the reader of a request
Notes = Callable[[web.Request, str, tuple[HandleValue, ...]], Awaitable[PageNotes]]


def escape(text: object) -> str:
    """``text`` as HTML text or attribute value."""
    return html.escape(str(text), quote=True)


def _document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body><main>{body}<p class="muted"><a href="/">idnode handle resolver</a></p>'
        "</main></body></html>\n"
    )


def _resolve_form(value: str = "") -> str:
    return (
        '<form id="resolve" action="/" method="get" role="search">'
        '<label for="hdl">Handle</label>'
        f'<input type="text" id="hdl" name="hdl" value="{escape(value)}" required '
        'placeholder="88.118.8/TV-0000001" autocomplete="off" spellcheck="false">'
        '<label><input type="checkbox" name="noredirect" checked> show values, do not redirect'
        '</label><button type="submit" id="submit">Resolve</button></form>'
    )


def home_page() -> str:
    """The home page with its resolve box."""
    return _document(
        "Handle resolver",
        "<h1>Resolve a handle</h1>" + _resolve_form()
        + '<p class="muted">Machine access: <a href="/api/openapi.json">REST API</a>.</p>',
    )


def _data_cell(value: HandleValue, data: Mapping[str, Any]) -> str:
    fmt, content = data.get("format"), data.get("value")
    if fmt == "string" and isinstance(content, str):
        if value.type.upper().startswith("URL") and content.startswith(_LINK_SCHEMES):
            return f'<a href="{escape(content)}" rel="nofollow noopener">{escape(content)}</a>'
        return escape(content)
    if fmt == "admin" and isinstance(content, Mapping):
        return (
            f"handle={escape(content.get('handle'))} index={escape(content.get('index'))} "
            f"permissions={escape(content.get('permissions'))}"
        )
    if fmt == "vlist" and isinstance(content, list):
        refs = (f"{escape(r.get('index'))}:{escape(r.get('handle'))}" for r in content if
                isinstance(r, Mapping))
        return "<br>".join(refs)
    if fmt in ("base64", "hex"):
        return f'<span class="muted">{escape(fmt)}:</span> {escape(content)}'
    return f'<span class="muted">{escape(fmt)}</span>'


def _row(value: HandleValue, render: Renderer, notes: PageNotes) -> str:
    rendered = render(value)
    cell = _data_cell(value, rendered.get("data", {}))
    if value.index in notes.cells:
        cell = (f"{notes.cells[value.index]}<details><summary>{escape(notes.raw_label)}"
                f"</summary>{cell}</details>")
    return (
        f"<tr><td>{value.index}</td><td>{escape(value.type)}</td>"
        f"<td>{escape(rendered.get('timestamp', ''))}</td>"
        f'<td class="data">{cell}</td></tr>'
    )


def values_page(handle: str, values: Iterable[HandleValue], render: Renderer,
                notes: PageNotes | None = None) -> str:
    """The page listing ``values`` of ``handle``; ``render`` gives a value's REST JSON form,
    ``notes`` what to add (a signature verdict, values in plain words)."""
    notes = notes or PageNotes()
    rows = "".join(_row(v, render, notes) for v in values)
    table = (
        '<table id="values"><thead><tr><th>Index</th><th>Type</th><th>Timestamp</th>'
        f"<th>Data</th></tr></thead><tbody>{rows}</tbody></table>"
        if rows else '<p id="values">This handle has no values you may read.</p>'
    )
    return _document(
        f"Handle {handle}",
        f'<h1>Handle <span id="handle">{escape(handle)}</span></h1>{notes.section}{table}'
        + _resolve_form(handle),
    )


def error_page(handle: str, title: str, detail: str) -> str:
    """A page for a handle that could not be shown (not found, or an error)."""
    return _document(
        f"{title}: {handle}" if handle else title,
        f'<h1 id="error">{escape(title)}</h1><p>{escape(detail)}</p>' + _resolve_form(handle),
    )


def redirect_target(values: Iterable[HandleValue]) -> str | None:
    """The first URL value (lowest index) that is safe to put in a Location header."""
    for v in sorted(values, key=lambda v: v.index):
        if v.type.upper() != "URL":
            continue
        try:
            url = v.data.decode("utf-8").strip()
        except UnicodeDecodeError:
            continue
        if _safe(url):
            return url
    return None


def _safe(url: str) -> bool:
    return url.lower().startswith(_REDIRECT_SCHEMES) and url.isprintable() and " " not in url


def _target(request: web.Request, handle: str, values: tuple[HandleValue, ...]) -> str | None:
    """Where ``/{handle}`` redirects: the 10320/LOC choice (:mod:`resolver.http.locations`)
    when the record has one that is safe, else the first URL."""
    chosen = choose_location(
        values, handle, locatt=request.query.getall("locatt", []),
        country=request.query.get("country"), client=request.remote,
    )
    return chosen if chosen is not None and _safe(chosen) else redirect_target(values)


def html_response(text: str, status: int, response_code: int) -> web.Response:
    """An HTML page with the security headers, carrying its Handle response code."""
    response = web.Response(
        text=text, status=status, content_type="text/html", charset="utf-8",
        headers=SECURITY_HEADERS,
    )
    response[RESPONSE_CODE] = response_code
    return response


def server_error_page() -> web.Response:
    """The 500 page for an unexpected failure (details go to the log, not the page)."""
    return html_response(
        error_page("", "Server error", "The handle could not be resolved; try again later."),
        500, RC_ERROR,
    )


def handle_path(handle: str) -> str:
    """The URL path of ``handle``'s page (percent-encoded, slashes kept), always on this
    node: leading slashes are encoded, so ``/evil.example`` cannot become the
    scheme-relative ``//evil.example`` (an open redirect)."""
    path = quote(handle, safe="/")
    bare = path.lstrip("/")
    return "/" + "%2F" * (len(path) - len(bare)) + bare


#: a page for people that ``/{handle}`` answers instead (None: answer as usual)
PeoplePage = Callable[
    [web.Request, str, tuple[HandleValue, ...]], Awaitable[web.StreamResponse | None]
]


#: the page for a handle not registered here (:func:`resolver.http.product.page.not_found_page`)
NotFoundPage = Callable[[web.Request, str], web.StreamResponse]


def page_routes(
    resolve: Resolver,
    render: Renderer,
    http_status: Callable[[int], int],
    product: PeoplePage | None = None,
    not_found: NotFoundPage | None = None,
    notes: Notes | None = None,
) -> list[web.RouteDef]:
    """Routes of the home page and of ``/{handle}`` (register after every other route).

    ``resolve`` answers ``(response code, values)`` for a handle and the request's
    reader (:mod:`resolver.http.viewer`), ``render`` gives a
    value's REST JSON form, ``http_status`` maps a Handle response code to the
    HTTP status of its page; ``product`` may answer a resolved handle with a page
    of its own (the product page, :mod:`resolver.http.product`) unless
    ``?noredirect`` asks for the values; ``not_found`` words a handle not registered
    here for people (default: a plain English page); ``notes`` adds to the values page
    (the signature verdict, :mod:`resolver.http.product.signed_values`).
    """

    async def home(request: web.Request) -> web.StreamResponse:
        wanted = request.query.get("hdl", "").strip()
        if wanted:
            location = handle_path(wanted.removeprefix("hdl:"))
            if "noredirect" in request.query:
                location += "?noredirect"
            response = web.Response(status=302, headers={"Location": location})
            response[RESPONSE_CODE] = RC_SUCCESS
            return response
        return html_response(home_page(), 200, RC_SUCCESS)

    async def show(request: web.Request) -> web.StreamResponse:
        handle = request.match_info["handle"]
        code, values = await resolve(request, handle)
        if code == RC_HANDLE_NOT_FOUND:
            if not_found is not None:
                return not_found(request, handle)
            return html_response(
                error_page(handle, "Handle not found", "No such handle is registered here."),
                404, code,
            )
        if code not in (RC_SUCCESS, RC_VALUES_NOT_FOUND):
            return html_response(
                error_page(handle, "Resolution error", f"The handle could not be resolved "
                           f"(response code {code})."),
                http_status(code), code,
            )
        if product is not None and "noredirect" not in request.query:
            page = await product(request, handle, values)
            if page is not None:
                return page
        target = None if "noredirect" in request.query else _target(request, handle, values)
        if target is not None:
            response = web.Response(status=302, headers={"Location": target})
            response[RESPONSE_CODE] = code
            return response
        page_notes = None if notes is None else await notes(request, handle, values)
        return mark_private(request, html_response(values_page(handle, values, render,
                                                               page_notes), 200, code))

    return [web.get("/", home), web.get("/{handle:.+}", show)]
