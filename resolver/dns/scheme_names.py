"""DNS names of other schemes' identifiers (GS1, OID, Ecode), so each resolves over DNS.

Each scheme has a label of its own directly under the bridge's zone; the
names below it stand for the scheme's canonical keys (:mod:`registry.schemes`):

* ``_gs1``: :mod:`resolver.dns.gs1_names` (Digital Link path, last component first).
* ``_oid``: the arcs last-first, like reverse DNS — ``1.2.156.3001`` is
  ``3001.156.2.1._oid.<zone>``.
* ``_ecode``: the whole code as one label — V1-V3 codes (digits and upper-case
  letters) lower-cased, since DNS ignores case and these versions allow upper
  case only; a V4 code (free Unicode text) ``hx--`` + base32 as in
  :mod:`resolver.dns.names`, refused when longer than one label allows.

The bridge answers such a name with a CNAME to the name of the handle that
carries the key.  A valid key no handle carries is NODATA when longer keys may
lie below it (a GTIN above its serials, an OID above its sub-arcs) and
NXDOMAIN otherwise (an Ecode is a single label).  Underscore labels are never
LDH labels, so none of these names collides with a handle's name.
"""

from __future__ import annotations

import dns.name

from registry.schemes import SchemeError, parse_identifier
from resolver.dns.gs1_names import GS1_LABEL, gs1_key_to_name, name_to_gs1_key
from resolver.dns.names import (
    MAX_LABEL,
    DnsNameError,
    as_zone,
    build_name,
    decode_segment,
    encoded_text,
    relative_labels,
)

OID_LABEL = "_oid"
ECODE_LABEL = "_ecode"
SCHEME_LABELS = (GS1_LABEL, OID_LABEL, ECODE_LABEL)


def scheme_label(name: dns.name.Name, zone: dns.name.Name | str) -> str | None:
    """The scheme label (``_gs1``, ``_oid``, ``_ecode``) ``name`` lies under, if any."""
    try:
        labels = relative_labels(name, as_zone(zone))
    except DnsNameError:
        return None
    return labels[-1] if labels and labels[-1] in SCHEME_LABELS else None


def key_to_name(key: str, zone: dns.name.Name | str) -> dns.name.Name:
    """The DNS name of a canonical key (``gs1:…``, ``oid:…``, ``ecode:…``)."""
    scheme, _colon, body = key.partition(":")
    if scheme == "gs1":
        return gs1_key_to_name(key, zone)
    if scheme == "oid":
        return build_name([*reversed(body.split(".")), OID_LABEL], as_zone(zone), key)
    if scheme == "ecode":
        label = body.lower() if body.isascii() and body.isalnum() else encoded_text(
            body.encode("utf-8"))
        if len(label) > MAX_LABEL:
            raise DnsNameError(f"Ecode {body!r} too long for one DNS label")
        return build_name([label, ECODE_LABEL], as_zone(zone), key)
    raise DnsNameError(f"no DNS names for {key!r}")


def name_to_key(name: dns.name.Name, zone: dns.name.Name | str) -> str:
    """The canonical key a scheme name stands for (DnsNameError if none)."""
    label = scheme_label(name, zone)
    if label == GS1_LABEL:
        return name_to_gs1_key(name, zone)
    below = relative_labels(name, as_zone(zone))[:-1]
    if not below:
        raise DnsNameError(f"{name} names a scheme, not an identifier")
    if label == OID_LABEL:
        text = "oid:" + ".".join(reversed(below))
    elif label == ECODE_LABEL and len(below) == 1:
        code = decode_segment(below, name)
        text = "ecode:" + (code.upper() if code.isascii() else code)
    else:
        raise DnsNameError(f"{name} is no identifier name")
    try:
        key = parse_identifier(text).key
    except SchemeError as exc:
        raise DnsNameError(f"{name}: {exc.reason}") from None
    if key_to_name(key, zone) != name:
        raise DnsNameError(f"{name} is not the canonical DNS name of {key}")
    return key


def leads_down(name: dns.name.Name, zone: dns.name.Name | str) -> bool:
    """Whether identifier names lie below ``name``, which names no key (NODATA, not NXDOMAIN).

    True for the scheme labels themselves and for a GS1 name ending at an
    application identifier label (``_01._gs1``).
    """
    label = scheme_label(name, zone)
    if label is None:
        return False
    below = relative_labels(name, as_zone(zone))[:-1]
    return not below or (label == GS1_LABEL and len(below) % 2 == 1
                         and below[0].startswith("_"))


def may_have_longer_keys(key: str) -> bool:
    """Whether a key no handle carries may still lead down to longer ones (NODATA).

    A GTIN leads to its serials and an OID to its sub-arcs; an Ecode is one label.
    """
    return not key.startswith("ecode:")
