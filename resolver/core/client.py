"""Async Handle protocol client: resolution, site info and authenticated administration.

Queries go over UDP first and over TCP when UDP fails or times out, or when
the server answers RC_ERROR over UDP (as CNRI's resolver, which moves on to the
next protocol; an idnode server says so for answers too large for UDP); admin
requests go over TCP.  A target is a ``(host, port)`` pair or a site (a
:class:`~protocol.site_info.SiteInfo` or an HS_SITE value): the server is then
chosen by the site's hash of the handle, and the site's other servers are
tried after it.  A challenge is answered with a secret key (HS_SECKEY) or a
private key (HS_PUBKEY), after checking that it names the request that was
sent.  Certified responses are checked against the server's public key when
the site lists one.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from protocol.auth import (
    challenge_digest,
    public_key_answer,
    secret_key_answer,
    secret_key_answer_code,
)
from protocol.bodies import (
    AnyBody,
    ChallengeAnswerRequest,
    ErrorResponse,
    GetSiteInfoResponse,
    HandleListResponse,
    HandleRequest,
    ReferralResponse,
    RemoveValueRequest,
    ResolutionRequest,
    ResolutionResponse,
    ValuesRequest,
)
from protocol.constants import (
    AUTH_TYPE_PUBLIC_KEY,
    AUTH_TYPE_SECRET_KEY,
    NA_HANDLE_PREFIX,
    OC_ADD_VALUE,
    OC_CREATE_HANDLE,
    OC_DELETE_HANDLE,
    OC_GET_SITE_INFO,
    OC_HOME_NA,
    OC_LIST_HANDLES,
    OC_LIST_HOMED_NAS,
    OC_MODIFY_VALUE,
    OC_REMOVE_VALUE,
    OC_RESOLUTION,
    OC_RESPONSE_TO_CHALLENGE,
    OC_UNHOME_NA,
    RC_AUTHENTICATION_NEEDED,
    RC_ERROR,
    RC_HANDLE_NOT_FOUND,
    RC_INVALID_CREDENTIAL,
    RC_PREFIX_REFERRAL,
    RC_SERVICE_REFERRAL,
    RC_SUCCESS,
    RC_VALUES_NOT_FOUND,
    SP_HDL_HTTP,
    SP_HDL_TCP,
    SP_HDL_UDP,
)
from protocol.credential import verify_message_signature
from protocol.digests import make_request_digest
from protocol.errors import ProtocolError
from protocol.framing import UdpReassembler, encode_tcp, encode_udp, read_tcp_frame
from protocol.key_types import HandlePrivateKey
from protocol.message import Message, decode_message, request_bytes
from protocol.public_key import decode_public_key
from protocol.server_select import server_index
from protocol.site_info import SiteInfo, decode_site_info
from protocol.values import HandleValue
from resolver.core.http_exchange import HttpExchange
from resolver.core.model import Resolution

MAX_RESPONSE_SIZE = 16 * 1024 * 1024
_UDP, _TCP, _HTTP = "udp", "tcp", "http"


class _TryTcp(Exception):
    """The server answered RC_ERROR over UDP: ask again over TCP."""


_TRANSPORT_ERRORS = (OSError, TimeoutError, ProtocolError, asyncio.IncompleteReadError, _TryTcp)


class HandleClientError(Exception):
    """A request that did not succeed: ``response_code`` is the server's RC_* code
    (RC_ERROR when no server answered)."""

    def __init__(self, response_code: int, message: str = "") -> None:
        super().__init__(f"{response_code}: {message}" if message else str(response_code))
        self.response_code = response_code
        self.message = message


@dataclass(frozen=True, slots=True)
class SecretKeyAuth:
    """Authenticate as ``handle``:``index`` with the HS_SECKEY ``secret``.
    ``code`` forces a MAC algorithm (HASH_CODE_*); by default CNRI's choice."""

    handle: str
    index: int
    secret: bytes
    code: int | None = None

    def __repr__(self) -> str:
        return f"SecretKeyAuth({self.index}:{self.handle})"


@dataclass(frozen=True, slots=True)
class PublicKeyAuth:
    """Authenticate as ``handle``:``index`` by signing with ``private_key``."""

    handle: str
    index: int
    private_key: HandlePrivateKey

    def __repr__(self) -> str:
        return f"PublicKeyAuth({self.index}:{self.handle})"


Credentials = SecretKeyAuth | PublicKeyAuth
#: called with (host, port) before each connection (see HandleClient)
Gate = Callable[[str, int], None]
Target = tuple[str, int] | SiteInfo | HandleValue


