"""PostgreSQL point reads by key sent together: the keys asked for meanwhile in one statement.

A cold resolution reads one record by its key (:mod:`registry.pg_reads`).  Each read
was a statement of its own: a write to the socket, a Bind/Execute and a reply for the
server to plan, run and send, and a wake-up of the loop to read it.  Profiled under
cold load (issue 17, one worker, 32 requests in flight) the node spent ~20% of its CPU
in those socket writes alone, and the server ~260 µs per read.  :class:`KeyBatcher`
gathers the keys asked for while the loop runs its ready callbacks (every request that
arrived in one turn) and while ``batches`` statements are already out, and sends them
as one statement with the keys as an array: the rows of every key come back in one
reply and go to each caller.  Under light load a key is sent on the next turn of the
loop, alone; under heavy load batches grow by themselves.  Callers asking for the same
key meanwhile share its read.

The statement takes ``$1`` as a ``varchar[]`` of keys; each row's first column is the
key it belongs to (as sent), the rows of one key in the order the caller needs.
A failed statement fails every read of its batch (the reader has already tried once
more on a new connection: :class:`registry.pg_reads.PointReader`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from registry.pg_reads import PointReader

#: keys in one statement at most
MAX_KEYS = 64
#: statements of one batcher out at once; more keys wait for one of them to come back
BATCHES = 2


class KeyBatcher:
    """Reads of ``sql`` (see module doc) for one key each, sent together on ``reader``."""

    def __init__(self, reader: PointReader, sql: str, *, max_keys: int = MAX_KEYS,
                 batches: int = BATCHES, on_send: Callable[[], None] | None = None) -> None:
        self.reader = reader
        self.sql = sql
        self.max_keys = max_keys
        self.batches = batches
        self.on_send = on_send  # called for every statement sent
        self._waiting: dict[str, asyncio.Future[list[Any]]] = {}
        self._out = 0
        self._flush_due = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def rows(self, key: str) -> list[Any]:
        """The rows of ``key`` (possibly none)."""
        future = self._waiting.get(key)
        if future is None:
            future = self._waiting[key] = asyncio.get_running_loop().create_future()
            if not self._flush_due and self._out < self.batches:
                self._flush_due = True
                asyncio.get_running_loop().call_soon(self._flush)
        # shielded: a caller given up on does not cancel the read for the others
        return list(await asyncio.shield(future))

    def _flush(self) -> None:
        """Send the waiting keys, :attr:`max_keys` a statement, while fewer than
        :attr:`batches` statements are out."""
        self._flush_due = False
        while self._waiting and self._out < self.batches:
            batch: dict[str, asyncio.Future[list[Any]]] = {}
            for key in list(self._waiting)[: self.max_keys]:
                batch[key] = self._waiting.pop(key)
            self._out += 1
            task = asyncio.get_running_loop().create_task(self._send(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: dict[str, asyncio.Future[list[Any]]]) -> None:
        try:
            if self.on_send is not None:
                self.on_send()
            rows = await self.reader.rows(self.sql, (list(batch),))
        except asyncio.CancelledError:
            for future in batch.values():
                future.cancel()
            raise
        except Exception as exc:  # every read of the batch fails with it
            for future in batch.values():
                if not future.done():
                    future.set_exception(exc)
        else:
            found: dict[str, list[Any]] = {}
            for row in rows:
                found.setdefault(row[0], []).append(row)
            for key, future in batch.items():
                if not future.done():
                    future.set_result(found.get(key, []))
        finally:
            self._out -= 1
            self._flush()

    async def close(self) -> None:
        """Stop the statements still out (their readers see them cancelled)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
