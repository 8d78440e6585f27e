"""The registry at scale: load handles into partitioned PostgreSQL, measure at checkpoints.

``python -m benchmarks.scale --database-url postgresql://postgres@127.0.0.1/idnode_scale
--target 100000000 --checkpoints 1000000,10000000,100000000``

1. The database is created if missing and set up by ``idnode init`` in
   ``--work-dir`` (``pg_partitions`` = ``--partitions``), records under the node
   prefix ``88.118``.
2. Handles are loaded in batches of ``--batch`` with ``COPY``
   (:mod:`registry.pgcopy`): each batch is one transaction that also moves the
   progress row (table ``scale_progress``), so a run stopped anywhere (Ctrl-C,
   a crash, a reboot) goes on from the last committed batch when started again
   with the same arguments.  Handle ``n`` is ``88.118/S<hex>`` with the hex of a
   fixed permutation of ``n`` (keys arrive in random order, as from many
   enterprises), two values: a URL and the HS_ADMIN a hosted handle gets.
   These rows skip the import checks of :meth:`HandleStore.bulk_put` (what is
   measured here is the store, not the importer).
3. At each checkpoint (once; a resumed run skips measured ones): the load time
   so far, the table and index bytes of ``handles`` and ``handle_values``
   (summed over the partitions), then ``idnode serve`` on the database and the
   UDP driver (:mod:`benchmarks.driver`): after a warm-up with 500 other
   handles (the server's database connections open), *cold* asks
   ``--cold-requests`` distinct random handles once each (none was asked since
   the server started: none is in its cache), *hot* asks 1,000 of them over and
   over for ``--duration`` s.
4. The figures go to ``scale.json`` and ``scale.md`` in the work dir, and the
   growth curve to ``scale.png`` (matplotlib, from the ``bench`` extra).

Before loading towards a checkpoint the bytes per handle measured so far give
the size it would reach; past ``--max-gb`` the run stops and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from benchmarks.driver import DriverOptions, DriverResult, drive
from benchmarks.processes import BenchError, free_ports, idnode_argv, run_idnode, start_server
from benchmarks.workload import KeyFile, WorkloadSpec
from registry import pgcopy
from registry.admins import admin_value
from registry.db import open_engine
from registry.models import Handle, HandleValueRow, table_of
from registry.names import prefix_handle
from registry.partitions import DEFAULT_PG_PARTITIONS, table_sizes

RESULTS = Path(__file__).with_name("results") / "scale"
NODE_PREFIX = "88.118"
HOT_SET = 1000
WARM_UP = 500
BENCH_ENV = {"IDNODE_LOG_LEVEL": "WARNING", "IDNODE_RATE_LIMIT": "0",
             "IDNODE_MAX_CONNECTIONS_PER_CLIENT": "0"}
_MULTIPLIER = 0x9E3779B97F4A7C15  # odd: n -> n * M mod 2**48 is a permutation
_SPACE = 1 << 48
_HEAD_COLUMNS = ("id", "name", "name_key", "prefix", "enterprise", "version", "created",
                 "updated")
_VALUE_COLUMNS = ("handle_id", "name_key", "idx", "type", "data", "ttl_type", "ttl",
                  "timestamp", "admin_read", "admin_write", "public_read", "public_write",
                  "references")
_PROGRESS = """CREATE TABLE IF NOT EXISTS scale_progress (
    id INTEGER PRIMARY KEY CHECK (id = 1), loaded BIGINT NOT NULL, seconds DOUBLE PRECISION
    NOT NULL)"""
Progress = Callable[[str], None]


def handle_name(n: int) -> str:
    """The name of the ``n``-th loaded handle (upper case: name and key are equal)."""
    return f"{NODE_PREFIX}/S{(n * _MULTIPLIER) % _SPACE:012X}"


@dataclass(frozen=True, slots=True)
class ScaleOptions:
    """What to load and measure; see the module docstring."""

    database_url: str
    target: int
    checkpoints: tuple[int, ...]
    work_dir: Path = RESULTS
    batch: int = 50_000
    partitions: int = DEFAULT_PG_PARTITIONS
    duration: float = 10.0
    cold_requests: int = 20_000
    workers: int = 1
    max_gb: float = 50.0
    measure: bool = True
    stop_after_batches: int = 0  # > 0: stop (as if interrupted) after that many batches

    def __post_init__(self) -> None:
        if self.target < 1 or self.batch < 1:
            raise ValueError("--target and --batch must be at least 1")
        if any(c < 1 or c > self.target for c in self.checkpoints):
            raise ValueError(f"--checkpoints must be 1 to --target ({self.target}): "
                             f"{','.join(map(str, self.checkpoints))}")


@dataclass(slots=True)
class Checkpoint:
    """The figures at one number of loaded handles."""

    rows: int
    load_seconds: float
    handles_bytes: int
    handles_index_bytes: int
    values_bytes: int
    values_index_bytes: int
    cold: dict[str, Any] = field(default_factory=dict)
    hot: dict[str, Any] = field(default_factory=dict)
    measured_at: str = ""

    @property
    def total_bytes(self) -> int:
        """Tables and indexes together."""
        return (self.handles_bytes + self.handles_index_bytes + self.values_bytes
                + self.values_index_bytes)


@dataclass(slots=True)
class Report:
    """Every checkpoint measured so far (kept in ``scale.json``)."""

    options: dict[str, Any]
    checkpoints: list[Checkpoint]

    @classmethod
    def load(cls, path: Path, options: dict[str, Any]) -> Report:
        """The report at ``path`` or an empty one."""
        if not path.exists():
            return cls(options, [])
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(options, [Checkpoint(**c) for c in data["checkpoints"]])

    def done(self, rows: int) -> bool:
        """Whether the checkpoint at ``rows`` is measured."""
        return any(c.rows == rows for c in self.checkpoints)

    def save(self, work_dir: Path) -> None:
        """Write scale.json, scale.md and (with matplotlib) scale.png."""
        self.checkpoints.sort(key=lambda c: c.rows)
        data = {"options": self.options, "checkpoints": [asdict(c) for c in self.checkpoints]}
        tmp = work_dir / "scale.json.tmp"
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        tmp.replace(work_dir / "scale.json")
        (work_dir / "scale.md").write_text(markdown(self.checkpoints), encoding="utf-8")
        plot(self.checkpoints, work_dir / "scale.png")


def _mib(n: int) -> str:
    return f"{n / (1 << 20):,.0f}"


def markdown(checkpoints: Sequence[Checkpoint]) -> str:
    """The scale table."""
    lines = [
        "| handles | load s | handles MiB (table+index) | values MiB (table+index) | "
        "bytes/handle | cold /s | cold p99 ms | hot /s | hot p99 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in checkpoints:
        cold, hot = c.cold or {}, c.hot or {}
        lines.append(
            f"| {c.rows:,} | {c.load_seconds:,.0f} | {_mib(c.handles_bytes)}+"
            f"{_mib(c.handles_index_bytes)} | {_mib(c.values_bytes)}+"
            f"{_mib(c.values_index_bytes)} | {c.total_bytes / c.rows:,.0f} | "
            f"{cold.get('achieved_rps', 0):,.0f} | {cold.get('p99', 0):.1f} | "
            f"{hot.get('achieved_rps', 0):,.0f} | {hot.get('p99', 0):.1f} |")
    return "\n".join(lines) + "\n"


def plot(checkpoints: Sequence[Checkpoint], path: Path) -> None:
    """Size, load time and resolution rates against handles loaded (skipped without
    matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    rows = [c.rows for c in checkpoints]
    fig, (size_ax, rate_ax) = plt.subplots(1, 2, figsize=(11, 4))
    size_ax.plot(rows, [c.total_bytes / (1 << 30) for c in checkpoints], "o-",
                 label="tables+indexes GiB")
    size_ax.plot(rows, [c.load_seconds / 60 for c in checkpoints], "s--", label="load minutes")
    rate_ax.plot(rows, [c.cold.get("achieved_rps", 0) for c in checkpoints], "o-", label="cold /s")
    rate_ax.plot(rows, [c.hot.get("achieved_rps", 0) for c in checkpoints], "s-", label="hot /s")
    for ax in (size_ax, rate_ax):
        ax.set_xscale("log")
        ax.set_xlabel("handles")
        ax.grid(True, alpha=0.3)
        ax.legend()
    size_ax.set_title("size and load time")
    rate_ax.set_title("UDP resolutions per second")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


class Loader:
    """Batches of generated handles COPYed into the registry, with the progress row."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.heads = table_of(Handle)
        self.values = table_of(HandleValueRow)
        admin = admin_value(100, prefix_handle(NODE_PREFIX), 300)
        self.admin = (admin.data, admin.type)

    async def progress(self) -> tuple[int, float]:
        """(handles loaded, seconds spent loading them)."""
        async with self.engine.begin() as conn:
            await conn.execute(text(_PROGRESS))
            await conn.execute(text("INSERT INTO scale_progress VALUES (1, 0, 0) "
                                    "ON CONFLICT (id) DO NOTHING"))
            row = (await conn.execute(text("SELECT loaded, seconds FROM scale_progress"))).one()
        return int(row[0]), float(row[1])

    async def load(self, start: int, count: int) -> None:
        """Handles ``start`` .. ``start + count - 1``, one transaction with the progress."""
        began = time.monotonic()
        now = datetime.now(UTC)
        stamp = int(now.timestamp())
        names = sorted(handle_name(n) for n in range(start, start + count))
        async with self.engine.begin() as conn:
            ids = await pgcopy.next_ids(conn, self.heads, count)
            heads = [(hid, name, name, NODE_PREFIX, None, 1, now, now)
                     for hid, name in zip(ids, names, strict=True)]
            values: list[tuple[Any, ...]] = []
            for hid, name in zip(ids, names, strict=True):
                url = f"https://id.example.cn/p/{name[8:]}".encode()
                values.append((hid, name, 1, "URL", url, 0, 86400, stamp, True, True, True,
                               False, "[]"))
                values.append((hid, name, 100, self.admin[1], self.admin[0], 0, 86400, stamp,
                               True, True, True, False, "[]"))
            await pgcopy.copy_records(conn, self.heads, _HEAD_COLUMNS, heads)
            await pgcopy.copy_records(conn, self.values, _VALUE_COLUMNS, values)
            await conn.execute(
                text("UPDATE scale_progress SET loaded = loaded + :n, seconds = seconds + :s"),
                {"n": count, "s": time.monotonic() - began})

    async def sizes(self) -> tuple[int, int, int, int]:
        """Table and index bytes of handles and handle_values (after ANALYZE)."""
        async with self.engine.connect() as conn:
            await _analyze(conn)
            handles = await table_sizes(conn, "handles")
            values = await table_sizes(conn, "handle_values")
        return handles[0], handles[1], values[0], values[1]


async def _analyze(conn: AsyncConnection) -> None:
    await conn.execute(text("ANALYZE handles"))
    await conn.execute(text("ANALYZE handle_values"))
    await conn.commit()


def ensure_database(url: str) -> None:
    """Create the database of ``url`` on its server if it does not exist."""
    import psycopg

    parts = urlsplit(url.replace("+asyncpg", ""))
    name = parts.path.lstrip("/")
    if not name or not name.replace("_", "").isalnum():
        raise BenchError(f"--database-url {url}: give a database name of letters, digits, _")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        conn.execute(f'CREATE DATABASE "{name}"')


class ScaleRun:
    """One (possibly resumed) run of the benchmark."""

    def __init__(self, opts: ScaleOptions, progress: Progress = print) -> None:
        self.opts = opts
        self.say = progress
        self.work = opts.work_dir
        self.data_dir = self.work / "node"
        options = asdict(opts) | {"work_dir": str(opts.work_dir)}
        for transient in ("stop_after_batches", "measure"):
            options.pop(transient)
        self.report = Report.load(self.work / "scale.json", options)
        self.ports_file = self.work / "ports.json"

    def _ports(self) -> tuple[int, int]:
        if self.ports_file.exists():
            handle, http = json.loads(self.ports_file.read_text(encoding="utf-8"))
            return int(handle), int(http)
        handle, http = free_ports(2)
        self.ports_file.write_text(json.dumps([handle, http]), encoding="utf-8")
        return handle, http

    def init_node(self) -> None:
        """``idnode init`` once (the database gets its partitioned tables)."""
        if (self.data_dir / "idnode.toml").exists():
            return
        handle, http = self._ports()
        run_idnode(self.data_dir, "init", "--prefix", NODE_PREFIX, "--handle-port", str(handle),
                   "--http-port", str(http),
                   env={"IDNODE_DATABASE_URL": self.opts.database_url,
                        "IDNODE_PG_PARTITIONS": str(self.opts.partitions)})

    async def run(self) -> Report:
        """Load to the target, measuring each checkpoint not yet measured."""
        self.work.mkdir(parents=True, exist_ok=True)
        ensure_database(self.opts.database_url)
        self.init_node()
        engine = await open_engine(self.opts.database_url)
        try:
            loader = Loader(engine)
            loaded, _seconds = await loader.progress()
            batches = 0
            for checkpoint in sorted(set(self.opts.checkpoints) | {self.opts.target}):
                if loaded < checkpoint:
                    self._check_room(checkpoint)
                while loaded < checkpoint:
                    if self.opts.stop_after_batches and batches >= self.opts.stop_after_batches:
                        self.say(f"stopped after {batches} batches at {loaded:,} handles "
                                 "(run again to resume)")
                        return self.report
                    count = min(self.opts.batch, checkpoint - loaded)
                    await loader.load(loaded, count)
                    loaded, seconds = await loader.progress()
                    batches += 1
                    self.say(f"loaded {loaded:,} / {self.opts.target:,} handles "
                             f"({loaded / max(seconds, 1e-9):,.0f}/s over {seconds:,.0f} s)")
                if checkpoint in self.opts.checkpoints and not self.report.done(checkpoint):
                    await self._measure(loader, checkpoint)
        finally:
            await engine.dispose()
        return self.report

    def _check_room(self, checkpoint: int) -> None:
        """BenchError when the size at ``checkpoint`` would pass ``--max-gb``."""
        measured = [c for c in self.report.checkpoints if c.rows]
        if not measured:
            return
        per_handle = measured[-1].total_bytes / measured[-1].rows
        projected = per_handle * checkpoint / (1 << 30)
        if projected > self.opts.max_gb:
            raise BenchError(
                f"{checkpoint:,} handles would take about {projected:,.0f} GiB "
                f"({per_handle:,.0f} bytes per handle) > --max-gb {self.opts.max_gb}: stopped")

    async def _measure(self, loader: Loader, rows: int) -> None:
        _loaded, seconds = await loader.progress()
        sizes = await loader.sizes()
        point = Checkpoint(rows, seconds, *sizes,
                           measured_at=datetime.now(UTC).isoformat(timespec="seconds"))
        if self.opts.measure:
            self.say(f"checkpoint {rows:,}: measuring resolution")
            # the driver runs its own event loop: in a thread of its own
            point.cold, point.hot = await asyncio.to_thread(self._resolution, rows)
        self.report.checkpoints = [c for c in self.report.checkpoints if c.rows != rows]
        self.report.checkpoints.append(point)
        self.report.save(self.work)
        self.say(markdown([point]).splitlines()[-1])

    def _resolution(self, rows: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """Cold and hot UDP figures against a freshly started ``idnode serve``."""
        rng = random.Random(rows)
        picked = rng.sample(range(rows), min(rows, self.opts.cold_requests + WARM_UP))
        warm, sample = picked[:WARM_UP], picked[WARM_UP:] or picked
        keys, warm_keys = self.work / f"keys-{rows}.json", self.work / f"warm-{rows}.json"
        KeyFile(tuple(handle_name(n) for n in sample), miss_prefix=NODE_PREFIX).save(keys)
        KeyFile(tuple(handle_name(n) for n in warm), miss_prefix=NODE_PREFIX).save(warm_keys)
        handle, http = self._ports()
        args = ["serve", "--handle-port", str(handle), "--http-port", str(http), "--workers",
                str(self.opts.workers), "--database-url", self.opts.database_url,
                "--dns-port", "0"]
        server = start_server("idnode serve", idnode_argv(self.data_dir, *args),
                              self.work / f"serve-{rows}.log", BENCH_ENV)
        try:  # the warm-up opens the server's connections with other handles than cold's
            drive(DriverOptions("udp", handle, duration=30, max_requests=len(warm), warmup=0),
                  WorkloadSpec(keys=str(warm_keys), order="walk"))
            cold = drive(DriverOptions("udp", handle, duration=max(self.opts.duration, 60),
                                       max_requests=len(sample), warmup=0),
                         WorkloadSpec(keys=str(keys), order="walk"))
            hot = drive(DriverOptions("udp", handle, duration=self.opts.duration),
                        WorkloadSpec(keys=str(keys), zipf_s=0, hot_set=min(HOT_SET, len(sample))))
        finally:
            server.stop()
        return _figures(cold), _figures(hot)


def _figures(result: DriverResult) -> dict[str, Any]:
    keep = ("seconds", "completed", "errors", "achieved_rps", "p50", "p99", "first_error")
    return {name: getattr(result, name) for name in keep}


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--target", type=int, required=True)
    parser.add_argument("--checkpoints", default="",
                        help="comma-separated handle counts (default: the target)")
    parser.add_argument("--work-dir", type=Path, default=RESULTS)
    defaults = ScaleOptions("x", 1, ())
    for name in ("batch", "partitions", "duration", "cold_requests", "workers", "max_gb",
                 "stop_after_batches"):
        default = getattr(defaults, name)
        parser.add_argument("--" + name.replace("_", "-"), type=type(default), default=default)
    parser.add_argument("--no-resolution", action="store_true",
                        help="only load and measure sizes")
    args = parser.parse_args(argv)
    checkpoints = tuple(int(c) for c in args.checkpoints.split(",") if c.strip())
    opts = ScaleOptions(
        args.database_url, args.target, checkpoints or (args.target,), args.work_dir,
        args.batch, args.partitions, args.duration, args.cold_requests, args.workers,
        args.max_gb, not args.no_resolution, args.stop_after_batches)
    try:
        report = asyncio.run(ScaleRun(opts).run())
    except BenchError as exc:
        raise SystemExit(f"benchmarks.scale: {exc}") from None
    print(markdown(report.checkpoints), end="")


if __name__ == "__main__":
    main()
