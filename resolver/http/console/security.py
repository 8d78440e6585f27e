"""Who may call which console route, CSRF checks, and the security headers.

Every handler is declared with :func:`allow` (the roles that may call it) or
:func:`public`; the authorization middleware refuses any route that was not
declared (fail closed), sends an anonymous visitor of a protected page to the
login form and answers 403 to a logged-in user of the wrong role.  Data of
one enterprise is kept from another by the portal handlers, which only ever
look at the logged-in user's own enterprise (see ``portal_scope``).

Every POST must carry the form field ``csrf_token``: the session's token when
logged in, else the value of the ``idnode_csrf`` cookie (double submit, for
the login and application forms).  Cookies are SameSite=Strict as well.

Pages load nothing from another host and run no script: the CSP allows only
this node's stylesheet and images.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from registry.accounts import ENTERPRISE_ROLES
from registry.models import ROLES
from resolver.http.console.context import (
    ANON_CSRF,
    CSRF_COOKIE,
    CSRF_FIELD,
    SESSION,
    SESSION_TOKEN,
    USER,
    settings_of,
)
from resolver.http.console.forms import posted
from resolver.http.console.i18n import LANG_COOKIE, pick_locale, use_locale
from resolver.http.console.sessions import SESSION_COOKIE

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)

PUBLIC = "public"
STAFF = ("operator", "reviewer")
ENTERPRISE = ENTERPRISE_ROLES
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

_POLICY: dict[Any, frozenset[str]] = {}


def allow(*roles: str) -> Callable[[H], H]:
    """Declare the roles that may call the decorated handler."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def mark(handler: H) -> H:
        _POLICY[handler] = frozenset(roles)
        return handler

    return mark


def public(handler: H) -> H:
    """Declare a handler anyone may call (login, apply, the stylesheet)."""
    _POLICY[handler] = frozenset({PUBLIC})
    return handler


def policy_of(handler: object) -> frozenset[str] | None:
    """The roles declared for ``handler`` (``{"public"}`` for public ones), None if undeclared."""
    return _POLICY.get(handler)


@web.middleware
async def locale_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer in the language the request asks for (zh-CN unless told otherwise)."""
    use_locale(pick_locale(request.query.get("lang"), request.cookies.get(LANG_COOKIE)))
    return await handler(request)


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Find the logged-in user, check CSRF on POST, add the security headers."""
    settings = settings_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        session = await settings.sessions.get(token)
        if session is not None:
            user = await settings.store.get_user_by_id(session.user_id)
            if user is not None and not user.disabled:
                request[SESSION], request[USER], request[SESSION_TOKEN] = session, user, token
    anon = request.cookies.get(CSRF_COOKIE) or ""
    request[ANON_CSRF] = anon or secrets.token_urlsafe(24)
    if request.method == "POST":
        await _check_csrf(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(HEADERS)
        raise
    response.headers.update(HEADERS)
    if not anon:
        response.set_cookie(CSRF_COOKIE, request[ANON_CSRF], httponly=True, samesite="Strict",
                            secure=settings.secure_cookies, path="/")
    return response


async def _check_csrf(request: web.Request) -> None:
    form = await posted(request)
    sent = form.get(CSRF_FIELD)
    session = request.get(SESSION)
    expected = session.csrf if session is not None else request.cookies.get(CSRF_COOKIE, "")
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        raise web.HTTPForbidden(text="CSRF token missing or wrong; reload the form")


@web.middleware
async def authorization_middleware(request: web.Request, handler: Handler
                                   ) -> web.StreamResponse:
    """Refuse undeclared routes, anonymous visitors of protected pages and wrong roles."""
    route_handler = request.match_info.handler
    policy = policy_of(route_handler)
    if policy is None:
        if request.match_info.http_exception is not None:  # 404/405: let aiohttp answer
            return await handler(request)
        raise web.HTTPForbidden(text="route has no declared policy")
    if PUBLIC in policy:
        return await handler(request)
    user = request.get(USER)
    if user is None:
        if request.method == "GET":
            raise web.HTTPSeeOther(f"{request.app.router['login'].url_for()}"
                                   f"?next={request.path_qs}")
        raise web.HTTPForbidden(text="log in first")
    if user.role not in policy:
        raise web.HTTPForbidden(text="your role may not do this")
    return await handler(request)
