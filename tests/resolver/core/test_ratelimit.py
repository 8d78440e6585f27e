"""The per-client token bucket (on an injected clock) and the abuse limits' config keys."""

from __future__ import annotations

import pytest

from registry.config import ConfigError, load_config
from resolver.core.proofs import ProvenAddresses
from resolver.core.ratelimit import UNLIMITED, Admission, RateLimiter, client_key, client_of
from resolver.node import limits_from, rate_limiter_from


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refusal_with_the_wait_until_the_next_token() -> None:
    clock = Clock()
    limiter = RateLimiter(2.0, 3, clock=clock)
    assert [limiter.seconds_until_allowed("10.0.0.1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.seconds_until_allowed("10.0.0.1") == pytest.approx(0.5)
    assert limiter.seconds_until_allowed("10.0.0.2") == 0.0  # another client has its own bucket
    clock.now += 0.5
    assert limiter.seconds_until_allowed("10.0.0.1") == 0.0
    assert limiter.seconds_until_allowed("10.0.0.1") > 0


def test_refill_never_exceeds_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(100.0, 2, clock=clock)
    limiter.seconds_until_allowed("c")
    clock.now += 3600
    assert [limiter.seconds_until_allowed("c") > 0 for _ in range(3)] == [False, False, True]


def test_table_is_bounded_and_forgets_the_least_recently_seen() -> None:
    clock = Clock()
    limiter = RateLimiter(0.001, 1, max_clients=2, clock=clock)
    limiter.seconds_until_allowed("a")
    limiter.seconds_until_allowed("b")
    assert limiter.seconds_until_allowed("a") > 0  # a is now the most recent
    limiter.seconds_until_allowed("c")  # evicts b
    assert len(limiter) == 2
    assert limiter.seconds_until_allowed("a") > 0  # still remembered, still empty
    assert limiter.seconds_until_allowed("b") == 0.0  # forgotten: a full bucket again


def test_zero_rate_is_off_and_keeps_no_state() -> None:
    assert not UNLIMITED.enabled
    assert all(UNLIMITED.seconds_until_allowed(str(i)) == 0.0 for i in range(100))
    assert len(UNLIMITED) == 0


def test_ipv6_clients_are_keyed_by_their_64() -> None:
    """Issue 18 F14: one host cannot rotate through its /64 for fresh buckets."""
    limiter = RateLimiter(0.001, 1, clock=Clock())
    assert limiter.seconds_until_allowed("2001:db8:1:2::1") == 0.0
    assert limiter.seconds_until_allowed("2001:db8:1:2:ffff::7") > 0  # same /64, same bucket
    assert limiter.seconds_until_allowed("2001:db8:1:3::1") == 0.0  # the next /64 is another client
    assert limiter.seconds_until_allowed("::ffff:10.0.0.1") == 0.0
    assert limiter.seconds_until_allowed("10.0.0.1") > 0  # IPv4-mapped counts as the IPv4 address
    assert client_key("fe80::1%eth0") == client_key("fe80::2")


def test_datagrams_over_the_limit_are_dropped_but_every_slip_th_slips() -> None:
    limiter = RateLimiter(0.001, 2, slip=3, clock=Clock())
    verdicts = [limiter.admit_datagram("10.0.0.9") for _ in range(8)]
    answer, slip, drop = Admission.ANSWER, Admission.SLIP, Admission.DROP
    assert verdicts == [answer, answer, drop, drop, slip, drop, drop, slip]
    never = RateLimiter(0.001, 1, slip=0, clock=Clock())
    assert [never.admit_datagram("c") for _ in range(4)] == [answer, drop, drop, drop]


def test_a_fresh_limiter_is_another_budget() -> None:
    limiter = RateLimiter(0.001, 1, slip=5, clock=Clock())
    limiter.seconds_until_allowed("c")
    other = limiter.fresh()
    assert other.seconds_until_allowed("c") == 0.0 and limiter.seconds_until_allowed("c") > 0
    assert (other.rate, other.burst, other.slip) == (limiter.rate, 1, 5)


def test_a_dear_request_takes_more_tokens_but_never_more_than_the_burst() -> None:
    limiter = RateLimiter(1.0, 10, clock=Clock())
    assert limiter.seconds_until_allowed("c", cost=8) == 0.0
    assert limiter.seconds_until_allowed("c", cost=8) == pytest.approx(6.0)
    assert limiter.seconds_until_allowed("d", cost=50) == 0.0  # a full bucket always admits one


def test_proven_addresses_expire_and_are_bounded() -> None:
    clock = Clock()
    proofs = ProvenAddresses(lifetime=10, max_addresses=2, clock=clock)
    proofs.prove("10.0.0.1")
    assert "10.0.0.1" in proofs and "10.0.0.2" not in proofs
    clock.now += 11
    assert "10.0.0.1" not in proofs
    for host in ("a", "b", "c"):
        proofs.prove(host)
    assert len(proofs) == 2 and "a" not in proofs and "c" in proofs


def test_client_key_is_the_host_part() -> None:
    assert client_of(("127.0.0.1", 5353)) == "127.0.0.1"
    assert client_of(("::1", 53, 0, 0)) == "::1"
    assert client_of(None) == ""


def test_config_keys_reach_the_limits_and_the_limiter() -> None:
    config = load_config(environ={
        "IDNODE_RATE_LIMIT": "5", "IDNODE_RATE_BURST": "7", "IDNODE_RATE_LIMIT_CLIENTS": "9",
        "IDNODE_UDP_AMPLIFICATION_FACTOR": "3", "IDNODE_REQUEST_READ_TIMEOUT": "2.5",
        "IDNODE_MAX_INFLIGHT_REQUESTS": "11", "IDNODE_RATE_LIMIT_SLIP": "4",
    })
    limits = limits_from(config)
    assert (limits.udp_amplification_factor, limits.read_timeout) == (3.0, 2.5)
    assert limits.max_udp_inflight == 11
    limiter = rate_limiter_from(config)
    assert (limiter.rate, limiter.burst, limiter.max_clients, limiter.slip) == (5.0, 7, 9, 4)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("rate_limit", "-1"),
        ("rate_burst", "0"),
        ("rate_limit_clients", "0"),
        ("rate_limit_slip", "-1"),
        ("max_connections_per_client", "-1"),
        ("max_http_connections", "0"),
        ("max_tcp_connections", "0"),
        ("tls_handshake_timeout", "0"),
        ("udp_amplification_factor", "0.5"),
        ("request_read_timeout", "0"),
        ("max_inflight_requests", "0"),
    ],
)
def test_bad_limit_values_name_the_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load_config(environ={f"IDNODE_{key.upper()}": value})


def test_a_share_is_that_part_of_the_budget() -> None:
    limiter = RateLimiter(10.0, 9, slip=3, clock=Clock())
    half = limiter.share(2)
    assert (half.rate, half.burst, half.slip) == (5.0, 4, 3)
    assert limiter.share(100).burst == 1  # never a budget that admits nothing
    whole = limiter.share(1)
    assert (whole.rate, whole.burst) == (10.0, 9) and whole is not limiter
