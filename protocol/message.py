"""Whole messages: the 24-byte header, the typed body and the credential section.

Header (``Encoder.writeHeader``/``MessageHeaders``)::

    op_code:int4 response_code:int4 op_flags:int4 site_info_serial:int2
    recursion_count:int1 reserved:int1 expiration:int4 body_length:int4

A response with the return-request-digest flag starts its body with a digest
code octet and the digest of the request.  After the body comes a four-octet
credential length and the credential (signature) section, see
:mod:`protocol.credential`.  What follows the envelope is
``encode_message(msg)``; the envelope itself is :mod:`protocol.envelope`.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field
from typing import Any, overload

from protocol.bodies import (
    DIGEST_SIZES,
    AnyBody,
    BodyContext,
    ChallengeAnswerRequest,
    ChallengeResponse,
    CreateHandleResponse,
    EmptyBody,
    ErrorResponse,
    GetSiteInfoResponse,
    HandleListResponse,
    HandleRequest,
    NextTxnIdResponse,
    RawBody,
    ReferralResponse,
    RemoveValueRequest,
    ResolutionRequest,
    ResolutionResponse,
    SessionExchangeKeyRequest,
    SessionSetupRequest,
    SessionSetupResponse,
    ValuesRequest,
    VerifyAuthRequest,
    VerifyAuthResponse,
)
from protocol.constants import (
    DEFAULT_MESSAGE_FLAGS,
    ERROR_RESPONSE_CODES,
    MAX_MESSAGE_SIZE,
    MESSAGE_HEADER_SIZE,
    MSG_FLAG_AUTH,
    MSG_FLAG_CACR,
    MSG_FLAG_CERT,
    MSG_FLAG_CONT,
    MSG_FLAG_DNRF,
    MSG_FLAG_ENCR,
    MSG_FLAG_KPAL,
    MSG_FLAG_MINT,
    MSG_FLAG_OVRW,
    MSG_FLAG_PUBL,
    MSG_FLAG_RECU,
    MSG_FLAG_RRDG,
    OC_ADD_VALUE,
    OC_BACKUP_SERVER,
    OC_CREATE_HANDLE,
    OC_DELETE_HANDLE,
    OC_DUMP_HANDLES,
    OC_GET_NEXT_TXN_ID,
    OC_GET_SITE_INFO,
    OC_HOME_NA,
    OC_LIST_HANDLES,
    OC_LIST_HOMED_NAS,
    OC_MODIFY_VALUE,
    OC_REMOVE_VALUE,
    OC_RESOLUTION,
    OC_RESPONSE_TO_CHALLENGE,
    OC_RETRIEVE_TXN_LOG,
    OC_SESSION_EXCHANGEKEY,
    OC_SESSION_SETUP,
    OC_SESSION_TERMINATE,
    OC_UNHOME_NA,
    OC_VERIFY_CHALLENGE,
    PROTOCOL_MAJOR_VERSION,
    PROTOCOL_MINOR_VERSION,
    RC_AUTHENTICATION_NEEDED,
    RC_INVALID_VALUE,
    RC_OPERATION_NOT_SUPPORTED,
    RC_PREFIX_REFERRAL,
    RC_RESERVED,
    RC_SERVER_BACKUP,
    RC_SERVICE_REFERRAL,
    RC_SESSION_FAILED,
    RC_SUCCESS,
    RC_VALUE_ALREADY_EXISTS,
)
from protocol.digests import RequestDigest, digest_alg_for_version, make_request_digest
from protocol.envelope import Envelope
from protocol.errors import ProtocolError
from protocol.versions import at_least, negotiate
from protocol.wire import Reader, Writer

_HEADER = struct.Struct(">iiIhBxiI")
EXPIRATION_OFFSET = 16
"""Where the header's expiration field starts (after op, rc, flags, serial, recursion)."""
RESPONSE_LIFETIME = 43200
"""Seconds a response says it is valid for by default (CNRI: 12 hours)."""

