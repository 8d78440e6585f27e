"""Authentication of REST API requests, as the CNRI HANDLE.NET HTTP interface does it.

Two ways to prove an identity (``INDEX:HANDLE`` of an HS_SECKEY or HS_PUBKEY
value) are accepted, and only over TLS (CNRI ignores credentials on a plain
channel; ``allow_insecure`` lifts that for a TLS-terminating proxy in front):

* ``Authorization: Basic base64(urlencode("300:0.NA/88.118.8") + ":" + secret)``;
* the ``Handle`` scheme with sessions: ``POST /api/sessions`` hands out a
  ``sessionId`` and a server ``nonce``; the client answers in
  ``Authorization: Handle version="0", sessionId="...", id="300%3A0.NA%2F...",
  type="HS_PUBKEY", cnonce="<b64>", alg="SHA256", signature="<b64>"`` with a
  signature (HS_PUBKEY) or keyed MAC (HS_SECKEY) over ``nonce + cnonce``.
  Later requests of the session carry just ``Handle sessionId="..."``.

Unlike CNRI, a session's nonce answers one authentication attempt only: a
second signature (even a replay of the accepted one) is refused, so a captured
header cannot be replayed into another identity proof.  Sessions live in this
process (:class:`MemorySessionStore`) or in Redis (:class:`RedisSessionStore`,
for several processes or hosts); ids are kept and looked up by their SHA-256,
so lookups leak nothing by timing, and secrets are compared by the service with
``hmac.compare_digest``.  Nothing here logs a credential.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, unquote_to_bytes

import redis.asyncio as aioredis

from protocol.constants import (
    HASH_CODE_HMAC_SHA1,
    HASH_CODE_HMAC_SHA256,
    HASH_CODE_MD5,
    HASH_CODE_PBKDF2_HMAC_SHA1,
    HASH_CODE_SHA1,
    HASH_CODE_SHA256,
    TYPE_HS_PUBKEY,
    TYPE_HS_SECKEY,
)
from protocol.wire import Writer
from resolver.core.model import ANONYMOUS, Caller, ServiceError

if TYPE_CHECKING:
    from resolver.core.service import ResolutionService

_TCHARS = r"[-A-Za-z0-9!#$%&'*+.`^_|~]+"
_QUOTED = r'"(?:[^\\"]|\\.)*"'
_PARAM = re.compile(rf"\s*({_TCHARS})\s*=\s*({_TCHARS}|{_QUOTED})\s*(,?)")
_UNESCAPE = re.compile(r"\\(.)")

#: ``alg`` of a HS_PUBKEY answer -> the hash id of a signed response
_SIGNATURE_HASHES = {
    "MD5": b"MD5", "SHA": b"SHA1", "SHA1": b"SHA1", "SHA-1": b"SHA1",
    "SHA-256": b"SHA-256", "SHA256": b"SHA-256", "SHA-2": b"SHA-256", "SHA2": b"SHA-256",
}
#: ``alg`` of a HS_SECKEY answer, compared without case and punctuation -> MAC code
_MAC_CODES = {
    "MD5": HASH_CODE_MD5, "SHA": HASH_CODE_SHA1, "SHA1": HASH_CODE_SHA1,
    "SHA256": HASH_CODE_SHA256, "SHA2": HASH_CODE_SHA256,
    "HMACSHA1": HASH_CODE_HMAC_SHA1, "HMACSHA256": HASH_CODE_HMAC_SHA256,
    "PBKDF2HMACSHA1": HASH_CODE_PBKDF2_HMAC_SHA1, "PBKDF2WITHHMACSHA1": HASH_CODE_PBKDF2_HMAC_SHA1,
}


class AuthError(Exception):
    """Credentials were presented but do not prove an identity (HTTP 401)."""


def parse_identity(text: str) -> tuple[str, int]:
    """``"300:0.NA/88.118.8"`` -> ``("0.NA/88.118.8", 300)``; no index means 0 (any)."""
    head, colon, rest = text.partition(":")
    if colon and head.isdigit() and head.isascii():
        return rest, int(head)
    return text, 0


def parse_basic(value: str) -> tuple[str, int, bytes] | None:
    """``(handle, index, secret)`` of a Basic header with a URL-encoded ``INDEX:HANDLE`` user."""
    parts = value.split()
    if len(parts) != 2 or parts[0].lower() != "basic":
        return None
    try:
        raw = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, secret = raw.partition(b":")
    if not colon:
        return None
    try:
        handle, index = parse_identity(unquote_to_bytes(user).decode("utf-8"))
    except UnicodeDecodeError:
        return None
    return handle, index, secret


@dataclass(frozen=True, slots=True)
class HandleAuthHeader:
    """The parameters of an ``Authorization: Handle ...`` header (``HandleAuthorizationHeader``)."""

    params: dict[str, str]

    @classmethod
    def parse(cls, value: str | None) -> HandleAuthHeader | None:
        """The parsed header, or None when it is absent, of another scheme or malformed."""
        if value is None:
            return None
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() != "handle" or not rest.strip():
            return None
        params: dict[str, str] = {}
        pos, end, comma = 0, len(rest), True
        while pos < end:
            match = _PARAM.match(rest, pos)
            if match is None or not comma:
                return None
            key, raw = match.group(1).lower(), match.group(2)
            if raw.startswith('"'):
                raw = _UNESCAPE.sub(r"\1", raw[1:-1])
            params[key] = unquote(raw) if key == "id" else raw
            comma = bool(match.group(3))
            pos = match.end()
        return cls(params)

    def get(self, key: str) -> str | None:
        """One parameter (keys are case-insensitive)."""
        return self.params.get(key.lower())

    @property
    def session_id(self) -> str | None:
        """The ``sessionId`` parameter."""
        return self.get("sessionid")

    @property
    def authenticating(self) -> bool:
        """Whether the header tries to prove an identity (any of id, type, alg, signature)."""
        return any(self.get(k) is not None for k in ("id", "type", "alg", "signature"))


@dataclass(slots=True)
class Session:
    """One ``/api/sessions`` session: its nonce, and who it authenticated (if anyone)."""

    session_id: str
    nonce: bytes
    caller: Caller = ANONYMOUS
    #: fingerprint of the credential ``caller`` proved itself with
    #: (:meth:`ResolutionService.credential_version`): a rotation ends the session
    credential: bytes | None = None


def _session_key(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).digest()


def _new_session() -> Session:
    return Session(secrets.token_urlsafe(24), secrets.token_bytes(16))


class SessionStore(Protocol):
    """Where sessions live: this process (:class:`MemorySessionStore`) or Redis."""

    async def create(self) -> Session:
        """A new session with a fresh 16-byte nonce."""

    async def get(self, session_id: str) -> Session | None:
        """The live session with this id (its idle time restarts), or None."""

    async def claim_nonce(self, session: Session) -> bool:
        """True for the first authentication attempt on the session's nonce only."""

    async def set_caller(
        self, session: Session, caller: Caller, credential: bytes | None = None
    ) -> None:
        """Record that ``session`` is authenticated as ``caller`` with ``credential``."""

    async def delete(self, session: Session) -> None:
        """End ``session``."""


