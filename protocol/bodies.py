"""Typed message bodies, one dataclass per body layout, each with its byte codec.

The layouts are those of the ``encode*``/``decode*`` methods of CNRI
``net.handle.hdllib.Encoder``; the method each class mirrors is named in its
docstring.  Which body goes with which (op code, response code) pair is decided
in :mod:`protocol.message`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from protocol.constants import (
    HASH_CODE_MD5,
    HASH_CODE_SHA1,
    HASH_CODE_SHA256,
    KEY_EXCHANGE_CIPHER_CLIENT,
    KEY_EXCHANGE_CIPHER_HDL,
    KEY_EXCHANGE_CIPHER_SERVER,
    KEY_EXCHANGE_DH,
    MAX_HANDLE_LENGTH,
    MD5_DIGEST_SIZE,
    SHA1_DIGEST_SIZE,
    SHA256_DIGEST_SIZE,
)
from protocol.errors import ProtocolError
from protocol.record_image import wire_of
from protocol.site_info import SiteInfo, read_site_info, write_site_info
from protocol.value_codec import encode_values, read_values
from protocol.values import HandleValue
from protocol.versions import at_least
from protocol.wire import Reader, Writer

DIGEST_SIZES: dict[int, int] = {
    HASH_CODE_MD5: MD5_DIGEST_SIZE,
    HASH_CODE_SHA1: SHA1_DIGEST_SIZE,
    HASH_CODE_SHA256: SHA256_DIGEST_SIZE,
}


@dataclass(frozen=True, slots=True)
class BodyContext:
    """What a body codec may need besides the bytes: the message's protocol version."""

    major: int
    minor: int

    def at_least(self, major: int, minor: int) -> bool:
        """Is the message version >= ``major.minor``?"""
        return at_least(self.major, self.minor, major, minor)


class Body(Protocol):
    """A message body: writes itself; the class reads it back."""

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Append the body bytes."""


def _handle(r: Reader) -> str:
    return r.string(MAX_HANDLE_LENGTH)


# ----------------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class ResolutionRequest:
    """Resolve ``handle``, optionally only some indexes/types (``encodeResolutionRequest``).

    Empty ``indexes`` and ``types`` ask for every value.
    """

    handle: str
    indexes: tuple[int, ...] = ()
    types: tuple[str, ...] = ()

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Append: handle, index list, type list."""
        w.string(self.handle)
        w.int_list(self.indexes)
        w.string_list(self.types)

    @classmethod
    def read(cls, r: Reader, ctx: BodyContext) -> ResolutionRequest:
        """Decode (``decodeResolutionRequest``)."""
        return cls(r.string(), r.int_list(), r.string_list())


@dataclass(frozen=True, slots=True)
class HandleRequest:
    """A request whose body is one handle: delete handle, list handles / homed
    prefixes, get site info, home/unhome prefix, session terminate, get next
    transaction id, backup (``encodeGenericRequest``, ``encodeDeleteHandleRequest``,
    ``encodeListHandlesRequest``, ``encodeListNAsRequest``)."""

    handle: str = "/"

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Append: handle."""
        w.string(self.handle)

    @classmethod
    def read(cls, r: Reader, ctx: BodyContext) -> HandleRequest:
        """Decode."""
        return cls(r.string())


@dataclass(frozen=True, slots=True)
class ValuesRequest:
    """Create handle, add values or modify values: a handle and values
    (``encodeCreateHandleRequest``, ``encodeAddValueRequest``, ``encodeModifyValueRequest``)."""

    handle: str
    #: a :class:`protocol.record_image.RecordImage` is sent as its stored bytes
    values: Sequence[HandleValue] = ()

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Append: handle, counted values."""
        w.string(self.handle)
        wire = wire_of(self.values)
        w.raw(encode_values(self.values) if wire is None else wire)

    @classmethod
    def read(cls, r: Reader, ctx: BodyContext) -> ValuesRequest:
        """Decode."""
        handle = r.string()
        return cls(handle, read_values(r, 1 << 20))


