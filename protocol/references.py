"""Value data that refers to other handles: HS_VLIST, HS_SERV and HS_ALIAS.

* HS_VLIST (``Encoder.encodeValueReferenceList``): ``count:int4 (handle:bytes index:int4)*``.
* HS_SERV and HS_ALIAS: the referenced handle name as UTF-8 bytes, nothing else.
* HS_SECKEY: the secret key bytes as they are (no structure).
"""

from __future__ import annotations

from collections.abc import Sequence

from protocol.values import ValueReference
from protocol.wire import Reader, Writer, decode_utf8, encode_utf8


def encode_vlist(refs: Sequence[ValueReference]) -> bytes:
    """HS_VLIST value data."""
    w = Writer()
    w.i32(len(refs))
    for ref in refs:
        w.string(ref.handle)
        w.i32(ref.index)
    return w.getvalue()


def decode_vlist(data: bytes) -> tuple[ValueReference, ...]:
    """Decode HS_VLIST value data; trailing bytes are an error, as in CNRI."""
    r = Reader(data)
    refs = tuple(ValueReference(r.string(), r.i32()) for _ in range(r.count(8)))
    r.expect_end("value reference list")
    return refs


def encode_handle_ref(handle: str) -> bytes:
    """HS_SERV / HS_ALIAS value data: the handle as UTF-8."""
    return encode_utf8(handle)


def decode_handle_ref(data: bytes) -> str:
    """The handle named by HS_SERV / HS_ALIAS value data."""
    return decode_utf8(data)


encode_service_handle = encode_handle_ref
decode_service_handle = decode_handle_ref
encode_alias = encode_handle_ref
decode_alias = decode_handle_ref


def encode_secret_key(key: bytes) -> bytes:
    """HS_SECKEY value data (the key itself)."""
    return bytes(key)


def decode_secret_key(data: bytes) -> bytes:
    """The secret key held in HS_SECKEY value data."""
    return bytes(data)