@dataclass(slots=True)
class _Entry:
    session: Session
    last_used: float
    nonce_used: bool = False


class MemorySessionStore:
    """Sessions of this process, expiring after ``ttl`` idle seconds.

    Sessions not (yet) authenticated, which anyone can open by the thousand,
    are kept apart from authenticated ones, each kind within its own bound
    (``anonymous_limit``, ``limit``; the least recently used goes first): a
    flood of ``POST /api/sessions`` only pushes out other anonymous sessions,
    never an admin's (issue 18 F9).  Enough for one process; with several
    processes or hosts behind one address use :class:`RedisSessionStore`.
    """

    def __init__(
        self, *, ttl: float = 1800.0, limit: int = 10000, anonymous_limit: int | None = None
    ) -> None:
        self.ttl = ttl
        self.limit = limit
        self.anonymous_limit = limit if anonymous_limit is None else anonymous_limit
        self._anonymous: OrderedDict[bytes, _Entry] = OrderedDict()
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()  # authenticated

    def __len__(self) -> int:
        return len(self._entries) + len(self._anonymous)

    async def create(self) -> Session:
        """A new (anonymous) session with a fresh 16-byte nonce."""
        now = time.monotonic()
        self._expire(now)
        session = _new_session()
        self._anonymous[_session_key(session.session_id)] = _Entry(session, now)
        while len(self._anonymous) > self.anonymous_limit:
            self._anonymous.popitem(last=False)
        return session

    def _find(self, key: bytes) -> tuple[OrderedDict[bytes, _Entry], _Entry] | None:
        for pool in (self._entries, self._anonymous):
            entry = pool.get(key)
            if entry is not None:
                return pool, entry
        return None

    async def get(self, session_id: str) -> Session | None:
        """The live session with this id, or None."""
        now = time.monotonic()
        self._expire(now)
        key = _session_key(session_id)
        found = self._find(key)
        if found is None:
            return None
        pool, entry = found
        entry.last_used = now
        pool.move_to_end(key)
        return entry.session

    async def claim_nonce(self, session: Session) -> bool:
        """True the first time only."""
        found = self._find(_session_key(session.session_id))
        if found is None or found[1].nonce_used:
            return False
        found[1].nonce_used = True
        return True

    async def set_caller(
        self, session: Session, caller: Caller, credential: bytes | None = None
    ) -> None:
        """Record the identity the session proved, and with which credential; an
        authenticated session moves to the authenticated pool."""
        session.caller = caller
        session.credential = credential
        key = _session_key(session.session_id)
        entry = self._anonymous.pop(key, None)
        if entry is not None and caller.authenticated:
            self._entries[key] = entry
            while len(self._entries) > self.limit:
                self._entries.popitem(last=False)
        elif entry is not None:
            self._anonymous[key] = entry

    async def delete(self, session: Session) -> None:
        """End ``session``."""
        key = _session_key(session.session_id)
        self._entries.pop(key, None)
        self._anonymous.pop(key, None)

    def _expire(self, now: float) -> None:
        for pool in (self._entries, self._anonymous):
            while pool:
                oldest = next(iter(pool.values()))
                if now - oldest.last_used <= self.ttl:
                    break
                pool.popitem(last=False)


