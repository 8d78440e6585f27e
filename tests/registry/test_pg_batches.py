"""Keys read together (registry/pg_batches.py): one statement for the keys asked for in one
turn of the loop, at most ``batches`` out, a failure reaching every read of its batch and a
caller given up on not cancelling the others' read."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from registry.pg_batches import KeyBatcher
from registry.pg_reads import PointReader


class FakeReader:
    """Answers ``(key, n)`` rows for every key it is asked for, once released."""

    def __init__(self) -> None:
        self.statements: list[list[str]] = []
        self.release = asyncio.Event()
        self.fail: Exception | None = None

    async def rows(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        keys = list(params[0])
        self.statements.append(keys)
        await self.release.wait()
        if self.fail is not None:
            raise self.fail
        return [(key, n) for key in keys if not key.startswith("absent") for n in (1, 2)]


def batcher(reader: FakeReader, **kwargs: Any) -> KeyBatcher:
    return KeyBatcher(cast(PointReader, reader), "SQL", **kwargs)


async def test_keys_of_one_turn_share_a_statement_and_wait_while_batches_are_out() -> None:
    reader = FakeReader()
    reads = batcher(reader, batches=1, max_keys=3)
    first = [asyncio.ensure_future(reads.rows(k)) for k in ("a", "b", "absent", "a")]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    later = [asyncio.ensure_future(reads.rows(k)) for k in ("c", "d", "e", "f")]
    await asyncio.sleep(0)
    assert reader.statements == [["a", "b", "absent"]]  # the others wait for it
    reader.release.set()
    assert await asyncio.gather(*first) == [[("a", 1), ("a", 2)], [("b", 1), ("b", 2)], [],
                                            [("a", 1), ("a", 2)]]
    assert await asyncio.gather(*later) == [[(k, 1), (k, 2)] for k in "cdef"]
    assert reader.statements == [["a", "b", "absent"], ["c", "d", "e"], ["f"]]


async def test_a_failed_statement_fails_each_read_and_a_cancelled_caller_only_itself() -> None:
    reader = FakeReader()
    reads = batcher(reader)
    reader.fail = ConnectionError("gone")
    mine, other = asyncio.ensure_future(reads.rows("a")), asyncio.ensure_future(reads.rows("b"))
    again = asyncio.ensure_future(reads.rows("b"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    again.cancel()
    reader.release.set()
    for read in (mine, other):
        with pytest.raises(ConnectionError):
            await read
    assert again.cancelled()
    reader.fail = None
    assert await reads.rows("b") == [("b", 1), ("b", 2)]
    await reads.close()
