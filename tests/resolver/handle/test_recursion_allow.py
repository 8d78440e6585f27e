"""Who may ask for recursion (``recursion_allow``): the flag is cleared for every other
client, and the remembered verdicts stay right however many clients ask."""

from __future__ import annotations

from protocol.bodies import ResolutionRequest
from protocol.constants import OC_RESOLUTION
from protocol.message import Message
from resolver.core.limits import DEFAULT_LIMITS
from resolver.core.proofs import ProvenAddresses
from resolver.core.ratelimit import UNLIMITED
from resolver.core.upstream import parse_networks
from resolver.handle import server
from resolver.handle.server import _Listener


def recursive() -> Message:
    request = Message(OC_RESOLUTION, body=ResolutionRequest("88.118.8/x"), request_id=1)
    request.recursive = True
    return request


def test_only_allowed_clients_keep_the_recursive_flag(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(server, "RECURSION_MEMO", 3)
    listener = _Listener(None, DEFAULT_LIMITS, UNLIMITED, ProvenAddresses())  # type: ignore[arg-type]
    listener.recursion = parse_networks(["10.0.0.0/8", "::1"], "recursion_allow")
    clients = ["10.1.2.3", "192.0.2.1", "::1", "::ffff:10.9.9.9", "203.0.113.7", "not an ip"]
    for _ in range(3):  # asked again and again, past the memo's bound
        for client in clients:
            kept = listener._limit_recursion(recursive(), client).recursive
            assert kept is (client in ("10.1.2.3", "::1", "::ffff:10.9.9.9")), client
    assert len(listener._recursion_memo) <= 3
    listener.recursion = None
    assert listener._limit_recursion(recursive(), "192.0.2.1").recursive
