"""Password hashing for console accounts: argon2id through argon2-cffi.

argon2id is memory-hard (the OWASP recommendation for new systems); the
library's defaults (RFC 9106 low-memory profile: 64 MiB, 3 passes) are used,
and a hash made with older parameters is reported by :func:`needs_rehash` so a
login can upgrade it.  Passwords shorter than :data:`MIN_LENGTH` are refused.

One hash costs a few hundred milliseconds of CPU by design, so servers call
the ``*_off_loop`` forms, which run it in a thread and keep the event loop
answering; :func:`verify_unknown_user` spends the same time for a user name
that does not exist, so the answer time does not tell which names exist.
"""

from __future__ import annotations

import asyncio
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from registry.errors import InvalidArgument

MIN_LENGTH = 10
_HASHER = PasswordHasher()


def check_strength(password: str) -> None:
    """Raise :class:`InvalidArgument` for a password too short to accept."""
    if len(password) < MIN_LENGTH:
        raise InvalidArgument(f"a password needs at least {MIN_LENGTH} characters")


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string) of ``password``."""
    check_strength(password)
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash`` (False for a malformed hash too)."""
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether ``stored_hash`` was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(stored_hash)


@cache
def _dummy_hash() -> str:
    return _HASHER.hash("no such user: this hash is never matched")


async def hash_off_loop(password: str) -> str:
    """:func:`hash_password` in a worker thread."""
    return await asyncio.to_thread(hash_password, password)


async def verify_off_loop(stored_hash: str, password: str) -> bool:
    """:func:`verify_password` in a worker thread."""
    return await asyncio.to_thread(verify_password, stored_hash, password)


async def verify_unknown_user(password: str) -> bool:
    """Spend a verification's time for a user name that does not exist; always False."""
    await verify_off_loop(await asyncio.to_thread(_dummy_hash), password)
    return False
