"""Challenges and sessions (resolver/core/auth_sessions.py), kept in this process and in
the registry database alike: single use, expiry, bounded pools (issue 18 F9),
identity bound to a credential fingerprint (F5), replay window, hashed ids."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable

import orjson
import pytest
from sqlalchemy import select

from registry.config import NodeConfig
from registry.models import AuthRecord, table_of
from registry.store import HandleStore
from resolver.core import auth_sessions
from resolver.core.auth_sessions import (
    COUNTER_WINDOW,
    HANDLE,
    HEADS_KEPT,
    HTTP,
    AuthState,
    Challenges,
    DatabaseAuthState,
    MemoryAuthState,
    SessionRefused,
    Sessions,
    _Stored,
    _use_counter,
    auth_bounds,
)
from resolver.core.limits import Limits
from resolver.core.model import Caller
from resolver.node import auth_state_for

NONCE = bytes(range(16))
DIGEST = bytes(32)
ADMIN = Caller("0.NA/88.118.7", 300)
LIMIT = 3


class Clock:
    """A wall clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "database"])
async def state_of(
    request: pytest.FixtureRequest, tmp_path: object
) -> AsyncIterator[Callable[[Clock], AuthState]]:
    """Makes an AuthState (pools bounded to LIMIT) in this process or in a SQLite registry."""
    bounds = auth_bounds(LIMIT, LIMIT)
    if request.param == "memory":
        yield lambda clock: MemoryAuthState(bounds, clock=clock)
        return
    store = await HandleStore.open(f"sqlite:///{tmp_path}/registry.db")
    try:
        yield lambda clock: DatabaseAuthState(store, bounds, clock=clock)
    finally:
        await store.close()


async def test_challenges_are_single_use_expire_and_stay_bounded(
    state_of: Callable[[Clock], AuthState],
) -> None:
    clock = Clock()
    challenges = Challenges(state_of(clock), 30.0, clock=clock)
    first = await challenges.issue(NONCE, 3, DIGEST, b"req-1")
    assert first.session_id > 0
    taken = await challenges.take(first.session_id)
    assert taken is not None and taken.request == b"req-1" and taken.nonce == NONCE
    assert await challenges.take(first.session_id) is None  # replay
    second = await challenges.issue(NONCE, 3, DIGEST, b"req-2")
    clock.now += 31
    assert await challenges.take(second.session_id) is None  # expired
    tcp = await challenges.issue(NONCE, 3, DIGEST, b"tcp")
    clock.now += 1
    udp = [await challenges.issue(NONCE, 3, DIGEST, b"udp", spoofable=True)
           for _ in range(3 * LIMIT)]
    assert await challenges.take(tcp.session_id) is not None  # a UDP flood evicts UDP only
    assert await challenges.take(udp[0].session_id) is None
    assert await challenges.take(udp[-1].session_id) is not None
    # a Handle session's new challenge replaces its last
    await challenges.issue(NONCE, 3, DIGEST, b"old", session_id=77)
    await challenges.issue(NONCE, 3, DIGEST, b"new", session_id=77, spoofable=True)
    again = await challenges.take(77)
    assert again is not None and again.request == b"new"
    assert await challenges.take(77) is None


async def test_anonymous_sessions_never_evict_proven_ones(
    state_of: Callable[[Clock], AuthState],
) -> None:
    clock = Clock()
    state = state_of(clock)
    sessions = Sessions(state, HTTP, lifetime=1800, open_lifetime=120, clock=clock)
    admin = await sessions.open(b"nonce")
    await sessions.authenticate(admin.session_id, ADMIN, b"fingerprint")
    for _ in range(5 * LIMIT):
        clock.now += 1
        await sessions.open(b"x")
    kept = await sessions.get(admin.session_id)
    assert kept is not None and kept.caller == ADMIN and kept.credential == b"fingerprint"
    clock.now += 121  # anonymous sessions live briefly, proven ones idle for 1800 s
    assert await sessions.get(admin.session_id) is not None
    clock.now += 1801
    assert await sessions.get(admin.session_id) is None