@dataclass(frozen=True, slots=True)
class _Endpoint:
    host: str
    tcp_port: int | None
    udp_port: int | None
    public_key: bytes = b""
    http_port: int | None = None

    def name(self, port: int | None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{port}"


def endpoints(target: Target, handle: str) -> list[_Endpoint]:
    """The servers to ask about ``handle``, the site's responsible one first."""
    if isinstance(target, tuple):
        host, port = target
        return [_Endpoint(host, port, port, http_port=port)]
    site = decode_site_info(target.data) if isinstance(target, HandleValue) else target
    if not site.servers:
        raise HandleClientError(RC_ERROR, "site lists no servers")
    first = server_index(handle, site.hash_option, len(site.servers))
    ordered = site.servers[first:] + site.servers[:first]
    found = []
    for server in ordered:
        tcp = server.interface(SP_HDL_TCP)
        udp = server.interface(SP_HDL_UDP)
        http = server.interface(SP_HDL_HTTP)
        found.append(
            _Endpoint(
                server.ip,
                tcp.port if tcp else None,
                udp.port if udp else None,
                server.public_key,
                http.port if http else None,
            )
        )
    return found


class _Exchange:
    """One conversation with one server: send messages, receive responses."""

    async def send(self, msg: Message) -> None:
        raise NotImplementedError

    async def receive(self) -> Message:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _TcpExchange(_Exchange):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, msg: Message) -> None:
        self.writer.write(encode_tcp(msg))
        await self.writer.drain()

    async def receive(self) -> Message:
        env, data = await read_tcp_frame(self.reader, MAX_RESPONSE_SIZE)
        return decode_message(env, data)

    def close(self) -> None:
        self.writer.close()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | Exception] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        self.queue.put_nowait(exc)


class _UdpExchange(_Exchange):
    def __init__(self, transport: asyncio.DatagramTransport, protocol: _UdpProtocol) -> None:
        self.transport, self.protocol = transport, protocol
        self.reassembler = UdpReassembler(max_message_size=MAX_RESPONSE_SIZE)

    async def send(self, msg: Message) -> None:
        for datagram in encode_udp(msg):
            self.transport.sendto(datagram)

    async def receive(self) -> Message:
        while True:
            item = await self.protocol.queue.get()
            if isinstance(item, Exception):
                raise item
            complete = self.reassembler.add("server", item, time.monotonic())
            if complete is not None:
                return decode_message(*complete)

    def close(self) -> None:
        self.transport.close()


def _new_request(op_code: int, body: AnyBody) -> Message:
    return Message(op_code=op_code, body=body, request_id=secrets.randbits(31))


