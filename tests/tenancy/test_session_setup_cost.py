"""F2 (issue 18): an anonymous Handle session setup costs little and never runs on
the event loop.  Work is counted: modular exponentiations, their exponent
bits, the thread they ran on."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator

import pytest

from protocol.bodies import SessionSetupRequest
from protocol.constants import (
    KEY_EXCHANGE_DH,
    OC_SESSION_SETUP,
    RC_SERVER_TOO_BUSY,
    RC_SESSION_FAILED,
    RC_SUCCESS,
)
from protocol.dh_groups import EXPONENT_BITS, GROUPS
from protocol.message import Message
from protocol.public_key import DHKeyNumbers, encode_key_numbers
from registry.store import HandleStore
from resolver.core.crypto_pool import THREAD_PREFIX, CryptoPool
from resolver.core.service import ResolutionService
from resolver.handle import key_exchange
from resolver.handle.requests import RequestProcessor

SQLITE = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@pytest.fixture
def powers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, str]]]:
    """(exponent bits, thread name) of every exponentiation a setup makes."""
    seen: list[tuple[int, str]] = []
    real = key_exchange._power

    def power(base: int, exponent: int, modulus: int) -> int:
        seen.append((exponent.bit_length(), threading.current_thread().name))
        return real(base, exponent, modulus)

    monkeypatch.setattr(key_exchange, "_power", power)
    yield seen


def _setup(p: int, g: int = 2) -> Message:
    y = pow(g, secrets.randbits(256), p)
    body = SessionSetupRequest(KEY_EXCHANGE_DH, 600, "", 0, encode_key_numbers(
        DHKeyNumbers(p=p, g=g, y=y)))
    request = Message(OC_SESSION_SETUP, body=body)
    request.request_id = 7
    return request


@SQLITE
async def test_client_chosen_groups_are_refused_unworked(
    database: HandleStore, powers: list[tuple[int, str]]
) -> None:
    processor = RequestProcessor(ResolutionService(database))
    own_group = secrets.randbits(4096) | (1 << 4095) | 1  # any 4096-bit odd number
    [answer] = await processor.process(_setup(own_group))
    assert answer.response_code == RC_SESSION_FAILED
    assert powers == []


@SQLITE
@pytest.mark.parametrize("bits", sorted(GROUPS))
async def test_standard_group_setup_uses_short_exponents_off_the_loop(
    database: HandleStore, powers: list[tuple[int, str]], bits: int
) -> None:
    processor = RequestProcessor(ResolutionService(database))
    [answer] = await processor.process(_setup(GROUPS[bits]))
    assert answer.response_code == RC_SUCCESS
    assert len(powers) == 2
    assert all(exp_bits <= EXPONENT_BITS for exp_bits, _ in powers)
    assert all(thread.startswith(THREAD_PREFIX) for _, thread in powers)


@SQLITE
async def test_setups_beyond_the_crypto_budget_are_turned_away(database: HandleStore) -> None:
    pool = CryptoPool(workers=1, max_pending=1)
    processor = RequestProcessor(ResolutionService(database, crypto=pool))
    release = threading.Event()
    blocker = asyncio.create_task(pool.run(release.wait))
    await asyncio.sleep(0)
    [answer] = await processor.process(_setup(GROUPS[2048]))
    assert answer.response_code == RC_SERVER_TOO_BUSY
    release.set()
    await blocker
    [answer] = await processor.process(_setup(GROUPS[2048]))
    assert answer.response_code == RC_SUCCESS
    pool.close()


@SQLITE
async def test_udp_setups_have_a_lane_of_their_own(database: HandleStore) -> None:
    pool = CryptoPool(workers=2, max_pending=4, max_spoofable=1)
    processor = RequestProcessor(ResolutionService(database, crypto=pool))
    release = threading.Event()
    flood = asyncio.create_task(pool.run(release.wait, spoofable=True))
    await asyncio.sleep(0)
    [over_udp] = await processor.process(_setup(GROUPS[2048]), spoofable=True)
    assert over_udp.response_code == RC_SERVER_TOO_BUSY
    [over_tcp] = await processor.process(_setup(GROUPS[2048]))
    assert over_tcp.response_code == RC_SUCCESS
    release.set()
    await flood
    pool.close()