async def test_session_use_renews_and_close_ends(state_of: Callable[[Clock], AuthState]) -> None:
    clock = Clock()
    sessions = Sessions(state_of(clock), HANDLE, lifetime=100, clock=clock)
    session = await sessions.open(b"k" * 32, 10)
    assert session.number > 0 and session.secret == b"k" * 32
    for _ in range(5):  # each use restarts its 10 idle seconds
        clock.now += 6
        assert await sessions.get(session.session_id) is not None
    clock.now += 11
    assert await sessions.get(session.session_id) is None
    other = await sessions.open(b"k" * 32)
    await sessions.close(other.session_id)
    assert await sessions.get(other.session_id) is None
    assert not await sessions.claim(other.session_id)


async def test_nonce_is_claimed_once(state_of: Callable[[Clock], AuthState]) -> None:
    clock = Clock()
    state = state_of(clock)
    a = Sessions(state, HTTP, lifetime=1800, clock=clock)
    b = Sessions(state, HTTP, lifetime=1800, clock=clock)  # another process, same state
    session = await a.open(b"nonce")
    assert await b.claim(session.session_id)
    assert not await a.claim(session.session_id)
    assert not await b.claim(session.session_id)


async def test_counters_reject_replays_within_and_below_the_window(
    state_of: Callable[[Clock], AuthState],
) -> None:
    clock = Clock()
    sessions = Sessions(state_of(clock), HANDLE, lifetime=100, clock=clock)
    sid = (await sessions.open(b"k")).session_id
    assert not await sessions.use_counter(sid, 0)
    assert await sessions.use_counter(sid, 1) and not await sessions.use_counter(sid, 1)
    assert await sessions.use_counter(sid, 5) and await sessions.use_counter(sid, 3)
    assert not await sessions.use_counter(sid, 3) and not await sessions.use_counter(sid, 5)
    far = 5 + COUNTER_WINDOW
    assert await sessions.use_counter(sid, far)
    assert not await sessions.use_counter(sid, 4)  # fell out of the window: refused
    assert await sessions.use_counter(sid, far - 1)
    assert await sessions.next_counter(sid) == 1 and await sessions.next_counter(sid) == 2
    assert await sessions.next_counter("999") == 0


async def test_use_counts_and_reads_the_session_in_one_change(
    state_of: Callable[[Clock], AuthState],
) -> None:
    """What a Handle request in a session needs, from one change of its record: the
    counter's verdict and the session as it stands; gone or another secret is None."""
    clock = Clock()
    sessions = Sessions(state_of(clock), HANDLE, lifetime=100, clock=clock)
    sid = (await sessions.open(b"key")).session_id
    assert sessions.known_secret(sid) is None
    assert (await sessions.get(sid)) is not None and sessions.known_secret(sid) == b"key"
    await sessions.authenticate(sid, ADMIN, b"v1")
    used = await sessions.use(sid, 1, b"key")
    assert used is not None and used[0] and used[1].caller == ADMIN
    assert used[1].credential == b"v1"
    replayed = await sessions.use(sid, 1, b"key")
    assert replayed is not None and not replayed[0]
    assert await sessions.use(sid, 2, b"another session's key") is None
    assert await sessions.use_counter(sid, 2)  # the refused use above took no counter
    await sessions.close(sid)
    assert sessions.known_secret(sid) is None and await sessions.use(sid, 3, b"key") is None


async def test_the_database_keeps_no_session_id(tmp_path: object) -> None:
    store = await HandleStore.open(f"sqlite:///{tmp_path}/registry.db")
    try:
        sessions = Sessions(DatabaseAuthState(store), HTTP, lifetime=60)
        session = await sessions.open(b"nonce")
        table = table_of(AuthRecord)
        async with store.engine.connect() as conn:
            rows = (await conn.execute(select(table.c.key, table.c.data))).all()
        assert len(rows) == 1
        assert session.session_id not in rows[0].key
        assert session.session_id.encode() not in rows[0].data
    finally:
        await store.close()