class HandleClient:
    """Speaks the Handle protocol to one server or site at a time.

    ``timeout`` bounds each exchange with one server; ``attempts`` is how many
    rounds over the candidate servers are made; ``udp`` lets queries try UDP
    first; ``http`` sends every message over the servers' HTTP interface
    instead (``Interface.SP_HDL_HTTP``, :mod:`resolver.core.http_exchange`; a
    ``(host, port)`` target then names the HTTP port); ``gate(host, port)`` is
    called before every connection: an OSError from it skips that server, any
    other exception ends the request (:mod:`resolver.core.upstream`).
    """

    def __init__(
        self,
        *,
        timeout: float = 3.0,
        attempts: int = 2,
        udp: bool = True,
        http: bool = False,
        gate: Gate | None = None,
    ) -> None:
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.udp = udp
        self.http = http
        self.gate = gate

    # --- queries -------------------------------------------------------------------

    async def resolve(
        self,
        handle: str,
        types: Sequence[str] = (),
        indexes: Sequence[int] = (),
        *,
        server: Target,
        auth: Credentials | None = None,
        certify: bool = False,
        authoritative: bool = False,
        recursive: bool = True,
    ) -> Resolution:
        """Resolve ``handle``; with ``auth`` restricted values are asked for too.

        ``recursive`` (set by default, as CNRI clients do) lets the server
        follow referrals itself; a recursive resolver clears it on its hops.
        Not-found and referral (service or prefix) answers come back as a
        Resolution with their response code; other failures raise
        :class:`HandleClientError`.
        """
        request = _new_request(
            OC_RESOLUTION, ResolutionRequest(handle, tuple(indexes), tuple(types))
        )
        request.public_only = auth is None
        request.certify = certify
        request.authoritative = authoritative
        request.recursive = recursive
        (response,), source = await self._ask(request, handle, server, auth, admin=False)
        body, rc = response.body, response.response_code
        if rc == RC_SUCCESS and isinstance(body, ResolutionResponse):
            return Resolution(
                body.handle, rc, body.values, authoritative=response.authoritative, source=source
            )
        if rc in (RC_SERVICE_REFERRAL, RC_PREFIX_REFERRAL) and isinstance(body, ReferralResponse):
            referral = body.values or ()
            return Resolution(handle, rc, (), source=source, referral_values=referral)
        if rc in (RC_HANDLE_NOT_FOUND, RC_VALUES_NOT_FOUND):
            return Resolution(handle, rc, (), authoritative=response.authoritative, source=source)
        raise _error(response)

    async def get_site_info(self, server: Target) -> SiteInfo:
        """The site information of the server answering at ``server``."""
        request = _new_request(OC_GET_SITE_INFO, HandleRequest("/"))
        (response,), _ = await self._ask(request, "/", server, None, admin=False)
        if response.response_code != RC_SUCCESS or not isinstance(
            response.body, GetSiteInfoResponse
        ):
            raise _error(response)
        return response.body.site

    # --- administration ----------------------------------------------------------

    async def create_handle(
        self,
        handle: str,
        values: Sequence[HandleValue],
        *,
        server: Target,
        auth: Credentials,
        overwrite: bool = False,
    ) -> None:
        """Create ``handle`` (or, with ``overwrite``, replace all its values)."""
        request = _new_request(OC_CREATE_HANDLE, ValuesRequest(handle, tuple(values)))
        request.overwrite_when_exists = overwrite
        await self._admin(request, handle, server, auth)

    async def delete_handle(self, handle: str, *, server: Target, auth: Credentials) -> None:
        """Delete ``handle``."""
        request = _new_request(OC_DELETE_HANDLE, HandleRequest(handle))
        await self._admin(request, handle, server, auth)

    async def add_values(
        self, handle: str, values: Sequence[HandleValue], *, server: Target, auth: Credentials
    ) -> None:
        """Add values at new indexes."""
        request = _new_request(OC_ADD_VALUE, ValuesRequest(handle, tuple(values)))
        await self._admin(request, handle, server, auth)

    async def modify_values(
        self, handle: str, values: Sequence[HandleValue], *, server: Target, auth: Credentials
    ) -> None:
        """Replace the values with the same indexes."""
        request = _new_request(OC_MODIFY_VALUE, ValuesRequest(handle, tuple(values)))
        await self._admin(request, handle, server, auth)

    async def remove_values(
        self, handle: str, indexes: Sequence[int], *, server: Target, auth: Credentials
    ) -> None:
        """Remove the values at ``indexes``."""
        request = _new_request(OC_REMOVE_VALUE, RemoveValueRequest(handle, tuple(indexes)))
        await self._admin(request, handle, server, auth)

    async def list_handles(self, prefix: str, *, server: Target, auth: Credentials) -> list[str]:
        """Every handle under ``prefix`` (``88.118.8`` or ``0.NA/88.118.8``)."""
        na = prefix if "/" in prefix else NA_HANDLE_PREFIX + prefix
        responses = await self._admin(
            _new_request(OC_LIST_HANDLES, HandleRequest(na)), na, server, auth
        )
        return _listed(responses)

    async def home_prefix(self, prefix: str, *, server: Target, auth: Credentials) -> None:
        """Make the server serve ``prefix`` (``OC_HOME_NA``, as ``hdl-home-na``)."""
        na = prefix if "/" in prefix else NA_HANDLE_PREFIX + prefix
        await self._admin(_new_request(OC_HOME_NA, HandleRequest(na)), na, server, auth)

    async def unhome_prefix(self, prefix: str, *, server: Target, auth: Credentials) -> None:
        """Make the server stop serving ``prefix`` (``OC_UNHOME_NA``)."""
        na = prefix if "/" in prefix else NA_HANDLE_PREFIX + prefix
        await self._admin(_new_request(OC_UNHOME_NA, HandleRequest(na)), na, server, auth)

    async def list_homed_prefixes(self, *, server: Target, auth: Credentials) -> list[str]:
        """The ``0.NA/`` handles of the prefixes the server serves (``OC_LIST_HOMED_NAS``)."""
        request = _new_request(OC_LIST_HOMED_NAS, HandleRequest(""))
        return _listed(await self._admin(request, "", server, auth))

    async def _admin(
        self, request: Message, handle: str, server: Target, auth: Credentials
    ) -> list[Message]:
        responses, _ = await self._ask(request, handle, server, auth, admin=True)
        if responses[-1].response_code != RC_SUCCESS:
            raise _error(responses[-1])
        return responses

    # --- transport ---------------------------------------------------------------

    async def _ask(
        self,
        request: Message,
        handle: str,
        target: Target,
        auth: Credentials | None,
        *,
        admin: bool,
    ) -> tuple[list[Message], str]:
        """Send ``request`` to the first server that answers; (responses, "host:port")."""
        problem: Exception | None = None
        for _ in range(self.attempts):
            for endpoint in endpoints(target, handle):
                for transport, port in self._routes(endpoint, admin):
                    try:
                        if self.gate is not None:
                            self.gate(endpoint.host, port)
                        async with asyncio.timeout(self.timeout):
                            responses = await self._converse(
                                endpoint, port, transport, handle, request, auth
                            )
                    except _TRANSPORT_ERRORS as exc:
                        problem = exc
                        continue
                    return responses, endpoint.name(port)
        raise HandleClientError(RC_ERROR, f"no server answered: {problem!r}")

    def _routes(self, endpoint: _Endpoint, admin: bool) -> list[tuple[str, int]]:
        """(transport, port) pairs to try on ``endpoint``, in order."""
        if self.http:
            return [] if endpoint.http_port is None else [(_HTTP, endpoint.http_port)]
        routes = []
        if self.udp and not admin and endpoint.udp_port is not None:
            routes.append((_UDP, endpoint.udp_port))
        if endpoint.tcp_port is not None:
            routes.append((_TCP, endpoint.tcp_port))
        return routes

    async def _converse(
        self,
        endpoint: _Endpoint,
        port: int,
        transport: str,
        handle: str,
        request: Message,
        auth: Credentials | None,
    ) -> list[Message]:
        udp = transport == _UDP
        exchange = await self._open(endpoint.host, port, transport, handle)
        try:
            await exchange.send(request)
            expected_id, answered, responses = request.request_id, False, []
            while True:
                msg = await exchange.receive()
                if msg.request_id != expected_id:
                    continue
                if udp and msg.response_code == RC_ERROR:
                    raise _TryTcp(_error(msg))
                if msg.response_code == RC_AUTHENTICATION_NEEDED and auth and not answered:
                    answer = _answer(request, msg, auth)
                    expected_id, answered = answer.request_id, True
                    if transport == _TCP:  # a CNRI server answers one request per connection
                        exchange.close()
                        exchange = await self._open(endpoint.host, port, transport, handle)
                    await exchange.send(answer)
                    continue
                if request.certify and endpoint.public_key:
                    _check_signature(msg, endpoint.public_key)
                responses.append(msg)
                if not msg.continuous:
                    return responses
        finally:
            exchange.close()

    async def _open(
        self, host: str, port: int, transport: str, handle: str
    ) -> _Exchange | HttpExchange:
        if transport == _HTTP:
            return HttpExchange(host, port, handle, MAX_RESPONSE_SIZE)
        if transport == _UDP:
            loop = asyncio.get_running_loop()
            datagrams, protocol = await loop.create_datagram_endpoint(
                _UdpProtocol, remote_addr=(host, port)
            )
            return _UdpExchange(datagrams, protocol)
        reader, writer = await asyncio.open_connection(host, port, limit=2**16)
        return _TcpExchange(reader, writer)