_GENERIC_REQUEST_OPS = (
    OC_SESSION_TERMINATE, OC_GET_NEXT_TXN_ID, OC_HOME_NA, OC_UNHOME_NA, OC_GET_SITE_INFO,
    OC_BACKUP_SERVER, OC_DELETE_HANDLE, OC_LIST_HANDLES, OC_LIST_HOMED_NAS,
)
REQUEST_BODIES: dict[int, type[Any]] = {
    OC_RESOLUTION: ResolutionRequest,
    OC_RESPONSE_TO_CHALLENGE: ChallengeAnswerRequest,
    OC_VERIFY_CHALLENGE: VerifyAuthRequest,
    OC_CREATE_HANDLE: ValuesRequest,
    OC_ADD_VALUE: ValuesRequest,
    OC_MODIFY_VALUE: ValuesRequest,
    OC_REMOVE_VALUE: RemoveValueRequest,
    OC_RETRIEVE_TXN_LOG: RawBody,
    OC_DUMP_HANDLES: RawBody,
    OC_SESSION_SETUP: SessionSetupRequest,
    OC_SESSION_EXCHANGEKEY: SessionExchangeKeyRequest,
    **dict.fromkeys(_GENERIC_REQUEST_OPS, HandleRequest),
}
_GENERIC_RESPONSE_OPS = (
    OC_SESSION_TERMINATE, OC_DELETE_HANDLE, OC_ADD_VALUE, OC_MODIFY_VALUE, OC_REMOVE_VALUE,
    OC_HOME_NA, OC_UNHOME_NA, OC_BACKUP_SERVER, OC_SESSION_EXCHANGEKEY,
)
SUCCESS_BODIES: dict[int, type[Any]] = {
    OC_RESOLUTION: ResolutionResponse,
    OC_VERIFY_CHALLENGE: VerifyAuthResponse,
    OC_LIST_HANDLES: HandleListResponse,
    OC_LIST_HOMED_NAS: HandleListResponse,
    OC_RETRIEVE_TXN_LOG: RawBody,
    OC_DUMP_HANDLES: RawBody,
    OC_SESSION_SETUP: SessionSetupResponse,
    OC_CREATE_HANDLE: CreateHandleResponse,
    OC_GET_NEXT_TXN_ID: NextTxnIdResponse,
    OC_GET_SITE_INFO: GetSiteInfoResponse,
    **dict.fromkeys(_GENERIC_RESPONSE_OPS, EmptyBody),
}


class _Flag:
    """A boolean view of one bit of ``Message.flags``."""

    def __init__(self, bit: int) -> None:
        self.bit = bit

    @overload
    def __get__(self, obj: None, owner: Any) -> _Flag: ...
    @overload
    def __get__(self, obj: Message, owner: Any) -> bool: ...
    def __get__(self, obj: Message | None, owner: Any) -> _Flag | bool:
        if obj is None:
            return self
        return bool(obj.flags & self.bit)

    def __set__(self, obj: Message, on: bool) -> None:
        obj.flags = (obj.flags | self.bit) if on else (obj.flags & ~self.bit)


@dataclass(slots=True)
class Message:
    """One Handle message: header fields, a typed body and an optional credential.

    ``flags`` holds the MSG_FLAG_* bits (also readable and settable one by one:
    ``msg.certify = True``).  ``request_digest`` is the digest a response carries
    when ``return_request_digest`` is set.  ``signature`` is the raw credential
    section (see :mod:`protocol.credential`).  ``encoded`` is filled in by
    :func:`decode_message` with the header+body bytes as received, the input of
    request digests and signature checks.  The version and id fields mirror the
    envelope.
    """

    op_code: int
    response_code: int = RC_RESERVED
    body: AnyBody = field(default_factory=EmptyBody)
    flags: int = DEFAULT_MESSAGE_FLAGS
    site_info_serial: int = -1
    recursion_count: int = 0
    expiration: int = 0
    request_digest: RequestDigest | None = None
    signature: bytes | None = None
    request_id: int = 0
    session_id: int = 0
    major_version: int = PROTOCOL_MAJOR_VERSION
    minor_version: int = PROTOCOL_MINOR_VERSION
    suggest_major_version: int = PROTOCOL_MAJOR_VERSION
    suggest_minor_version: int = PROTOCOL_MINOR_VERSION
    encoded: bytes | None = field(default=None, compare=False, repr=False)

    authoritative = _Flag(MSG_FLAG_AUTH)
    certify = _Flag(MSG_FLAG_CERT)
    encrypt = _Flag(MSG_FLAG_ENCR)
    recursive = _Flag(MSG_FLAG_RECU)
    cache_certify = _Flag(MSG_FLAG_CACR)
    continuous = _Flag(MSG_FLAG_CONT)
    keep_alive = _Flag(MSG_FLAG_KPAL)
    public_only = _Flag(MSG_FLAG_PUBL)
    return_request_digest = _Flag(MSG_FLAG_RRDG)
    overwrite_when_exists = _Flag(MSG_FLAG_OVRW)
    mint_new_suffix = _Flag(MSG_FLAG_MINT)
    do_not_refer = _Flag(MSG_FLAG_DNRF)

    @property
    def is_request(self) -> bool:
        """Requests have response code 0."""
        return self.response_code == RC_RESERVED

    def at_least(self, major: int, minor: int) -> bool:
        """Is this message's protocol version >= ``major.minor``?"""
        return at_least(self.major_version, self.minor_version, major, minor)

    def envelope(
        self, message_length: int, sequence_number: int = 0, *, truncated: bool = False
    ) -> Envelope:
        """The envelope that goes in front of this message."""
        return Envelope(
            message_length=message_length,
            request_id=self.request_id,
            session_id=self.session_id,
            sequence_number=sequence_number,
            major_version=self.major_version,
            minor_version=self.minor_version,
            suggest_major_version=self.suggest_major_version,
            suggest_minor_version=self.suggest_minor_version,
            truncated=truncated,
        )


