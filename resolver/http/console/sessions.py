"""Console login sessions, kept in the registry like every other piece of auth state.

The browser holds a random token (cookie ``idnode_console``, HttpOnly,
SameSite=Strict, Secure over HTTPS); the registry's ``console_sessions`` table
keeps only its SHA-256, the user id, the session's CSRF token and the expiry,
so a leaked session table does not log anyone in.  The registry is the one
cross-process (and, on PostgreSQL, cross-host) mechanism for auth state, as for
Handle and REST sessions (:mod:`resolver.core.auth_sessions`); a web login
needs roles and a CSRF token, so it keeps its own table.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Protocol

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
