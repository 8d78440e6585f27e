"""Pre-encoded REST answers: ``GET /api/handles/{handle}`` of a cached record from bytes.

The common REST read is anonymous, without query parameters, for a record the
node has cached.  Its JSON body depends only on the handle as written and the
record, so the first answer's body (and its ETag, a digest of the body) is
kept with the record (:class:`resolver.core.hot.HotAnswers`: dropped with it on
invalidation, charged to the cache's byte bound) and the next such request is
answered from it without resolving or serialising.  A request carrying the
ETag in ``If-None-Match`` gets 304 without a body.

Anything else (credentials, ``type``/``index``/``pretty``/``callback`` or any
other parameter, a record not cached) goes the ordinary way.  Both ways build
the response with :func:`json_response`, so a kept answer is byte-identical to
a fresh one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from aiohttp import web

from protocol.constants import RC_SUCCESS
from resolver.core.cache import Answer
from resolver.core.hot import HotAnswers
from resolver.http.pages import RESPONSE_CODE

FORM = "rest-json"


@dataclass(frozen=True, slots=True)
class KeptBody:
    """A kept REST body and its ETag."""

    payload: bytes
    etag: str


def plain(request: web.Request) -> bool:
    """Whether ``request`` is anonymous and without parameters (its answer may be kept)."""
    return not request.query_string and "Authorization" not in request.headers


def kept_body(payload: bytes) -> KeptBody:
    """``payload`` with its ETag (a strong validator: a digest of the bytes)."""
    return KeptBody(payload, f'"{hashlib.blake2b(payload, digest_size=12).hexdigest()}"')


def json_response(request: web.Request, kept: KeptBody) -> web.Response:
    """200 with the body, or 304 when the client holds this ETag already."""
    if request.headers.get("If-None-Match") == kept.etag:
        response = web.Response(status=304)
    else:
        response = web.Response(body=kept.payload, status=200, content_type="application/json",
                                charset="utf-8")
    response.headers["ETag"] = kept.etag
    response.headers["X-Content-Type-Options"] = "nosniff"
    response[RESPONSE_CODE] = RC_SUCCESS
    return response


def answer_kept(request: web.Request, hot: HotAnswers, handle: str) -> web.Response | None:
    """The response from the kept body of ``handle``'s cached record, if there is one."""
    answer = hot.lookup(handle)
    kept = None if answer is None else answer.renders.get((FORM, handle))
    if not isinstance(kept, KeptBody):
        return None
    hot.served(handle)
    return json_response(request, kept)


def keep(hot: HotAnswers, handle: str, answer: Answer | None, kept: KeptBody) -> None:
    """Keep ``kept`` with ``answer``, the cached record it was made from (if any)."""
    if answer is not None:
        hot.keep(handle, answer, (FORM, handle), kept, len(kept.payload) + 2 * len(handle) + 64)
