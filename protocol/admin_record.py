"""HS_ADMIN value data: an administrator reference with permission bits.

Layout (``Encoder.encodeAdminRecord``/``decodeAdminRecord``)::

    permissions:int2 admin_handle:bytes admin_index:int4 [00 00 if legacy]

Handle software 7.3 and earlier appended two zero octets; CNRI keeps a
``legacyByteLength`` flag so such records re-encode unchanged, and so do we.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol.constants import (
    ADMIN_PERM_ADD_ADMIN,
    ADMIN_PERM_ADD_HANDLE,
    ADMIN_PERM_ADD_NA,
    ADMIN_PERM_ADD_VALUE,
    ADMIN_PERM_ALL,
    ADMIN_PERM_DELETE_HANDLE,
    ADMIN_PERM_DELETE_NA,
    ADMIN_PERM_LIST_HANDLES,
    ADMIN_PERM_MODIFY_ADMIN,
    ADMIN_PERM_MODIFY_VALUE,
    ADMIN_PERM_READ_VALUE,
    ADMIN_PERM_REMOVE_ADMIN,
    ADMIN_PERM_REMOVE_VALUE,
)
from protocol.errors import ProtocolError
from protocol.wire import Reader, Writer

#: permission bit of each AdminRecord.perms[] position (ADD_HANDLE=0 ... LIST_HANDLES=11)
PERMISSION_ORDER: tuple[int, ...] = (
    ADMIN_PERM_ADD_HANDLE,
    ADMIN_PERM_DELETE_HANDLE,
    ADMIN_PERM_ADD_NA,
    ADMIN_PERM_DELETE_NA,
    ADMIN_PERM_MODIFY_VALUE,
    ADMIN_PERM_REMOVE_VALUE,
    ADMIN_PERM_ADD_VALUE,
    ADMIN_PERM_MODIFY_ADMIN,
    ADMIN_PERM_REMOVE_ADMIN,
    ADMIN_PERM_ADD_ADMIN,
    ADMIN_PERM_READ_VALUE,
    ADMIN_PERM_LIST_HANDLES,
)


@dataclass(frozen=True, slots=True)
class AdminRecord:
    """Who administers a handle (``admin_handle``:``admin_index``) and what they may do.

    ``permissions`` holds the ADMIN_PERM_* bits; only the twelve defined bits
    survive a round trip (CNRI decodes into a boolean array).
    """

    admin_handle: str
    admin_index: int
    permissions: int = ADMIN_PERM_ALL
    legacy_byte_length: bool = False

    def has(self, permission: int) -> bool:
        """True when every bit of ``permission`` is granted."""
        return self.permissions & permission == permission


def encode_admin_record(admin: AdminRecord) -> bytes:
    """HS_ADMIN value data."""
    w = Writer()
    w.i16(admin.permissions & ADMIN_PERM_ALL)
    w.string(admin.admin_handle)
    w.i32(admin.admin_index)
    if admin.legacy_byte_length:
        w.raw(b"\0\0")
    return w.getvalue()


#: decoded HS_ADMIN data by its bytes, at most :data:`DECODED_KEPT` (an AdminRecord is
#: frozen: one serves every reader): each create under a prefix reads the same few
#: HS_ADMIN values of its prefix handle
_decoded: dict[bytes, AdminRecord] = {}
DECODED_KEPT = 4096


def decode_admin_record(data: bytes) -> AdminRecord:
    """Decode HS_ADMIN value data (accepting the legacy two trailing octets); data seen
    before gives the record decoded then (the same record)."""
    admin = _decoded.get(data) if type(data) is bytes else None
    if admin is None:
        admin = _decode(data)
        if type(data) is bytes:
            if len(_decoded) >= DECODED_KEPT:
                _decoded.clear()
            _decoded[data] = admin
    return admin


def _decode(data: bytes) -> AdminRecord:
    r = Reader(data)
    permissions = r.u16() & ADMIN_PERM_ALL
    handle = r.string()
    index = r.i32()
    legacy = r.remaining() == 2
    if legacy:
        r.raw(2)
    elif r.remaining():
        raise ProtocolError("unexpected data after admin record")
    return AdminRecord(handle, index, permissions, legacy)
