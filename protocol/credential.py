"""The credential (signature) section that follows a message's body.

Layout (``AbstractMessage.signMessage``)::

    version:int1 reserved:int1 flags:int2 signer:bytes (empty)
    session_counter:int4 type:bytes ("HS_SIGNED" or "HS_MAC")
    section_length:int4 hash_alg:bytes signature:bytes

What is signed (or MACed) is the message header and body, preceded from
protocol 2.6 (signatures) / 2.7 (MACs) on by the envelope's versions (plus the
suggested versions from 2.8), session id, request id and the session counter.
The odd layouts CNRI produces at 2.5/2.6 are reproduced byte for byte.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass

from protocol.constants import (
    CREDENTIAL_TYPE_MAC,
    CREDENTIAL_TYPE_OLDSIGNED,
    CREDENTIAL_TYPE_SIGNED,
    HASH_ALG_HMAC_SHA256,
    HASH_ALG_SHA1,
    HASH_CODE_SHA1,
    MAX_ARRAY_SIZE,
)
from protocol.crypto import default_signature_hash, mac, mac_code, sign, verify
from protocol.digests import digest
from protocol.errors import ProtocolError
from protocol.key_types import HandlePrivateKey, HandlePublicKey
from protocol.message import Message, encode_header_body
from protocol.wire import Reader, Writer

_INT = struct.Struct(">i")
_TWO = struct.Struct(">ii")
#: version, reserved, flags and the signer's length
_HEAD = struct.Struct(">BBhi")
#: versions (2.7: two octets, from 2.8 four), session id, request id, counter
_PREFIX_27 = struct.Struct(">BBiii")
_PREFIX_28 = struct.Struct(">BBBBiii")


@dataclass(frozen=True, slots=True)
class Credential:
    """A parsed credential section."""

    type: bytes
    hash_alg: bytes
    signature: bytes
    session_counter: int = 0
    version: int = 0
    reserved: int = 0
    flags: int = 0
    signer: bytes = b""

    @property
    def is_mac(self) -> bool:
        """Secret-key MAC (``HS_MAC``) rather than a public-key signature."""
        return self.type == CREDENTIAL_TYPE_MAC


def encode_credential(cred: Credential) -> bytes:
    """The credential section bytes."""
    w = Writer()
    w.u8(cred.version).u8(cred.reserved).i16(cred.flags)
    w.byte_array(cred.signer)
    w.i32(cred.session_counter)
    w.byte_array(cred.type)
    w.i32(8 + len(cred.hash_alg) + len(cred.signature))
    w.byte_array(cred.hash_alg)
    w.byte_array(cred.signature)
    return w.getvalue()


def decode_credential(data: bytes) -> Credential:
    """Parse a credential section (the section length field is not trusted)."""
    return _decode_plain(data) or _decode_read(data)


def _decode_plain(data: bytes) -> Credential | None:
    """:func:`decode_credential` of a well-formed section (every length in bounds) with
    a few slices instead of a :class:`Reader` call a field (a session's every request
    carries one); None for anything else, which the reader decodes or refuses."""
    fields = _plain_fields(data)
    if fields is None:
        return None
    cred_type, hash_alg, signature, counter, version, reserved, flags, signer = fields
    return Credential(cred_type, hash_alg, signature, counter, version, reserved, flags,
                      signer)


def _plain_fields(
    data: bytes,
) -> tuple[bytes, bytes, bytes, int, int, int, int, bytes] | None:
    """The fields of :func:`_decode_plain`'s credential, in :class:`Credential`'s order,
    without making it."""
    size = len(data)
    if size < 8:
        return None
    version, reserved, flags, n = _HEAD.unpack_from(data)
    at = 8
    if not 0 <= n <= MAX_ARRAY_SIZE or at + n + 8 > size:
        return None
    signer = data[at:at + n]
    counter, n = _TWO.unpack_from(data, at + n)
    at += len(signer) + 8
    if not 0 <= n <= MAX_ARRAY_SIZE or at + n + 8 > size:
        return None
    cred_type = data[at:at + n]
    at += n + 4  # the section length, not trusted
    n = _INT.unpack_from(data, at)[0]
    at += 4
    if not 0 <= n <= MAX_ARRAY_SIZE or at + n + 4 > size:
        return None
    hash_alg = data[at:at + n]
    n = _INT.unpack_from(data, at + n)[0]
    at += len(hash_alg) + 4
    if not 0 <= n <= MAX_ARRAY_SIZE or at + n > size:
        return None
    return cred_type, hash_alg, data[at:at + n], counter, version, reserved, flags, signer


def _decode_read(data: bytes) -> Credential:
    """:func:`decode_credential` field by field, with the reader's errors."""
    r = Reader(data)
    version = r.u8()
    reserved = r.u8()
    flags = r.i16()
    signer = r.byte_array()
    counter = r.i32()
    cred_type = r.byte_array()
    r.i32()
    hash_alg = r.byte_array()
    signature = r.byte_array()
    return Credential(cred_type, hash_alg, signature, counter, version, reserved, flags, signer)


def _header_body(msg: Message) -> bytes:
    return msg.encoded if msg.encoded is not None else encode_header_body(msg)


def _version_prefix(msg: Message, counter: int) -> bytes:
    """Versions, session id, request id and counter as 2.7+ put them in front."""
    ids = _s32(msg.session_id), _s32(msg.request_id), _s32(counter)
    if msg.at_least(2, 8):
        return _PREFIX_28.pack(msg.major_version & 0xFF, msg.minor_version & 0xFF,
                               msg.suggest_major_version & 0xFF,
                               msg.suggest_minor_version & 0xFF, *ids)
    return _PREFIX_27.pack(msg.major_version & 0xFF, msg.minor_version & 0xFF, *ids)


