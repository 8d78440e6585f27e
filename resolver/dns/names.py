"""The reversible rule between Handle names and DNS names under the bridge's zone.

A handle ``PREFIX/SUFFIX`` is published as::

    <suffix label(s)> . _ . <prefix segments, last first> . <zone>

    88.118.8/TV-0001       ->  tv-0001._.8.118.88.id.example.
    0.NA/88.118            ->  hx--ha4c4mjrha._.na.0.id.example.
    88.118.8/tv_0001.A/B   ->  hx--or3f6mbqgays4qjpii._.8.118.88.id.example.

* The label ``_`` separates the suffix from the prefix.  No other label of a
  mapped name can be ``_``: every other label is an LDH label (``a-z 0-9 -``).
* Each dot-separated prefix segment becomes one label, in reverse order, so a
  DNS zone cut can delegate a prefix (``8.118.88.id.example.`` is ``88.118.8``).
* A segment (prefix segment or the whole suffix) is carried *plain* when it is
  a valid LDH label (letters, digits, inner hyphens, at most 63 bytes) and not a
  reserved-LDH label (``--`` at positions 3-4, as in ``xn--``).  Its ASCII
  letters are lower-cased, which is harmless because Handle names, like DNS
  names, compare ASCII case-insensitively.
* Any other segment is *encoded*: ``hx--`` followed by the RFC 4648 base32 of
  its UTF-8 bytes, lower case, without ``=`` padding.  Base32 survives DNS case
  folding (and 0x20 case randomisation), so the exact characters, ASCII case
  included, come back.  An encoded suffix longer than one label continues in
  further labels of up to 63 base32 characters; an encoded prefix segment must
  fit one label.  Suffixes with dots (``tv_0001.A/B``) are always encoded.
* The whole name may not exceed 253 characters (255 octets on the wire).

Every handle has exactly one name, and :func:`name_to_handle` accepts only that
name (compared case-insensitively), so the rule is a bijection between valid
handles (up to ASCII case of plain segments) and the names it produces.
"""

from __future__ import annotations

import base64
import binascii
import re

import dns.name

SEPARATOR = "_"
ENCODED_MARKER = "hx--"
MAX_LABEL = 63

_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_BASE32 = re.compile(r"[a-z2-7]*")
_BASE32_LABEL = re.compile(r"[a-z2-7]{1,63}")


class DnsNameError(ValueError):
    """A handle that has no DNS name, or a DNS name that is no handle."""


class NameNotInZone(DnsNameError):
    """The DNS name is not below the bridge's zone (the server answers REFUSED)."""


def as_zone(zone: dns.name.Name | str) -> dns.name.Name:
    """``zone`` as an absolute :class:`dns.name.Name` (text gets a trailing dot)."""
    if isinstance(zone, dns.name.Name):
        return zone if zone.is_absolute() else zone.concatenate(dns.name.root)
    return dns.name.from_text(zone, origin=dns.name.root)


def handle_to_name(handle: str, zone: dns.name.Name | str) -> dns.name.Name:
    """The DNS name of ``handle`` under ``zone``; :class:`DnsNameError` if it has none."""
    prefix, slash, suffix = handle.partition("/")
    if not slash or not prefix or not suffix:
        raise DnsNameError(f"not a PREFIX/SUFFIX handle: {handle!r}")
    segments = prefix.split(".")
    if "" in segments:
        raise DnsNameError(f"empty prefix segment in {handle!r}")
    prefix_labels = [_segment_labels(s, handle) for s in reversed(segments)]
    if any(len(labels) > 1 for labels in prefix_labels):
        raise DnsNameError(f"prefix segment too long for one DNS label in {handle!r}")
    labels = [*_segment_labels(suffix, handle), SEPARATOR, *(ls[0] for ls in prefix_labels)]
    return build_name(labels, as_zone(zone), handle)


def name_to_handle(name: dns.name.Name | str, zone: dns.name.Name | str) -> str:
    """The handle whose DNS name is ``name``; raises :class:`DnsNameError` if none.

    :class:`NameNotInZone` is raised for names outside ``zone``.
    """
    labels = relative_labels(name, as_zone(zone))
    if SEPARATOR not in labels:
        raise DnsNameError(f"no {SEPARATOR!r} label between suffix and prefix in {name}")
    cut = labels.index(SEPARATOR)
    suffix_labels, prefix_labels = labels[:cut], labels[cut + 1 :]
    if not suffix_labels or not prefix_labels:
        raise DnsNameError(f"missing suffix or prefix labels in {name}")
    prefix = ".".join(decode_segment([label], name) for label in reversed(prefix_labels))
    handle = f"{prefix}/{decode_segment(suffix_labels, name)}"
    if handle_to_name(handle, zone) != _as_absolute(name):
        raise DnsNameError(f"{name} is not the canonical DNS name of {handle!r}")
    return handle


