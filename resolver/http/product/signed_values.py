"""The signature verdict on the plain values page (``/{handle}?noredirect``), zh-CN first.

Only a record holding an HS_SIGNATURE is verified and shows a verdict (an unsigned one costs no
check): :func:`resolver.core.verification.verify_values` up to the node's trust
anchor, its chain handles read no older than ``revocation_ttl`` and its upstream
connections counted against one budget, as a trace's are.  The verdict uses
the product page's words (:mod:`resolver.http.product.verdict`); an invalid
record names the values that fail.  HS_SIGNATURE and HS_CERT values are told in
plain words (signer, valid until, covered values), their raw JWS kept in a
``<details>``.  Words come from the ``pages`` catalog in the reader's language
(``?lang=``, its cookie, else zh-CN) followed by the English.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from protocol.constants import TYPE_HS_CERT, TYPE_HS_SIGNATURE
from protocol.values import HandleValue
from registry.names import name_key
from registry.trust.certs import signed_value
from registry.trust.errors import TrustError
from registry.trust.keys import jwk_thumbprint
from registry.trust.verify import VerificationReport
from resolver.core.service import ResolutionService
from resolver.core.upstream import DEFAULT_MAX_CONNECTIONS, upstream_budget
from resolver.core.verification import verify_values
from resolver.http.console.i18n import LANG_COOKIE, pick_locale
from resolver.http.pages import Notes, PageNotes, escape
from resolver.http.product.render import translations
from resolver.http.product.verdict import _, signature_class, signature_text
from resolver.http.product.view import signer_name

FAILED_TEXT = _("These values changed after signing: %(values)s")
SIGNATURE_VALUE_TEXT = _("Signed by %(signer)s; valid until %(until)s; covers values %(values)s")
CERT_VALUE_TEXT = _("Certificate: %(issuer)s certifies the key %(thumbprint)s of %(subject)s; "
                    "valid until %(until)s")
UNREADABLE_TEXT = _("Not a readable signed value: %(error)s")
NO_EXPIRY_TEXT = _("no end date")
SIGNATURE_HEADING = _("Signature")
RAW_TEXT = _("Raw value")

#: at most this many issuers are named by their enterprise (one store lookup each)
MAX_NAMED = 8

Verify = Callable[[ResolutionService, str, tuple[HandleValue, ...]], Any]


def _in_words(locale: str, message: str, **args: str) -> str:
    """``message`` in the reader's language, then in English (HTML)."""
    english = message % args if args else message
    if locale == "en":
        return escape(english)
    said = translations(locale).gettext(message)
    said = said % args if args else said
    return f'<span lang="zh-CN">{escape(said)}</span><br><span lang="en" class="muted">' \
           f"{escape(english)}</span>"


def _when(epoch: int | None) -> str:
    return "" if epoch is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


def _value_words(locale: str, handle: str, value: HandleValue, signers: Mapping[str, str]
                 ) -> str:
    """An HS_SIGNATURE or HS_CERT value in plain words."""
    try:
        claims = signed_value(handle, value).claims
    except TrustError as exc:
        return _in_words(locale, UNREADABLE_TEXT, error=str(exc))
    until = _when(claims.exp) or NO_EXPIRY_TEXT
    if name_key(value.type) == TYPE_HS_SIGNATURE:
        covered = ", ".join(str(i) for i, _d in claims.digests.digests) if claims.digests else ""
        return _in_words(locale, SIGNATURE_VALUE_TEXT,
                         signer=signers.get(claims.iss, claims.iss), until=until,
                         values=covered or "-")
    key = claims.public_key
    return _in_words(locale, CERT_VALUE_TEXT, issuer=signers.get(claims.iss, claims.iss),
                     subject=claims.sub, until=until,
                     thumbprint=jwk_thumbprint(key) if key is not None else "-")


def _verdict(locale: str, report: VerificationReport, signer: str) -> str:
    status = str(report.status)
    english = signature_text(lambda m: m, status, signer)
    shown = escape(english) if locale == "en" else (
        f'<span lang="zh-CN">{escape(signature_text(translations(locale).gettext, status, signer))}'
        f'</span><br><span lang="en">{escape(english)}</span>')
    failed = ""
    if report.failed_values:
        failed = "<p id=\"failed\">" + _in_words(
            locale, FAILED_TEXT, values=", ".join(map(str, report.failed_values))) + "</p>"
    return (f'<section id="signature"><h2>{_in_words(locale, SIGNATURE_HEADING)}</h2>'
            f'<p id="verdict" class="sig {signature_class(status)}" data-status="{status}">'
            f'{shown}</p>{failed}<p class="muted">{escape(report.reason)}</p></section>')


def signature_notes(service: ResolutionService, verify: Verify = verify_values) -> Notes:
    """The values page's notes: HS_SIGNATURE and HS_CERT values in plain words and, only
    for a record holding an HS_SIGNATURE, the verdict (``verify`` is called for no other)."""

    async def notes(request: web.Request, handle: str, values: tuple[HandleValue, ...]
                    ) -> PageNotes:
        signed = [v for v in values if name_key(v.type) in (TYPE_HS_SIGNATURE, TYPE_HS_CERT)]
        if not signed:
            return PageNotes()
        locale = pick_locale(request.query.get("lang"), request.cookies.get(LANG_COOKIE))
        issuers = {c.iss for c in _claims(handle, signed)}
        signers = {i: await signer_name(service.store, i) for i in sorted(issuers)[:MAX_NAMED]}
        section = ""
        if any(name_key(v.type) == TYPE_HS_SIGNATURE for v in signed):
            with upstream_budget(DEFAULT_MAX_CONNECTIONS):
                report: VerificationReport = await verify(service, handle, values)
            deciding = report.deciding
            signer = signers.get(deciding.signer, deciding.signer) if deciding else ""
            section = _verdict(locale, report, signer)
        return PageNotes(
            section=section,
            cells={v.index: _value_words(locale, handle, v, signers) for v in signed},
            raw_label=translations(locale).gettext(RAW_TEXT) + (
                "" if locale == "en" else f" / {RAW_TEXT}"),
        )

    return notes


def _claims(handle: str, values: list[HandleValue]) -> list[Any]:
    found = []
    for value in values:
        try:
            found.append(signed_value(handle, value).claims)
        except TrustError:
            continue
    return found