def body_class(op_code: int, response_code: int, major: int, minor: int) -> type[Any]:
    """The body dataclass CNRI uses for this (op code, response code) at this version."""
    if response_code == RC_RESERVED:
        cls: type[Any] | None = REQUEST_BODIES.get(op_code)
    elif response_code == RC_SUCCESS:
        cls = SUCCESS_BODIES.get(op_code)
    elif response_code == RC_SERVICE_REFERRAL:
        cls = ReferralResponse
    elif response_code == RC_PREFIX_REFERRAL:
        cls = ReferralResponse if at_least(major, minor, 2, 5) else ErrorResponse
    elif response_code in ERROR_RESPONSE_CODES:
        cls = ErrorResponse
    elif response_code == RC_AUTHENTICATION_NEEDED:
        cls = ChallengeResponse
    else:
        raise ProtocolError(f"unknown response code {response_code}")
    if cls is None:
        raise ProtocolError(
            f"unknown op code {op_code} for response code {response_code}",
            RC_OPERATION_NOT_SUPPORTED,
        )
    return cls


def _wire_response_code(msg: Message) -> int:
    rc = msg.response_code
    if not msg.at_least(2, 5):
        if rc == RC_SERVER_BACKUP:
            return RC_PREFIX_REFERRAL
        if rc == RC_INVALID_VALUE:
            return RC_VALUE_ALREADY_EXISTS
    return rc


def encode_header_body(msg: Message) -> bytes:
    """Header and body bytes (``getEncodedMessageBody``): what digests and signatures cover."""
    expected = body_class(msg.op_code, msg.response_code, msg.major_version, msg.minor_version)
    if not isinstance(msg.body, (expected, RawBody)):
        raise ProtocolError(
            f"body {type(msg.body).__name__} does not fit op {msg.op_code} rc {msg.response_code}"
        )
    flags = msg.flags & 0xFFFFFFFF
    if not msg.at_least(2, 1):
        flags &= ~MSG_FLAG_RRDG
    with_digest = msg.response_code != RC_RESERVED and flags & MSG_FLAG_RRDG
    if not with_digest and _writes_nothing(msg.body):
        return _header(msg, flags, b"")  # an "ok" answer, a create's: no writer to make
    ctx = BodyContext(msg.major_version, msg.minor_version)
    w = Writer()
    if with_digest:
        rd = msg.request_digest
        if rd is None:
            raise ProtocolError("return-request-digest set but no request digest")
        if rd.alg in DIGEST_SIZES and len(rd.digest) == DIGEST_SIZES[rd.alg]:
            w.u8(rd.alg)
            w.raw(rd.digest)
        elif rd.alg == 0 and len(rd.digest) < 1 << 24:
            w.byte_array(rd.digest)  # old format: the length's zero top octet is the code
        else:
            raise ProtocolError(f"bad request digest (code {rd.alg}, {len(rd.digest)} bytes)")
    msg.body.write(w, ctx)
    return _header(msg, flags, w.getvalue())


def _writes_nothing(body: AnyBody) -> bool:
    """Whether ``body`` writes no octet (:meth:`EmptyBody.write`, a create's answer
    naming no minted handle)."""
    kind = type(body)
    return kind is EmptyBody or (kind is CreateHandleResponse
                                 and body.handle is None)  # type: ignore[union-attr]


def _header(msg: Message, flags: int, body: bytes) -> bytes:
    """The header of ``msg`` (its ``flags`` as sent) followed by ``body``."""
    try:
        header = _HEADER.pack(
            msg.op_code,
            _wire_response_code(msg),
            flags,
            _s16(msg.site_info_serial),
            msg.recursion_count & 0xFF,
            msg.expiration,
            len(body),
        )
    except struct.error as exc:
        raise ProtocolError(f"header field out of range: {exc}") from None
    return header + body


def _s16(v: int) -> int:
    if not -0x8000 <= v <= 0xFFFF:
        raise ProtocolError(f"site info serial out of range: {v}")
    return v - 0x10000 if v >= 0x8000 else v


def encode_message(msg: Message, *, as_received: bool = False) -> bytes:
    """Header, body, credential length and credential: the bytes after the envelope
    (``AbstractMessage.getEncodedMessage``); ``as_received`` keeps the header and body
    bytes of a decoded message (:func:`request_bytes`) instead of encoding them anew."""
    hb = request_bytes(msg) if as_received else encode_header_body(msg)
    sig = msg.signature or b""
    return hb + len(sig).to_bytes(4, "big") + sig


