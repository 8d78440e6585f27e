"""Console accounts and their login sessions: who may use the web console, with which role.

Roles (:data:`registry.models.ROLES`): ``operator`` (runs the node),
``reviewer`` (reads, approves or rejects applications), ``enterprise_admin``
and ``enterprise_user`` (bound to one enterprise).  Passwords are stored as
argon2id hashes (:mod:`registry.passwords`).

Wrong passwords back off: the first :data:`FREE_ATTEMPTS` failures cost
nothing, each further one locks the account for ``LOCK_BASE_SECONDS * 2**k``
(capped at :data:`LOCK_MAX_SECONDS`); a good login clears the count.  Every
change is appended to the audit chain in the same transaction.

Sessions are kept here (table ``console_sessions``, keyed by the SHA-256 of
the cookie token) when the node has no Redis; see
:mod:`resolver.http.console.sessions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from registry.audit import AuditEvent, append_audit
from registry.base import StoreBase
from registry.errors import AlreadyExists, InvalidArgument, NotFound
from registry.models import ROLES, ConsoleSession, ConsoleUser, table_of, utcnow

FREE_ATTEMPTS = 5
LOCK_BASE_SECONDS = 30
LOCK_MAX_SECONDS = 3600
ENTERPRISE_ROLES = ("enterprise_admin", "enterprise_user")

_U = table_of(ConsoleUser)
_S = table_of(ConsoleSession)
_USER_COLUMNS = (_U.c.id, _U.c.username, _U.c.password_hash, _U.c.role, _U.c.enterprise,
                 _U.c.totp_secret, _U.c.failed_logins, _U.c.locked_until, _U.c.disabled,
                 _U.c.created)


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A console account."""

    id: int
    username: str
    password_hash: str
    role: str
    enterprise: str | None
    totp_secret: str | None
    failed_logins: int
    locked_until: datetime | None
    disabled: bool
    created: datetime


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A console session as stored: its user, CSRF token and expiry."""

    user_id: int
    csrf: str
    expires: datetime


def lock_seconds(failures: int) -> int:
    """How long the account is locked after its ``failures``-th wrong password in a row."""
    if failures <= FREE_ATTEMPTS:
        return 0
    return int(min(LOCK_BASE_SECONDS * 2 ** (failures - FREE_ATTEMPTS - 1), LOCK_MAX_SECONDS))


def check_role(role: str, enterprise: str | None) -> None:
    """Raise :class:`InvalidArgument` unless ``role`` exists and fits ``enterprise``."""
    if role not in ROLES:
        raise InvalidArgument(f"role must be one of {', '.join(ROLES)}: {role!r}")
    if (role in ENTERPRISE_ROLES) != (enterprise is not None):
        raise InvalidArgument(f"role {role} {'needs' if enterprise is None else 'takes no'} "
                              "enterprise")


class AccountsMixin(StoreBase):
    """Console accounts and sessions."""

    async def add_user(
        self, username: str, password_hash: str, role: str, *, enterprise: str | None = None,
        actor: str,
    ) -> UserInfo:
        """Create an account; :class:`AlreadyExists` if the name is taken."""
        check_role(role, enterprise)
        created = utcnow()
        row = {"username": username, "password_hash": password_hash, "role": role,
               "enterprise": enterprise, "failed_logins": 0, "disabled": False,
               "created": created}
        audit = AuditEvent(actor, "user.create", None,
                           detail={"user": username, "role": role, "enterprise": enterprise})
        try:
            async with self._write() as conn:
                new_id = (await conn.execute(insert(_U).returning(_U.c.id), row)).scalar_one()
                await append_audit(conn, [audit])
        except IntegrityError as exc:
            raise AlreadyExists(f"user {username} exists or names an unknown enterprise") from exc
        return UserInfo(new_id, username, password_hash, role, enterprise, None, 0, None, False,
                        created)

    async def get_user(self, username: str) -> UserInfo | None:
        """The account called ``username`` or None."""
        async with self._read() as conn:
            row = (await conn.execute(select(*_USER_COLUMNS).where(_U.c.username == username))
                   ).first()
        return None if row is None else UserInfo(**row._mapping)

    async def get_user_by_id(self, user_id: int) -> UserInfo | None:
        """The account with ``user_id`` or None."""
        async with self._read() as conn:
            row = (await conn.execute(select(*_USER_COLUMNS).where(_U.c.id == user_id))).first()
        return None if row is None else UserInfo(**row._mapping)

    async def list_users(self, *, enterprise: str | None = None) -> list[UserInfo]:
        """Every account by name, or those of one enterprise."""
        query = select(*_USER_COLUMNS).order_by(_U.c.username)
        if enterprise is not None:
            query = query.where(_U.c.enterprise == enterprise)
        async with self._read() as conn:
            return [UserInfo(**row._mapping) for row in await conn.execute(query)]

    async def _update_user(self, user_id: int, audit: AuditEvent | None, **values: object
                           ) -> None:
        async with self._write() as conn:
            result = await conn.execute(update(_U).where(_U.c.id == user_id).values(**values))
            if result.rowcount != 1:
                raise NotFound(f"no user with id {user_id}")
            if audit is not None:
                await append_audit(conn, [audit])

    async def record_login(self, user: UserInfo, ok: bool, *, client: str) -> datetime | None:
        """Log a login attempt; after a failure, the time the account is locked until."""
        failures = 0 if ok else user.failed_logins + 1
        seconds = lock_seconds(failures)
        until = utcnow() + timedelta(seconds=seconds) if seconds else None
        action = "login.ok" if ok else "login.failed"
        audit = AuditEvent(f"console:{user.username}", action, None,
                           detail={"client": client, "failures": failures})
        await self._update_user(user.id, audit, failed_logins=failures, locked_until=until)
        return until

    async def log_console_action(
        self, actor: str, action: str, *, handle: str | None = None,
        detail: dict[str, object] | None = None,
    ) -> None:
        """Append a console action that changes nothing else (logout, a label print...)."""
        async with self._write() as conn:
            await append_audit(conn, [AuditEvent(actor, action, handle, detail=dict(detail or {}))])

    async def set_password_hash(self, user_id: int, password_hash: str, *, actor: str) -> None:
        """Replace an account's password hash."""
        audit = AuditEvent(actor, "user.password", None, detail={"user_id": user_id})
        await self._update_user(user_id, audit, password_hash=password_hash)

    async def set_totp_secret(self, user_id: int, secret: str | None, *, actor: str) -> None:
        """Turn TOTP on (a base32 secret) or off (None) for an account."""
        audit = AuditEvent(actor, "user.totp", None,
                           detail={"user_id": user_id, "enabled": secret is not None})
        await self._update_user(user_id, audit, totp_secret=secret)

    async def set_user_disabled(self, user_id: int, disabled: bool, *, actor: str) -> None:
        """Disable (no login, sessions dropped) or enable an account."""
        audit = AuditEvent(actor, "user.disable" if disabled else "user.enable", None,
                           detail={"user_id": user_id})
        await self._update_user(user_id, audit, disabled=disabled)
        if disabled:
            async with self._write() as conn:
                await conn.execute(delete(_S).where(_S.c.user_id == user_id))

    # --- sessions (when there is no Redis) -----------------------------------------

    async def put_console_session(self, key: str, session: StoredSession) -> None:
        """Store a session under ``key`` (the token's SHA-256 hex)."""
        async with self._write() as conn:
            await conn.execute(delete(_S).where(_S.c.expires < utcnow()))
            await conn.execute(insert(_S), {"key": key, "user_id": session.user_id,
                                            "csrf": session.csrf, "expires": session.expires})

    async def get_console_session(self, key: str) -> StoredSession | None:
        """The live session stored under ``key``, or None."""
        query = select(_S.c.user_id, _S.c.csrf, _S.c.expires).where(
            _S.c.key == key, _S.c.expires > utcnow())
        async with self._read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else StoredSession(*row)

    async def drop_console_session(self, key: str) -> None:
        """Forget a session (logout)."""
        async with self._write() as conn:
            await conn.execute(delete(_S).where(_S.c.key == key))
