"""Accounts in the console: operators enable and disable any account; an enterprise admin
adds and disables the accounts of its own enterprise.

An enterprise admin sees and changes only accounts of its enterprise (any
other id answers 404) and can create only ``enterprise_user`` or
``enterprise_admin`` accounts bound to it.  Passwords follow the same rules
as everywhere (argon2id, at least :data:`registry.passwords.MIN_LENGTH`).
"""

from __future__ import annotations

from aiohttp import web

from registry.accounts import ENTERPRISE_ROLES, UserInfo
from registry.errors import StoreError
from registry.passwords import MIN_LENGTH, hash_off_loop
from resolver.http.console.context import actor_of, redirect, render, settings_of, user_of
from resolver.http.console.forms import USERNAME, Form, posted
from resolver.http.console.i18n import gettext as _
from resolver.http.console.portal import scope
from resolver.http.console.security import allow

routes = web.RouteTableDef()


async def _account(request: web.Request) -> UserInfo:
    """The account named in the URL, if the logged-in user may manage it (else 404)."""
    try:
        user_id = int(request.match_info["user_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    found = await settings_of(request).store.get_user_by_id(user_id)
    me = user_of(request)
    if found is None or (me.role != "operator" and found.enterprise != me.enterprise):
        raise web.HTTPNotFound(text="no such account")
    if found.id == me.id:
        raise web.HTTPBadRequest(text="you cannot disable yourself")
    return found


async def _set_disabled(request: web.Request, back: str) -> web.StreamResponse:
    account = await _account(request)
    disabled = str((await posted(request)).get("disabled", "")) == "1"
    await settings_of(request).store.set_user_disabled(account.id, disabled,
                                                       actor=actor_of(request))
    raise redirect(back)


@routes.get("/ops/users", name="users")
@allow("operator")
async def all_users(request: web.Request) -> web.StreamResponse:
    """Every account with its role, enterprise and state."""
    users = await settings_of(request).store.list_users()
    return render(request, "users.html", {"users": users, "base": "/console/ops/users",
                                          "form": None, "can_add": False})


@routes.post("/ops/users/{user_id}/disabled")
@allow("operator")
async def operator_set_disabled(request: web.Request) -> web.StreamResponse:
    """Disable (sessions end at once) or enable an account."""
    return await _set_disabled(request, "/console/ops/users")


def _page(request: web.Request, users: list[UserInfo], form: Form, status: int = 200
          ) -> web.Response:
    return render(request, "users.html", {"users": users, "base": "/console/portal/users",
                                          "form": form, "can_add": True,
                                          "roles": ENTERPRISE_ROLES}, status=status)


@routes.get("/portal/users", name="enterprise_users")
@allow("enterprise_admin")
async def enterprise_users(request: web.Request) -> web.StreamResponse:
    """The accounts of the admin's enterprise and a form to add one."""
    owned = await scope(request)
    users = await settings_of(request).store.list_users(enterprise=owned.enterprise.code)
    return _page(request, users, Form({"role": "enterprise_user"}))


@routes.post("/portal/users")
@allow("enterprise_admin")
async def add_enterprise_user(request: web.Request) -> web.StreamResponse:
    """Create an account of the admin's enterprise."""
    owned = await scope(request)
    store = settings_of(request).store
    form = Form(await posted(request))
    form.values["username"] = form.get("username").lower()
    form.require("username", "password")
    form.check("username", lambda v: USERNAME.match(v) is not None,
               _("3-32 lower-case letters, digits, '.', '_' or '-'."))
    form.check("password", lambda v: len(v) >= MIN_LENGTH,
               _("At least {count} characters.").format(count=MIN_LENGTH))
    form.check("role", lambda v: v in ENTERPRISE_ROLES, _("Choose one of the listed values."))
    if form.ok:
        try:
            await store.add_user(form.get("username"), await hash_off_loop(form.get("password")),
                                 form.get("role") or "enterprise_user",
                                 enterprise=owned.enterprise.code, actor=actor_of(request))
        except StoreError:
            form.error("username", _("This user name is taken."))
    if not form.ok:
        users = await store.list_users(enterprise=owned.enterprise.code)
        return _page(request, users, form, status=400)
    raise redirect("/console/portal/users")


@routes.post("/portal/users/{user_id}/disabled")
@allow("enterprise_admin")
async def enterprise_set_disabled(request: web.Request) -> web.StreamResponse:
    """Disable or enable an account of the admin's own enterprise."""
    await scope(request)
    return await _set_disabled(request, "/console/portal/users")
