"""Certificate requests in the console: reviewers and operators see the queue, approve, reject.

The queue is :mod:`registry.cert_requests` (filled by ``POST /api/cert-requests``,
``idnode cert submit`` and the enterprise portal).  A rejection needs a reason
and is audited as ``cert.reject``.  Approval signs an HS_CERT with the node's
issuer key: when the node is configured with one (``cert_issuer_key_path``,
see :mod:`registry.cert_issuer`) the page has an approve button with the
validity in days (1 to :data:`~registry.config.MAX_CERT_DAYS`), which issues
the certificate through :func:`registry.cert_issuance.approve_cert_request`,
the code path of ``idnode cert approve``, audited as ``cert.approve`` by the
console user.  Without one the page shows the ``idnode cert approve`` command
to run where the key is kept.  A request decided meanwhile (another tab,
another reviewer) is answered 409 and no second certificate is issued.
"""

from __future__ import annotations

from aiohttp import web

from registry.cert_issuance import approve_cert_request
from registry.cert_requests import AlreadyDecided
from registry.config import MAX_CERT_DAYS
from registry.errors import InvalidArgument, NotFound, StoreError
from registry.models import CERT_REQUEST_STATES
from resolver.http.console.context import actor_of, redirect, render, settings_of
from resolver.http.console.forms import posted
from resolver.http.console.i18n import gettext as _
from resolver.http.console.security import STAFF, allow
from resolver.http.console.writes import forget

routes = web.RouteTableDef()


async def _queue(request: web.Request, state: str, error: str | None,
                 status: int = 200) -> web.StreamResponse:
    settings = settings_of(request)
    found = await settings.store.list_cert_requests(state=state)
    return render(request, "cert_requests.html", {
        "requests": found, "state": state, "states": CERT_REQUEST_STATES, "error": error,
        "issuer": settings.issuer, "max_days": MAX_CERT_DAYS,
    }, status=status)


def _number(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None


@routes.get("/cert-requests", name="cert_requests")
@allow(*STAFF)
async def cert_requests(request: web.Request) -> web.StreamResponse:
    """Certificate requests in one state (pending first)."""
    state = request.query.get("state", "pending")
    return await _queue(request, state if state in CERT_REQUEST_STATES else "pending", None)


@routes.post("/cert-requests/{id}/approve")
@allow(*STAFF)
async def approve(request: web.Request) -> web.StreamResponse:
    """Issue the certificate a pending request asks for, valid for the days posted."""
    number = _number(request)
    settings = settings_of(request)
    issuer = settings.issuer
    if issuer is None:
        return await _queue(request, "pending", _(
            "This node holds no certificate issuer key: approve with idnode cert approve."), 409)
    text = str((await posted(request)).get("days", "")).strip()
    days = int(text) if text.isdigit() and len(text) <= 5 else 0
    if not 1 <= days <= MAX_CERT_DAYS:
        return await _queue(request, "pending", _(
            "Validity: a whole number of days from 1 to {most}, not “{value}”.").format(
            most=MAX_CERT_DAYS, value=text[:16]), 400)
    try:
        issued, _info = await approve_cert_request(
            settings.store, number, issuer=issuer.ref, issuer_key=issuer.key, days=days,
            actor=actor_of(request))
    except NotFound:
        raise web.HTTPNotFound(text=f"no certificate request {number}") from None
    except AlreadyDecided as exc:
        return await _queue(request, "pending", _decided(number, exc), 409)
    except InvalidArgument as exc:
        return await _queue(request, "pending", _(
            "The certificate cannot be issued: {reason}").format(reason=str(exc)), 400)
    except StoreError as exc:
        return await _queue(request, "pending", _(
            "The certificate cannot be issued: {reason}").format(reason=str(exc)), 409)
    await forget(settings.service, issued.handle)
    raise redirect("/console/cert-requests?state=approved")


@routes.post("/cert-requests/{id}/reject")
@allow(*STAFF)
async def reject(request: web.Request) -> web.StreamResponse:
    """Reject a pending request with a reason."""
    number = _number(request)
    reason = str((await posted(request)).get("reason", "")).strip()
    if not reason:
        return await _queue(request, "pending",
                            _("Say why the certificate request is rejected."), 400)
    try:
        await settings_of(request).store.decide_cert_request(
            number, "rejected", actor=actor_of(request), reason=reason)
    except NotFound:
        raise web.HTTPNotFound(text=f"no certificate request {number}") from None
    except AlreadyDecided as exc:
        return await _queue(request, "pending", _decided(number, exc), 409)
    except InvalidArgument as exc:  # the reason is too long
        return await _queue(request, "pending", str(exc), 400)
    raise redirect("/console/cert-requests?state=rejected")


def _decided(number: int, exc: AlreadyDecided) -> str:
    return _("Certificate request {number} was decided already: {reason}").format(
        number=number, reason=str(exc))