@dataclass(frozen=True, slots=True)
class RemoveValueRequest:
    """Remove the values at ``indexes`` from ``handle`` (``encodeRemoveValueRequest``)."""

    handle: str
    indexes: tuple[int, ...] = ()

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Append: handle, index list."""
        w.string(self.handle)
        w.int_list(self.indexes)

    @classmethod
    def read(cls, r: Reader, ctx: BodyContext) -> RemoveValueRequest:
        """Decode."""
        return cls(r.string(), r.int_list())


@dataclass(frozen=True, slots=True)
class ChallengeAnswerRequest:
    """The client's answer to a challenge (``encodeChallengeAnswer``).

    ``auth_type`` is ``HS_SECKEY`` or ``HS_PUBKEY``; ``signed_response`` is built
    by :mod:`protocol.auth`.
    """

    auth_type: str
    user_handle: str
    user_index: int
    signed_response: bytes

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Append: auth type, user handle, user index, signed response."""
        w.string(self.auth_type)
        w.string(self.user_handle)
        w.i32(self.user_index)
        w.byte_array(self.signed_response)

    @classmethod
    def read(cls, r: Reader, ctx: BodyContext) -> ChallengeAnswerRequest:
        """Decode (``decodeChallengeAnswer``)."""
        return cls(r.string(), r.string(), r.i32(), r.byte_array())


@dataclass(frozen=True, slots=True)
class VerifyAuthRequest:
    """Ask the server holding a secret key to check a challenge answer
    (``encodeVerifyAuthRequest``).  The request digest is always written in the
    length-prefixed "old" form; on reading a one-octet MD5/SHA-1/SHA-256 code
    followed by a fixed-size digest is accepted too (``digest_alg`` records it,
    0 for the length-prefixed form)."""

    handle: str
    index: int
    nonce: bytes
    request_digest: bytes
    signed_response: bytes
    digest_alg: int = field(default=0, compare=False)

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Append: handle, index, nonce, request digest, signed response."""
        w.string(self.handle)
        w.i32(self.index)
        w.byte_array(self.nonce)
        w.byte_array(self.request_digest)
        w.byte_array(self.signed_response)

    @classmethod
    def read(cls, r: Reader, ctx: BodyContext) -> VerifyAuthRequest:
        """Decode (``decodeVerifyAuthRequest``)."""
        handle = r.string()
        index = r.i32()
        nonce = r.byte_array()
        alg = r.data[r.pos] if r.remaining() else -1
        if alg == 0:
            digest = r.byte_array()
        elif alg in DIGEST_SIZES:
            r.u8()
            digest = r.raw(DIGEST_SIZES[alg])
        else:
            raise ProtocolError(f"invalid hash type in message: {alg}")
        return cls(handle, index, nonce, digest, r.byte_array(), max(alg, 0))


@dataclass(frozen=True, slots=True)
class SessionSetupRequest:
    """Session setup (``encodeSessionSetupRequest``).  CNRI counts four octets for
    the two-octet key exchange mode, so its body ends with two zero octets; we
    write the same bytes."""

    key_exchange_mode: int
    timeout: int = 86400
    identity_handle: str = ""
    identity_index: int = 0
    public_key: bytes | None = None
    exchange_key_handle: str | None = None
    exchange_key_index: int = 0

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Append the session setup fields."""
        mode = self.key_exchange_mode
        w.i16(mode)
        w.i32(self.timeout)
        w.string(self.identity_handle)
        w.i32(self.identity_index)
        if mode in (KEY_EXCHANGE_CIPHER_CLIENT, KEY_EXCHANGE_DH):
            if self.public_key is None:
                raise ProtocolError("session setup request missing exchange key")
            w.byte_array(self.public_key)
        elif mode == KEY_EXCHANGE_CIPHER_HDL:
            if self.exchange_key_handle is None:
                raise ProtocolError("session setup request missing key exchange handle")
            w.string(self.exchange_key_handle)
            w.i32(self.exchange_key_index)
        elif mode != KEY_EXCHANGE_CIPHER_SERVER:
            raise ProtocolError(f"unknown key exchange mode: {mode}")
        w.raw(b"\0\0")

    @classmethod
    def read(cls, r: Reader, ctx: BodyContext) -> SessionSetupRequest:
        """Decode (``decodeSessionSetupRequest``)."""
        mode = r.i16()
        timeout = r.i32()
        identity = r.string()
        identity_index = r.i32()
        public_key = None
        key_handle = None
        key_index = 0
        if mode in (KEY_EXCHANGE_CIPHER_CLIENT, KEY_EXCHANGE_DH):
            public_key = r.byte_array()
        elif mode == KEY_EXCHANGE_CIPHER_HDL:
            key_handle = r.string()
            key_index = r.i32()
        return cls(mode, timeout, identity, identity_index, public_key, key_handle, key_index)