def is_empty_non_terminal(name: dns.name.Name | str, zone: dns.name.Name | str) -> bool:
    """True if ``name`` in ``zone`` is a proper ancestor of some possible handle name.

    These are ``<prefix labels>.<zone>``, ``_.<prefix labels>.<zone>`` and the
    tails of multi-label encoded suffixes.  The server answers them with NODATA
    rather than NXDOMAIN so that QNAME-minimising resolvers keep descending
    (RFC 8020).  The apex is not one, nor is a name with a non-ASCII label.
    """
    absolute = _as_absolute(name)
    if any(not label.isascii() for label in absolute.labels):
        return False  # no handle name has such a label (found by tests/fuzz)
    labels = relative_labels(absolute, as_zone(zone))
    if SEPARATOR in labels:
        cut = labels.index(SEPARATOR)
        tail, labels = labels[:cut], labels[cut + 1 :]
        if not all(_BASE32_LABEL.fullmatch(label) for label in tail):
            return False
    try:
        return bool(labels) and all(decode_segment([label], name) for label in labels)
    except DnsNameError:
        return False


def _segment_labels(segment: str, handle: str) -> list[str]:
    """The label(s) carrying one prefix segment or the suffix."""
    if segment.isascii():
        plain = segment.lower()
        if is_plain_label(plain):
            return [plain]
    try:
        raw = segment.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise DnsNameError(f"handle is not valid Unicode text: {handle!r}") from exc
    text = encoded_text(raw)
    return [text[i : i + MAX_LABEL] for i in range(0, len(text), MAX_LABEL)]


def encoded_text(raw: bytes) -> str:
    """``hx--`` + the lower-case, unpadded base32 of ``raw`` (split into labels by callers)."""
    return ENCODED_MARKER + base64.b32encode(raw).decode("ascii").rstrip("=").lower()


def decode_segment(labels: list[str], name: object) -> str:
    """The prefix segment or suffix carried by ``labels`` (already lower case)."""
    first = labels[0]
    if not first.startswith(ENCODED_MARKER):
        if len(labels) == 1 and is_plain_label(first):
            return first
        raise DnsNameError(f"label {first!r} of {name} is neither plain nor encoded")
    b32 = first[len(ENCODED_MARKER) :] + "".join(labels[1:])
    if not _BASE32.fullmatch(b32):
        raise DnsNameError(f"bad base32 in {name}")
    try:
        raw = base64.b32decode(b32.upper() + "=" * (-len(b32) % 8))
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise DnsNameError(f"undecodable encoded label in {name}") from exc


def is_plain_label(label: str) -> bool:
    return bool(_LDH_LABEL.fullmatch(label)) and label[2:4] != "--"


def build_name(labels: list[str], zone: dns.name.Name, handle: str) -> dns.name.Name:
    """``labels`` + ``zone``; dnspython refuses more than 255 wire octets (253 characters)."""
    try:
        return dns.name.Name([label.encode("ascii") for label in labels]).concatenate(zone)
    except dns.name.NameTooLong as exc:
        raise DnsNameError(f"DNS name of {handle!r} would be longer than 253 characters") from exc


def _as_absolute(name: dns.name.Name | str) -> dns.name.Name:
    return name if isinstance(name, dns.name.Name) else dns.name.from_text(name)


def relative_labels(name: dns.name.Name | str, zone: dns.name.Name) -> list[str]:
    """Labels of ``name`` below ``zone``, lower-cased text, leftmost first."""
    absolute = _as_absolute(name)
    if not absolute.is_subdomain(zone):
        raise NameNotInZone(f"{absolute} is not in zone {zone}")
    relative = absolute.relativize(zone)
    if relative == dns.name.empty:
        return []
    try:
        return [label.decode("ascii").lower() for label in relative.labels]
    except UnicodeDecodeError as exc:
        raise DnsNameError(f"non-ASCII label in {absolute}") from exc