_CLAIM = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end " \
    "return redis.call('HINCRBY', KEYS[1], 'used', 1)"


def _text(value: bytes | str) -> str:
    """A Redis reply as text, whether or not the client decodes responses."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


class RedisSessionStore:
    """Sessions in Redis, shared by every process and host of a node.

    One hash per session under ``prefix`` + SHA-256 of its id (the id itself is
    never stored), expiring after ``ttl`` idle seconds once authenticated and
    after ``anonymous_ttl`` before (so anonymous sessions, which anyone can
    open, hold Redis memory briefly; Redis evicts nothing by count); the nonce
    is claimed atomically, so one answer is accepted whichever process
    receives it.
    """

    def __init__(
        self, client: aioredis.Redis, *, prefix: str = "idnode:http-session:", ttl: int = 1800,
        anonymous_ttl: int = 120,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = ttl
        self.anonymous_ttl = min(anonymous_ttl, ttl)
        self._claim = client.register_script(_CLAIM)

    def _key(self, session_id: str) -> str:
        return self.prefix + _session_key(session_id).hex()

    async def create(self) -> Session:
        """A new session with a fresh 16-byte nonce."""
        session = _new_session()
        key = self._key(session.session_id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"nonce": base64.b64encode(session.nonce), "used": 0})
            pipe.expire(key, self.anonymous_ttl)
            await pipe.execute()
        return session

    async def get(self, session_id: str) -> Session | None:
        """The live session with this id, or None."""
        key = self._key(session_id)
        raw = await self.client.hgetall(key)
        fields = {_text(k): _text(v) for k, v in raw.items()}
        if "nonce" not in fields:
            return None
        await self.client.expire(key, self.ttl if fields.get("handle") else self.anonymous_ttl)
        caller = ANONYMOUS
        if fields.get("handle"):
            caller = Caller(fields["handle"], int(fields.get("index", "0")))
        credential = bytes.fromhex(fields["credential"]) if fields.get("credential") else None
        return Session(session_id, base64.b64decode(fields["nonce"]), caller, credential)

    async def claim_nonce(self, session: Session) -> bool:
        """True for the first claim of the session's nonce, whoever makes it."""
        return int(await self._claim(keys=[self._key(session.session_id)])) == 1

    async def set_caller(
        self, session: Session, caller: Caller, credential: bytes | None = None
    ) -> None:
        """Record the identity the session proved, and with which credential."""
        session.caller = caller
        session.credential = credential
        key = self._key(session.session_id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"handle": caller.handle or "", "index": caller.index or 0,
                                    "credential": (credential or b"").hex()})
            pipe.expire(key, self.ttl if caller.authenticated else self.anonymous_ttl)
            await pipe.execute()

    async def delete(self, session: Session) -> None:
        """End ``session``."""
        await self.client.delete(self._key(session.session_id))