@dataclass(frozen=True, slots=True)
class SessionExchangeKeyRequest:
    """Session key exchange (``encodeSessionExchangeKeyRequest``): the encrypted key."""

    encrypted_key: bytes | None = None

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Append the encrypted key (nothing when absent)."""
        if self.encrypted_key is not None:
            w.byte_array(self.encrypted_key)

    @classmethod
    def read(cls, r: Reader, ctx: BodyContext) -> SessionExchangeKeyRequest:
        """Decode."""
        return cls(r.byte_array())


# ---------------------------------------------------------------------------- responses


@dataclass(frozen=True, slots=True)
class EmptyBody:
    """A body with nothing in it: the generic "ok" response (``encodeGenericResponse``)."""

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Nothing to append."""

    @classmethod
    def read(cls, r: Reader, ctx: BodyContext) -> EmptyBody:
        """Decode (ignores any bytes)."""
        return cls()


@dataclass(frozen=True, slots=True)
class RawBody:
    """Body bytes this codec does not interpret (transaction log, dump handles)."""

    data: bytes = b""

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Append the bytes as they are."""
        w.raw(self.data)

    @classmethod
    def read(cls, r: Reader, ctx: BodyContext) -> RawBody:
        """Take the rest of the body."""
        return cls(r.rest())


@dataclass(frozen=True, slots=True)
class ResolutionResponse:
    """The values of a handle (``encodeResolutionResponse``)."""

    handle: str
    #: a :class:`protocol.record_image.RecordImage` is sent as its stored bytes
    values: Sequence[HandleValue] = ()

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Append: handle, counted values."""
        w.string(self.handle)
        wire = wire_of(self.values)
        w.raw(encode_values(self.values) if wire is None else wire)

    @classmethod
    def read(cls, r: Reader, ctx: BodyContext) -> ResolutionResponse:
        """Decode (``decodeResolutionResponse``: handle <= 2048 octets, <= 2048 values)."""
        handle = _handle(r)
        return cls(handle, read_values(r))


@dataclass(frozen=True, slots=True)
class ReferralResponse:
    """Service or prefix referral: where to ask instead (``encodeServiceReferralResponse``).

    ``handle`` is the service handle (may be empty); ``values`` its HS_SITE /
    HS_SERV values, or ``None`` to omit the value list entirely.
    """

    handle: str
    values: tuple[HandleValue, ...] | None = None

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Append: handle, then the counted values if any."""
        w.string(self.handle)
        if self.values is not None:
            w.raw(encode_values(self.values))

    @classmethod
    def read(cls, r: Reader, ctx: BodyContext) -> ReferralResponse:
        """Decode (``decodeServiceReferralResponse``)."""
        handle = _handle(r)
        values = read_values(r) if r.remaining() > 0 else None
        return cls(handle, values)


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """An error response; ``message`` is free text (normally UTF-8) (``encodeErrorMessage``)."""

    message: bytes = b""

    @property
    def text(self) -> str:
        """The message as text."""
        return self.message.decode("utf-8", "replace")

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Append: length-prefixed message."""
        w.byte_array(self.message)

    @classmethod
    def read(cls, r: Reader, ctx: BodyContext) -> ErrorResponse:
        """Decode (``decodeErrorMessage``: protocol 2.0 / 5.x may omit the message)."""
        if (ctx.major == 5 or (ctx.major, ctx.minor) == (2, 0)) and r.remaining() <= 4:
            return cls(b"")
        return cls(r.byte_array())


