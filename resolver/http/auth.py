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
header cannot be replayed into another identity proof.  Sessions are the
:class:`resolver.core.auth_sessions.Session` of every front end (kind
:data:`~resolver.core.auth_sessions.HTTP`): in this process, or in the registry
database for a node of several processes or hosts; ids are kept and looked up
by their SHA-256, so lookups leak nothing by timing, and secrets are compared
by the service with ``hmac.compare_digest``.  Nothing here logs a credential.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote, unquote_to_bytes

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
from resolver.core.auth_sessions import (
    HTTP,
    MemoryAuthState,
    Session,
    Sessions,
    UseGuard,
)
from resolver.core.model import ANONYMOUS, Caller, ServiceError

if TYPE_CHECKING:
    from resolver.core.service import ResolutionService

_TCHARS = r"[-A-Za-z0-9!#$%&'*+.`^_|~]+"
_QUOTED = r'"(?:[^\\"]|\\.)*"'
_PARAM = re.compile(rf"\s*({_TCHARS})\s*=\s*({_TCHARS}|{_QUOTED})\s*(,?)")
_UNESCAPE = re.compile(r"\\(.)")
#: ``Handle sessionId="..."`` alone (what a session's requests carry), read as
#: :meth:`HandleAuthHeader.parse` reads it, without its loop over parameters
_SESSION_ONLY = re.compile(rf'\s*handle \s*sessionid\s*=\s*(?:"([^\\"]*)"|({_TCHARS}))\s*',
                           re.IGNORECASE | re.ASCII)

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


#: the parameters (their keys as kept: lower case) that try to prove an identity
_PROVING = frozenset(("id", "type", "alg", "signature"))


@dataclass(frozen=True, slots=True)
class HandleAuthHeader:
    """The parameters of an ``Authorization: Handle ...`` header (``HandleAuthorizationHeader``)."""

    params: dict[str, str]

    @classmethod
    def parse(cls, value: str | None) -> HandleAuthHeader | None:
        """The parsed header, or None when it is absent, of another scheme or malformed."""
        if value is None:
            return None
        if (bare := _SESSION_ONLY.fullmatch(value)) is not None:
            return cls({"sessionid": bare.group(1) if bare.group(2) is None else bare.group(2)})
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
        return self.params.get("sessionid")

    @property
    def authenticating(self) -> bool:
        """Whether the header tries to prove an identity (any of id, type, alg, signature)."""
        return not self.params.keys().isdisjoint(_PROVING)


#: how long a REST session lives idle once proven, and before
HTTP_SESSION_SECONDS = 1800.0
HTTP_OPEN_SESSION_SECONDS = 120.0


def memory_sessions() -> Sessions:
    """REST sessions of this process only (what a node of one process uses)."""
    return Sessions(MemoryAuthState(), HTTP, lifetime=HTTP_SESSION_SECONDS,
                    open_lifetime=HTTP_OPEN_SESSION_SECONDS)


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
    #: the credential version a resumed session proved, when its check was left to
    #: the request's create (``authenticate(..., proven_later=True)``): not yet checked
    proven: bytes | None = None
    #: with ``proven``, when the session itself is checked by the create too (a session
    #: this process read before, :meth:`Sessions.use_guard`): the create's guard
    guard: UseGuard | None = None

    @property
    def failed(self) -> bool:
        """Credentials were presented and did not prove an identity."""
        return self.authenticating and not self.caller.authenticated


class Authenticator:
    """Turns the ``Authorization`` header of a request into a :class:`Caller`."""

    def __init__(self, service: ResolutionService, sessions: Sessions) -> None:
        self.service = service
        self.sessions = sessions

    async def authenticate(
        self, authorization: str | None, *, session: Session | None = None,
        create_session: bool = True, proven_later: bool = False,
    ) -> AuthResult:
        """Authenticate a request carrying ``authorization`` (None when absent).

        ``session`` is a session already chosen (``POST /api/sessions``); otherwise
        the header's ``sessionId`` names it.  A signed ``Handle`` header naming no
        session gets a new one (when ``create_session``) whose nonce goes back in
        the 401 challenge, without spending it.  ``proven_later``: a resumed
        session's credential is not read here but left in ``proven`` for the
        request's create to read with what it reads
        (:meth:`ResolutionService.create_handle`), which must then be the only thing
        the request does as its caller; :meth:`credential_changed` when it changed.
        A session this process read before is then not read again either: ``guard``
        checks it in the create's transaction (:class:`SessionRefused` with ``changed``
        from the create: forget it, authenticate again).
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
            guard = (self.sessions.use_guard(header.session_id)
                     if proven_later and not header.authenticating else None)
            if guard is not None:  # as read last time, checked again by the create
                result.session, result.guard = guard.session, guard
            else:
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
                result.session = await self.new_session()
                result.errors.append("no session: sign the nonce of the new session")
        elif result.session is not None:
            session = result.session
            if proven_later and session.caller.authenticated and session.credential is not None:
                result.caller, result.proven = session.caller, session.credential
            else:
                await self._resume(session, result)
        return result

    async def new_session(self) -> Session:
        """A new anonymous session with a fresh 16-byte nonce to sign."""
        return await self.sessions.open(secrets.token_bytes(16))

    async def _resume(self, session: Session, result: AuthResult) -> None:
        """Act as the session's identity, unless its credential changed since it
        was proven (rotated, removed): then the session ends and the request is
        refused (401) rather than served anonymously."""
        caller = session.caller
        if caller.authenticated and not await self.service.session_still_valid(
            caller, session.credential
        ):
            await self.credential_changed(result)
            return
        result.caller = caller

    async def credential_changed(self, result: AuthResult) -> None:
        """End ``result``'s session, whose credential changed since it was proven:
        the request is refused (401), not served anonymously."""
        assert result.session is not None
        await self.sessions.close(result.session.session_id)
        result.session, result.caller, result.proven = None, ANONYMOUS, None
        result.authenticating = True
        result.errors.append("the session's credential changed: authenticate again")

    async def _bind(self, session: Session, caller: Caller) -> None:
        """Authenticate ``session`` as ``caller`` with its current credential."""
        credential = await self.service.credential_version(caller)
        await self.sessions.authenticate(session.session_id, caller, credential)
        session.caller, session.credential = caller, credential

    async def _basic(self, authorization: str, result: AuthResult) -> None:
        parsed = parse_basic(authorization)
        if parsed is None:
            result.errors.append("malformed Basic credentials")
            return
        handle, index, secret = parsed
        if not index and handle.isdigit():
            # curl -u "300:0.NA/P:SECRET" splits at the first colon: the user is the index
            result.errors.append(f"Basic user {handle[:16]!r} is not INDEX:HANDLE: URL-encode "
                                 "it, e.g. 300%3A0.NA%2F88.118.8")
            return
        try:
            result.caller = await self.service.authenticate_secret_key(handle, index, secret)
        except ServiceError:
            result.errors.append(f"identity {index}:{handle[:256]} not verified")
            return
        if result.session is not None:
            await self._bind(result.session, result.caller)

    async def _signature(self, header: HandleAuthHeader, session: Session, out: AuthResult) -> None:
        if not await self.sessions.claim(session.session_id):
            out.errors.append("session nonce already used; start a new session")
            return
        try:
            caller = await self._verify(header, session.secret)
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
    nonce = base64.b64encode(session.secret).decode("ascii")
    handle = f'Handle sessionId="{session.session_id}", nonce="{nonce}"'
    if errors:
        text = "; ".join(errors).replace("\\", "\\\\").replace('"', '\\"')
        handle += f', error="{text}"'
    return [*challenges, handle]