def _answer(request: Message, challenge: Message, auth: Credentials) -> Message:
    """The ChallengeAnswerRequest for ``challenge``, after checking it names ``request``."""
    digest = challenge_digest(challenge)
    mine = make_request_digest(request_bytes(request), digest.alg)
    if mine.digest != digest.digest:
        raise HandleClientError(RC_INVALID_CREDENTIAL, "challenge names another request")
    nonce = getattr(challenge.body, "nonce", b"")
    version = (challenge.major_version, challenge.minor_version)
    if isinstance(auth, SecretKeyAuth):
        code = auth.code if auth.code is not None else secret_key_answer_code(*version)
        signed = secret_key_answer(nonce, digest.digest, auth.secret, code)
        auth_type = AUTH_TYPE_SECRET_KEY
    else:
        signed = public_key_answer(nonce, digest.digest, auth.private_key, version=version)
        auth_type = AUTH_TYPE_PUBLIC_KEY
    body = ChallengeAnswerRequest(auth_type, auth.handle, auth.index, signed)
    answer = replace(
        _new_request(OC_RESPONSE_TO_CHALLENGE, body),
        session_id=challenge.session_id,
        major_version=challenge.major_version,
        minor_version=challenge.minor_version,
    )
    answer.flags = request.flags
    return answer


def _check_signature(msg: Message, public_key: bytes) -> None:
    if not verify_message_signature(msg, decode_public_key(public_key)):
        raise HandleClientError(RC_INVALID_CREDENTIAL, "certified response has a bad signature")


def _listed(responses: list[Message]) -> list[str]:
    """The handles of a run of list responses."""
    names: list[str] = []
    for response in responses:
        if isinstance(response.body, HandleListResponse):
            names.extend(response.body.handles)
    return names


def _error(response: Message) -> HandleClientError:
    text = response.body.text if isinstance(response.body, ErrorResponse) else ""
    return HandleClientError(response.response_code, text)
