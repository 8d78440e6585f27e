"""Challenges and sessions: the one authentication vocabulary of every front end.

* A :class:`Challenge` is a nonce sent for a request that needs an identity
  (``HandleServer.pendingAuthorizations``).  It is answered once: taking it
  removes it, so a replayed answer finds nothing; and only within its lifetime.
* A :class:`Session` is what a client opens once and then uses for several
  requests: a Handle session (``OC_SESSION_SETUP``: ``secret`` is the
  Diffie-Hellman session key its requests are MAC'd with, ``counter`` rejects a
  replayed request) or a REST session (``POST /api/sessions``: ``secret`` is
  the nonce the client signs, good for one proof, see :meth:`Sessions.claim`).
  Anyone may open a session; answering a challenge binds it to ``caller`` and
  to the fingerprint of the credential it was proven with (``credential``), so
  a rotated key ends it (issue 18 F5).

Both live in one :class:`AuthState`: records under the SHA-256 of their id
(the ids a client holds are never stored, so a leaked table resumes nothing
and lookups leak nothing by timing), each in a pool with its own bound, the
oldest going first.  Open challenges sent over UDP (to an address anyone can
put in a datagram) and sessions nobody has proven yet are pools of their own,
so a flood of those pushes out only its own kind, never a proven session or a
challenge sent over TCP (issue 18 F9).

Two states exist: :class:`MemoryAuthState` for one process, and the registry
database (:class:`DatabaseAuthState`, table ``auth_state``), the one mechanism
shared by every worker process of a node and, on PostgreSQL, by every host:
a CNRI client answers a challenge on a new connection, which SO_REUSEPORT or a
load balancer may hand to another process.  Expiry uses the wall clock, which
processes and hosts share.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

import orjson

from protocol.constants import RC_SESSION_MESSAGE_REJECTED, RC_SESSION_TIMEOUT
from registry.auth_state import AuthSlot
from registry.store import HandleStore
from resolver.core.model import ANONYMOUS, Caller, ServiceError

R = TypeVar("R")
Change = Callable[[AuthSlot], tuple[AuthSlot | None, R]]
Within = Callable[[AuthSlot | None], AuthSlot | None]

#: how many request counters below the highest a Handle session still accepts once
#: (an anti-replay window, RFC 4303 section 3.4.3)
COUNTER_WINDOW = 4096
_WINDOW_MASK = (1 << COUNTER_WINDOW) - 1
#: the session kinds, each with its own pools
HANDLE = "handle"
HTTP = "http"
#: how many sessions a process keeps in memory as it last read them (:meth:`Sessions.known`)
KNOWN_SESSIONS = 10000
#: session records a process keeps as it wrote them (:meth:`Sessions._written_slot`)
WRITTEN_KEPT = 1024
#: starts of encoded session records a process keeps (:func:`_stored_head`)
HEADS_KEPT = 1024


class AuthState(Protocol):
    """Where challenges and sessions are kept: records by hashed key, in bounded pools."""

    async def get(self, key: str) -> AuthSlot | None:
        """The live record under ``key``, or None."""

    async def add(self, key: str, slot: AuthSlot) -> bool:
        """Keep ``slot`` under ``key``, unless a live record is there (then False).
        Expired records of its pool and the oldest beyond the pool's bound go."""

    async def put(self, key: str, slot: AuthSlot) -> None:
        """Keep ``slot`` under ``key`` in place of whatever was there."""

    async def change(self, key: str, change: Change[R]) -> R | None:
        """Apply ``change`` to the live record under ``key`` atomically (whoever else
        changes it): it returns the new record (None removes it) and a result, which
        this returns; None when there is no live record."""

    async def take(self, key: str) -> AuthSlot | None:
        """Remove the record under ``key``; return it if it was live, else None (of several
        takers at once, one gets it)."""

    async def remove(self, key: str) -> None:
        """Forget the record under ``key``."""

    async def change_within(self, key: str, change: Within) -> None:
        """Apply ``change`` to the record under ``key`` (None when there is no live one;
        it gives the new form, None to remove it) as part of the registry transaction
        open in this task, committed with it (:meth:`HandleStore.auth_change_within`);
        what ``change`` raises aborts that transaction."""


