"""Certificate requests in the enterprise portal: the enterprise's own requests, and a form to
queue one.

``/console/portal/cert-requests`` lists the requests whose subject is under the
logged-in user's enterprise (by the ``enterprise`` the queue recorded at
submission, :mod:`registry.cert_requests`): state, dates, the reviewer's reason
on rejection and, once approved, where the certificate was written (handle and
index) and when it expires.  Enterprise admins submit a request, pasted or as
the file ``idnode cert request`` wrote (at most
:data:`~registry.trust.requests.MAX_REQUEST_BYTES`); it is checked like every
path does (signed by the key it names, not expired), and its subject must be
under one of the enterprise's own prefixes: a request for another enterprise's
prefix, or for one nobody holds, is refused (403) and not queued.
"""

from __future__ import annotations

import time

from aiohttp import web

from registry.errors import InvalidArgument
from registry.trust.requests import MAX_REQUEST_BYTES, RequestError, check_request
from resolver.http.console.context import actor_of, redirect, render, settings_of
from resolver.http.console.forms import Upload, posted
from resolver.http.console.i18n import gettext as _
from resolver.http.console.portal import Scope, scope
from resolver.http.console.security import ENTERPRISE, allow

routes = web.RouteTableDef()
#: the most requests the page lists (newest first)
PAGE_LIMIT = 200


async def _page(request: web.Request, owned: Scope, *, error: str | None = None,
                pasted: str = "", status: int = 200) -> web.Response:
    found = await settings_of(request).store.list_cert_requests(
        enterprise=owned.enterprise.code, limit=PAGE_LIMIT, newest_first=True)
    queued = request.query.get("queued", "")
    return render(request, "portal_cert_requests.html", {
        "requests": found, "enterprise": owned.enterprise, "prefixes": owned.names,
        "error": error, "pasted": pasted, "max_bytes": MAX_REQUEST_BYTES,
        "queued": int(queued) if queued.isdigit() and len(queued) < 19 else None,
    }, status=status)


@routes.get("/portal/cert-requests", name="portal_cert_requests")
@allow(*ENTERPRISE)
async def cert_requests(request: web.Request) -> web.StreamResponse:
    """The enterprise's certificate requests, newest first."""
    return await _page(request, await scope(request))


def _request_text(fields: dict[str, str | Upload]) -> tuple[bytes, str]:
    """The request bytes from the uploaded file (if one was chosen) or the pasted text,
    and what the user sent it as (kept for the form when it is refused)."""
    upload = fields.get("file")
    if isinstance(upload, Upload) and upload.content:
        return upload.content, ""
    pasted = fields.get("request")
    text = pasted.strip() if isinstance(pasted, str) else ""
    return text.encode("utf-8"), text[:MAX_REQUEST_BYTES]


@routes.post("/portal/cert-requests")
@allow("enterprise_admin")
async def submit(request: web.Request) -> web.StreamResponse:
    """Queue a certificate request for one of the enterprise's prefixes."""
    owned = await scope(request)
    store = settings_of(request).store
    data, pasted = _request_text(await posted(request))

    async def refuse(message: str, status: int = 400) -> web.Response:
        return await _page(request, owned, error=message, pasted=pasted, status=status)

    if owned.enterprise.status == "suspended":
        return await refuse(_("Your enterprise is suspended: certificate requests cannot be "
                              "submitted."), 403)
    if not data.strip():
        return await refuse(_("Paste the request or choose the file idnode cert request "
                              "wrote."))
    if len(data) > MAX_REQUEST_BYTES:
        return await refuse(_("The request is larger than {most} bytes: not a certificate "
                              "request.").format(most=MAX_REQUEST_BYTES))
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return await refuse(_("The request is not ASCII text: not a certificate request."))
    now = int(time.time())
    try:
        subject, _key = check_request(text.encode("ascii"), now)
    except RequestError as exc:
        return await refuse(_("The request cannot be queued: {reason}").format(reason=str(exc)))
    if await store.subject_enterprise(subject.handle) != owned.enterprise.code:
        return await refuse(_("The request is for {subject}, which is not under your prefixes "
                              "({prefixes}).").format(subject=str(subject),
                                                      prefixes=", ".join(owned.names) or "—"),
                            403)
    try:
        info = await store.submit_cert_request(text, actor=actor_of(request), now=now)
    except InvalidArgument as exc:
        return await refuse(_("The request cannot be queued: {reason}").format(reason=str(exc)))
    raise redirect(f"/console/portal/cert-requests?queued={info.id}")
