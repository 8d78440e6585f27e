"""The HTTP face of the trace service: ``GET /api/trace/{handle}`` and the page ``/trace/{handle}``.

Both take ``direction`` (``down``, ``up``, ``events`` or ``all``, the default)
and ``depth`` (default :data:`resolver.core.trace.DEFAULT_DEPTH`) and answer the
view of the reader (:mod:`resolver.http.viewer`: REST credentials, a console
login, else anonymous: public values only; :mod:`registry.tiers`). The JSON
endpoint returns the answer of :meth:`resolver.core.trace.Tracer.trace` (HTTP
200; 404 / 400 / 502 when the handle itself is not found, invalid, or its server
did not answer, except for ``up``, which is answered from this node's where-used
index whatever the handle's own fate). The page shows the same answer to a
person: the parts tree, the where-used tree and the events timeline,
server-rendered, every record string HTML-escaped, in the look of
:mod:`resolver.http.pages` and under the same Content-Security-Policy (no
scripts, nothing loaded from elsewhere).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orjson
from aiohttp import web

from protocol.constants import (
    RC_HANDLE_NOT_FOUND,
    RC_PROTOCOL_ERROR,
    RC_SUCCESS,
    RC_VALUES_NOT_FOUND,
)
from resolver.core.far_recall import DEFAULT_HOPS, MAX_HOPS, FarRecall
from resolver.core.recall import affected_products
from resolver.core.trace import DEFAULT_DEPTH, Tracer, TraceRequestError
from resolver.http import pages as http_pages
from resolver.http.pages import escape as _e
from resolver.http.reader import mark_private
from resolver.http.viewer import ViewerOf, anonymous_viewer

_TREE_STYLE = (
    "<style>ul.tree{list-style:none;margin:0;padding-left:1.25rem;border-left:1px solid #d0d7de}"
    "ul.tree.top{border:0;padding:0}ul.tree li{margin:.2rem 0}"
    ".tag{font-size:.8rem;padding:0 .35rem;border:1px solid #d0d7de;border-radius:.25rem;"
    "background:#fff;margin-left:.35rem}.bad{color:#a40e26}.good{color:#116329}"
    "section{margin:1.5rem 0}</style>"
)
_GOOD_SIGNATURES = ("valid",)
_BAD_SIGNATURES = ("invalid", "expired", "revoked", "untrusted")


def trace_path(handle: str) -> str:
    """The URL path of ``handle``'s trace page."""
    return "/trace/" + quote(handle, safe="/")


def _signature_tag(status: str) -> str:
    css = "good" if status in _GOOD_SIGNATURES else "bad" if status in _BAD_SIGNATURES else ""
    return f'<span class="tag {css}">signature: {_e(status)}</span>'


def _node_line(node: Mapping[str, Any], users: bool = False) -> str:
    """One node of a tree; in the where-used tree (``users``) a node *contains* its parent."""
    handle = str(node.get("handle", ""))
    name = f'<strong>{_e(node["name"])}</strong> ' if node.get("name") else ""
    parts = [f'{name}<a href="{_e(trace_path(handle))}">{_e(handle)}</a>']
    if node.get("relation"):
        relation = f"contains it as {node['relation']}" if users else str(node["relation"])
        parts.append(f'<span class="tag">{_e(relation)}</span>')
    if node.get("template"):
        parts.append(f'<span class="tag">{_e(node["template"])}</span>')
    if "source" in node:
        parts.append(f'<span class="tag">from {_e(node["source"])}</span>')
    if node.get("stale"):
        parts.append('<span class="tag bad">stale</span>')
    if "signature" in node:
        parts.append(_signature_tag(str(node["signature"])))
    if node.get("error"):
        detail = node.get("message") or ""
        code = f" (response code {_e(node['responseCode'])})" if "responseCode" in node else ""
        parts.append(f'<span class="tag bad">{_e(node["error"])}</span> '
                     f'<span class="muted">{_e(detail)}{code}</span>')
    if node.get("repeated"):
        parts.append('<span class="muted">(shown above)</span>')
    if node.get("more"):
        parts.append(f'<span class="muted">({_e(node["more"])} more beyond the depth)</span>')
    return " ".join(parts)