def _b64(text: str | None, what: str) -> bytes:
    if not text:
        raise AuthError(f"missing {what}")
    standard = text.strip().replace("-", "+").replace("_", "/").rstrip("=")
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise AuthError(f"{what} is not base64") from None


def _letters(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


@dataclass(slots=True)
class AuthResult:
    """Outcome of authenticating one request.

    ``authenticating`` is true when credentials were presented; ``caller`` is
    the proven identity (anonymous when none); ``session`` the session in play.
    """

    caller: Caller = ANONYMOUS
    authenticating: bool = False
    session: Session | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Credentials were presented and did not prove an identity."""
        return self.authenticating and not self.caller.authenticated


class Authenticator:
    """Turns the ``Authorization`` header of a request into a :class:`Caller`."""

    def __init__(self, service: ResolutionService, sessions: SessionStore) -> None:
        self.service = service
        self.sessions = sessions

    async def authenticate(
        self, authorization: str | None, *, session: Session | None = None,
        create_session: bool = True,
    ) -> AuthResult:
        """Authenticate a request carrying ``authorization`` (None when absent).

        ``session`` is a session already chosen (``POST /api/sessions``); otherwise
        the header's ``sessionId`` names it.  A signed ``Handle`` header naming no
        session gets a new one (when ``create_session``) whose nonce goes back in
        the 401 challenge, without spending it.
        """
        result = AuthResult(session=session)
        if authorization is None:
            return result
        if authorization.strip().lower().startswith("basic"):
            result.authenticating = True
            await self._basic(authorization, result)
            return result
        header = HandleAuthHeader.parse(authorization)
        if header is None:
            result.authenticating = True
            result.errors.append("unsupported Authorization header")
            return result
        if header.session_id is not None and result.session is None:
            result.session = await self.sessions.get(header.session_id)
            if result.session is None:
                result.authenticating = True
                result.errors.append("unknown or expired session")
                return result
        if header.authenticating:
            result.authenticating = True
            if result.session is not None:
                await self._signature(header, result.session, result)
            elif create_session:
                # nothing can have been signed over a nonce not yet issued: challenge
                result.session = await self.sessions.create()
                result.errors.append("no session: sign the nonce of the new session")
        elif result.session is not None:
            await self._resume(result.session, result)
        return result

    async def _resume(self, session: Session, result: AuthResult) -> None:
        """Act as the session's identity, unless its credential changed since it
        was proven (rotated, removed): then the session ends and the request is
        refused (401) rather than served anonymously."""
        caller = session.caller
        if caller.authenticated and not await self.service.session_still_valid(
            caller, session.credential
        ):
            await self.sessions.delete(session)
            result.session = None
            result.authenticating = True
            result.errors.append("the session's credential changed: authenticate again")
            return
        result.caller = caller

    async def _bind(self, session: Session, caller: Caller) -> None:
        """Authenticate ``session`` as ``caller`` with its current credential."""
        await self.sessions.set_caller(
            session, caller, await self.service.credential_version(caller)
        )

    async def _basic(self, authorization: str, result: AuthResult) -> None:
        parsed = parse_basic(authorization)
        if parsed is None:
            result.errors.append("malformed Basic credentials")
            return
        handle, index, secret = parsed
        try:
            result.caller = await self.service.authenticate_secret_key(handle, index, secret)
        except ServiceError:
            result.errors.append("identity not verified")
            return
        if result.session is not None:
            await self._bind(result.session, result.caller)

    async def _signature(self, header: HandleAuthHeader, session: Session, out: AuthResult) -> None:
        if not await self.sessions.claim_nonce(session):
            out.errors.append("session nonce already used; start a new session")
            return
        try:
            caller = await self._verify(header, session.nonce)
        except AuthError as exc:
            out.errors.append(str(exc))
            return
        out.caller = caller
        await self._bind(session, caller)

    async def _verify(self, header: HandleAuthHeader, nonce: bytes) -> Caller:
        version = header.get("version")
        if version is not None and version != "0":
            raise AuthError("unknown version in Authorization: Handle")
        ident, kind, alg = header.get("id"), header.get("type"), header.get("alg")
        if ident is None or kind is None or alg is None or header.get("cnonce") is None:
            raise AuthError("missing fields in authentication data")
        cnonce = _b64(header.get("cnonce"), "cnonce")
        signature = _b64(header.get("signature"), "signature")
        handle, index = parse_identity(ident)
        try:
            if kind == TYPE_HS_PUBKEY:
                hash_id = _SIGNATURE_HASHES.get(alg.upper())
                if hash_id is None:
                    raise AuthError("unsupported signature algorithm")
                answer = Writer().byte_array(hash_id).byte_array(signature).getvalue()
                return await self.service.authenticate_signature(
                    handle, index, nonce, cnonce, answer
                )
            if kind == TYPE_HS_SECKEY:
                answer = bytes([self._mac_code(alg)]) + self._mac_bytes(header, alg, signature)
                if await self.service.verify_secret_key_answer(
                    handle, index, nonce, cnonce, answer
                ):
                    return Caller(handle, index)
                raise AuthError("identity not verified")
        except (ServiceError, ValueError):  # ProtocolError is a ValueError
            raise AuthError("identity not verified") from None
        raise AuthError("unknown authentication type")

    @staticmethod
    def _mac_code(alg: str) -> int:
        code = _MAC_CODES.get(_letters(alg))
        if code is None:
            raise AuthError("unsupported MAC algorithm")
        return code

    @classmethod
    def _mac_bytes(cls, header: HandleAuthHeader, alg: str, mac: bytes) -> bytes:
        if cls._mac_code(alg) != HASH_CODE_PBKDF2_HMAC_SHA1:
            return mac
        salt, iterations, length = header.get("salt"), header.get("iterations"), header.get(
            "length"
        )
        if salt is None or iterations is None or length is None:
            return mac
        if not (iterations.isdigit() and length.isdigit()):
            raise AuthError("malformed PBKDF2 parameters")
        return (
            Writer().byte_array(_b64(salt, "salt")).i32(int(iterations)).i32(int(length))
            .byte_array(mac).getvalue()
        )


def www_authenticate(session: Session, errors: list[str], *, basic: bool) -> list[str]:
    """The ``WWW-Authenticate`` challenges of a 401 (CNRI ``addWwwAuthenticateHandleHeader``)."""
    challenges = ['Basic realm="handle"'] if basic else []
    nonce = base64.b64encode(session.nonce).decode("ascii")
    handle = f'Handle sessionId="{session.session_id}", nonce="{nonce}"'
    if errors:
        text = "; ".join(errors).replace("\\", "\\\\").replace('"', '\\"')
        handle += f', error="{text}"'
    return [*challenges, handle]
