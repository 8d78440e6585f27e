"""Bounds on everything a client controls, shared by the service and the servers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-node limits.

    ``max_message_size`` bounds one decoded request (TCP) and the reassembled
    message (UDP); ``max_handle_length`` (UTF-8 bytes) bounds the names a
    request may ask for (how many values a record may hold is a write rule of the
    registry: :mod:`registry.write_rules`); ``max_tcp_connections`` open connections per
    process are served, further ones are closed at once; at most
    ``max_udp_inflight`` UDP requests are answered at a time by each UDP front
    end (:mod:`resolver.core.inflight`), further ones get RC_SERVER_TOO_BUSY
    (DNS: dropped); a TCP connection with
    no complete request for ``idle_timeout`` seconds is closed;
    ``challenge_lifetime`` is how long an authentication challenge may be
    answered; ``max_pending_challenges`` bounds the open challenges per
    process; ``max_group_lookups`` bounds the HS_VLIST references followed
    while checking one administrator; at most ``max_sessions`` Handle sessions
    are open, each for at most ``session_lifetime`` seconds.  Once the first
    byte of a request has arrived, the rest must follow within
    ``read_timeout`` seconds (slow clients are cut off); a UDP answer may be
    at most ``udp_amplification_factor`` times its request (0, the default
    here: no cap; nodes get theirs from NodeConfig; see
    :mod:`resolver.handle.amplification`), but never less than ``udp_answer_floor`` bytes.
    """

    max_message_size: int = 1024 * 1024
    max_handle_length: int = 1024
    max_tcp_connections: int = 1024
    max_connections_per_client: int = 0
    max_udp_inflight: int = 1024
    idle_timeout: float = 60.0
    challenge_lifetime: float = 30.0
    max_pending_challenges: int = 10000
    max_group_lookups: int = 64
    max_sessions: int = 10000
    session_lifetime: float = 3600.0
    list_page_size: int = 1000
    read_timeout: float = 10.0
    udp_amplification_factor: float = 0.0
    udp_answer_floor: int = 0


DEFAULT_LIMITS = Limits()