def _tree(nodes: Sequence[Mapping[str, Any]], key: str, css: str = "tree") -> str:
    if not nodes:
        return ""
    users = key == "usedIn"
    items = "".join(f"<li>{_node_line(n, users)}{_tree(n.get(key, ()), key)}</li>" for n in nodes)
    return f'<ul class="{css}">{items}</ul>'


def _events(events: Sequence[Mapping[str, Any]]) -> str:
    if not events:
        return '<p id="events" class="muted">No lifecycle events recorded.</p>'
    rows = []
    for event in events:
        if "error" in event:
            rows.append(f'<tr><td colspan="5" class="bad">{_e(event["error"])}</td></tr>')
            continue
        actor = str(event.get("actor", ""))
        rows.append(
            f"<tr><td>{_e(event.get('time'))}</td><td>{_e(event.get('kind'))}</td>"
            f'<td><a href="{_e(trace_path(actor))}">{_e(actor)}</a></td>'
            f"<td>{_e(event.get('place'))}</td><td>{_e(event.get('note'))}</td></tr>"
        )
    return ('<table id="events"><thead><tr><th>Time (UTC)</th><th>Event</th><th>Actor</th>'
            f"<th>Place</th><th>Note</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def trace_page(answer: Mapping[str, Any]) -> str:
    """The page for one answer of :meth:`Tracer.trace`."""
    handle = str(answer.get("handle", ""))
    body = [_TREE_STYLE, f'<h1>Trace of <span id="handle">{_e(handle)}</span></h1>',
            f'<p id="node">{_node_line(answer.get("node", {}))} '
            f'<a class="tag" href="{_e(http_pages.handle_path(handle))}?noredirect">values</a></p>']
    if "down" in answer:
        children = answer["down"].get("children", ())
        tree = _tree(children, "children", "tree top") or '<p class="muted">No parts.</p>'
        body.append(f'<section id="parts"><h2>Parts</h2>{tree}</section>')
    if "up" in answer:
        users = answer["up"].get("usedIn", ())
        tree = _tree(users, "usedIn", "tree top") or '<p class="muted">Not used in any product '\
            "registered here.</p>"
        body.append(f'<section id="where-used"><h2>Used in</h2>{tree}</section>')
    if "events" in answer:
        body.append(f'<section id="timeline"><h2>Events</h2>{_events(answer["events"])}</section>')
    if answer.get("truncated"):
        body.append('<p class="muted">The answer was cut at its size limit.</p>')
    body.append(f'<p class="muted">depth {_e(answer.get("depth"))} &middot; '
                f'{_e(answer.get("nodes"))} nodes &middot; '
                f'<a href="/api/trace/{_e(quote(handle, safe="/"))}">JSON</a></p>')
    return http_pages._document(f"Trace {handle}", "".join(body))


def _request(request: web.Request) -> tuple[str, str, int]:
    direction = request.query.get("direction", "all")
    try:
        depth = int(request.query.get("depth", DEFAULT_DEPTH))
    except ValueError:
        raise TraceRequestError("depth must be an integer") from None
    return request.match_info["handle"], direction, depth


def _status(answer: Mapping[str, Any], http_status: Callable[[int], int]) -> int:
    code = int(answer["responseCode"])
    if code in (RC_SUCCESS, RC_VALUES_NOT_FOUND) or answer["direction"] == "up":
        return 200
    status = http_status(code)
    return 502 if status >= 500 else status


def trace_routes(tracer: Tracer, http_status: Callable[[int], int],
                 viewer: ViewerOf | None = None,
                 not_found: http_pages.NotFoundPage | None = None,
                 far: FarRecall | None = None) -> list[web.RouteDef]:
    """``GET /api/trace/{handle}``, the recall list ``GET /api/trace/{handle}/affected``
    (JSON, or CSV with ``?format=csv``; :mod:`resolver.core.recall`) and
    ``GET /trace/{handle}`` (before the catch-all routes); ``viewer`` says who reads
    (:mod:`resolver.http.viewer`; anonymous without it); ``not_found`` words an
    unknown handle's trace page as ``/{handle}`` does; ``far`` follows the recall
    list's back-linked products to their nodes, ``?hops=`` deep (0 to
    :data:`~resolver.core.far_recall.MAX_HOPS`, default
    :data:`~resolver.core.far_recall.DEFAULT_HOPS`; :mod:`resolver.core.far_recall`)."""
    reader = viewer or anonymous_viewer()

    async def api(request: web.Request) -> web.StreamResponse:
        try:
            handle, direction, depth = _request(request)
            answer = await tracer.trace(handle, direction=direction, depth=depth,
                                        caller=await reader(request))
        except TraceRequestError as exc:
            body: dict[str, Any] = {"responseCode": RC_PROTOCOL_ERROR, "message": str(exc),
                                    "handle": request.match_info["handle"]}
            response = web.json_response(body, status=400, dumps=lambda o: orjson.dumps(o).decode())
            response[http_pages.RESPONSE_CODE] = RC_PROTOCOL_ERROR
            return response
        response = web.Response(body=orjson.dumps(answer), status=_status(answer, http_status),
                                content_type="application/json")
        response[http_pages.RESPONSE_CODE] = int(answer["responseCode"])
        return mark_private(request, response)

    async def page(request: web.Request) -> web.StreamResponse:
        try:
            handle, direction, depth = _request(request)
            answer = await tracer.trace(handle, direction=direction, depth=depth,
                                        caller=await reader(request))
        except TraceRequestError as exc:
            text = http_pages.error_page(request.match_info["handle"], "Bad trace request",
                                         str(exc))
            return http_pages.html_response(text, 400, RC_PROTOCOL_ERROR)
        status = _status(answer, http_status)
        code = int(answer["responseCode"])
        if status == 404 and not_found is not None:
            return not_found(request, handle)
        if status != 200:
            node = answer.get("node", {})
            detail = f"{node.get('message', '')} (response code {code})"
            title = "Handle not found" if status == 404 else "Trace error"
            return http_pages.html_response(http_pages.error_page(handle, title, detail),
                                            status, code)
        return mark_private(request, http_pages.html_response(trace_page(answer), 200, code))

    async def affected(request: web.Request) -> web.StreamResponse:
        handle = request.match_info["handle"]
        store = tracer.service.store
        hops = request.query.get("hops", str(DEFAULT_HOPS))
        if not hops.isdigit() or int(hops) > MAX_HOPS:
            body = {"responseCode": RC_PROTOCOL_ERROR, "handle": handle,
                    "message": f"hops must be 0 to {MAX_HOPS}, got {hops[:20]!r}"}
            return web.Response(body=orjson.dumps(body), status=400,
                                content_type="application/json")
        view = await tracer.service.link_view(await reader(request))
        answer = await affected_products(store, handle, hops=int(hops), view=view,
                                         far=far.follow if far is not None else None)
        if not answer.products and await store.get_handle(handle) is None:
            body = {"responseCode": RC_HANDLE_NOT_FOUND, "handle": handle,
                    "message": f"{handle} is not found here and nothing here contains it"}
            response = web.Response(body=orjson.dumps(body), status=404,
                                    content_type="application/json")
            response[http_pages.RESPONSE_CODE] = RC_HANDLE_NOT_FOUND
            return response
        if request.query.get("format") == "csv":
            filename = handle.replace("/", "_") + "-affected.csv"
            response = web.Response(
                text=answer.as_csv(), content_type="text/csv", charset="utf-8",
                headers={"Content-Disposition": f'attachment; filename="{filename}"'})
        else:
            response = web.Response(body=orjson.dumps(answer.as_json()),
                                    content_type="application/json")
        response[http_pages.RESPONSE_CODE] = RC_SUCCESS
        return mark_private(request, response)

    return [
        web.get("/api/trace/{handle:.+}/affected", affected),
        web.get("/api/trace/{handle:.+}", api),
        web.get("/trace/{handle:.+}", page),
    ]
