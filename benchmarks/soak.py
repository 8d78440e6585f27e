"""Soak: mixed load against an ``idnode serve`` subprocess for N minutes, sampled each minute.

``python -m benchmarks.soak --minutes 30`` seeds a fresh node (SQLite in a temp
data dir, or ``--database-url``; optional ``--redis-url``) with
``--cold`` handles, starts ``idnode serve`` and runs, all at once: resolvers of
hot handles (a few, always cached), cold handles (many, more than the cache
holds) and missing handles, over Handle UDP, Handle TCP and REST; and writers
creating then modifying handles over the Handle protocol (secret-key
challenge) and REST (Basic auth).  Each minute it samples the node's RSS and
the p50/p99 latency of reads and of writes and prints a table row; at the end
every acknowledged write is read back from the registry.  "Flat" means RSS
grows less than ``--max-rss-growth`` percent from the first sample after the
warm-up minute to the last, and the last minute's read p99 is within
``--max-p99-ratio`` of the warm-up-free median; the verdict is printed, and the
exit status is 1 when the load saw errors or lost a write.

The write side (:class:`Ledger`, :func:`handle_writer`, :func:`rest_writer`,
:func:`record_values`, :func:`generation_of`) is shared with the fault tests
(``tests/faults``): every value of a record names the generation it was
written at, so a record read back is whole exactly when all of them agree.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import quote

import aiohttp

from protocol.admin_record import AdminRecord, encode_admin_record
from protocol.constants import ADMIN_PERM_ALL, RC_HANDLE_NOT_FOUND, RC_SUCCESS
from protocol.references import encode_secret_key
from protocol.rest_json import values_to_json
from protocol.values import HandleValue
from registry.store import HandleStore
from resolver.core.client import HandleClient, SecretKeyAuth

REPO = Path(__file__).resolve().parents[1]
PREFIX = "88.118.8"
NA = "0.NA/88.118.8"
SECRET = b"soak-prefix-secret-7f3a"
ADMIN = SecretKeyAuth(NA, 300, SECRET)
BASIC = "Basic " + base64.b64encode(f"{quote(f'300:{NA}')}:{SECRET.decode()}".encode()).decode()
HOT = 20
SERVING = re.compile(r"handle tcp\+udp [^:]+:(\d+), http http://[^:]+:(\d+)/")


def admin_value() -> HandleValue:
    """HS_ADMIN naming ``300:0.NA/88.118.8`` with every permission."""
    return HandleValue(100, "HS_ADMIN", encode_admin_record(AdminRecord(NA, 300,
                                                                         ADMIN_PERM_ALL)))


def record_values(name: str, generation: int) -> list[HandleValue]:
    """The values of ``name`` at ``generation`` (each names it), plus the HS_ADMIN."""
    return [
        HandleValue(1, "URL", f"https://soak.test/{name}/g{generation}".encode()),
        HandleValue(2, "EMAIL", f"g{generation}@soak.test".encode()),
        HandleValue(3, "DESC", f"g{generation}".encode()),
        admin_value(),
    ]


def generation_of(values: tuple[HandleValue, ...]) -> int | None:
    """The generation every data value of a record names; None if they disagree or miss."""
    by_type = {v.type: v.data.decode("utf-8", "replace") for v in values}
    if sorted(by_type) != ["DESC", "EMAIL", "HS_ADMIN", "URL"] or len(values) != 4:
        return None
    found = {by_type["URL"].rsplit("/g", 1)[-1], by_type["EMAIL"].split("@")[0][1:],
             by_type["DESC"][1:]}
    return int(found.pop()) if len(found) == 1 and next(iter(found)).isdigit() else None


async def seed(url: str, schema: str | None = None, cold: int = 0) -> None:
    """The node prefix above :data:`PREFIX` registered (so the node holds it), the
    prefix handle with its secret key, :data:`HOT` hot and ``cold`` cold handles."""
    store = await HandleStore.open(url, schema=schema)
    try:
        node_prefix = PREFIX.rpartition(".")[0]
        if await store.get_prefix(node_prefix) is None:
            await store.create_prefix(node_prefix)
        await store.create_handle(NA, [admin_value(), HandleValue(
            300, "HS_SECKEY", encode_secret_key(SECRET), public_read=False)], actor="soak")
        names = [f"{PREFIX}/hot-{i}" for i in range(HOT)] + [
            f"{PREFIX}/cold-{i}" for i in range(cold)]
        for start in range(0, len(names), 2000):
            batch = [(n, record_values(n, 0)) for n in names[start:start + 2000]]
            await store.bulk_put(batch, actor="soak", validated=True)
    finally:
        await store.close()


@dataclass
class Ledger:
    """What writers tried and what the node acknowledged, by handle and generation."""

    attempted: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    acked: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def ack(self, name: str, generation: int) -> None:
        """Record an acknowledged write."""
        self.acked[name] = max(generation, self.acked.get(name, 0))

    async def check(self, store: HandleStore) -> list[str]:
        """Problems in ``store``: acknowledged writes missing, records half written,
        records no writer asked for (under the writers' names)."""
        problems = []
        for name, tried in self.attempted.items():
            record = await store.get_handle(name)
            if record is None:
                if name in self.acked:
                    problems.append(f"{name}: acknowledged generation {self.acked[name]} lost")
                continue
            generation = generation_of(record.values)
            if generation is None or generation not in tried:
                problems.append(f"{name}: stored values are not one written record "
                                f"({[v.data for v in record.values]!r})")
            elif generation < self.acked.get(name, 0):
                problems.append(f"{name}: generation {generation} stored, "
                                f"{self.acked[name]} acknowledged")
        return problems


@dataclass
class Sampler:
    """Latencies of the current sample period by kind ("read"/"write"), and errors."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    operations: int = 0

    async def timed(self, kind: str, op: Awaitable[None], ledger: Ledger) -> None:
        """Await ``op``, recording its latency or its error."""
        started = time.perf_counter()
        try:
            await op
        except Exception as exc:  # every failure is counted and reported
            ledger.errors.append(f"{kind}: {exc!r}")
            return
        self.latencies[kind].append(time.perf_counter() - started)
        self.operations += 1

    def take(self) -> tuple[dict[str, list[float]], int]:
        """This period's latencies and count; starts a new period."""
        taken, count = dict(self.latencies), self.operations
        self.latencies, self.operations = defaultdict(list), 0
        return taken, count


async def handle_writer(tag: str, address: tuple[str, int], ledger: Ledger,
                        stop: asyncio.Event, limit: int = 1 << 30) -> None:
    """Create ``<tag>-k`` (generation 1) then modify it (generation 2), over the Handle
    protocol, until ``stop`` or the first failure."""
    client = HandleClient(timeout=10.0, attempts=1, udp=False)
    for k in range(limit):
        if stop.is_set():
            return
        name = f"{PREFIX}/{tag}-{k}"
        ledger.attempted[name].add(1)
        await client.create_handle(name, record_values(name, 1), server=address, auth=ADMIN)
        ledger.ack(name, 1)
        ledger.attempted[name].add(2)
        await client.modify_values(name, record_values(name, 2)[:3], server=address, auth=ADMIN)
        ledger.ack(name, 2)


async def rest_writer(tag: str, http: aiohttp.ClientSession, ledger: Ledger,
                      stop: asyncio.Event, limit: int = 1 << 30) -> None:
    """Create ``<tag>-k`` then replace it with generation 2, over REST, until ``stop``
    or the first failure."""
    for k in range(limit):
        if stop.is_set():
            return
        name = f"{PREFIX}/{tag}-{k}"
        for generation in (1, 2):
            ledger.attempted[name].add(generation)
            body = {"values": values_to_json(record_values(name, generation))}
            async with http.put(f"/api/handles/{name}", json=body,
                                headers={"Authorization": BASIC}) as response:
                if response.status not in (200, 201):
                    raise RuntimeError(f"PUT {name}: HTTP {response.status} "
                                       f"{await response.text()}")
            ledger.ack(name, generation)


@dataclass
class Target:
    """Where the node listens, and the names it holds."""

    address: tuple[str, int]
    http: aiohttp.ClientSession
    cold: int

    def pick(self, rng: random.Random) -> tuple[str, int]:
        """A hot, cold or missing name (40/40/20) and the response code it must get."""
        roll = rng.random()
        if roll < 0.4 or not self.cold:
            return f"{PREFIX}/hot-{rng.randrange(HOT)}", RC_SUCCESS
        if roll < 0.8:
            return f"{PREFIX}/cold-{rng.randrange(self.cold)}", RC_SUCCESS
        return f"{PREFIX}/missing-{rng.randrange(1 << 30)}", RC_HANDLE_NOT_FOUND


async def reader(transport: str, target: Target, sampler: Sampler, ledger: Ledger,
                 stop: asyncio.Event, pause: float, seed_: int) -> None:
    """Resolve random names over ``transport`` ("udp", "tcp", "rest") until ``stop``."""
    rng = random.Random(seed_)
    client = HandleClient(timeout=5.0, attempts=1, udp=transport == "udp")

    async def handle_op(name: str, expected: int) -> None:
        res = await client.resolve(name, server=target.address)
        if res.response_code != expected:
            raise RuntimeError(f"{name}: RC {res.response_code}, expected {expected}")

    async def rest_op(name: str, expected: int) -> None:
        async with target.http.get(f"/api/handles/{name}") as response:
            code = (await response.json())["responseCode"]
            if code != expected:
                raise RuntimeError(f"{name}: responseCode {code}, expected {expected}")

    op = rest_op if transport == "rest" else handle_op
    while not stop.is_set():
        name, expected = target.pick(rng)
        await sampler.timed("read", op(name, expected), ledger)
        await asyncio.sleep(pause)


async def writer_loop(kind: str, tag: str, target: Target, sampler: Sampler, ledger: Ledger,
                      stop: asyncio.Event, pause: float) -> None:
    """One write (create+modify of a fresh handle) after another, each timed."""
    for k in range(1 << 30):
        if stop.is_set():
            return
        if kind == "handle":
            write = handle_writer(f"{tag}-{k}", target.address, ledger, stop, limit=1)
        else:
            write = rest_writer(f"{tag}-{k}", target.http, ledger, stop, limit=1)
        await sampler.timed("write", write, ledger)
        await asyncio.sleep(pause)


def start_node(data_dir: Path, env: Mapping[str, str], *, handle_port: int = 0,
               http_port: int = 0, log: IO[str] | None = None
               ) -> tuple[subprocess.Popen[str], int, int]:
    """``idnode serve`` (ephemeral ports unless given; stderr to ``log``), once ready:
    the process and its Handle and HTTP ports."""
    process = subprocess.Popen(
        [sys.executable, "-m", "admin.cli", "--data-dir", str(data_dir), "serve",
         "--handle-port", str(handle_port), "--http-port", str(http_port), "--dns-port", "0"],
        stdout=subprocess.PIPE, stderr=log or subprocess.DEVNULL, text=True, cwd=REPO,
        env={**os.environ, "IDNODE_HTTP_INSECURE_AUTH": "true", "IDNODE_LOG_LEVEL": "WARNING",
             # all load comes from 127.0.0.1: per-client limits would measure the limiter
             "IDNODE_RATE_LIMIT": "0", "IDNODE_MAX_CONNECTIONS_PER_CLIENT": "0", **env},
    )
    assert process.stdout is not None
    match = SERVING.search(process.stdout.readline())
    if match is None:
        process.kill()
        process.wait(10)
        raise RuntimeError(f"idnode serve did not start in {data_dir}")
    return process, int(match.group(1)), int(match.group(2))


def rss_kib(pid: int) -> int:
    """Resident set size of process ``pid`` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _pct(samples: list[float], pct: float) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct))] * 1000


@dataclass
class SoakResult:
    """One soak: its rows (elapsed minutes, rss KiB, ops, read p50/p99 ms, write p50/p99 ms),
    the errors seen and the ledger problems found afterwards."""

    rows: list[tuple[float, int, int, float, float, float, float]]
    errors: list[str]
    problems: list[str]
    writes_acked: int

    def table(self) -> str:
        """The rows as a text table."""
        lines = [f"{'min':>4} {'rss MiB':>8} {'ops':>7} {'read p50':>9} {'read p99':>9} "
                 f"{'write p50':>10} {'write p99':>10}"]
        for minute, rss, ops, rp50, rp99, wp50, wp99 in self.rows:
            lines.append(f"{minute:>4.1f} {rss / 1024:>8.1f} {ops:>7} {rp50:>9.2f} {rp99:>9.2f} "
                         f"{wp50:>10.2f} {wp99:>10.2f}")
        return "\n".join(lines)

    def flat(self, max_rss_growth: float, max_p99_ratio: float) -> tuple[bool, str]:
        """Whether RSS and read p99 stayed flat after the first (warm-up) minute."""
        steady = self.rows[1:] or self.rows
        growth = 100.0 * (steady[-1][1] - steady[0][1]) / max(steady[0][1], 1)
        median_p99 = statistics.median(r[4] for r in steady)
        ratio = steady[-1][4] / median_p99 if median_p99 else 1.0
        ok = growth < max_rss_growth and ratio < max_p99_ratio
        return ok, (f"RSS growth after warm-up {growth:.1f}% (limit {max_rss_growth}%), "
                    f"last read p99 / median p99 {ratio:.2f} (limit {max_p99_ratio})")


async def soak(data_dir: Path, minutes: float, *, env: Mapping[str, str] | None = None,
               cold: int = 5000, sample_seconds: float = 60.0,
               pause: float = 0.002, echo: Callable[[str], None] | None = None) -> SoakResult:
    """Seed ``data_dir``'s node, serve it, load it for ``minutes`` and check the writes."""
    env = dict(env or {})
    env.setdefault("IDNODE_CACHE_SIZE", str(max(100, cold // 5)))
    url = env.get("IDNODE_DATABASE_URL") or f"sqlite:///{data_dir / 'registry.db'}"
    schema = env.get("IDNODE_DATABASE_SCHEMA") or None
    await seed(url, schema, cold)
    process, handle_port, http_port = await asyncio.to_thread(start_node, data_dir, env)
    ledger, sampler, stop = Ledger(), Sampler(), asyncio.Event()
    rows: list[tuple[float, int, int, float, float, float, float]] = []
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{http_port}",
                                         timeout=aiohttp.ClientTimeout(total=30)) as http:
            target = Target(("127.0.0.1", handle_port), http, cold)
            tasks = [asyncio.create_task(reader(t, target, sampler, ledger, stop, pause, i))
                     for i, t in enumerate(("udp", "udp", "tcp", "rest", "rest"))]
            tasks += [asyncio.create_task(writer_loop(kind, f"soak-{kind}", target, sampler,
                                                      ledger, stop, pause * 50))
                      for kind in ("handle", "rest")]
            started = time.monotonic()
            deadline = started + minutes * 60
            while time.monotonic() < deadline:
                await asyncio.sleep(min(sample_seconds, max(0.0, deadline - time.monotonic())))
                taken, count = sampler.take()
                reads, writes = taken.get("read", []), taken.get("write", [])
                elapsed = (time.monotonic() - started) / 60
                rows.append((elapsed, rss_kib(process.pid), count, _pct(reads, 0.5),
                             _pct(reads, 0.99), _pct(writes, 0.5), _pct(writes, 0.99)))
                if echo is not None:
                    echo(SoakResult(rows[-1:], [], [], 0).table().splitlines()[-1])
            stop.set()
            await asyncio.gather(*tasks)
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)
    store = await HandleStore.open(url, schema=schema)
    try:
        problems = await ledger.check(store)
    finally:
        await store.close()
    return SoakResult(rows, ledger.errors, problems, len(ledger.acked))


def main(argv: list[str] | None = None) -> int:
    """Run a soak from the command line and print its table and verdict."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--cold", type=int, default=20000, help="cold handles seeded")
    parser.add_argument("--database-url", default="", help="default: SQLite in the data dir")
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--max-rss-growth", type=float, default=10.0, help="percent")
    parser.add_argument("--max-p99-ratio", type=float, default=3.0)
    args = parser.parse_args(argv)
    env = {"IDNODE_DATABASE_URL": args.database_url, "IDNODE_REDIS_URL": args.redis_url}
    with tempfile.TemporaryDirectory(prefix="idnode-soak-") as folder:
        print(SoakResult([], [], [], 0).table(), flush=True)
        result = asyncio.run(soak(Path(folder) / "node", args.minutes,
                                  env={k: v for k, v in env.items() if v}, cold=args.cold,
                                  echo=lambda line: print(line, flush=True)))
    flat, verdict = result.flat(args.max_rss_growth, args.max_p99_ratio)
    print(f"{'FLAT' if flat else 'NOT FLAT'}: {verdict}")
    print(f"writes acknowledged {result.writes_acked}, errors {len(result.errors)}, "
          f"lost or half-written {len(result.problems)}")
    for line in (result.errors[:10] + result.problems[:10]):
        print(f"  {line}")
    return 1 if result.errors or result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
