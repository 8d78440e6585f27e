"""A person's own account: turning one-time codes (TOTP, pyotp) on and off.

Turning them on shows a fresh secret as a QR code of its ``otpauth://`` URI
(for an authenticator app) and stores it only once a code made from it is
typed back, so nobody locks themselves out with a secret they never saved.
Turning them off needs a current code.  Both are audited.
"""

from __future__ import annotations

import pyotp
from aiohttp import web
from markupsafe import Markup

from registry.models import ROLES
from resolver.http.console.context import actor_of, redirect, render, settings_of, user_of
from resolver.http.console.forms import posted
from resolver.http.console.i18n import gettext as _
from resolver.http.console.security import allow
from resolver.http.qr import QrOptions, qr_code

routes = web.RouteTableDef()
ISSUER = "idnode"


def _enrol_page(request: web.Request, secret: str, error: str | None = None,
                status: int = 200) -> web.Response:
    uri = pyotp.TOTP(secret).provisioning_uri(name=user_of(request).username, issuer_name=ISSUER)
    svg = Markup(qr_code(uri, QrOptions(scale=4)).decode())  # noqa: S704 - segno's SVG
    return render(request, "account.html", {"secret": secret, "qr": svg, "error": error},
                  status=status)


@routes.get("/account", name="account")
@allow(*ROLES)
async def account(request: web.Request) -> web.StreamResponse:
    """The account page; ``?enrol=1`` starts turning one-time codes on."""
    if request.query.get("enrol") and user_of(request).totp_secret is None:
        return _enrol_page(request, pyotp.random_base32())
    return render(request, "account.html", {"secret": None, "qr": None, "error": None})


@routes.post("/account/totp")
@allow(*ROLES)
async def set_totp(request: web.Request) -> web.StreamResponse:
    """Confirm a new secret with a code from it, or turn codes off with a current code."""
    user = user_of(request)
    form = await posted(request)
    code = str(form.get("otp", "")).strip()
    store = settings_of(request).store
    if user.totp_secret is None:
        secret = str(form.get("secret", ""))
        try:
            ok = pyotp.TOTP(secret).verify(code, valid_window=1)
        except Exception:  # a tampered secret that is not base32
            ok = False
        if not ok:
            return _enrol_page(request, secret or pyotp.random_base32(),
                               _("The code does not match: try the next one."), status=400)
        await store.set_totp_secret(user.id, secret, actor=actor_of(request))
    else:
        if not pyotp.TOTP(user.totp_secret).verify(code, valid_window=1):
            return render(request, "account.html", {
                "secret": None, "qr": None,
                "error": _("The code does not match: try the next one.")}, status=400)
        await store.set_totp_secret(user.id, None, actor=actor_of(request))
    raise redirect("/console/account")
