"""Console login sessions: in Redis when the node has it, else in the registry.

The browser holds a random token (cookie ``idnode_console``, HttpOnly,
SameSite=Strict, Secure over HTTPS); the store keeps only its SHA-256, the
user id, the session's CSRF token and the expiry, so a leaked session table
does not log anyone in.  Several worker processes share the sessions either
way (the registry or Redis is common to them).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Protocol

import orjson
import redis.asyncio as aioredis

from registry.accounts import StoredSession
from registry.models import utcnow
from registry.store import HandleStore

SESSION_COOKIE = "idnode_console"
SESSION_SECONDS = 8 * 3600


def token_key(token: str) -> str:
    """What the store keeps of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


class ConsoleSessions(Protocol):
    """Where console sessions live."""

    async def create(self, user_id: int) -> tuple[str, StoredSession]:
        """A new session for ``user_id``: its token (for the cookie) and stored form."""

    async def get(self, token: str) -> StoredSession | None:
        """The live session of ``token``, or None."""

    async def drop(self, token: str) -> None:
        """End the session of ``token``."""


def _new(user_id: int) -> tuple[str, StoredSession]:
    expires = utcnow() + timedelta(seconds=SESSION_SECONDS)
    return secrets.token_urlsafe(32), StoredSession(user_id, secrets.token_urlsafe(32), expires)


class RegistrySessions:
    """Sessions in the registry's ``console_sessions`` table."""

    def __init__(self, store: HandleStore) -> None:
        self.store = store

    async def create(self, user_id: int) -> tuple[str, StoredSession]:
        token, session = _new(user_id)
        await self.store.put_console_session(token_key(token), session)
        return token, session

    async def get(self, token: str) -> StoredSession | None:
        return await self.store.get_console_session(token_key(token))

    async def drop(self, token: str) -> None:
        await self.store.drop_console_session(token_key(token))


class RedisSessions:
    """Sessions in Redis under ``<prefix><sha256 of token>``, expiring by themselves."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    async def create(self, user_id: int) -> tuple[str, StoredSession]:
        token, session = _new(user_id)
        data = orjson.dumps({"user_id": user_id, "csrf": session.csrf,
                             "expires": session.expires.isoformat()})
        await self.redis.set(self.prefix + token_key(token), data, ex=SESSION_SECONDS)
        return token, session

    async def get(self, token: str) -> StoredSession | None:
        raw = await self.redis.get(self.prefix + token_key(token))
        if raw is None:
            return None
        data = orjson.loads(raw)
        return StoredSession(int(data["user_id"]), str(data["csrf"]),
                             datetime.fromisoformat(data["expires"]))

    async def drop(self, token: str) -> None:
        await self.redis.delete(self.prefix + token_key(token))
