"""A create's checks read with its lock (``HandleStore.create_handle(read_with=...)``)."""

from __future__ import annotations

import pytest

from protocol.values import HandleValue
from registry.errors import HandleAlreadyExists
from registry.records import HandleRecord
from registry.store import HandleStore, ReadWith

NA = "0.NA/88.118.8"
ADMIN = "88.118.8/ADMIN"
NAME = "88.118.8/NEW-1"


def url(index: int = 1, text: str = "https://example.test/new") -> HandleValue:
    return HandleValue(index, "URL", text.encode())


async def _seed(store: HandleStore) -> None:
    await store.create_handle(NA, [url(1), HandleValue(100, "HS_ADMIN", b"admin")], actor="t")
    await store.create_handle(ADMIN, [url(1), HandleValue(300, "HS_SECKEY", b"k")], actor="t")


class Seen:
    """What a check was given, and what it raises."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[list[HandleRecord | None], bool]] = []
        self.error = error

    async def __call__(self, records: list[HandleRecord | None], exists: bool) -> None:
        self.calls.append((records, exists))
        if self.error is not None:
            raise self.error


def _read_with(check: Seen) -> ReadWith:
    return ReadWith((NA, ADMIN.lower(), "88.118.8/NONE"), ("HS_ADMIN", "HS_SECKEY"), check)


async def test_the_check_gets_the_records_of_the_types_asked(database: HandleStore) -> None:
    await _seed(database)
    seen = Seen()
    count = database.query_count
    await database.create_handle(NAME, [url()], actor="t", read_with=_read_with(seen))
    reads = database.query_count - count
    [(records, exists)] = seen.calls
    assert not exists
    prefix, admin, missing = records
    assert prefix is not None and [v.type for v in prefix.values] == ["HS_ADMIN"]
    assert admin is not None and admin.name == ADMIN  # any spelling finds it
    assert [v.type for v in admin.values] == ["HS_SECKEY"]
    assert missing is None
    assert await database.get_handle(NAME) is not None
    if database.dialect == "sqlite":  # with the lock's and the owners' reads, in one trip
        assert reads == 3


async def test_what_the_check_raises_aborts_the_create(database: HandleStore) -> None:
    await _seed(database)
    audited = len(await database.audit_entries(limit=1000))
    with pytest.raises(LookupError):
        await database.create_handle(NAME, [url()], actor="t",
                                     read_with=_read_with(Seen(LookupError("refused"))))
    assert await database.get_handle(NAME) is None
    assert len(await database.audit_entries(limit=1000)) == audited


async def test_the_check_sees_an_existing_handle_first(database: HandleStore) -> None:
    await _seed(database)
    await database.create_handle(NAME, [url()], actor="t")
    seen = Seen(LookupError("its own answer"))
    with pytest.raises(LookupError):
        await database.create_handle(NAME, [url(2)], actor="t", read_with=_read_with(seen))
    assert seen.calls[0][1]  # told the handle exists
    quiet = Seen()
    with pytest.raises(HandleAlreadyExists):
        await database.create_handle(NAME, [url(2)], actor="t", read_with=_read_with(quiet))
    assert quiet.calls[0][1]


async def test_records_read_again_are_made_once_and_follow_a_change(
    database: HandleStore
) -> None:
    """Creates in a row give their checks the records as read each time: on SQLite the
    same (immutable) records while their rows are the same, and the new values once the
    prefix handle's HS_ADMIN changed in between."""
    await _seed(database)
    seen = Seen()
    for i in range(2):
        await database.create_handle(f"{NAME}-{i}", [url()], actor="t",
                                     read_with=_read_with(seen))
    first, second = (records for records, _ in seen.calls)
    assert first == second
    if database.dialect == "sqlite":
        assert all(a is b for a, b in zip(first, second, strict=True))
    await database.modify_values(NA, [HandleValue(100, "HS_ADMIN", b"other")], actor="t")
    await database.create_handle(f"{NAME}-2", [url()], actor="t", read_with=_read_with(seen))
    prefix = seen.calls[-1][0][0]
    assert prefix is not None and [v.data for v in prefix.values] == [b"other"]
    assert seen.calls[-1][0][1:] == first[1:]
