"""Certificate requests in the console: reviewers and operators see the queue and reject.

The queue is :mod:`registry.cert_requests` (filled by ``POST /api/cert-requests``
and ``idnode cert submit``).  A rejection needs a reason and is audited as
``cert.reject``.  Approval signs an HS_CERT with the node's issuer key, which
the web tier does not hold: the page shows the ``idnode cert approve`` command
the operator runs where that key is kept.
"""

from __future__ import annotations

from aiohttp import web

from registry.errors import StoreError
from registry.models import CERT_REQUEST_STATES
from resolver.http.console.context import actor_of, redirect, render, settings_of
from resolver.http.console.forms import posted
from resolver.http.console.i18n import gettext as _
from resolver.http.console.security import STAFF, allow

routes = web.RouteTableDef()


async def _queue(request: web.Request, state: str, error: str | None,
                 status: int = 200) -> web.StreamResponse:
    found = await settings_of(request).store.list_cert_requests(state=state)
    return render(request, "cert_requests.html", {
        "requests": found, "state": state, "states": CERT_REQUEST_STATES, "error": error,
    }, status=status)


@routes.get("/cert-requests", name="cert_requests")
@allow(*STAFF)
async def cert_requests(request: web.Request) -> web.StreamResponse:
    """Certificate requests in one state (pending first)."""
    state = request.query.get("state", "pending")
    return await _queue(request, state if state in CERT_REQUEST_STATES else "pending", None)


@routes.post("/cert-requests/{id}/reject")
@allow(*STAFF)
async def reject(request: web.Request) -> web.StreamResponse:
    """Reject a pending request with a reason."""
    try:
        number = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    reason = str((await posted(request)).get("reason", "")).strip()
    if not reason:
        return await _queue(request, "pending",
                            _("Say why the certificate request is rejected."), 400)
    try:
        await settings_of(request).store.decide_cert_request(
            number, "rejected", actor=actor_of(request), reason=reason)
    except StoreError as exc:
        return await _queue(request, "pending", str(exc), 409)
    raise redirect("/console/cert-requests?state=rejected")