async def test_sessions_are_read_live_on_each_database(database: HandleStore) -> None:
    """A session is read as the registry has it now (SQLite and PostgreSQL point reads):
    its secret and identity once proven, nothing once it expired or was closed, or
    inside a transaction of the store."""
    clock = Clock()
    sessions = Sessions(DatabaseAuthState(database, clock=clock), HTTP, lifetime=60,
                        clock=clock)
    session = await sessions.open(b"n" * 16, 10)
    await sessions.authenticate(session.session_id, ADMIN, b"fingerprint")
    found = await sessions.get(session.session_id)
    assert found is not None and found.secret == b"n" * 16
    assert found.caller == ADMIN and found.credential == b"fingerprint"
    async with database.transaction():
        assert await sessions.get(session.session_id) is not None
    clock.now += 11
    assert await sessions.get(session.session_id) is None
    other = await sessions.open(b"m" * 16)
    await sessions.close(other.session_id)
    assert await sessions.get(other.session_id) is None


async def test_a_known_sessions_use_in_a_write_renews_it_as_a_read_does(
    database: HandleStore,
) -> None:
    """Sessions.use_guard: a proven session this process read is checked in a write's
    transaction, renewed as a read renews it (past half its idle lifetime; before,
    nothing is written), refused as changed once another process changed or ended it."""
    clock = Clock()
    state = DatabaseAuthState(database, clock=clock)
    sessions = Sessions(state, HTTP, lifetime=60, clock=clock)
    session = await sessions.open(b"n" * 16)
    key = sessions._key(session.session_id)
    await sessions.authenticate(session.session_id, ADMIN, b"fingerprint")
    assert sessions.use_guard(session.session_id) is None  # not read here since proven
    await sessions.get(session.session_id)
    guard = sessions.use_guard(session.session_id)
    assert guard is not None and guard.session.caller == ADMIN
    proven = await database.auth_get(key, clock.now)
    assert proven is not None

    async def use() -> None:
        assert guard is not None
        async with database.transaction():
            await guard()

    clock.now += 10
    await use()
    kept = await database.auth_get(key, clock.now)
    assert kept is not None and kept.expires == proven.expires  # nothing written
    clock.now += 25  # past half the idle lifetime since it was renewed
    await use()
    renewed = await database.auth_get(key, clock.now)
    assert renewed is not None and renewed.expires == clock.now + 60
    other = Sessions(state, HTTP, lifetime=60, clock=clock)  # another process
    await other.authenticate(session.session_id, Caller(ADMIN.handle, 301), b"another")
    with pytest.raises(SessionRefused) as changed:
        await use()
    assert changed.value.changed
    await other.close(session.session_id)
    with pytest.raises(SessionRefused) as ended:
        await use()
    assert ended.value.changed


async def test_concurrent_claims_on_each_database_win_once(database: HandleStore) -> None:
    """Many processes answering one nonce or one challenge at once: exactly one wins
    (SQLite and PostgreSQL)."""
    sessions = Sessions(DatabaseAuthState(database), HTTP, lifetime=60)
    session = await sessions.open(b"nonce")
    claims = await asyncio.gather(*(sessions.claim(session.session_id) for _ in range(8)))
    assert claims.count(True) == 1
    challenges = Challenges(DatabaseAuthState(database), 30.0)
    challenge = await challenges.issue(NONCE, 3, DIGEST, b"req")
    taken = await asyncio.gather(*(challenges.take(challenge.session_id) for _ in range(8)))
    assert sum(t is not None for t in taken) == 1
    handle = Sessions(DatabaseAuthState(database), HANDLE, lifetime=60)
    sid = (await handle.open(b"k")).session_id
    used = await asyncio.gather(*(handle.use_counter(sid, 7) for _ in range(8)))
    assert used.count(True) == 1


