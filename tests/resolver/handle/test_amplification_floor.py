"""The UDP answer floor: for a proven client address an ordinary record goes out over UDP
even for a tiny request; a large one, or any answer over the factor to an unproven
address, gets the short use-TCP reply (so spoofed requests cannot draw it out)."""

from __future__ import annotations

from protocol.bodies import ResolutionResponse
from protocol.constants import OC_RESOLUTION, RC_ERROR, RC_SUCCESS
from protocol.envelope import decode_envelope
from protocol.framing import decode_packet
from protocol.message import Message
from resolver.handle.amplification import udp_datagrams
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