def error_body(text: str) -> ErrorResponse:
    """An ErrorResponse carrying ``text``."""
    return ErrorResponse(text.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class GetSiteInfoResponse:
    """The answering server's site (``encodeGetSiteInfoResponse``)."""

    site: SiteInfo

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Append the HS_SITE record."""
        write_site_info(w, self.site)

    @classmethod
    def read(cls, r: Reader, ctx: BodyContext) -> GetSiteInfoResponse:
        """Decode; the record must fill the body exactly."""
        site = read_site_info(r)
        r.expect_end("site info")
        return cls(site)


@dataclass(frozen=True, slots=True)
class CreateHandleResponse:
    """Handle created; ``handle`` is set when the server minted the suffix
    (``encodeCreateHandleResponse``)."""

    handle: str | None = None

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Append the handle, if any."""
        if self.handle is not None:
            w.string(self.handle)

    @classmethod
    def read(cls, r: Reader, ctx: BodyContext) -> CreateHandleResponse:
        """Decode (an empty body means no handle)."""
        if r.remaining() == 0:
            return cls(None)
        return cls(_handle(r))


@dataclass(frozen=True, slots=True)
class HandleListResponse:
    """List handles / list homed prefixes answer (``encodeListHandlesResponse``)."""

    handles: tuple[str, ...] = ()

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Append: counted handles."""
        w.string_list(self.handles)

    @classmethod
    def read(cls, r: Reader, ctx: BodyContext) -> HandleListResponse:
        """Decode."""
        return cls(r.string_list())


@dataclass(frozen=True, slots=True)
class ChallengeResponse:
    """Authentication needed: a nonce to sign (``encodeChallenge``).

    The request digest travels in the message's ``request_digest`` (the response
    always sets the return-request-digest flag).  Protocol < 2.1 instead puts a
    length-prefixed MD5 digest after the nonce: ``legacy_request_digest``.
    """

    nonce: bytes
    legacy_request_digest: bytes | None = None

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Append: nonce (and the legacy digest before 2.1)."""
        w.byte_array(self.nonce)
        if not ctx.at_least(2, 1):
            w.byte_array(self.legacy_request_digest or b"")

    @classmethod
    def read(cls, r: Reader, ctx: BodyContext) -> ChallengeResponse:
        """Decode (``decodeChallenge``)."""
        nonce = r.byte_array()
        if (ctx.major, ctx.minor) in ((5, 0), (2, 0)):
            return cls(nonce, r.byte_array())
        return cls(nonce)


@dataclass(frozen=True, slots=True)
class VerifyAuthResponse:
    """Answer to a VerifyAuthRequest (``encodeVerifyAuthResponse``)."""

    is_valid: bool

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Append one octet, 1 when valid."""
        w.u8(1 if self.is_valid else 0)

    @classmethod
    def read(cls, r: Reader, ctx: BodyContext) -> VerifyAuthResponse:
        """Decode (bit 0 of the octet)."""
        return cls(bool(r.u8() & 1))


@dataclass(frozen=True, slots=True)
class SessionSetupResponse:
    """Session setup answer (``encodeSessionSetupResponse``).  As with the
    request, CNRI counts four octets for the two-octet mode: two zero octets
    trail the body, and we write them too."""

    key_exchange_mode: int
    data: bytes = b""

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Append: mode (two octets), data, two zero octets."""
        w.i16(self.key_exchange_mode)
        w.byte_array(self.data)
        w.raw(b"\0\0")

    @classmethod
    def read(cls, r: Reader, ctx: BodyContext) -> SessionSetupResponse:
        """Decode."""
        return cls(r.i16(), r.byte_array())


@dataclass(frozen=True, slots=True)
class NextTxnIdResponse:
    """Next transaction id (``encodeNextTxnIdResponse``)."""

    next_txn_id: int

    def write(self, w: Writer, ctx: BodyContext) -> None:
        """Append the eight-octet id."""
        w.i64(self.next_txn_id)

    @classmethod
    def read(cls, r: Reader, ctx: BodyContext) -> NextTxnIdResponse:
        """Decode."""
        return cls(r.i64())


AnyBody = (
    ResolutionRequest
    | HandleRequest
    | ValuesRequest
    | RemoveValueRequest
    | ChallengeAnswerRequest
    | VerifyAuthRequest
    | SessionSetupRequest
    | SessionExchangeKeyRequest
    | EmptyBody
    | RawBody
    | ResolutionResponse
    | ReferralResponse
    | ErrorResponse
    | GetSiteInfoResponse
    | CreateHandleResponse
    | HandleListResponse
    | ChallengeResponse
    | VerifyAuthResponse
    | SessionSetupResponse
    | NextTxnIdResponse
)
