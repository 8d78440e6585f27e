"""The portal's Sign records page: an enterprise signs its records with its own key.

The same selection and signing as ``idnode sign`` (:mod:`registry.record_signing`):
one identifier, every identifier of one of the enterprise's prefixes, or those
whose signature by this key expires within N days (or has expired).  Each
signature is one audited write under the console user's name, held to the
node's write rules (which verify it), and every serving process forgets the
handle's cached answer.  A handle or prefix outside the enterprise's own is
refused before anything is read.

The key.  The enterprise uploads its private key file (PKCS#8 PEM as ``idnode
keys gen`` writes it, encrypted by default; RSA, P-256, Ed25519 or SM2) with
its passphrase.  Both are used in this request's memory only: never written
to disk, logged, put in the session or audit log, nor echoed back in the page
(the passphrase field comes back empty; they are removed from the request's
parsed form as soon as they are read).  Python cannot wipe memory: the key
object is dropped when the request ends.  The form posts with the console's
CSRF token like every other form; the key file is bounded
(:data:`MAX_KEY_BYTES`), and so is the work of one submission
(:data:`MAX_RECORDS` identifiers, one audited write each: about 20-50 a second
on a loaded two-core test machine, so one submission stays under a minute; the
CLI has no such bound).

Why not sign in the browser (WebCrypto)?  WebCrypto imports neither encrypted
PKCS#8 keys (the form ``idnode keys gen`` writes by default: the page would have
to implement PBES2/scrypt key decryption in script) nor SM2 keys, and the
console runs no script at all (its CSP allows none).  An enterprise that does
not want its key to reach the node signs with the CLI (``idnode sign ...
--server HOST:PORT`` with its own credentials, or a REST PUT of an HS_SIGNATURE
it computed): see README "Signed records" and docs/security-review.md Part V.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from registry.errors import StoreError
from registry.names import prefix_handle
from registry.record_signing import (
    Failure,
    KeyWarning,
    Selection,
    Signer,
    StoreRecords,
    sign_selected,
)
from registry.signing_policy import SigningUnavailable
from registry.trust.errors import (
    PassphraseNeeded,
    PassphraseNotExpected,
    TrustError,
    WrongPassphrase,
)
from registry.trust.keys import PrivateKey, load_private_key
from resolver.http.console.context import actor_of, render, settings_of
from resolver.http.console.forms import Form, Upload, posted
from resolver.http.console.i18n import N_
from resolver.http.console.i18n import gettext as _
from resolver.http.console.portal import Scope, scope, write_error
from resolver.http.console.security import ENTERPRISE, allow
from resolver.http.console.writes import forget

routes = web.RouteTableDef()
MAX_KEY_BYTES = 64 * 1024
MAX_PASSPHRASE = 1024
MAX_RECORDS = 1000
MAX_DAYS = 3650
DAY = 86_400
MODES = ("one", "all", "expiring")
#: the signed identifiers the result page lists (the counts cover all)
SHOWN_SIGNED = 200


@dataclass(frozen=True, slots=True)
class Wanted:
    """What the form asks for: the selection, its prefix and the renewal window."""

    selection: Selection
    prefix: str
    expiring: int | None


def _page(request: web.Request, owned: Scope, form: Form, status: int = 200, *,
          certify: bool = False) -> web.Response:
    return render(request, "sign.html", {
        "form": form, "certify": certify, "prefixes": owned.names, "limit": MAX_RECORDS,
        "days": settings_of(request).signature_days, "max_kib": MAX_KEY_BYTES // 1024,
        "example": f"{owned.names[0] if owned.names else '88.118.8'}/TV-0001",
    }, status=status)


def _days(form: Form) -> int | None:
    text = form.get("days")
    if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
        form.error("days", _("A whole number of days from 1 to {most}.").format(most=MAX_DAYS))
        return None
    return int(text)


def _what(form: Form, owned: Scope) -> Wanted | None:
    """The selection the form names, refusing anything outside the enterprise's prefixes."""
    mode = form.get("mode")
    if mode not in MODES:
        form.error("mode", _("Choose what to sign."))
        return None
    if mode == "one":
        handle = form.get("handle")
        if not handle:
            form.error("handle", _("Enter the identifier to sign."))
        elif not owned.owns(handle):
            form.error("handle", _("{handle} is not under your prefixes ({prefixes}).").format(
                handle=handle, prefixes=", ".join(owned.names)))
        return Wanted(Selection([handle]), handle.partition("/")[0], None) if form.ok else None
    prefix = form.get("prefix")
    if prefix not in owned.names:
        form.error("prefix", _("Choose one of your prefixes."))
        return None
    days = _days(form) if mode == "expiring" else None
    if not form.ok:
        return None
    return Wanted(Selection(prefixes=[prefix]), prefix, None if days is None else days * DAY)


