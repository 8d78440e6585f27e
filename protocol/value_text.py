"""Handle value data from the text a person writes: ``idnode handle --value`` and CSV import.

``DATA`` is UTF-8 text for most types.  A few types take a structured text form:

* ``HS_ADMIN``: ``HANDLE:INDEX`` of the administrator (all permissions),
  e.g. ``0.NA/88.118.8:300``;
* ``HS_VLIST``: ``HANDLE:INDEX`` references separated by commas;
* ``HS_PUBKEY``: ``@FILE``, a PEM public (or private) key or a file already
  holding HS_PUBKEY bytes; the caller says how a file is read (``read``), and
  without a reader the form is refused.

An HS_SECKEY written this way is readable by admins only.

One parser for every place that reads such text, so the CLI and an import
store the same bytes for the same text.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import serialization

from protocol.admin_record import AdminRecord, encode_admin_record
from protocol.constants import (
    ADMIN_PERM_ALL,
    TYPE_HS_ADMIN,
    TYPE_HS_PUBKEY,
    TYPE_HS_SECKEY,
    TYPE_HS_VLIST,
)
from protocol.errors import ProtocolError
from protocol.public_key import decode_key_numbers, encode_public_key
from protocol.references import encode_vlist
from protocol.values import DEFAULT_TTL, HandleValue, ValueReference

ReadFile = Callable[[str], bytes]
"""Reads the file an ``@FILE`` data text names."""


class ValueSyntaxError(ValueError):
    """Text that cannot be turned into the data of a value of its type."""


def reference(text: str) -> ValueReference:
    """``HANDLE:INDEX`` as a value reference."""
    handle, colon, index = text.strip().rpartition(":")
    if not colon or not handle or not index.isdigit():
        raise ValueSyntaxError(f"expected HANDLE:INDEX, got {text!r}")
    return ValueReference(handle, int(index))


def public_key_data(raw: bytes, source: str) -> bytes:
    """HS_PUBKEY data from a PEM public (or private) key, or bytes already in that form;
    ``source`` names where ``raw`` came from in errors."""
    try:
        if b"-----BEGIN" not in raw:
            decode_key_numbers(raw)
            return raw
        if b"PRIVATE KEY" in raw:
            key: Any = serialization.load_pem_private_key(raw, password=None).public_key()
        else:
            key = serialization.load_pem_public_key(raw)
        return encode_public_key(key)
    except (ValueError, TypeError, ProtocolError) as exc:
        raise ValueSyntaxError(f"{source}: not a usable RSA/DSA public key ({exc})") from None


def value_data(type_name: str, text: str, *, read: ReadFile | None = None) -> bytes:
    """The data of a ``type_name`` value written as ``text`` (see the module docstring)."""
    key = type_name.strip().upper()
    if key == TYPE_HS_ADMIN:
        ref = reference(text)
        return encode_admin_record(AdminRecord(ref.handle, ref.index, ADMIN_PERM_ALL))
    if key == TYPE_HS_VLIST:
        return encode_vlist([reference(part) for part in text.split(",") if part.strip()])
    if key == TYPE_HS_PUBKEY and text.startswith("@"):
        if read is None:
            raise ValueSyntaxError(f"HS_PUBKEY from a file ({text}) is not accepted here")
        try:
            raw = read(text[1:])
        except OSError as exc:
            raise ValueSyntaxError(f"{text[1:]}: {exc.strerror or exc}") from None
        return public_key_data(raw, text[1:])
    return text.encode("utf-8")


@lru_cache(maxsize=256)
def text_type(type_name: str) -> tuple[str, bool] | None:
    """``(type, publicly readable)`` of a ``type_name`` (as written, blanks around it
    allowed) whose data is its text in UTF-8, as :func:`value_from_text` makes it; None
    for the types whose text says something else (HS_ADMIN, HS_VLIST, HS_PUBKEY).  A bulk
    reader asks once per type name, not per row."""
    name = type_name.strip()
    if name.upper() in (TYPE_HS_ADMIN, TYPE_HS_VLIST, TYPE_HS_PUBKEY):
        return None
    return name, name.upper() != TYPE_HS_SECKEY


def value_from_text(
    index: int, type_name: str, text: str, *, ttl: int | None = None,
    read: ReadFile | None = None,
) -> HandleValue:
    """A value of ``type_name`` at ``index`` whose data is written as ``text``; an
    HS_SECKEY is not publicly readable (as CNRI creates one)."""
    type_name = type_name.strip()
    return HandleValue(index=index, type=type_name, data=value_data(type_name, text, read=read),
                       ttl=DEFAULT_TTL if ttl is None else ttl,
                       public_read=type_name.upper() != TYPE_HS_SECKEY)
