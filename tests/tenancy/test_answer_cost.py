"""F3, F4 (issue 18): what one anonymous challenge answer may cost is bounded.

Work is counted, not timed: PBKDF2 derivations (and their blocks), signature
verifications, jobs run and refused by the crypto pool, and the threads the
work ran on.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from protocol import auth
from protocol.constants import RC_SERVER_TOO_BUSY
from protocol.errors import ProtocolError
from protocol.public_key import (
    RSAKeyNumbers,
    decode_public_key,
    encode_key_numbers,
    encode_public_key,
)
from protocol.values import HandleValue
from registry.store import HandleStore
from resolver.core.crypto_pool import THREAD_PREFIX, CryptoPool
from resolver.core.model import ServiceError
from resolver.core.service import MAX_KEYS_WITHOUT_INDEX, ResolutionService

NA = "0.NA/88.118.7"
NONCE, DIGEST = b"n" * 16, b"d" * 20
SECRETS = [f"planted-{i}".encode() for i in range(20)]
KEY = rsa.generate_private_key(65537, 2048)
SQLITE = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


class Work:
    """Counts PBKDF2 blocks and signature checks, and the threads they ran on."""

    def __init__(self) -> None:
        self.pbkdf2_blocks = 0
        self.verifies = 0
        self.threads: set[str] = set()

    def reset(self) -> None:
        """Forget the work done so far (the client side making its answers)."""
        self.pbkdf2_blocks = self.verifies = 0
        self.threads.clear()


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> Iterator[Work]:
    counted = Work()
    real_pbkdf2, real_verify = auth._pbkdf2, auth.verify

    def pbkdf2(key: bytes, salt: bytes, iterations: int, key_bits: int) -> bytes:
        counted.pbkdf2_blocks += iterations * -(-key_bits // 160)
        counted.threads.add(threading.current_thread().name)
        return real_pbkdf2(key, salt, iterations, key_bits)

    def verify(*args: Any) -> bool:
        counted.verifies += 1
        counted.threads.add(threading.current_thread().name)
        return real_verify(*args)

    monkeypatch.setattr(auth, "_pbkdf2", pbkdf2)
    monkeypatch.setattr(auth, "verify", verify)
    yield counted


async def _planted(store: HandleStore, values: list[HandleValue]) -> ResolutionService:
    await store.create_handle(NA, values, actor="test")
    return ResolutionService(store)


def _seckeys(count: int) -> list[HandleValue]:
    return [HandleValue(300 + i, "HS_SECKEY", s, public_read=False)
            for i, s in enumerate(SECRETS[:count])]


@SQLITE
async def test_an_answer_without_index_is_not_tried_against_many_keys(
    database: HandleStore, work: Work
) -> None:
    service = await _planted(database, _seckeys(20))
    answer = auth.secret_key_answer(NONCE, DIGEST, SECRETS[19])
    work.reset()
    assert not await service.verify_secret_key_answer(NA, 0, NONCE, DIGEST, answer)
    assert work.pbkdf2_blocks == 0  # 20 planted keys: refused before any derivation
    # naming the key: exactly one derivation, and it is checked off the event loop
    assert await service.verify_secret_key_answer(NA, 319, NONCE, DIGEST, answer)
    assert work.pbkdf2_blocks == 10_000
    assert all(t.startswith(THREAD_PREFIX) for t in work.threads)


@SQLITE
async def test_pbkdf2_work_is_bounded_per_answer(database: HandleStore, work: Work) -> None:
    service = await _planted(database, _seckeys(MAX_KEYS_WITHOUT_INDEX))
    # 4096 derived bits = 26 blocks: as dear as 26 answers, refused unchecked
    wide = auth.secret_key_answer(NONCE, DIGEST, SECRETS[0], iterations=10_000, key_bits=4096)
    assert not await service.verify_secret_key_answer(NA, 300, NONCE, DIGEST, wide)
    # within the per-key bound, but not times every key of the handle
    dear = auth.secret_key_answer(NONCE, DIGEST, SECRETS[3], iterations=90_000)
    cheap = auth.secret_key_answer(NONCE, DIGEST, SECRETS[3])
    work.reset()
    assert not await service.verify_secret_key_answer(NA, 300, NONCE, DIGEST, wide)
    assert not await service.verify_secret_key_answer(NA, 0, NONCE, DIGEST, dear)
    assert work.pbkdf2_blocks == 0
    assert await service.verify_secret_key_answer(NA, 0, NONCE, DIGEST, cheap)
    assert work.pbkdf2_blocks <= MAX_KEYS_WITHOUT_INDEX * 10_000


@SQLITE
async def test_public_key_answer_without_index_is_bounded(
    database: HandleStore, work: Work
) -> None:
    other = encode_public_key(rsa.generate_private_key(65537, 2048).public_key())
    planted = [HandleValue(400 + i, "HS_PUBKEY", other) for i in range(6)]
    mine = HandleValue(300, "HS_PUBKEY", encode_public_key(KEY.public_key()))
    service = await _planted(database, [mine, *planted])
    answer = auth.public_key_answer(NONCE, DIGEST, KEY)
    work.reset()
    assert await service.verify_public_key_answer(NA, 0, NONCE, DIGEST, answer) is None
    assert work.verifies == 0
    assert await service.verify_public_key_answer(NA, 300, NONCE, DIGEST, answer) == 300
    assert work.verifies == 1
    assert all(t.startswith(THREAD_PREFIX) for t in work.threads)


def test_rsa_keys_with_absurd_exponents_are_refused() -> None:
    n = KEY.public_key().public_numbers().n
    for e in (1, 2, 65536, 2**64 + 1, n - 2):
        with pytest.raises(ProtocolError):
            decode_public_key(encode_key_numbers(RSAKeyNumbers(n=n, e=e)))
    assert decode_public_key(encode_key_numbers(RSAKeyNumbers(n=n, e=65537)))
    assert decode_public_key(encode_key_numbers(RSAKeyNumbers(n=n, e=3)))


@SQLITE
async def test_a_full_crypto_pool_refuses_instead_of_queueing(database: HandleStore) -> None:
    pool = CryptoPool(workers=1, max_pending=2)
    await database.create_handle(NA, _seckeys(1), actor="test")
    service = ResolutionService(database, crypto=pool)
    release = threading.Event()
    blockers = [asyncio.create_task(pool.run(release.wait)) for _ in range(2)]
    await asyncio.sleep(0)
    answer = auth.secret_key_answer(NONCE, DIGEST, SECRETS[0])
    with pytest.raises(ServiceError) as busy:
        await service.verify_secret_key_answer(NA, 300, NONCE, DIGEST, answer)
    assert busy.value.response_code == RC_SERVER_TOO_BUSY
    assert (pool.jobs, pool.refused) == (2, 1)
    release.set()
    await asyncio.gather(*blockers)
    assert await service.verify_secret_key_answer(NA, 300, NONCE, DIGEST, answer)
    pool.close()


@SQLITE
async def test_udp_work_cannot_take_the_slots_of_proven_clients(database: HandleStore) -> None:
    pool = CryptoPool(workers=2, max_pending=4, max_spoofable=1)
    await database.create_handle(NA, _seckeys(1), actor="test")
    service = ResolutionService(database, crypto=pool)
    release = threading.Event()
    flood = asyncio.create_task(pool.run(release.wait, spoofable=True))
    await asyncio.sleep(0)
    answer = auth.secret_key_answer(NONCE, DIGEST, SECRETS[0])
    with pytest.raises(ServiceError) as busy:  # the UDP lane is full...
        await service.verify_secret_key_answer(NA, 300, NONCE, DIGEST, answer, spoofable=True)
    assert busy.value.response_code == RC_SERVER_TOO_BUSY
    # ...a client that came over TCP is still served
    assert await service.verify_secret_key_answer(NA, 300, NONCE, DIGEST, answer)
    release.set()
    await flood
    pool.close()