def _key(form: Form, upload: object, secret: object) -> PrivateKey | None:
    """The uploaded private key, decrypted; its problem recorded on the form otherwise."""
    if not isinstance(upload, Upload) or not upload.content:
        form.error("key", _("Choose your private key file (PEM, as idnode keys gen writes it)."))
        return None
    if len(upload.content) > MAX_KEY_BYTES:
        form.error("key", _("The key file is larger than {size} KiB: not a key file.").format(
            size=MAX_KEY_BYTES // 1024))
        return None
    passphrase = secret if isinstance(secret, str) else ""
    if len(passphrase) > MAX_PASSPHRASE:
        form.error("passphrase", _("At most {count} characters.").format(count=MAX_PASSPHRASE))
        return None
    try:
        return load_private_key(upload.content, passphrase or None)
    except PassphraseNeeded:
        form.error("passphrase", _("This key is encrypted: enter its passphrase."))
    except PassphraseNotExpected:
        form.error("passphrase", _("This key is not encrypted: leave the passphrase empty."))
    except WrongPassphrase:
        form.error("passphrase", _("Wrong passphrase for this key."))
    except TrustError as exc:
        form.error("key", _(
            "Not a private key idnode can sign with ({reason}). Upload the private key file "
            "(not the .pub) that idnode keys gen wrote: RSA, P-256, Ed25519 or SM2."
        ).format(reason=str(exc)))
    return None


def _not_certified(prefix: str) -> str:
    holder = prefix_handle(prefix)
    return _(
        "This key is neither certified nor published on {holder}, so nothing it signs "
        "would verify. Have it certified: make a request with idnode cert request --key FILE "
        "--subject 300:{holder} --out req.jws and submit it on the Certificate requests page "
        "(/console/portal/cert-requests); or publish it: idnode keys publish {holder} "
        "--index N --key FILE. Then sign again."
    ).format(holder=holder)


def _reason(failure: Failure) -> str:
    if failure.error is None:
        return _("No such identifier.")
    if isinstance(failure.error, SigningUnavailable):
        return _not_certified(failure.handle.partition("/")[0])
    if isinstance(failure.error, StoreError):
        return write_error(failure.error)
    return failure.reason


#: a signing key's chain status (:class:`registry.record_signing.KeyWarning`) in words
KEY_STATUS = {
    "revoked": N_("revoked"),
    "expired": N_("expired (its certificate or one above it)"),
    "untrusted": N_("not certified up to this node's trust anchor"),
    "uncertified": N_("only published (HS_PUBKEY), not certified"),
    "invalid": N_("certified by a certificate that does not verify"),
    "unchecked": N_("not checked (its certificate chain could not be read)"),
}


def _key_warning(warning: KeyWarning) -> dict[str, str]:
    status = KEY_STATUS.get(warning.status)
    return {"thumbprint": warning.thumbprint, "signer": warning.signer,
            "status": _(status) if status else warning.status, "reason": warning.reason}


def _when(epoch: Any) -> str:
    if not isinstance(epoch, int):
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


@routes.get("/portal/sign", name="sign")
@allow(*ENTERPRISE)
async def sign_form(request: web.Request) -> web.StreamResponse:
    """The form: what to sign and the key to sign it with."""
    owned = await scope(request)
    return _page(request, owned, Form({"mode": "one", "days": "30"}))


@routes.post("/portal/sign")
@allow(*ENTERPRISE)
async def sign_records(request: web.Request) -> web.StreamResponse:
    """Sign what the form selects with the uploaded key; the counts and every failure."""
    owned = await scope(request)
    fields = await posted(request)
    # the key and its passphrase leave the request's form at once (never echoed or kept)
    upload, secret = fields.pop("key", None), fields.pop("passphrase", None)
    form = Form(fields)
    wanted = _what(form, owned)
    key = _key(form, upload, secret) if form.ok else None
    del upload, secret
    settings = settings_of(request)
    if wanted is not None and key is not None and wanted.selection.prefixes:
        count = await settings.store.count_handles(wanted.prefix)
        if count > MAX_RECORDS:
            form.error("_form", _(
                "{prefix} holds {count} identifiers, more than the {limit} one submission "
                "signs. Sign them with the CLI: idnode sign --prefix {prefix} --key FILE"
            ).format(prefix=wanted.prefix, count=count, limit=MAX_RECORDS))
    if wanted is None or key is None or not form.ok:
        return _page(request, owned, form, 400)

    async def written(handle: str) -> None:
        await forget(settings.service, handle)

    signer = Signer(StoreRecords(settings.store, actor_of(request), written), key,
                    settings.signature_days, wanted.expiring,
                    trust_anchor=settings.service.trust_anchor)
    try:
        await signer.signer_for(wanted.prefix)
    except SigningUnavailable:
        form.error("key", _not_certified(wanted.prefix))
        return _page(request, owned, form, 400, certify=True)
    outcome = await sign_selected(signer, wanted.selection, limit=MAX_RECORDS)
    return render(request, "sign_result.html", {
        "signed": [dict(r, expires=_when(r["expires"])) for r in outcome.signed[:SHOWN_SIGNED]],
        "signed_count": len(outcome.signed), "not_due": outcome.not_due,
        "failed": [(f.handle, _reason(f)) for f in outcome.failed], "more": outcome.more,
        "limit": MAX_RECORDS, "prefix": wanted.prefix,
        "warnings": [_key_warning(w) for w in outcome.warnings],
    })