def _s32(v: int) -> int:
    return v - (1 << 32) if v >= 1 << 31 else v


def _quirk_2_6_prefix(msg: Message, counter: int) -> bytes:
    """CNRI 2.6 ``offset = writeInt(...)`` bug: the three ints land on offsets 2, 4, 4."""
    buf = bytearray(14)
    buf[0], buf[1] = msg.major_version & 0xFF, msg.minor_version & 0xFF
    buf[2:6] = _INT.pack(_s32(msg.session_id))
    buf[4:8] = _INT.pack(_s32(msg.request_id))
    buf[4:8] = _INT.pack(_s32(counter))
    return bytes(buf)


def signed_bytes(msg: Message, counter: int) -> bytes:
    """What a public-key credential signs for ``msg``."""
    hb = _header_body(msg)
    if msg.at_least(2, 7):
        return _version_prefix(msg, counter) + hb
    if msg.at_least(2, 6):
        return _quirk_2_6_prefix(msg, counter) + hb
    return hb


def _mac_value(msg: Message, hash_alg: bytes, key: bytes, counter: int) -> bytes:
    hb = _header_body(msg)
    if msg.at_least(2, 5) and not msg.at_least(2, 7):
        # brokenTwoFiveTwoSixSignature: key, maj, min, session id, then (offset
        # reset to 4 by CNRI's bug) request id, counter, body and key again
        buf = bytearray(2 * len(key) + len(hb) + 14)
        buf[: len(key)] = key
        buf[len(key)] = msg.major_version & 0xFF
        buf[len(key) + 1] = msg.minor_version & 0xFF
        buf[len(key) + 2 : len(key) + 6] = _INT.pack(_s32(msg.session_id))
        buf[4:8] = _INT.pack(_s32(msg.request_id))
        buf[4:8] = _INT.pack(_s32(counter))
        buf[4 : 4 + len(hb)] = hb
        buf[4 + len(hb) : 4 + len(hb) + len(key)] = key
        return digest(mac_code(hash_alg), bytes(buf))
    data = _version_prefix(msg, counter) + hb if msg.at_least(2, 5) else hb
    return mac(mac_code(hash_alg), data, key)


def sign_message_mac(msg: Message, secret_key: bytes, session_counter: int = 0) -> None:
    """Attach an ``HS_MAC`` credential (session messages), as CNRI's
    ``signMessage(byte[] secretKey)``: HMAC-SHA256 from 2.7, SHA-1 before."""
    if msg.at_least(2, 7):
        hash_alg = HASH_ALG_HMAC_SHA256
    elif msg.at_least(2, 6):
        hash_alg = HASH_ALG_SHA1
    else:
        hash_alg = bytes([HASH_CODE_SHA1])
    value = _mac_value(msg, hash_alg, secret_key, session_counter)
    cred = Credential(CREDENTIAL_TYPE_MAC, hash_alg, value, session_counter)
    msg.signature = encode_credential(cred)


def verify_message_mac(msg: Message, secret_key: bytes) -> bool:
    """Check an ``HS_MAC`` credential (False if absent, of another type or wrong)."""
    return mac_counter(msg, secret_key) is not None


def mac_counter(msg: Message, secret_key: bytes) -> int | None:
    """The session counter of ``msg``'s ``HS_MAC`` credential when it verifies with
    ``secret_key`` (:func:`verify_message_mac`), else None: the credential read once."""
    if not msg.signature:
        return None
    fields = _plain_fields(msg.signature)  # a well-formed section, without a Credential
    if fields is None:
        cred = _decode_read(msg.signature)
        cred_type, hash_alg, signature, counter = (cred.type, cred.hash_alg, cred.signature,
                                                   cred.session_counter)
    else:
        cred_type, hash_alg, signature, counter = fields[:4]
    if cred_type != CREDENTIAL_TYPE_MAC:
        return None
    expected = _mac_value(msg, hash_alg, secret_key, counter)
    return counter if hmac.compare_digest(expected, signature) else None


def sign_message(
    msg: Message,
    private_key: HandlePrivateKey,
    hash_alg: bytes | None = None,
    session_counter: int = 0,
) -> None:
    """Attach an ``HS_SIGNED`` credential (certified responses), as CNRI's
    ``signMessage(Signature)``; the hash defaults to ``Util.getDefaultSigId``."""
    if hash_alg is None:
        hash_alg = default_signature_hash(private_key, msg.major_version, msg.minor_version)
    value = sign(private_key, hash_alg, signed_bytes(msg, session_counter))
    cred = Credential(CREDENTIAL_TYPE_SIGNED, hash_alg, value, session_counter)
    msg.signature = encode_credential(cred)


def verify_message_signature(msg: Message, public_key: HandlePublicKey) -> bool:
    """Check an ``HS_SIGNED`` (or old ``HS_DSAPUBKEY``) credential."""
    if not msg.signature:
        return False
    try:
        cred = decode_credential(msg.signature)
    except ProtocolError:
        return False
    if cred.type not in (CREDENTIAL_TYPE_SIGNED, CREDENTIAL_TYPE_OLDSIGNED):
        return False
    data = signed_bytes(msg, cred.session_counter)
    return verify(public_key, cred.hash_alg, cred.signature, data)
