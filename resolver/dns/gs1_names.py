"""DNS names of GS1 keys, so a GS1 code resolves over DNS to the record of its handle.

A GS1 key (:mod:`registry.schemes.gs1`, e.g. ``gs1:01/06901234567892/21/F7``)
is published under the label ``_gs1`` of the bridge's zone, its Digital Link
path components last-first (like a handle's prefix segments)::

    01/06901234567892/21/F7  ->  hx--iy._21.06901234567892._01._gs1.id.example.
    00/106141412345678908    ->  106141412345678908._00._gs1.id.example.

Application identifiers get a leading underscore (``_01``) so no value label
can be mistaken for one.  A value is carried plain when it is a lower-case
LDH label (digits, in practice: GTINs, SSCCs, numeric serials); any other value
(GS1 serials and lots are case-sensitive) is ``hx--`` + base32 as in
:mod:`resolver.dns.names`.  The bridge answers such a name with a CNAME to the
DNS name of the handle that carries the key, then that name's records.
Underscore labels are never LDH labels, so these names never collide with
handle names.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

import dns.name

from registry.schemes import SchemeError, parse_identifier
from resolver.dns.names import (
    MAX_LABEL,
    DnsNameError,
    as_zone,
    build_name,
    decode_segment,
    encoded_text,
    is_plain_label,
    relative_labels,
)

GS1_LABEL = "_gs1"
_AI_MARK = "_"


def gs1_key_to_name(key: str, zone: dns.name.Name | str) -> dns.name.Name:
    """The DNS name of a canonical GS1 key (``gs1:01/…``)."""
    scheme, _colon, path = key.partition(":")
    parts = path.split("/")
    if scheme != "gs1" or len(parts) % 2:
        raise DnsNameError(f"not a canonical GS1 key: {key!r}")
    labels: list[str] = []
    for ai, value in reversed(list(zip(parts[::2], parts[1::2], strict=True))):
        text = unquote(value)
        plain = text.isascii() and text == text.lower() and is_plain_label(text)
        label = text if plain else encoded_text(text.encode("utf-8"))
        if len(label) > MAX_LABEL:
            raise DnsNameError(f"GS1 value {text!r} too long for one DNS label")
        labels += [label, _AI_MARK + ai]
    return build_name([*labels, GS1_LABEL], as_zone(zone), key)


def name_to_gs1_key(name: dns.name.Name, zone: dns.name.Name | str) -> str:
    """The canonical GS1 key a ``_gs1`` name stands for (DnsNameError if none)."""
    labels = relative_labels(name, as_zone(zone))[:-1]
    if not labels or len(labels) % 2:
        raise DnsNameError(f"{name} is no GS1 key name")
    path: list[str] = []
    for value_label, ai_label in reversed(list(zip(labels[::2], labels[1::2], strict=True))):
        if not ai_label.startswith(_AI_MARK):
            raise DnsNameError(f"label {ai_label!r} of {name} is no application identifier")
        value = decode_segment([value_label], name)
        path += [ai_label[1:], quote(value, safe="")]
    try:
        key = parse_identifier("/" + "/".join(path)).key
    except SchemeError as exc:
        raise DnsNameError(f"{name}: {exc.reason}") from None
    if gs1_key_to_name(key, zone) != name:
        raise DnsNameError(f"{name} is not the canonical DNS name of {key}")
    return key
