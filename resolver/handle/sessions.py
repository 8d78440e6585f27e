"""Handle protocol sessions (``OC_SESSION_SETUP``), as CNRI clients use them.

A stock CNRI ``HandleResolver`` opens a session before its first
administrative request: Diffie-Hellman key agreement (``KEY_EXCHANGE_DH``)
yields a session key, every later request of the session carries an
``HS_MAC`` credential made with it (and a session counter, never reused), the
first request is challenged as usual and, once answered, the whole session is
authenticated as that identity.  Only the DH exchange with an AES session key
(protocol 2.4 and later) is offered; other key exchange modes are refused with
RC_SESSION_FAILED.

Sessions live in a :class:`SessionTable` (shared by worker processes through
the same manager as the challenges), reached through :class:`SessionStore`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from protocol.constants import KEY_EXCHANGE_DH
from protocol.dh_groups import EXPONENT_BITS, is_standard_group
from protocol.errors import ProtocolError
from protocol.public_key import DHKeyNumbers, decode_key_numbers, encode_key_numbers
from protocol.wire import Writer

#: HdlSecurityProvider.ENCRYPT_ALG_AES
ENCRYPT_ALG_AES = 3
AES_SESSION_KEY_SIZE = 32
#: how many request counters a session remembers for replay detection
MAX_COUNTERS = 4096


@dataclass(slots=True)
class Session:
    """One session: its MAC key, the identity it authenticated as, counters seen."""

    session_id: int
    key: bytes
    expires: float
    identity: tuple[str, int] | None = None
    #: the fingerprint of the credential the identity was proven with
    credential: bytes | None = None
    seen: set[int] = field(default_factory=set)
    floor: int = 0
    sent: int = 0


class SessionTable:
    """Open sessions by id, bounded and expiring (``SessionManager``).

    Anyone can set up a session; only an identity that answered a challenge
    authenticates one.  The two kinds are bounded apart (``max_sessions``
    each, oldest out first), so a flood of anonymous setups pushes out only
    other anonymous sessions, never an authenticated one (issue 18 F9).
    """

    def __init__(self, max_sessions: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._max = max(1, max_sessions)
        self._clock = clock
        self._open: OrderedDict[int, Session] = OrderedDict()  # not authenticated (yet)
        self._proven: OrderedDict[int, Session] = OrderedDict()

    def _find(self, session_id: int) -> Session | None:
        return self._proven.get(session_id) or self._open.get(session_id)

    def open(self, key: bytes, lifetime: float) -> int:
        """Start a session with ``key``; return its fresh positive id."""
        while len(self._open) >= self._max:
            self._open.popitem(last=False)
        session_id = 0
        while session_id == 0 or self._find(session_id) is not None:
            session_id = secrets.randbits(31)
        self._open[session_id] = Session(session_id, key, self._clock() + lifetime)
        return session_id

    def get(self, session_id: int) -> Session | None:
        """The live session ``session_id`` (a copy), or None."""
        session = self._find(session_id)
        if session is None:
            return None
        if session.expires < self._clock():
            self.close(session_id)
            return None
        return Session(session.session_id, session.key, session.expires, session.identity,
                       session.credential)

    def authenticate(
        self, session_id: int, handle: str, index: int, credential: bytes | None = None
    ) -> None:
        """Bind the session to the identity that answered its challenge, and to the
        version of the credential it answered with (a rotation ends the session)."""
        session = self._open.pop(session_id, None) or self._proven.pop(session_id, None)
        if session is None:
            return
        session.identity = (handle, index)
        session.credential = credential
        self._proven[session_id] = session
        while len(self._proven) > self._max:
            self._proven.popitem(last=False)

    def use_counter(self, session_id: int, counter: int) -> bool:
        """Record a request's session counter; False if it was seen (a replay)."""
        session = self._find(session_id)
        if session is None or counter <= session.floor or counter in session.seen:
            return False
        session.seen.add(counter)
        if len(session.seen) > MAX_COUNTERS:
            oldest = sorted(session.seen)[: MAX_COUNTERS // 2]
            session.seen.difference_update(oldest)
            session.floor = oldest[-1]
        return True

    def next_counter(self, session_id: int) -> int:
        """The counter for the next response MAC'd in this session."""
        session = self._find(session_id)
        if session is None:
            return 0
        session.sent += 1
        return session.sent

    def close(self, session_id: int) -> None:
        """End a session (``OC_SESSION_TERMINATE``)."""
        self._open.pop(session_id, None)
        self._proven.pop(session_id, None)


class SessionStore:
    """Async access to a :class:`SessionTable` here or, when ``remote``, through a
    manager proxy shared by worker processes."""

    def __init__(self, table: SessionTable, *, remote: bool = False) -> None:
        self.table = table
        self.remote = remote

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args) if self.remote else fn(*args)

    async def open(self, key: bytes, lifetime: float) -> int:
        """See :meth:`SessionTable.open`."""
        return int(await self._call(self.table.open, key, lifetime))

    async def get(self, session_id: int) -> Session | None:
        """See :meth:`SessionTable.get`."""
        found: Session | None = await self._call(self.table.get, session_id)
        return found

    async def authenticate(
        self, session_id: int, handle: str, index: int, credential: bytes | None = None
    ) -> None:
        """See :meth:`SessionTable.authenticate`."""
        await self._call(self.table.authenticate, session_id, handle, index, credential)

    async def use_counter(self, session_id: int, counter: int) -> bool:
        """See :meth:`SessionTable.use_counter`."""
        return bool(await self._call(self.table.use_counter, session_id, counter))

    async def next_counter(self, session_id: int) -> int:
        """See :meth:`SessionTable.next_counter`."""
        return int(await self._call(self.table.next_counter, session_id))

    async def close(self, session_id: int) -> None:
        """See :meth:`SessionTable.close`."""
        await self._call(self.table.close, session_id)


