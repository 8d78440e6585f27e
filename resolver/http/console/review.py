"""Real-name review: reviewers and operators see applications and approve or reject them.

Approval runs :func:`registry.onboarding.approve_application` (the same
onboarding as ``idnode enterprise add``); a rejection needs a reason.  Both
are kept in the application's history and in the audit log.
"""

from __future__ import annotations

from aiohttp import web

from registry.applications import ApplicationInfo
from registry.errors import StoreError
from registry.onboarding import approve_application
from resolver.http.console.apply import INDUSTRY_LABELS
from resolver.http.console.context import actor_of, redirect, render, settings_of
from resolver.http.console.forms import posted
from resolver.http.console.i18n import gettext as _
from resolver.http.console.security import STAFF, allow

routes = web.RouteTableDef()
STATES = ("pending", "approved", "rejected")


async def _application(request: web.Request) -> ApplicationInfo:
    try:
        number = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    found = await settings_of(request).store.get_application(number)
    if found is None:
        raise web.HTTPNotFound()
    return found


@routes.get("/reviews", name="reviews")
@allow(*STAFF)
async def reviews(request: web.Request) -> web.StreamResponse:
    """Applications in one state (pending first)."""
    state = request.query.get("state", "pending")
    if state not in STATES:
        state = "pending"
    found = await settings_of(request).store.list_applications(state)
    return render(request, "reviews.html", {"applications": found, "state": state,
                                            "states": STATES})


@routes.get("/reviews/{id}", name="review")
@allow(*STAFF)
async def review(request: web.Request) -> web.StreamResponse:
    """One application with its history and the approve / reject forms."""
    return render(request, "review.html", {"application": await _application(request),
                                           "industries": INDUSTRY_LABELS, "error": None})


@routes.post("/reviews/{id}/approve")
@allow(*STAFF)
async def approve(request: web.Request) -> web.StreamResponse:
    """Approve: create the enterprise, its prefix and its admin account."""
    settings = settings_of(request)
    application = await _application(request)
    form = await posted(request)
    try:
        await approve_application(settings.store, application, node_prefix=settings.node_prefix,
                                  site=settings.site, actor=actor_of(request),
                                  reason=str(form.get("reason", "")).strip())
    except StoreError as exc:
        return render(request, "review.html", {"application": application,
                                               "industries": INDUSTRY_LABELS,
                                               "error": str(exc)}, status=409)
    raise redirect(f"/console/reviews/{application.id}")


@routes.post("/reviews/{id}/reject")
@allow(*STAFF)
async def reject(request: web.Request) -> web.StreamResponse:
    """Reject with a reason."""
    settings = settings_of(request)
    application = await _application(request)
    reason = str((await posted(request)).get("reason", "")).strip()
    if not reason:
        return render(request, "review.html", {
            "application": application, "industries": INDUSTRY_LABELS,
            "error": _("Say why the application is rejected.")}, status=400)
    try:
        await settings.store.decide_application(application.id, "rejected",
                                                actor=actor_of(request), reason=reason)
    except StoreError as exc:
        return render(request, "review.html", {"application": application,
                                               "industries": INDUSTRY_LABELS,
                                               "error": str(exc)}, status=409)
    raise redirect(f"/console/reviews/{application.id}")
