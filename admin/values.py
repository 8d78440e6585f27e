"""Handle values on the command line: ``--value INDEX:TYPE:DATA`` in, readable rows out.

``DATA`` is text for most types.  A few types take a structured text form:

* ``HS_ADMIN``: ``HANDLE:INDEX`` of the administrator (all permissions),
  e.g. ``100:HS_ADMIN:0.NA/88.118.8:300``;
* ``HS_VLIST``: ``HANDLE:INDEX`` references separated by commas;
* ``HS_PUBKEY``: ``@FILE``, a PEM public key or HS_PUBKEY bytes file.

Display never shows secret key bytes: an HS_SECKEY value prints as
``(secret key, N bytes)`` in tables and as ``{"format": "hidden", "length": N}``
in ``--json`` output.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from admin.output import Printer, fields, table
from protocol.admin_record import AdminRecord, decode_admin_record, encode_admin_record
from protocol.constants import (
    ADMIN_PERM_ALL,
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
from protocol.public_key import decode_key_numbers, encode_public_key
from protocol.references import decode_vlist, encode_vlist
from protocol.rest_json import value_to_json
from protocol.site_info import decode_site_info
from protocol.values import HandleValue, ValueReference
from registry.names import name_key
from registry.trust.errors import TrustError
from registry.trust.keys import hs_pubkey_to_public_key, jwk_thumbprint, key_type_of

PROTOCOL_NAMES = {SP_HDL_UDP: "udp", SP_HDL_TCP: "tcp", SP_HDL_HTTP: "http", SP_HDL_HTTPS: "https"}


class ValueSyntaxError(ValueError):
    """A ``--value`` argument that cannot be turned into a handle value."""


def _reference(text: str) -> ValueReference:
    handle, colon, index = text.strip().rpartition(":")
    if not colon or not handle or not index.isdigit():
        raise ValueSyntaxError(f"expected HANDLE:INDEX, got {text!r}")
    return ValueReference(handle, int(index))


def public_key_bytes(path: Path) -> bytes:
    """HS_PUBKEY data from a PEM public (or private) key file, or a file already in that form."""
    raw = path.read_bytes()
    if b"-----BEGIN" not in raw:
        decode_key_numbers(raw)
        return raw
    try:
        if b"PRIVATE KEY" in raw:
            private = serialization.load_pem_private_key(raw, password=None)
            key: Any = private.public_key()
        else:
            key = serialization.load_pem_public_key(raw)
        return encode_public_key(key)
    except (ValueError, TypeError, ProtocolError) as exc:
        raise ValueSyntaxError(f"{path}: not a usable RSA/DSA public key ({exc})") from None


def value_data(type_name: str, text: str) -> bytes:
    """The value data for ``text`` given for a value of ``type_name``."""
    key = name_key(type_name)
    if key == TYPE_HS_ADMIN:
        ref = _reference(text)
        return encode_admin_record(AdminRecord(ref.handle, ref.index, ADMIN_PERM_ALL))
    if key == TYPE_HS_VLIST:
        return encode_vlist([_reference(part) for part in text.split(",") if part.strip()])
    if key == TYPE_HS_PUBKEY and text.startswith("@"):
        return public_key_bytes(Path(text[1:]))
    return text.encode("utf-8")


def parse_value(spec: str, *, ttl: int | None = None) -> HandleValue:
    """``INDEX:TYPE:DATA`` as a handle value (the data may contain colons)."""
    index_text, colon1, rest = spec.partition(":")
    type_name, colon2, data = rest.partition(":")
    if not (colon1 and colon2) or not index_text.strip().isdigit() or not type_name.strip():
        raise ValueSyntaxError(f"--value must be INDEX:TYPE:DATA, got {spec!r}")
    value = HandleValue(index=int(index_text), type=type_name.strip(),
                        data=value_data(type_name.strip(), data))
    if name_key(value.type) == TYPE_HS_SECKEY:
        value = dataclasses.replace(value, public_read=False)
    return value if ttl is None else dataclasses.replace(value, ttl=ttl)


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
        label = {"ed25519": "Ed25519", "p256": "P-256"}[key_type_of(ec_key)]
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
    """Table rows for a record's values."""
    return [
        {"index": v.index, "type": v.type, "ttl": v.ttl,
         "perms": "".join(flag if on else "-" for flag, on in (
             ("r", v.admin_read), ("w", v.admin_write), ("R", v.public_read),
             ("W", v.public_write))),
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
