"""What every console handler shares: the settings, the logged-in user, rendering a page.

Handlers stay thin: they parse the request, call the registry (through
:class:`ConsoleSettings`) and :func:`render` a template.  ``render`` fills in
what the base layout needs (user, CSRF token, language, navigation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from protocol.values import HandleValue
from registry.accounts import StoredSession, UserInfo
from registry.cert_issuer import CertIssuer
from registry.store import HandleStore
from resolver.core.metrics import Metrics
from resolver.core.redis_link import RedisLink
from resolver.core.service import ResolutionService
from resolver.http.console.i18n import HTML_LANG, current_locale
from resolver.http.console.sessions import ConsoleSessions

CSRF_COOKIE = "idnode_csrf"
CSRF_FIELD = "csrf_token"


@dataclass
class ConsoleSettings:
    """Everything the console needs from the node.

    ``site`` is the node's HS_SITE value (put in new enterprise prefix handles);
    ``public_url`` is the base of the public product pages (``<base>/<handle>``)
    the QR labels encode; ``uploads`` is the folder bulk uploads and their
    reports go to (shared by the worker processes of one host); ``issuer`` is
    the node's certificate issuer (``cert_issuer_key_path``), None when the
    console only shows the ``idnode cert approve`` command; ``signature_days``
    is how long signatures made in the portal's Sign records page are valid.
    """

    service: ResolutionService
    sessions: ConsoleSessions
    node_prefix: str
    site: HandleValue | None
    public_url: str
    uploads: Path
    metrics: Metrics | None = None
    redis: RedisLink | None = None
    secure_cookies: bool = False
    issuer: CertIssuer | None = None
    signature_days: int = 365

    @property
    def store(self) -> HandleStore:
        """The registry."""
        return self.service.store


SETTINGS = web.AppKey("console_settings", ConsoleSettings)
USER = web.RequestKey("console_user", UserInfo)
SESSION = web.RequestKey("console_session", StoredSession)
SESSION_TOKEN = web.RequestKey("console_token", str)
ANON_CSRF = web.RequestKey("console_anon_csrf", str)


def settings_of(request: web.Request) -> ConsoleSettings:
    """The console settings of the app serving ``request``."""
    return request.app[SETTINGS]


def user_of(request: web.Request) -> UserInfo:
    """The logged-in user (the authorization middleware guarantees there is one)."""
    user = request.get(USER)
    if not isinstance(user, UserInfo):
        raise web.HTTPForbidden()
    return user


def session_of(request: web.Request) -> StoredSession | None:
    """The request's login session, if any."""
    return request.get(SESSION)


def csrf_token(request: web.Request) -> str:
    """The CSRF token forms of this request must carry."""
    session = session_of(request)
    if session is not None:
        return session.csrf
    return request[ANON_CSRF]


def actor_of(request: web.Request) -> str:
    """How the audit log names the person behind ``request``."""
    user = request.get(USER)
    return f"console:{user.username}" if isinstance(user, UserInfo) else "console:anonymous"


def render(
    request: web.Request, template: str, context: Mapping[str, Any] | None = None,
    *, status: int = 200,
) -> web.Response:
    """``template`` rendered for ``request`` with the layout's context added."""
    user = request.get(USER)
    full = {
        "user": user if isinstance(user, UserInfo) else None,
        "csrf_field": CSRF_FIELD,
        "csrf": csrf_token(request),
        "lang": current_locale(),
        "html_lang": HTML_LANG[current_locale()],
        "path": request.path_qs,
        **(context or {}),
    }
    response = aiohttp_jinja2.render_template(template, request, full, status=status)
    return response


def redirect(location: str) -> web.HTTPSeeOther:
    """A 303 to ``location`` (the answer to a successful form POST)."""
    return web.HTTPSeeOther(location)
