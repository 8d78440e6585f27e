"""The DH groups sessions accept are exactly the RFC 2409 / RFC 3526 MODP primes."""

from __future__ import annotations

import pytest

from protocol.dh_groups import GROUPS, is_standard_group

# (bits, k) of RFC 2409 group 2 and RFC 3526 groups 14, 15, 16
RFC_GROUPS = [(1024, 129093), (2048, 124476), (3072, 1690314), (4096, 240904)]


def _pi_fixed(bits: int) -> int:
    """floor(pi * 2**bits), by Machin's formula in integers (64 guard bits)."""
    one = 1 << (bits + 64)

    def arctan_inv(x: int) -> int:
        total, term, n, sign = 0, one // x, 1, 1
        while term:
            total += sign * (term // n)
            term //= x * x
            n, sign = n + 2, -sign
        return total

    return (16 * arctan_inv(5) - 4 * arctan_inv(239)) >> 64


@pytest.mark.parametrize(("bits", "k"), RFC_GROUPS)
def test_primes_follow_the_rfc_formula(bits: int, k: int) -> None:
    expected = 2**bits - 2**(bits - 64) - 1 + 2**64 * (_pi_fixed(bits - 130) + k)
    assert GROUPS[bits] == expected
    assert pow(2, (expected - 1) // 2, expected) == 1  # 2 generates the prime-order subgroup


def test_only_standard_groups_with_generator_two() -> None:
    assert is_standard_group(GROUPS[2048], 2)
    assert not is_standard_group(GROUPS[2048], 5)
    assert not is_standard_group(GROUPS[2048] - 2, 2)
    assert not is_standard_group(2**4096 - 1, 2)