@pytest.mark.parametrize(("settings", "shared"), [
    ({}, False),
    ({"workers": 2}, True),
    ({"site_servers": ("127.0.0.2", "127.0.0.3"), "public_host": "127.0.0.2"}, True),
    ({"redis_url": "redis://127.0.0.1:6379/0"}, True),
])
async def test_a_node_of_several_processes_or_hosts_keeps_them_in_the_registry(
    tmp_path: object, settings: dict[str, object], shared: bool
) -> None:
    store = await HandleStore.open(f"sqlite:///{tmp_path}/registry.db")
    try:
        state = auth_state_for(NodeConfig(**settings), store, Limits())  # type: ignore[arg-type]
        assert isinstance(state, DatabaseAuthState if shared else MemoryAuthState)
    finally:
        await store.close()


async def test_a_counter_change_reads_back_what_it_wrote_as_a_decode_would() -> None:
    """A counter's change in a write (CounterGuard) takes back the record it wrote last
    instead of decoding its bytes: the same records and verdicts as decoding each time,
    through replays, counters out of order and beyond the window, and changes whose
    write was rolled back (the stored record stays the one before)."""
    clock = Clock()
    state = MemoryAuthState(auth_bounds(LIMIT, LIMIT), clock=clock)
    kept_by = Sessions(state, HANDLE, lifetime=100, clock=clock)
    decoded_by = Sessions(state, HANDLE, lifetime=100, clock=clock)
    sid = (await kept_by.open(b"key")).session_id
    await kept_by.authenticate(sid, ADMIN, b"v1")
    known = await kept_by.get(sid)
    slot = await state.get(kept_by._key(sid))
    assert known is not None and slot is not None
    stored = {kept_by: slot, decoded_by: slot}
    far = 9 + COUNTER_WINDOW
    taken = 0
    for step, counter in enumerate([1, 2, 2, 5, 3, 4, 3, 9, far, 8, far + 1, far + 2, far]):
        outcomes: list[tuple[object, object]] = []
        for sessions in (kept_by, decoded_by):
            decoded_by._written.clear()  # nothing kept: decoded every time
            taken += stored[sessions].data in sessions._written
            guard = sessions.guard(known, counter)
            try:
                new = guard._change(stored[sessions])
            except SessionRefused as exc:
                outcomes.append((exc.response_code, exc.message))
                continue
            assert new is not None
            outcomes.append((new.data, guard.sent))
            if step % 4 != 3:  # else rolled back: the record stays as it was
                stored[sessions] = new
        assert outcomes[0] == outcomes[1]
    assert stored[kept_by] == stored[decoded_by]
    assert taken >= 5  # most changes took back the record written before


def _dumped(stored: _Stored) -> bytes:
    """A session record as it was encoded: orjson of all its fields at once."""
    return orjson.dumps({
        "s": base64.b64encode(stored.secret).decode("ascii"), "l": stored.lifetime,
        "h": stored.handle, "i": stored.index,
        "c": None if stored.credential is None else stored.credential.hex(),
        "u": stored.claimed, "hi": stored.highest, "w": format(stored.window, "x"),
        "n": stored.sent,
    })


def test_records_encode_as_all_their_fields_at_once() -> None:
    """A session record's fields that requests do not change are encoded once
    (_stored_head): each record encodes to the bytes of all its fields at once, through
    counters, an identity bound later, a claim, and more records than are kept."""
    records = [_Stored(b"k" * 16, 600.0), _Stored(b"\x00\xff" * 8, 1.5, claimed=True),
               _Stored(b"key", 1800.0, "0.NA/88.118.8", 300, b"\x01" * 32)]
    for stored in records:
        for counter in (1, 2, 7, 3, COUNTER_WINDOW + 40, 2 * COUNTER_WINDOW):
            _use_counter(stored, counter)
            stored.sent += 1
            assert stored.encode() == _dumped(stored)
            assert _Stored.decode(stored.encode()) == stored
        stored.handle, stored.index, stored.credential = "0.NA/88.118.9", 301, b"\x02" * 32
        assert stored.encode() == _dumped(stored)
    for n in range(HEADS_KEPT + 10):
        many = _Stored(n.to_bytes(4, "big"), 600.0, "0.NA/88.118.8", n)
        assert many.encode() == _dumped(many)
        assert len(auth_sessions._heads) <= HEADS_KEPT
