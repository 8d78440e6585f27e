"""``POST /api/backlinks``: other nodes register where-used links to parts homed here.

The body is ``{"backlinks": ["<compact JWS>", ...]}`` (at most
:data:`~resolver.core.backlinks.MAX_PER_REQUEST` statements, the body at most
:data:`MAX_BODY` bytes); each statement is signed by the sending node's server
key, which is the request's authentication
(:class:`~resolver.core.backlinks.BacklinkReceiver` checks it, statement by
statement).  The answer is ``{"results": [{"index", "status", ...}], "accepted",
"refused"}``: 200 when every statement was taken, 403 when one had a signature
that does not verify, else 422 when one was refused for another reason; 400 for
a body that is not such a list.  The HTTP guard's per-client rate limit and
in-flight bound apply as to every request.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from resolver.core.backlink_claims import MAX_JWS_CHARS, ClaimError
from resolver.core.backlinks import MAX_PER_REQUEST, PATH, REFUSED, BacklinkReceiver

MAX_BODY = MAX_PER_REQUEST * (MAX_JWS_CHARS + 8) + 64


def _json(body: dict[str, Any], status: int) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def backlink_routes(receiver: BacklinkReceiver) -> list[web.RouteDef]:
    """The route, answered by ``receiver``."""

    async def post(request: web.Request) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _json({"message": f"the body is at most {MAX_BODY} bytes"}, 413)
        raw = await request.read()  # the app's client_max_size bounds it first
        if len(raw) > MAX_BODY:
            return _json({"message": f"the body is at most {MAX_BODY} bytes"}, 413)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return _json({"message": f"the body is not JSON: {exc}"}, 400)
        try:
            items = body.get("backlinks") if isinstance(body, dict) else None
            results = await receiver.receive(items)
        except ClaimError as exc:
            return _json({"message": str(exc)}, 400)
        refused = [r for r in results if r["status"] == REFUSED]
        status = 200
        if any(r["reason"] == "signature" for r in refused):
            status = 403
        elif refused:
            status = 422
        return _json({"results": results, "accepted": len(results) - len(refused),
                      "refused": len(refused)}, status)

    return [web.post(PATH, post)]
