"""The words of a signature verdict, shared by the product page and the plain values page.

Source strings are English, marked with :func:`_` for the ``pages`` catalog
(:mod:`resolver.http.product.render` says how to update it); the caller
translates them with the catalog of the reader's language.
"""

from __future__ import annotations

from collections.abc import Callable


def _(message: str) -> str:
    """Mark a message for extraction (translated where it is shown)."""
    return message


SIGNATURE_TEXT = {
    "valid": _("Verified: signed by its owner, checked up to this node's trust anchor"),
    "invalid": _("Signature does NOT verify: do not trust this record"),
    "unsigned": _("Not signed"),
    "expired": _("Signature expired"),
    "revoked": _("Signed with a revoked key"),
    "untrusted": _("Signed, but not by a key this node trusts"),
    "unchecked": _("Signature not checked"),
}
#: the same verdicts naming the signer ("由…签名")
SIGNED_BY_TEXT = {
    "valid": _("Verified: signed by %(signer)s, checked up to this node's trust anchor"),
    "expired": _("Signed by %(signer)s, but the signature or a certificate has expired"),
    "revoked": _("Signed by %(signer)s with a key that has been revoked"),
    "untrusted": _("Signed by %(signer)s, but not by a key this node trusts"),
}
BAD_STATUSES = ("invalid", "expired", "revoked", "untrusted")


def signature_text(tr: Callable[[str], str], status: str, signer: str) -> str:
    """The verdict ``status`` in plain words (``tr`` translates), naming ``signer`` if known."""
    if signer and status in SIGNED_BY_TEXT:
        return tr(SIGNED_BY_TEXT[status]) % {"signer": signer}
    return tr(SIGNATURE_TEXT.get(status, SIGNATURE_TEXT["unchecked"]))


def signature_class(status: str) -> str:
    """The CSS class the verdict is drawn with: green, red or grey."""
    return "sig-valid" if status == "valid" else "sig-bad" if status in BAD_STATUSES else "sig-none"
