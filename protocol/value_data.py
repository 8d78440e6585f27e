"""Structured value data as dataclasses, chosen by value type.

:func:`decode_data` turns the bytes of an HS_ADMIN, HS_SITE(.PREFIX), HS_VLIST,
HS_SERV(.PREFIX), HS_ALIAS, HS_PUBKEY or HS_SECKEY value into a dataclass;
:func:`encode_data` turns one back into ``(type, bytes)``; :func:`make_value`
builds a whole HandleValue.  The byte layouts live in :mod:`protocol.admin_record`,
:mod:`protocol.site_info`, :mod:`protocol.references` and :mod:`protocol.public_key`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protocol.admin_record import AdminRecord, decode_admin_record, encode_admin_record
from protocol.constants import (
    TYPE_HS_ADMIN,
    TYPE_HS_ALIAS,
    TYPE_HS_NA_DELEGATE,
    TYPE_HS_PUBKEY,
    TYPE_HS_SECKEY,
    TYPE_HS_SERV,
    TYPE_HS_SERV_PREFIX,
    TYPE_HS_SITE,
    TYPE_HS_SITE_PREFIX,
    TYPE_HS_VLIST,
)
from protocol.errors import ProtocolError
from protocol.public_key import KeyNumbers, decode_key_numbers, encode_key_numbers
from protocol.references import decode_handle_ref, decode_vlist, encode_handle_ref, encode_vlist
from protocol.site_info import SiteInfo, decode_site_info, encode_site_info
from protocol.values import HandleValue, ValueReference


@dataclass(frozen=True, slots=True)
class ServiceHandle:
    """HS_SERV data: the handle whose HS_SITE values describe the service."""

    handle: str
    derived_prefix: bool = False  # HS_SERV.PREFIX


@dataclass(frozen=True, slots=True)
class Alias:
    """HS_ALIAS data: the handle this one is an alias of."""

    handle: str


@dataclass(frozen=True, slots=True)
class SecretKey:
    """HS_SECKEY data: the secret key bytes."""

    key: bytes


@dataclass(frozen=True, slots=True)
class ValueList:
    """HS_VLIST data: a list of handle values (handle + index), e.g. an admin group."""

    refs: tuple[ValueReference, ...]


@dataclass(frozen=True, slots=True)
class PublicKeyData:
    """HS_PUBKEY data: the key's integers (see :mod:`protocol.public_key` for objects)."""

    numbers: KeyNumbers


@dataclass(frozen=True, slots=True)
class SiteData:
    """HS_SITE data, or HS_SITE.PREFIX when ``derived_prefix``."""

    site: SiteInfo
    derived_prefix: bool = False


ValueData = AdminRecord | SiteData | ValueList | ServiceHandle | Alias | SecretKey | PublicKeyData


def decode_data(type_name: str, data: bytes) -> ValueData | None:
    """The structured form of ``data`` for ``type_name``; None for other types
    (URL, EMAIL, industry types...).  Malformed data raises ProtocolError."""
    if type_name == TYPE_HS_ADMIN:
        return decode_admin_record(data)
    if type_name in (TYPE_HS_SITE, TYPE_HS_SITE_PREFIX, TYPE_HS_NA_DELEGATE):
        return SiteData(decode_site_info(data), type_name != TYPE_HS_SITE)
    if type_name == TYPE_HS_VLIST:
        return ValueList(decode_vlist(data))
    if type_name in (TYPE_HS_SERV, TYPE_HS_SERV_PREFIX):
        return ServiceHandle(decode_handle_ref(data), type_name == TYPE_HS_SERV_PREFIX)
    if type_name == TYPE_HS_ALIAS:
        return Alias(decode_handle_ref(data))
    if type_name == TYPE_HS_PUBKEY:
        return PublicKeyData(decode_key_numbers(data))
    if type_name == TYPE_HS_SECKEY:
        return SecretKey(bytes(data))
    return None


def encode_data(obj: ValueData) -> tuple[str, bytes]:
    """The value type and bytes for a structured value."""
    if isinstance(obj, AdminRecord):
        return TYPE_HS_ADMIN, encode_admin_record(obj)
    if isinstance(obj, SiteData):
        return (TYPE_HS_SITE_PREFIX if obj.derived_prefix else TYPE_HS_SITE), encode_site_info(
            obj.site
        )
    if isinstance(obj, ValueList):
        return TYPE_HS_VLIST, encode_vlist(obj.refs)
    if isinstance(obj, ServiceHandle):
        kind = TYPE_HS_SERV_PREFIX if obj.derived_prefix else TYPE_HS_SERV
        return kind, encode_handle_ref(obj.handle)
    if isinstance(obj, Alias):
        return TYPE_HS_ALIAS, encode_handle_ref(obj.handle)
    if isinstance(obj, PublicKeyData):
        return TYPE_HS_PUBKEY, encode_key_numbers(obj.numbers)
    if isinstance(obj, SecretKey):
        return TYPE_HS_SECKEY, bytes(obj.key)
    raise ProtocolError(f"not structured value data: {type(obj).__name__}")


def make_value(index: int, obj: ValueData, **fields: Any) -> HandleValue:
    """A HandleValue holding ``obj`` (other HandleValue fields by keyword).

    HS_SECKEY values default to not publicly readable, as CNRI creates them.
    """
    type_name, data = encode_data(obj)
    if isinstance(obj, SecretKey):
        fields.setdefault("public_read", False)
    return HandleValue(index=index, type=type_name, data=data, **fields)
