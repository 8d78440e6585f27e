"""Encode/decode speed of the wire codec for a typical resolution response (3 values).

Run: ``.venv/bin/python benchmarks/codec_speed.py [seconds-per-case]``.  Prints
operations per second; no thresholds, this is a measurement, not a test.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from protocol.bodies import ResolutionRequest, ResolutionResponse
from protocol.constants import OC_RESOLUTION, RC_SUCCESS
from protocol.envelope import decode_envelope
from protocol.framing import decode_packet, encode_tcp
from protocol.message import Message, decode_message
from protocol.values import HandleValue


def typical_response() -> Message:
    """A resolution response with an HS_ADMIN-sized value, a URL and an EMAIL."""
    values = (
        HandleValue(1, "URL", b"https://example.com/products/TV-0001", timestamp=1704164645),
        HandleValue(2, "EMAIL", b"support@example.com", timestamp=1704164645),
        HandleValue(100, "HS_ADMIN", b"\x0f\xff\x00\x00\x00\x0b0.NA/88.118\x00\x00\x00\xc8"),
    )
    body = ResolutionResponse("88.118.8/TV-0001", values)
    return Message(OC_RESOLUTION, RC_SUCCESS, body, request_id=7, expiration=1704164645)


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds``."""
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            fn()
        n += 200
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def main() -> None:
    """Measure and print."""
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    msg = typical_response()
    packet = encode_tcp(msg)
    env = decode_envelope(packet)
    body = packet[20:]
    request = encode_tcp(Message(OC_RESOLUTION, body=ResolutionRequest("88.118.8/TV-0001")))
    cases: list[tuple[str, Callable[[], object]]] = [
        ("encode response (3 values)", lambda: encode_tcp(msg)),
        ("decode response (3 values)", lambda: decode_message(env, body)),
        ("decode request (envelope+message)", lambda: decode_packet(request)),
    ]
    print(f"message size: {len(packet)} bytes")
    for name, fn in cases:
        print(f"{name:40s} {rate(fn, seconds):12,.0f} ops/s")


if __name__ == "__main__":
    main()
