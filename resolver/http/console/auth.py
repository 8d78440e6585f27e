"""Logging in and out, the console's front door, the language switch and the stylesheet.

A login checks the argon2 hash, then (for accounts that have it) the TOTP
code; wrong answers count towards the account's lock (see
:mod:`registry.accounts`).  A locked account is refused without looking at
the password, with the same message as a wrong password plus the time to
wait, so the form does not tell which user names exist beyond that.
"""

from __future__ import annotations

from pathlib import Path

import pyotp
from aiohttp import web

from registry.models import ROLES, utcnow
from registry.passwords import (
    hash_off_loop,
    needs_rehash,
    verify_off_loop,
    verify_unknown_user,
)
from resolver.http.console.context import (
    SESSION_TOKEN,
    USER,
    render,
    settings_of,
    user_of,
)
from resolver.http.console.forms import posted
from resolver.http.console.i18n import LANG_COOKIE, LOCALES
from resolver.http.console.i18n import gettext as _
from resolver.http.console.security import allow, public
from resolver.http.console.sessions import SESSION_COOKIE, SESSION_SECONDS

routes = web.RouteTableDef()
STYLESHEET = Path(__file__).with_name("static") / "console.css"
HOME_OF = {"operator": "/console/ops", "reviewer": "/console/reviews",
           "enterprise_admin": "/console/portal", "enterprise_user": "/console/portal"}


def _safe_next(target: str | None) -> str | None:
    """``target`` if it is a console path of this site (no open redirect)."""
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return None


@routes.get("/", name="home")
@public
async def home(request: web.Request) -> web.StreamResponse:
    """The logged-in user's start page, or the public front page."""
    user = request.get(USER)
    if user is not None:
        raise web.HTTPSeeOther(HOME_OF[user.role])
    return render(request, "home.html")


@routes.get("/login", name="login")
@public
async def login_form(request: web.Request) -> web.StreamResponse:
    """The login form."""
    return render(request, "login.html", {"next": request.query.get("next", ""), "error": None,
                                          "username": ""})


@routes.post("/login")
@public
async def login(request: web.Request) -> web.StreamResponse:
    """Check the password (and TOTP code), open a session, go to the user's start page."""
    settings = settings_of(request)
    form = await posted(request)
    username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    code = str(form.get("otp", "")).strip()
    error = _("Wrong user name, password or one-time code.")
    user = await settings.store.get_user(username) if username else None
    client = request.remote or "?"
    if user is not None and user.locked_until is not None and user.locked_until > utcnow():
        wait = int((user.locked_until - utcnow()).total_seconds()) + 1
        error = _("Too many wrong attempts: try again in {seconds} s.").format(seconds=wait)
    elif user is not None and not user.disabled:
        ok = await verify_off_loop(user.password_hash, password)
        if ok and user.totp_secret is not None:
            ok = pyotp.TOTP(user.totp_secret).verify(code, valid_window=1)
        until = await settings.store.record_login(user, ok, client=client)
        if ok:
            if needs_rehash(user.password_hash):
                await settings.store.set_password_hash(user.id, await hash_off_loop(password),
                                                       actor=f"console:{user.username}")
            token, _session = await settings.sessions.create(user.id)
            target = _safe_next(str(form.get("next", ""))) or HOME_OF[user.role]
            response = web.HTTPSeeOther(target)
            response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict",
                                secure=settings.secure_cookies, path="/",
                                max_age=SESSION_SECONDS)
            raise response
        if until is not None:
            wait = int((until - utcnow()).total_seconds()) + 1
            error = _("Too many wrong attempts: try again in {seconds} s.").format(seconds=wait)
    else:
        await verify_unknown_user(password)
    return render(request, "login.html", {"next": form.get("next", ""), "error": error,
                                          "username": username}, status=401)


@routes.post("/logout", name="logout")
@allow(*ROLES)
async def logout(request: web.Request) -> web.StreamResponse:
    """End the session."""
    user = user_of(request)
    await settings_of(request).sessions.drop(request[SESSION_TOKEN])
    await settings_of(request).store.log_console_action(f"console:{user.username}", "logout")
    response = web.HTTPSeeOther("/console/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


@routes.get("/lang/{lang}", name="lang")
@public
async def switch_language(request: web.Request) -> web.StreamResponse:
    """Remember the chosen language in a cookie and go back."""
    lang = request.match_info["lang"]
    if lang not in LOCALES:
        raise web.HTTPNotFound()
    back = _safe_next(request.query.get("next")) or "/console/"
    response = web.HTTPSeeOther(back)
    response.set_cookie(LANG_COOKIE, lang, samesite="Strict", path="/",
                        max_age=365 * 86400)
    raise response


@routes.get("/static/console.css", name="stylesheet")
@public
async def stylesheet(request: web.Request) -> web.StreamResponse:
    """The one stylesheet (served by the node itself)."""
    del request
    return web.Response(body=STYLESHEET.read_bytes(), content_type="text/css",
                        headers={"Cache-Control": "max-age=3600"})