def _key(kind: str, ident: str) -> str:
    return hashlib.sha256(f"{kind}:{ident}".encode("utf-8", "surrogatepass")).hexdigest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- challenges ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Challenge:
    """An open challenge: the nonce sent, the request digest, and the request it guards
    (its envelope and message bytes, as on TCP)."""

    session_id: int
    nonce: bytes
    digest_alg: int
    request_digest: bytes
    request: bytes


class Challenges:
    """Open challenges by session id, single-use and expiring."""

    def __init__(
        self, state: AuthState, lifetime: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.state = state
        self.lifetime = lifetime
        self.clock = clock

    async def issue(
        self, nonce: bytes, digest_alg: int, request_digest: bytes, request: bytes,
        session_id: int = 0, spoofable: bool = False,
    ) -> Challenge:
        """Open a challenge under ``session_id`` (the request's Handle session, which
        CNRI reuses: it replaces the session's last challenge), or else under a fresh,
        unguessable, positive id; ``spoofable`` for one sent to an unproven address (UDP)."""
        data = orjson.dumps({"n": _b64(nonce), "a": digest_alg, "d": _b64(request_digest),
                             "r": _b64(request)})
        pool = "challenge-udp" if spoofable else "challenge"
        slot = AuthSlot(pool, self.clock() + self.lifetime, data)
        if session_id > 0:
            await self.state.put(_key("challenge", str(session_id)), slot)
        else:
            session_id = _handle_session_id()
            while not await self.state.add(_key("challenge", str(session_id)), slot):
                session_id = _handle_session_id()
        return Challenge(session_id, nonce, digest_alg, request_digest, request)

    async def take(self, session_id: int) -> Challenge | None:
        """Remove and return the live challenge ``session_id``; None if unknown, used
        or expired."""
        taken = await self.state.take(_key("challenge", str(session_id)))
        if taken is None:
            return None
        fields = orjson.loads(taken.data)
        return Challenge(session_id, base64.b64decode(fields["n"]), int(fields["a"]),
                         base64.b64decode(fields["d"]), base64.b64decode(fields["r"]))


def _handle_session_id() -> int:
    """A fresh positive 31-bit id, as Handle session ids are."""
    return secrets.randbits(31) or 1


# --- sessions -----------------------------------------------------------------------


@dataclass(slots=True)
class Session:
    """One session: its id (what the client holds), secret, and who it proved to be."""

    session_id: str
    secret: bytes
    caller: Caller = ANONYMOUS
    #: fingerprint of the credential ``caller`` proved itself with
    #: (:meth:`ResolutionService.credential_version`): a rotation ends the session
    credential: bytes | None = None

    @property
    def number(self) -> int:
        """The id of a Handle session, as the integer its messages carry."""
        return int(self.session_id)


@dataclass(slots=True)
class _Stored:
    """A session as kept: the :class:`Session` fields but its id, and its bookkeeping."""

    secret: bytes
    lifetime: float
    handle: str | None = None
    index: int | None = None
    credential: bytes | None = None
    claimed: bool = False
    highest: int = 0
    window: int = 0
    sent: int = 0

    def encode(self) -> bytes:
        """The record as JSON (``orjson.dumps`` of its fields, :meth:`decode` reads it):
        the part a session's requests do not change made once (:func:`_stored_head`)."""
        head = _stored_head(self.secret, self.lifetime, self.handle, self.index,
                            self.credential, self.claimed)
        return b'%b,"hi":%d,"w":"%x","n":%d}' % (head, self.highest, self.window, self.sent)

    @classmethod
    def decode(cls, data: bytes) -> _Stored:
        f = orjson.loads(data)
        return cls(base64.b64decode(f["s"]), float(f["l"]), f["h"], f["i"],
                   None if f["c"] is None else bytes.fromhex(f["c"]), bool(f["u"]),
                   int(f["hi"]), int(f["w"], 16), int(f["n"]))

    def caller(self) -> Caller:
        """Who the session proved to be (anonymous: nobody yet)."""
        return ANONYMOUS if self.handle is None else Caller(self.handle, self.index)

    def session(self, session_id: str) -> Session:
        return Session(session_id, self.secret, self.caller(), self.credential)


#: the start of encoded session records by their fields that requests do not change
_heads: dict[tuple[bytes, float, str | None, int | None, bytes | None, bool], bytes] = {}


def _stored_head(secret: bytes, lifetime: float, handle: str | None, index: int | None,
                 credential: bytes | None, claimed: bool) -> bytes:
    """``orjson.dumps`` of a record's first fields, without its closing brace: made once
    for them (at most :data:`HEADS_KEPT`), then taken again by every request of its
    session, whose counter changes only the fields after them."""
    key = (secret, lifetime, handle, index, credential, claimed)
    head = _heads.get(key)
    if head is None:
        head = orjson.dumps({
            "s": _b64(secret), "l": lifetime, "h": handle, "i": index,
            "c": None if credential is None else credential.hex(), "u": claimed,
        })[:-1]
        if len(_heads) >= HEADS_KEPT:
            _heads.clear()
        _heads[key] = head
    return head


class Sessions:
    """The sessions of one kind (:data:`HANDLE` or :data:`HTTP`) in an :class:`AuthState`.

    A session lives ``lifetime`` idle seconds once proven and ``open_lifetime``
    before (anonymous sessions, which anyone can open, hold room briefly); each
    use renews it.
    """

    def __init__(
        self, state: AuthState, kind: str, *, lifetime: float, open_lifetime: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.kind = kind
        self.lifetime = lifetime
        self.open_lifetime = lifetime if open_lifetime is None else min(open_lifetime, lifetime)
        self.clock = clock
        self._known: OrderedDict[str, Session] = OrderedDict()
        #: of a session :meth:`get` read: its record's bytes and idle lifetime (see
        #: :meth:`use_guard`)
        self._read: dict[str, tuple[bytes, float]] = {}
        #: records a counter's change (:class:`CounterGuard`) wrote, by their bytes: the
        #: next change of the session reads them back without decoding (taken once)
        self._written: dict[bytes, _Stored] = {}

    def _key(self, session_id: str) -> str:
        return _key(self.kind, session_id)

    def _pool(self, proven: bool) -> str:
        return f"{self.kind}-proven" if proven else f"{self.kind}-open"

    def _slot(self, stored: _Stored) -> AuthSlot:
        proven = stored.handle is not None
        lifetime = min(stored.lifetime, self.lifetime if proven else self.open_lifetime)
        return AuthSlot(self._pool(proven), self.clock() + lifetime, stored.encode())

    def _stored(self, data: bytes) -> _Stored:
        """The record ``data`` holds: the one :meth:`_written_slot` made it from if it is
        still kept (then no longer), else decoded.  Either way what decoding gives: a
        kept record is one decoded, changed and encoded, and the same bytes decode to
        the same record."""
        stored = self._written.pop(data, None)
        return _Stored.decode(data) if stored is None else stored

    def _written_slot(self, stored: _Stored) -> AuthSlot:
        """:meth:`_slot` of ``stored``, which its caller no longer changes, kept for
        :meth:`_stored` under the slot's bytes (at most :data:`WRITTEN_KEPT` records: a
        change rolled back, or another process's, leaves one that is never asked for)."""
        slot = self._slot(stored)
        written = self._written
        if len(written) >= WRITTEN_KEPT:
            written.clear()
        written[slot.data] = stored
        return slot

    async def open(self, secret: bytes, lifetime: float | None = None) -> Session:
        """Start an anonymous session with ``secret``, idle for at most ``lifetime``."""
        stored = _Stored(secret, self.lifetime if lifetime is None else lifetime)
        slot = self._slot(stored)
        while True:
            session_id = (str(_handle_session_id()) if self.kind == HANDLE
                          else secrets.token_urlsafe(24))
            if await self.state.add(self._key(session_id), slot):
                return stored.session(session_id)

    async def get(self, session_id: str) -> Session | None:
        """The live session ``session_id``, or None; its idle time restarts (the record
        is rewritten only once half of its lifetime has passed)."""
        slot = await self.state.get(self._key(session_id))
        if slot is None:
            self.forget(session_id)
            return None
        stored = _Stored.decode(slot.data)
        expires = self._slot(stored).expires
        if expires - slot.expires > (expires - self.clock()) / 2:
            await self.state.change(self._key(session_id), lambda now: (
                AuthSlot(now.pool, max(now.expires, expires), now.data), None))
        session = stored.session(session_id)
        self._remember(session)
        self._read[session_id] = (slot.data, stored.lifetime)
        return session

    async def _change(self, session_id: str, fn: Callable[[_Stored], R]) -> R | None:
        def change(slot: AuthSlot) -> tuple[AuthSlot | None, R]:
            stored = _Stored.decode(slot.data)
            result = fn(stored)
            return self._slot(stored), result

        return await self.state.change(self._key(session_id), change)

    async def authenticate(
        self, session_id: str, caller: Caller, credential: bytes | None = None
    ) -> None:
        """Bind the session to the identity that answered its challenge, and to the
        version of the credential it answered with (a rotation ends the session); a
        proven session moves to the proven pool."""

        def bind(stored: _Stored) -> None:
            stored.handle, stored.index, stored.credential = caller.handle, caller.index, (
                credential
            )

        await self._change(session_id, bind)

    async def claim(self, session_id: str) -> bool:
        """True for the first proof attempt on the session's secret only, whichever
        process receives it (a REST session's nonce answers once)."""

        def claim(stored: _Stored) -> bool:
            first, stored.claimed = not stored.claimed, True
            return first

        return bool(await self._change(session_id, claim))

    async def use_counter(self, session_id: str, counter: int) -> bool:
        """Record a request's session counter; False if it was seen (a replay) or is
        older than the window of :data:`COUNTER_WINDOW` below the highest seen."""
        used = await self.use(session_id, counter)
        return used is not None and used[0]

    async def use(
        self, session_id: str, counter: int, secret: bytes | None = None
    ) -> tuple[bool, Session] | None:
        """Record a request's session counter (see :meth:`use_counter`) and read the
        session, in one change of its record: whether the counter was accepted and the
        session as it stands now (who it proved to be, with which credential).  None
        when the session is gone, or when ``secret`` is given and is not the session's
        (its id was reused by a newer session)."""

        def use(stored: _Stored) -> tuple[bool, Session] | None:
            if secret is not None and not hmac.compare_digest(stored.secret, secret):
                return None
            return _use_counter(stored, counter), stored.session(session_id)

        used = await self._change(session_id, use)
        if used is None:
            self.forget(session_id)
        else:
            self._remember(used[1])
        return used

    def guard(self, session: Session, counter: int) -> CounterGuard:
        """A request's ``counter`` in ``session`` (as this process knows it, see
        :meth:`known`) recorded inside the registry transaction of the write the
        request makes (:meth:`HandleStore.create_handle`), so the write and its counter
        commit together: one commit, and a replay of the request is refused in every
        process as :meth:`use` refuses it."""
        return CounterGuard(self, session, counter)

    def use_guard(self, session_id: str) -> UseGuard | None:
        """The use of session ``session_id`` as :meth:`get` last read it here, made inside
        the registry transaction of the write its request makes (:class:`UseGuard`)
        instead of a read of its own before; None when this process read no proven
        session of that id (then :meth:`get` reads it)."""
        known = self._known.get(session_id)
        read = self._read.get(session_id)
        if (known is None or read is None or not known.caller.authenticated
                or known.credential is None):
            return None
        return UseGuard(self, known, *read)

    def known(self, session_id: str) -> Session | None:
        """Session ``session_id`` as this process last read it, if it did."""
        return self._known.get(session_id)

    def known_secret(self, session_id: str) -> bytes | None:
        """The secret of session ``session_id`` as this process last read it, if it did
        (a Handle session's key never changes: :meth:`use` with it tells whether the
        session still lives, at once, in every process)."""
        known = self._known.get(session_id)
        return None if known is None else known.secret

    def forget(self, session_id: str) -> None:
        """Drop what this process remembers of session ``session_id``."""
        self._known.pop(session_id, None)
        self._read.pop(session_id, None)

    def _remember(self, session: Session) -> None:
        self._known[session.session_id] = session
        self._known.move_to_end(session.session_id)
        while len(self._known) > KNOWN_SESSIONS:
            self._read.pop(self._known.popitem(last=False)[0], None)

    async def next_counter(self, session_id: str) -> int:
        """The counter for the next response MAC'd in this session (0 if it is gone)."""

        def bump(stored: _Stored) -> int:
            stored.sent += 1
            return stored.sent

        return await self._change(session_id, bump) or 0

    async def close(self, session_id: str) -> None:
        """End a session."""
        self.forget(session_id)
        await self.state.remove(self._key(session_id))


class SessionRefused(ServiceError):
    """A request's session refused it inside its write (:class:`CounterGuard`): gone or
    replayed; ``changed`` when the session is not the one this process knew (another
    secret, identity or credential): the request is then checked the usual way."""

    def __init__(self, response_code: int, message: str, *, changed: bool = False) -> None:
        super().__init__(response_code, message)
        self.changed = changed


class CounterGuard:
    """A request's counter in a session, recorded inside the transaction of its write
    (see :meth:`Sessions.guard`); ``accepted`` once the counter was taken (it stays
    taken only if that transaction commits)."""

    def __init__(self, sessions: Sessions, session: Session, counter: int) -> None:
        self.sessions = sessions
        self.session = session
        self.counter = counter
        self.accepted = False
        #: the counter of the response to the request, taken with the request's
        #: (:meth:`Sessions.next_counter`'s), kept only if the transaction commits
        self.sent = 0

    async def __call__(self) -> None:
        """Record the counter in the open registry transaction; raises
        :class:`SessionRefused` (there, or from the transaction's next statement)."""
        await self.sessions.state.change_within(
            self.sessions._key(self.session.session_id), self._change)

    def _change(self, slot: AuthSlot | None) -> AuthSlot | None:
        if slot is None:
            raise SessionRefused(RC_SESSION_TIMEOUT, "invalid session or timed out")
        stored = self.sessions._stored(slot.data)
        session = self.session
        if not (hmac.compare_digest(stored.secret, session.secret)
                and stored.caller() == session.caller
                and stored.credential == session.credential):
            raise SessionRefused(RC_SESSION_TIMEOUT, "the session changed", changed=True)
        if not _use_counter(stored, self.counter):
            raise SessionRefused(RC_SESSION_MESSAGE_REJECTED, "replayed")
        self.accepted = True
        stored.sent += 1
        self.sent = stored.sent
        return self.sessions._written_slot(stored)


class UseGuard:
    """A request of a proven session this process read (:meth:`Sessions.use_guard`),
    checked inside the transaction of its write (``HandleStore.create_handle``'s guard):
    the session's record must be there, live and as it was read (the same bytes: its
    secret, identity and credential), else :class:`SessionRefused` with ``changed`` (the
    request is then authenticated the usual way, which reads the session); its idle
    time restarts as :meth:`Sessions.get` restarts it (the record is rewritten once half
    its lifetime has passed, else nothing is written)."""

    def __init__(self, sessions: Sessions, session: Session, data: bytes,
                 lifetime: float) -> None:
        self.sessions = sessions
        self.session = session
        self.data = data
        self.lifetime = lifetime

    async def __call__(self) -> None:
        await self.sessions.state.change_within(
            self.sessions._key(self.session.session_id), self._use)

    def _use(self, slot: AuthSlot | None) -> AuthSlot | None:
        if slot is None or slot.data != self.data:
            raise SessionRefused(RC_SESSION_TIMEOUT, "the session changed", changed=True)
        now = self.sessions.clock()
        expires = now + min(self.lifetime, self.sessions.lifetime)
        if expires - slot.expires > (expires - now) / 2:
            return AuthSlot(slot.pool, max(slot.expires, expires), slot.data)
        return slot  # as it is: nothing to write


def _use_counter(stored: _Stored, counter: int) -> bool:
    if counter <= 0 or counter <= stored.highest - COUNTER_WINDOW:
        return False
    if counter > stored.highest:
        stored.window = ((stored.window << (counter - stored.highest)) | 1) & _WINDOW_MASK
        stored.highest = counter
        return True
    bit = 1 << (stored.highest - counter)
    if stored.window & bit:
        return False
    stored.window |= bit
    return True


# --- where they are kept --------------------------------------------------------------


class MemoryAuthState:
    """Challenges and sessions of this process (see :class:`AuthState`), ``bounds``
    naming each pool's size (a pool not named holds ``default_bound``)."""

    def __init__(
        self, bounds: Mapping[str, int] | None = None, *, default_bound: int = 10000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bounds = dict(bounds or {})
        self.default_bound = default_bound
        self.clock = clock
        self._pools: dict[str, OrderedDict[str, AuthSlot]] = {}

    def __len__(self) -> int:
        return sum(len(pool) for pool in self._pools.values())

    def _find(self, key: str) -> AuthSlot | None:
        for pool in self._pools.values():
            slot = pool.get(key)
            if slot is not None:
                if slot.expires < self.clock():
                    del pool[key]
                    return None
                return slot
        return None

    def _keep(self, key: str, slot: AuthSlot) -> None:
        pool = self._pools.setdefault(slot.pool, OrderedDict())
        now = self.clock()
        while pool and next(iter(pool.values())).expires < now:
            pool.popitem(last=False)
        pool[key] = slot
        pool.move_to_end(key)
        while len(pool) > max(1, self.bounds.get(slot.pool, self.default_bound)):
            pool.popitem(last=False)

    async def get(self, key: str) -> AuthSlot | None:
        return self._find(key)

    async def add(self, key: str, slot: AuthSlot) -> bool:
        if self._find(key) is not None:
            return False
        self._keep(key, slot)
        return True

    async def put(self, key: str, slot: AuthSlot) -> None:
        await self.remove(key)
        self._keep(key, slot)

    async def change(self, key: str, change: Change[R]) -> R | None:
        slot = self._find(key)
        if slot is None:
            return None
        new, result = change(slot)
        await self.remove(key)
        if new is not None:
            self._keep(key, new)
        return result

    async def take(self, key: str) -> AuthSlot | None:
        slot = self._find(key)
        await self.remove(key)
        return slot

    async def remove(self, key: str) -> None:
        for pool in self._pools.values():
            pool.pop(key, None)

    async def change_within(self, key: str, change: Within) -> None:
        # no transaction in memory: the change is made now and stays
        slot = self._find(key)
        new = change(slot)
        if new is None:
            await self.remove(key)
        elif slot is not None and new is not slot:
            self._keep(key, AuthSlot(slot.pool, new.expires, new.data))


class DatabaseAuthState:
    """Challenges and sessions in the registry's ``auth_state`` table (see
    :mod:`registry.auth_state`): shared by every process that opens the registry."""

    def __init__(
        self, store: HandleStore, bounds: Mapping[str, int] | None = None, *,
        default_bound: int = 10000, clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.bounds = dict(bounds or {})
        self.default_bound = default_bound
        self.clock = clock

    def _bound(self, pool: str) -> int:
        return max(1, self.bounds.get(pool, self.default_bound))

    async def get(self, key: str) -> AuthSlot | None:
        return await self.store.auth_get(key, self.clock())

    async def add(self, key: str, slot: AuthSlot) -> bool:
        return await self.store.auth_add(key, slot, self._bound(slot.pool), self.clock())

    async def put(self, key: str, slot: AuthSlot) -> None:
        await self.store.auth_remove(key)
        await self.store.auth_add(key, slot, self._bound(slot.pool), self.clock())

    async def change(self, key: str, change: Change[R]) -> R | None:
        return await self.store.auth_change(key, change, self.bounds, self.default_bound,
                                            self.clock())

    async def take(self, key: str) -> AuthSlot | None:
        return await self.store.auth_take(key, self.clock())

    async def remove(self, key: str) -> None:
        await self.store.auth_remove(key)

    async def change_within(self, key: str, change: Within) -> None:
        await self.store.auth_change_within(key, change, self.clock())


def auth_bounds(max_pending_challenges: int, max_sessions: int) -> dict[str, int]:
    """The bound of each pool for the node's limits."""
    return {
        "challenge": max_pending_challenges, "challenge-udp": max_pending_challenges,
        **{f"{kind}-{state}": max_sessions for kind in (HANDLE, HTTP)
           for state in ("open", "proven")},
    }
