"""Handle values on the command line: ``--value INDEX:TYPE:DATA`` in, readable rows out.

``DATA`` is text for most types; HS_ADMIN, HS_VLIST and HS_PUBKEY take the
structured text forms of :mod:`protocol.value_text` (shared with CSV import),
e.g. ``100:HS_ADMIN:0.NA/88.118.8:300``; ``@FILE`` is read from the current
directory.

Display never shows secret key bytes: an HS_SECKEY value prints as
``(secret key, N bytes)`` in tables and as ``{"format": "hidden", "length": N}``
in ``--json`` output.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from admin.output import Printer, fields, table
from protocol.admin_record import decode_admin_record
from protocol.constants import (
    SP_HDL_HTTP,
    SP_HDL_HTTPS,
    SP_HDL_TCP,
    SP_HDL_UDP,
    TYPE_HS_ADMIN,
    TYPE_HS_PUBKEY,
    TYPE_HS_SECKEY,
    TYPE_HS_SITE,
    TYPE_HS_VLIST,
)
from protocol.errors import ProtocolError
from protocol.public_key import decode_key_numbers
from protocol.references import decode_vlist
from protocol.rest_json import value_to_json
from protocol.site_info import decode_site_info
from protocol.value_text import ValueSyntaxError, public_key_data, value_from_text
from protocol.values import HandleValue
from registry.names import name_key
from registry.tiers import TYPE_PARTNERS, partner_indexes, tier_of
from registry.trust.errors import TrustError
from registry.trust.keys import hs_pubkey_to_public_key, jwk_thumbprint, key_type_of

PROTOCOL_NAMES = {SP_HDL_UDP: "udp", SP_HDL_TCP: "tcp", SP_HDL_HTTP: "http", SP_HDL_HTTPS: "https"}


def public_key_bytes(path: Path) -> bytes:
    """HS_PUBKEY data from a PEM public (or private) key file, or a file already in that form."""
    return public_key_data(path.read_bytes(), str(path))


def _read_file(name: str) -> bytes:
    return Path(name).read_bytes()


def parse_value(spec: str, *, ttl: int | None = None) -> HandleValue:
    """``INDEX:TYPE:DATA`` as a handle value (the data may contain colons)."""
    index_text, colon1, rest = spec.partition(":")
    type_name, colon2, data = rest.partition(":")
    if not (colon1 and colon2) or not index_text.strip().isdigit() or not type_name.strip():
        raise ValueSyntaxError(f"--value must be INDEX:TYPE:DATA, got {spec!r}")
    return value_from_text(int(index_text), type_name, data, ttl=ttl, read=_read_file)


def _public_key_text(data: bytes) -> str:
    """``RSA public key, 2048 bits``, ``Ed25519 public key, thumbprint …``: CNRI's layouts
    (DSA, RSA, DH) and idnode's elliptic-curve ones (:mod:`registry.trust.keys`)."""
    try:
        numbers = decode_key_numbers(data)
    except ProtocolError:
        try:
            ec_key = hs_pubkey_to_public_key(data)
        except TrustError as exc:
            raise ValueError(str(exc)) from None
        label = {"ed25519": "Ed25519", "p256": "P-256", "sm2": "SM2"}[key_type_of(ec_key)]
        return f"{label} public key, thumbprint {jwk_thumbprint(ec_key)}"
    size = getattr(numbers, "n", getattr(numbers, "p", 0)).bit_length()
    return f"{type(numbers).__name__.removesuffix('KeyNumbers')} public key, {size} bits"


def describe_data(value: HandleValue) -> str:
    """A one-line, human-readable rendering of the value's data (secrets hidden)."""
    key = name_key(value.type)
    try:
        if key == TYPE_HS_SECKEY:
            return f"(secret key, {len(value.data)} bytes)"
        if key == TYPE_HS_ADMIN:
            admin = decode_admin_record(value.data)
            return f"{admin.admin_index}:{admin.admin_handle} perms={admin.permissions:03x}"
        if key == TYPE_HS_VLIST:
            return ", ".join(f"{r.index}:{r.handle}" for r in decode_vlist(value.data))
        if key == TYPE_HS_PUBKEY:
            return _public_key_text(value.data)
        if key.startswith(TYPE_HS_SITE):
            site = decode_site_info(value.data)
            servers = [
                f"{s.ip} " + "/".join(f"{PROTOCOL_NAMES.get(i.protocol, i.protocol)}:{i.port}"
                                      for i in s.interfaces)
                for s in site.servers
            ]
            return f"site #{site.serial_number}: " + "; ".join(servers)
    except (ProtocolError, ValueError):
        return f"(undecodable {value.type}, {len(value.data)} bytes) {value.data.hex()}"
    try:
        return value.data.decode("utf-8")
    except UnicodeDecodeError:
        return "hex:" + value.data.hex()


def value_rows(values: Iterable[HandleValue]) -> list[dict[str, Any]]:
    """Table rows for a record's values (``tier``: :mod:`registry.tiers`)."""
    values = tuple(values)
    listed = partner_indexes(values)
    return [
        {"index": v.index, "type": v.type, "ttl": v.ttl,
         "perms": "".join(flag if on else "-" for flag, on in (
             ("r", v.admin_read), ("w", v.admin_write), ("R", v.public_read),
             ("W", v.public_write))),
         "tier": "" if v.type == TYPE_PARTNERS else tier_of(v, listed),
         "data": describe_data(v)}
        for v in values
    ]


def values_json(values: Iterable[HandleValue]) -> list[dict[str, Any]]:
    """REST JSON of the values for ``--json`` output; secret key data shows as ``hidden``."""
    shown = []
    for v in values:
        item = value_to_json(v)
        if name_key(v.type) == TYPE_HS_SECKEY:
            item["data"] = {"format": "hidden", "length": len(v.data)}
        shown.append(item)
    return shown


def print_record(out: Printer, head: dict[str, Any], values: Iterable[HandleValue]) -> None:
    """``head`` as fields and the values as a table (or all of it as JSON)."""
    values = tuple(values)
    if out.json_mode:
        out.result(head | {"values": values_json(values)})
    else:
        out.result(head, fields(head) + "\n\n" + table(value_rows(values)))
