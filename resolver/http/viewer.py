"""Who reads a product page or a trace: anonymous, a REST caller, or a console user.

The pages (``/{handle}``, ``/trace/{handle}``) and the trace API
(``/api/trace/{handle}``, its recall list) show each reader the values it may
read (:mod:`registry.tiers`).  The reader is, in this order:

1. the identity proven by the request's ``Authorization`` header (the REST
   credentials, Basic with HS_SECKEY or a session signature); credentials that
   prove nothing answer 401, never the public view in silence;
2. the enterprise of the console user whose login cookie the request carries
   (:mod:`resolver.http.console.sessions`): a :class:`~resolver.core.model.Caller`
   with only ``enterprise`` set, which may read and never write;
3. anonymous.

A request with neither header nor cookie costs nothing here.  ``/api/handles``
does not read the console cookie: its kept anonymous answers
(:mod:`resolver.http.hot_rest`) are told apart by the ``Authorization`` header
alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from resolver.core.model import ANONYMOUS, Caller
from resolver.http.auth import AuthResult
from resolver.http.console.context import SETTINGS
from resolver.http.console.sessions import SESSION_COOKIE
from resolver.http.reader import READER

#: the reader of a request (raises an HTTP 401 answer for failed credentials)
ViewerOf = Callable[[web.Request], Awaitable[Caller]]


def anonymous_viewer() -> ViewerOf:
    """A viewer for an application without credentials or console: always anonymous."""

    async def viewer(request: web.Request) -> Caller:
        del request
        return ANONYMOUS

    return viewer


def viewer_of(
    authenticate: Callable[[web.Request], Awaitable[AuthResult]],
    refuse: Callable[[web.Request, AuthResult], Awaitable[web.Response]],
    console: web.Application | None,
) -> ViewerOf:
    """The reader of a request: ``authenticate`` reads the REST credentials,
    ``refuse`` answers failed ones, ``console`` holds the login sessions."""

    async def viewer(request: web.Request) -> Caller:
        if READER not in request:
            request[READER] = await _find(request)
        return request[READER]

    async def _find(request: web.Request) -> Caller:
        if "Authorization" in request.headers:
            result = await authenticate(request)
            if result.failed:
                response = await refuse(request, result)
                challenge = [(k, v) for k, v in response.headers.items()
                             if k.lower() == "www-authenticate"]
                raise web.HTTPUnauthorized(body=response.body, headers=challenge,
                                           content_type=response.content_type)
            if result.caller.authenticated:
                return result.caller
        token = request.cookies.get(SESSION_COOKIE)
        if token and console is not None:
            settings = console[SETTINGS]
            session = await settings.sessions.get(token)
            user = None if session is None else await settings.store.get_user_by_id(
                session.user_id)
            if user is not None and not user.disabled and user.enterprise:
                return Caller(None, None, enterprise=user.enterprise)
        return ANONYMOUS

    return viewer

