"""Sharing in the enterprise portal: partner enterprises, and who may read each value.

``/console/portal/partners`` (enterprise admins) lists the enterprises granted
partner access to the enterprise's partners-only values and grants or revokes
it (:mod:`registry.partners`).  ``POST /console/portal/id/tiers`` (every
enterprise user, on its own identifiers only) sets the tier of each value of
one identifier: public, partners or owner (:mod:`registry.tiers`).
"""

from __future__ import annotations

from aiohttp import web

from registry.errors import StoreError
from registry.tiers import TIERS, tiers_of, with_tiers
from resolver.http.console.context import actor_of, redirect, render, settings_of
from resolver.http.console.forms import Form, posted
from resolver.http.console.i18n import gettext as _
from resolver.http.console.portal import handle_of, scope, write_error
from resolver.http.console.security import ENTERPRISE, allow
from resolver.http.console.writes import put_record

routes = web.RouteTableDef()
TIER_FIELD = "tier-"


async def _partners_page(request: web.Request, error: str | None = None, *,
                         status: int = 200) -> web.Response:
    owned = await scope(request)
    store = settings_of(request).store
    return render(request, "partners.html", {
        "enterprise": owned.enterprise, "partners": await store.list_partners(
            owned.enterprise.code), "error": error}, status=status)


@routes.get("/portal/partners", name="partners")
@allow("enterprise_admin")
async def partners(request: web.Request) -> web.StreamResponse:
    """The enterprises that may read this enterprise's partners-only values."""
    return await _partners_page(request)


@routes.post("/portal/partners")
@allow("enterprise_admin")
async def change_partners(request: web.Request) -> web.StreamResponse:
    """Grant (``action=grant``, ``partner=CODE``) or revoke (``action=revoke``) access."""
    owned = await scope(request)
    form = Form(await posted(request))
    store = settings_of(request).store
    code, action = form.get("partner"), form.get("action")
    try:
        if action == "grant":
            if not code or await store.get_enterprise(code) is None:
                return await _partners_page(
                    request, _("No enterprise with code {code}.").format(code=code), status=400)
            await store.grant_partner(owned.enterprise.code, code, actor=actor_of(request))
        elif action == "revoke":
            await store.revoke_partner(owned.enterprise.code, code, actor=actor_of(request))
        else:
            raise web.HTTPBadRequest(text=f"action must be grant or revoke, got {action!r}")
    except StoreError as exc:
        return await _partners_page(request, write_error(exc), status=409)
    raise redirect("/console/portal/partners")


@routes.post("/portal/id/tiers")
@allow(*ENTERPRISE)
async def set_tiers(request: web.Request) -> web.StreamResponse:
    """Store the tier picked for each value (fields ``tier-INDEX``) of one identifier."""
    owned = await scope(request)
    handle = handle_of(request, owned)
    service = settings_of(request).service
    record = await service.store.get_handle(handle)
    if record is None:
        raise web.HTTPNotFound(text="no such identifier")
    form = Form(await posted(request))
    current = tiers_of(record.values)
    picked: dict[int, str] = {}
    for name, tier in form.values.items():
        index = name.removeprefix(TIER_FIELD)
        if (name.startswith(TIER_FIELD) and index.isdigit() and tier in TIERS
                and current.get(int(index)) != tier):
            picked[int(index)] = tier
    if picked:
        try:
            values = with_tiers(record.values, picked)
            await put_record(service, handle, values, actor=actor_of(request),
                             expected_version=record.version, create=False)
        except StoreError as exc:
            raise web.HTTPConflict(text=write_error(exc)) from None
    raise redirect(f"/console/portal/id?h={handle}")

