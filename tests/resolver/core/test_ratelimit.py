"""The per-client token bucket (on an injected clock) and the abuse limits' config keys."""

from __future__ import annotations

import pytest

from registry.config import ConfigError, load_config
from resolver.core.ratelimit import UNLIMITED, RateLimiter, client_of
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
    assert [limiter.take("10.0.0.1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("10.0.0.1") == pytest.approx(0.5)
    assert limiter.take("10.0.0.2") == 0.0  # another client has its own bucket
    clock.now += 0.5
    assert limiter.take("10.0.0.1") == 0.0
    assert limiter.take("10.0.0.1") > 0


def test_refill_never_exceeds_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(100.0, 2, clock=clock)
    limiter.take("c")
    clock.now += 3600
    assert [limiter.take("c") > 0 for _ in range(3)] == [False, False, True]


def test_table_is_bounded_and_forgets_the_least_recently_seen() -> None:
    clock = Clock()
    limiter = RateLimiter(0.001, 1, max_clients=2, clock=clock)
    limiter.take("a")
    limiter.take("b")
    assert limiter.take("a") > 0  # a is now the most recent
    limiter.take("c")  # evicts b
    assert len(limiter) == 2
    assert limiter.take("a") > 0  # still remembered, still empty
    assert limiter.take("b") == 0.0  # forgotten: a full bucket again


def test_zero_rate_is_off_and_keeps_no_state() -> None:
    assert not UNLIMITED.enabled
    assert all(UNLIMITED.take(str(i)) == 0.0 for i in range(100))
    assert len(UNLIMITED) == 0


def test_client_key_is_the_host_part() -> None:
    assert client_of(("127.0.0.1", 5353)) == "127.0.0.1"
    assert client_of(("::1", 53, 0, 0)) == "::1"
    assert client_of(None) == ""


def test_config_keys_reach_the_limits_and_the_limiter() -> None:
    config = load_config(environ={
        "IDNODE_RATE_LIMIT": "5", "IDNODE_RATE_BURST": "7", "IDNODE_RATE_LIMIT_CLIENTS": "9",
        "IDNODE_UDP_AMPLIFICATION_FACTOR": "3", "IDNODE_REQUEST_READ_TIMEOUT": "2.5",
        "IDNODE_MAX_INFLIGHT_REQUESTS": "11",
    })
    limits = limits_from(config)
    assert (limits.udp_amplification_factor, limits.read_timeout) == (3.0, 2.5)
    assert limits.max_udp_inflight == 11
    limiter = rate_limiter_from(config)
    assert (limiter.rate, limiter.burst, limiter.max_clients) == (5.0, 7, 9)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("rate_limit", "-1"),
        ("rate_burst", "0"),
        ("rate_limit_clients", "0"),
        ("udp_amplification_factor", "0.5"),
        ("request_read_timeout", "0"),
        ("max_inflight_requests", "0"),
    ],
)
def test_bad_limit_values_name_the_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load_config(environ={f"IDNODE_{key.upper()}": value})
