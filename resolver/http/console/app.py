"""The console application factory: Jinja2 environment, middlewares, routes per feature.

:func:`make_console_app` builds the aiohttp application the node mounts at
``/console/`` on its HTTP port (and, with ``console_port``, serves on a
listener of its own).  Middlewares, in order: language, session + CSRF +
security headers, authorization (see :mod:`resolver.http.console.security`).
Each feature module has its own :class:`aiohttp.web.RouteTableDef`.
"""

from __future__ import annotations

import aiohttp_jinja2
import jinja2
from aiohttp import web

from resolver.http.console import (
    account,
    apply,
    auth,
    bulk,
    cert_portal,
    cert_review,
    labels,
    operator,
    portal,
    review,
    sharing,
    signing,
    users,
)
from resolver.http.console.context import SETTINGS, ConsoleSettings
from resolver.http.console.i18n import gettext, ngettext
from resolver.http.console.security import (
    authorization_middleware,
    locale_middleware,
    session_middleware,
)

PREFIX = "/console"
MAX_UPLOAD = 64 * 1024 * 1024
FEATURES = (auth, account, apply, review, cert_review, portal, cert_portal, sharing, bulk, signing,
            labels, operator, users)


def template_environment(app: web.Application) -> jinja2.Environment:
    """Set up aiohttp-jinja2 on ``app``: package templates, autoescape, i18n."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("resolver.http.console", "templates"),
        autoescape=jinja2.select_autoescape(["html", "svg"], default=True),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    return env


def make_console_app(settings: ConsoleSettings) -> web.Application:
    """The console as an application to mount at :data:`PREFIX`."""
    app = web.Application(
        middlewares=[locale_middleware, session_middleware, authorization_middleware],
        client_max_size=MAX_UPLOAD,
    )
    app[SETTINGS] = settings
    template_environment(app)
    for feature in FEATURES:
        app.add_routes(feature.routes)
    return app


def standalone_console_app(settings: ConsoleSettings) -> web.Application:
    """An application holding only the console (for the separate ``console_port``)."""
    root = web.Application()

    async def to_console(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(PREFIX + "/")

    root.router.add_get("/", to_console)
    root.add_subapp(PREFIX + "/", make_console_app(settings))
    return root
