"""Load-generator wire helpers: requests decode as real Handle requests; responses are
matched and completed from their envelopes."""

from __future__ import annotations

import socket

from benchmarks.hdl_wire import (
    UdpResponses,
    message_length,
    request_id_of,
    resolution_datagram,
    resolution_frame,
    response_code,
    tcp_resolve_frame,
    udp_pieces,
    with_request_id,
)
from protocol.bodies import ResolutionRequest, ResolutionResponse, error_body
from protocol.constants import OC_RESOLUTION, RC_HANDLE_NOT_FOUND, RC_SUCCESS
from protocol.framing import decode_packet, encode_tcp, encode_udp
from protocol.message import Message
from protocol.values import HandleValue


def response(request_id: int, values: int = 40, code: int = RC_SUCCESS) -> Message:
    body = ResolutionResponse("88.118.8/X", tuple(
        HandleValue(i + 1, "DESC", b"x" * 60) for i in range(values)))
    if code != RC_SUCCESS:
        return Message(op_code=OC_RESOLUTION, response_code=code, body=error_body("no"),
                       request_id=request_id)
    return Message(op_code=OC_RESOLUTION, response_code=code, body=body,
                   request_id=request_id)


def test_requests_are_real_resolution_requests() -> None:
    msg = decode_packet(resolution_datagram("88.118.8/TV-0001", 77))
    assert msg.op_code == OC_RESOLUTION and msg.request_id == 77
    assert isinstance(msg.body, ResolutionRequest) and msg.body.handle == "88.118.8/TV-0001"
    assert msg.recursive and msg.public_only
    frame = resolution_frame("88.118.8/TV-0001", 78)
    assert decode_packet(frame).request_id == 78
    assert message_length(frame) == len(frame) - 20


def test_request_id_and_response_code_are_read_from_the_envelope() -> None:
    packet = encode_tcp(response(5, values=1, code=RC_HANDLE_NOT_FOUND))
    assert request_id_of(packet) == 5 and response_code(packet) == RC_HANDLE_NOT_FOUND
    patched = with_request_id(packet, 123456)
    assert request_id_of(patched) == 123456 and decode_packet(patched).request_id == 123456


def test_a_frame_splits_into_the_datagrams_a_server_sends() -> None:
    msg = response(11)
    assert udp_pieces(encode_tcp(msg)) == encode_udp(msg)


def test_tcp_resolution_reads_the_matching_frame() -> None:
    client, server = socket.socketpair()
    with client, server:
        server.sendall(encode_tcp(response(1, values=2)) + encode_tcp(response(2, values=3)))
        frame = tcp_resolve_frame(client, "88.118.8/X", 2)
        request = server.recv(4096)
    assert request_id_of(frame) == 2 and decode_packet(frame).request_id == 2
    assert decode_packet(request).request_id == 2


def test_multi_piece_responses_complete_in_any_order() -> None:
    pieces = encode_udp(response(9))
    assert len(pieces) > 3
    responses = UdpResponses(lambda rid: rid == 9)
    assert all(responses.add(p) is None for p in reversed(pieces[1:]))
    done = responses.add(pieces[0])
    assert done is not None
    assert (done.request_id, done.response_code, done.size) == (9, RC_SUCCESS,
                                                                sum(map(len, pieces)))
    assert not responses.partial


def test_unwanted_and_forgotten_responses_are_dropped() -> None:
    responses = UdpResponses(lambda rid: rid == 1)
    assert responses.add(encode_udp(response(2, values=1))[0]) is None
    assert responses.add(b"short") is None
    first, *_ = encode_udp(response(1))
    assert responses.add(first) is None and 1 in responses.partial
    responses.forget(1)
    assert not responses.partial
