"""Answers whose body writes nothing (an "ok", a create's) are encoded without a body
writer, and make_response builds its Message positionally: the same bytes and messages
as before, for every version, with and without a request digest."""

from __future__ import annotations

import struct

import pytest

from protocol.bodies import (
    BodyContext,
    CreateHandleResponse,
    EmptyBody,
    HandleRequest,
    ValuesRequest,
)
from protocol.constants import (
    MSG_FLAG_RECU,
    MSG_FLAG_RRDG,
    OC_CREATE_HANDLE,
    OC_DELETE_HANDLE,
    RC_AUTHENTICATION_NEEDED,
    RC_SUCCESS,
)
from protocol.digests import digest_alg_for_version, make_request_digest
from protocol.message import (
    _COPIED_FLAGS,
    Message,
    _wire_response_code,
    decode_message,
    encode_header_body,
    make_response,
    request_bytes,
)
from protocol.versions import negotiate
from protocol.wire import Writer

VERSIONS = [(2, 0), (2, 1), (2, 5), (2, 7), (2, 10), (2, 11)]
_HEADER = struct.Struct(">iiIhBxiI")


def _as_before(msg: Message) -> bytes:
    """encode_header_body as it was: every body through a writer."""
    flags = msg.flags & 0xFFFFFFFF
    if not msg.at_least(2, 1):
        flags &= ~MSG_FLAG_RRDG
    w = Writer()
    if msg.response_code and flags & MSG_FLAG_RRDG:
        assert msg.request_digest is not None
        w.u8(msg.request_digest.alg)
        w.raw(msg.request_digest.digest)
    msg.body.write(w, BodyContext(msg.major_version, msg.minor_version))
    body = w.getvalue()
    serial = msg.site_info_serial
    return _HEADER.pack(msg.op_code, _wire_response_code(msg), flags,
                        serial - 0x10000 if serial >= 0x8000 else serial,
                        msg.recursion_count & 0xFF, msg.expiration, len(body)) + body


def _made_as_before(request: Message, code: int, body: object, serial: int) -> Message:
    major, minor = negotiate(request.suggest_major_version, request.suggest_minor_version)
    resp = Message(op_code=request.op_code, response_code=code, body=body,  # type: ignore[arg-type]
                   flags=MSG_FLAG_RECU | (request.flags & _COPIED_FLAGS),
                   site_info_serial=serial, recursion_count=request.recursion_count,
                   expiration=7,
                   request_id=request.request_id, session_id=request.session_id,
                   major_version=major, minor_version=minor)
    if code == RC_AUTHENTICATION_NEEDED:
        resp.return_request_digest = True
    if resp.return_request_digest:
        alg = digest_alg_for_version(major, minor)
        resp.request_digest = make_request_digest(request_bytes(request), alg)
    return resp


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("digest", [False, True])
@pytest.mark.parametrize(("op", "body"), [
    (OC_DELETE_HANDLE, EmptyBody()), (OC_CREATE_HANDLE, CreateHandleResponse()),
    (OC_CREATE_HANDLE, CreateHandleResponse("88.118.8/minted")),
])
def test_answers_encode_and_are_made_as_before(version: tuple[int, int], digest: bool,
                                               op: int, body: object) -> None:
    asked = ValuesRequest("88.118.8/x", ()) if op == OC_CREATE_HANDLE else HandleRequest("x")
    request = Message(op, body=asked, request_id=77, session_id=5, recursion_count=2,
                      suggest_major_version=version[0], suggest_minor_version=version[1])
    request.certify, request.return_request_digest = True, digest
    serial = 0x9000 if digest else 3
    made = make_response(request, RC_SUCCESS, body, expiration=7,  # type: ignore[arg-type]
                         site_info_serial=serial)
    assert made == _made_as_before(request, RC_SUCCESS, body, serial)
    assert made.return_request_digest is digest
    encoded = encode_header_body(made)
    assert encoded == _as_before(made)
    assert decode_message(made.envelope(len(encoded)), encoded).body == body


@pytest.mark.parametrize("version", VERSIONS)
def test_a_challenge_is_made_as_before(version: tuple[int, int]) -> None:
    """A challenge always carries the request's digest."""
    request = Message(OC_DELETE_HANDLE, body=HandleRequest("88.118.8/x"), request_id=9,
                      suggest_major_version=version[0], suggest_minor_version=version[1])
    made = make_response(request, RC_AUTHENTICATION_NEEDED, EmptyBody(), expiration=7)
    assert made == _made_as_before(request, RC_AUTHENTICATION_NEEDED, EmptyBody(), -1)
    assert made.return_request_digest and made.request_digest is not None