def decode_message(
    envelope: Envelope, data: bytes, max_message_size: int = MAX_MESSAGE_SIZE
) -> Message:
    """Decode the message that follows ``envelope`` (``Encoder.decodeMessage``).

    ``data`` holds at least ``envelope.message_length`` bytes (header, body and
    optional credential); extra bytes are ignored.  Raises ProtocolError (with
    RC_OPERATION_NOT_SUPPORTED for an unknown op code).
    """
    length = envelope.message_length
    if envelope.encrypted or envelope.compressed:
        raise ProtocolError("encrypted or compressed messages are not supported", RC_SESSION_FAILED)
    if length > max_message_size:
        raise ProtocolError(f"message too large: {length}")
    if len(data) < length:
        raise ProtocolError(f"message truncated: {len(data)} of {length} bytes")
    if length < MESSAGE_HEADER_SIZE:
        raise ProtocolError("message shorter than its header")
    op, rc, flags, serial, recursion, expiration, body_len = _HEADER.unpack_from(data, 0)
    body_end = MESSAGE_HEADER_SIZE + body_len
    if body_end > length:
        raise ProtocolError(f"body length {body_len} exceeds message")
    major, minor = envelope.major_version, envelope.minor_version
    r = Reader(data, MESSAGE_HEADER_SIZE, body_end)
    request_digest = None
    if rc != RC_RESERVED and flags & MSG_FLAG_RRDG:
        alg = r.u8()
        if alg in DIGEST_SIZES:
            request_digest = RequestDigest(alg, r.raw(DIGEST_SIZES[alg]))
        elif alg == 0:
            r.pos -= 1
            request_digest = RequestDigest(0, r.byte_array())
        else:
            raise ProtocolError(f"unrecognized request hash type: {alg}")
    cls = body_class(op, rc, major, minor)
    body = cls.read(r, BodyContext(major, minor))
    if rc == RC_PREFIX_REFERRAL and not at_least(major, minor, 2, 5):
        rc = RC_SERVER_BACKUP
    signature = None
    if length - body_end >= 4:
        sr = Reader(data, body_end, length)
        sig_len = sr.i32()
        if sig_len < 0 or sig_len > sr.remaining():
            raise ProtocolError(f"invalid credential length {sig_len}")
        signature = sr.raw(sig_len) or None
    return Message(
        op_code=op,
        response_code=rc,
        body=body,
        flags=flags,
        site_info_serial=serial,
        recursion_count=recursion,
        expiration=expiration,
        request_digest=request_digest,
        signature=signature,
        request_id=envelope.request_id,
        session_id=envelope.session_id,
        major_version=major,
        minor_version=minor,
        suggest_major_version=envelope.suggest_major_version,
        suggest_minor_version=envelope.suggest_minor_version,
        encoded=data[:body_end],
    )


def request_bytes(request: Message) -> bytes:
    """Header+body of a request: as received when decoded, else freshly encoded."""
    return request.encoded if request.encoded is not None else encode_header_body(request)


_COPIED_FLAGS = MSG_FLAG_CERT | MSG_FLAG_CACR | MSG_FLAG_AUTH | MSG_FLAG_ENCR | MSG_FLAG_PUBL
_COPIED_FLAGS |= MSG_FLAG_DNRF | MSG_FLAG_RRDG


def response_expiration() -> int:
    """The expiration a response made now carries by default."""
    return int(time.time()) + RESPONSE_LIFETIME


def make_response(
    request: Message,
    response_code: int,
    body: AnyBody,
    *,
    expiration: int | None = None,
    site_info_serial: int = -1,
) -> Message:
    """A response to ``request`` set up as CNRI's ``AbstractResponse(req, rc)`` does:
    same op code, request and session ids, the negotiated version, the request's
    certify/cache-certify/authoritative/encrypt/public-only/do-not-refer/
    return-digest flags plus recursive, and a request digest when asked for (and
    always for a challenge).  ``expiration`` defaults to now + 12 hours.
    """
    major, minor = negotiate(request.suggest_major_version, request.suggest_minor_version)
    flags = MSG_FLAG_RECU | (request.flags & _COPIED_FLAGS)
    if response_code == RC_AUTHENTICATION_NEEDED:
        flags |= MSG_FLAG_RRDG
    # positionally, in Message's field order: its __init__ matches no keyword
    resp = Message(
        request.op_code, response_code, body, flags, site_info_serial,
        request.recursion_count,
        response_expiration() if expiration is None else expiration,
        None, None, request.request_id, request.session_id, major, minor,
    )
    if flags & MSG_FLAG_RRDG:
        alg = digest_alg_for_version(major, minor)
        resp.request_digest = make_request_digest(request_bytes(request), alg)
    return resp
