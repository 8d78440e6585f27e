"""The UDP answer floor: for a proven client address an ordinary record goes out over UDP
even for a tiny request; a large one, or any answer over the factor to an unproven
address, gets the short use-TCP reply (so spoofed requests cannot draw it out)."""

from __future__ import annotations

import dataclasses

from protocol.bodies import ResolutionResponse, error_body
from protocol.constants import OC_RESOLUTION, RC_ERROR, RC_SUCCESS
from protocol.envelope import decode_envelope, encode_envelope
from protocol.framing import decode_packet
from protocol.message import Message, encode_message
from resolver.handle.amplification import USE_TCP, udp_datagrams, use_tcp_reply
from tests.resolver.core.test_cache import url

REQUEST_SIZE = 60


def answer(values: int) -> Message:
    record = tuple(url(i, "u" * 100) for i in range(1, values + 1))
    body = ResolutionResponse("88.118.8/TV-0001", record)
    return Message(OC_RESOLUTION, RC_SUCCESS, body=body, request_id=7)


def test_an_ordinary_answer_fits_the_floor() -> None:
    datagrams = udp_datagrams([answer(10)], REQUEST_SIZE, factor=16, floor=4096, proven=True)
    assert 960 < sum(map(len, datagrams)) <= 4096   # over 16 x 60, under the floor
    assert len(datagrams) > 1                         # several datagrams, all sent


def test_without_the_floor_or_beyond_it_the_client_is_sent_to_tcp() -> None:
    for datagrams in (
        udp_datagrams([answer(10)], REQUEST_SIZE, factor=16, floor=0, proven=True),
        udp_datagrams([answer(60)], REQUEST_SIZE, factor=16, floor=4096, proven=True),
        udp_datagrams([answer(10)], REQUEST_SIZE, factor=16, floor=4096),  # issue 18 F6
    ):
        assert len(datagrams) == 1
        assert decode_envelope(datagrams[0]).truncated
        assert decode_packet(datagrams[0]).response_code == RC_ERROR


def test_the_use_tcp_reply_keeps_every_header_field_but_code_body_flags_and_credential(
) -> None:
    """The short reply is the answer's message with only those four things replaced:
    built field by field, it must not miss a field the message has."""
    full = answer(3)
    for name, value in (("flags", 0x7F000000), ("site_info_serial", 12), ("recursion_count", 3),
                        ("expiration", 1_900_000_000), ("session_id", 0), ("request_id", 99),
                        ("major_version", 2), ("minor_version", 10),
                        ("suggest_major_version", 2), ("suggest_minor_version", 11),
                        ("signature", b"sig")):
        setattr(full, name, value)
    expected = dataclasses.replace(full, response_code=RC_ERROR, body=error_body(USE_TCP),
                                   flags=0, request_digest=None, signature=None, encoded=None)
    body = encode_message(expected)
    envelope = dataclasses.replace(expected.envelope(len(body)), truncated=True)
    assert use_tcp_reply(full) == encode_envelope(envelope) + body
    assert {f.name for f in dataclasses.fields(Message)} == {
        "op_code", "response_code", "body", "flags", "site_info_serial", "recursion_count",
        "expiration", "request_digest", "signature", "request_id", "session_id",
        "major_version", "minor_version", "suggest_major_version", "suggest_minor_version",
        "encoded"}  # a new field: use_tcp_reply must carry it (or say why not)