def dh_session_key(mode: int, client_key: bytes | None) -> tuple[bytes, bytes]:
    """Answer a client's DH public key: (session key, SessionSetupResponse data).

    The data is the key algorithm (AES) and our DH public key in the client's
    group, as ``HandleServer.doSessionSetup`` writes them for 2.4+ clients; the
    key is the shared secret without leading zero octets, cut to 32 octets
    (``GenericProvider.getKeyFromDH``).  Only the standard groups of
    :mod:`protocol.dh_groups` are accepted, with a private exponent of
    ``EXPONENT_BITS``.  CPU-bound: callers run it off the event loop.  Raises
    ProtocolError for anything else.
    """
    if mode != KEY_EXCHANGE_DH or client_key is None:
        raise ProtocolError("only Diffie-Hellman session key exchange is supported")
    peer = decode_key_numbers(client_key)
    if not isinstance(peer, DHKeyNumbers):
        raise ProtocolError("session exchange key is not a Diffie-Hellman key")
    p, g, y = peer.p, peer.g, peer.y
    if not is_standard_group(p, g):
        raise ProtocolError(
            f"unacceptable Diffie-Hellman group ({p.bit_length()}-bit prime, generator {g}): "
            "use RFC 2409 group 2 or RFC 3526 group 14, 15 or 16"
        )
    if not 1 < y < p - 1:
        raise ProtocolError("unacceptable Diffie-Hellman public value")
    x = secrets.randbits(EXPONENT_BITS) | (1 << (EXPONENT_BITS - 1))
    shared = _power(y, x, p).to_bytes((p.bit_length() + 7) // 8, "big")
    start = 0
    while start + AES_SESSION_KEY_SIZE < len(shared) and shared[start] == 0:
        start += 1
    key = shared[start : start + AES_SESSION_KEY_SIZE]
    mine = encode_key_numbers(DHKeyNumbers(p=p, g=g, y=_power(g, x, p)))
    return key, Writer().i32(ENCRYPT_ALG_AES).raw(mine).getvalue()


def _power(base: int, exponent: int, modulus: int) -> int:
    """``pow(base, exponent, modulus)``: the session setup's whole cost, one place."""
    return pow(base, exponent, modulus)
