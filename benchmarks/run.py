"""``python -m benchmarks.run``: latency and throughput of a node against bare baselines.

What ``make bench`` runs (``make bench-quick`` adds ``--quick``):

1. Scratch nodes: a data dir per store (SQLite; PostgreSQL in a scratch
   database dropped afterwards) with ``--products`` demo products
   (:mod:`benchmarks.loader`), plus, for the recursive profile, an
   enterprise node holding a delegated prefix and a root node.
2. For each setup (:mod:`benchmarks.plan`): ``idnode serve`` on fixed free
   loopback ports with the setup's workers, store and Redis (a private key
   prefix, deleted afterwards); the hot set is warmed; then Locust
   (:mod:`benchmarks.locust_runner`) at fixed offered rates for latency, and
   the high-rate driver (:mod:`benchmarks.driver`) for maximum throughput.
3. The baselines (:mod:`benchmarks.baselines`: bare aiohttp with a body the
   size of a typical resolution, bare asyncio UDP/TCP replies with a
   captured response) measured with the same tools and settings.
4. With ``--peer HOST:PORT,HTTP_URL`` (another Handle server, e.g. CNRI's,
   :mod:`benchmarks.peer`), the hot profile's driver runs against it too,
   asking for ``--peer-handles`` (by default found on the peer as
   :mod:`benchmarks.node_keys` does, under ``--peer-prefixes``).
5. The write profile adds creates over the Handle protocol and REST, the import
   profile ``idnode import`` rates (:mod:`benchmarks.writes`).  With a peer and
   its writer (``--peer-admin``, ``--peer-secret-env``, ``--peer-create-prefix``)
   the same number of creates runs on the peer right after the node's, for each
   protocol; each target first makes ``--create-warmup`` creates that are not
   measured (a JVM peer compiles its create path as it runs).  With
   ``--peer-cold HOST:PORT`` (:mod:`benchmarks.peer_cold`) the cold
   profile restarts that server (``--peer-cold-restart``) after the node's cold runs of
   each setup and walks ``--peer-cold-handles`` with the node's cold Handle UDP settings
   and budget.
6. The table on stdout (every figure with its ratio to the baseline), the
   goals of issue 17 with a verdict and the previous run's values
   (:mod:`benchmarks.goals`), and under ``benchmarks/results/<timestamp>/``:
   ``measurements.csv``, ``goals.json``, ``latency_vs_load.png``,
   ``throughput.png``, ``table.txt``, Locust's CSV files and every server's log.

Progress lines go to stdout while it runs.  What could not be measured
(e.g. recursion when the node does not resolve recursively) is listed under
the table with the reason, never replaced by a made-up figure.  Figures from
this 2-core machine are shared with everything else running on it: the
load average at the start and the end is printed with the table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks import cpu, goals, writes
from benchmarks.driver import DriverOptions, DriverResult, drive
from benchmarks.hdl_wire import response_code, tcp_resolve_frame, udp_pieces
from benchmarks.loader import init_node
from benchmarks.locust_runner import LocustRun, run_locust, users_for
from benchmarks.measure import Measurement
from benchmarks.node_keys import NoIdentifiers, node_keys
from benchmarks.peer import Peer, add_options, peer_from_args
from benchmarks.peer_cold import ColdPeer, cold_peer_from_args, listening_pid, restart
from benchmarks.peer_cold import add_options as add_cold_options
from benchmarks.plan import DEFAULT, PROFILE_NAMES, PROFILES, QUICK, STORES, Plan, Setup
from benchmarks.processes import (
    BenchError,
    RedisSlot,
    Server,
    free_ports,
    idnode_argv,
    redis_slot,
    run_idnode,
    scratch_postgres,
    start_server,
)
from benchmarks.report import plot, table, write_csv
from benchmarks.workload import KeyFile, WorkloadSpec
from protocol.constants import RC_SUCCESS, response_code_name

RESULTS = Path(__file__).with_name("results")
#: every benchmarked server: all load comes from 127.0.0.1, so per-client limits (on
#: by default: a rate, and 32 open connections, which Locust's 40 users at 400 req/s
#: pass) would measure the limiter, not the node
#: (and REST credentials over its loopback HTTP, for the REST creates of the write profile)
BENCH_ENV = {"IDNODE_LOG_LEVEL": "WARNING", "IDNODE_RATE_LIMIT": "0",
             "IDNODE_MAX_CONNECTIONS_PER_CLIENT": "0", "IDNODE_HTTP_INSECURE_AUTH": "true"}
NODE_PREFIX = "88.118"
ENTERPRISE_PREFIX = "88.118.99"
ROOT_PREFIX = "88"
#: the demo enterprise whose secret key the write profile creates handles with
WRITER = "HAIYUE"
LOCUST_CLASSES = {"HTTP": "HttpResolver", "HDL-UDP": "HdlUdpResolver",
                  "HDL-TCP": "HdlTcpResolver", "HDL-WRITE": "Writer"}
DRIVER_PROTOCOLS = {"HDL-UDP": "udp", "HTTP": "http"}
SAMPLE_HANDLES = 200
UNBOUNDED = 10_000_000


@dataclass
class StoreData:
    """A loaded node data dir and where its registry lives."""

    data_dir: Path
    database_url: str
    keys: Path
    hosted: int
    writer: writes.Credentials


@dataclass
class Target:
    """Where a running server listens."""

    http_port: int
    hdl_port: int
    processes: int
    #: the server's process id (its CPU, and its workers', is read around driver runs)
    pid: int = 0
    #: the PostgreSQL database it serves from (its backends' CPU is read too)
    database: str = ""
    host: str = "127.0.0.1"

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU seconds so far of the server's processes and of its database backends."""
        if not self.pid or not cpu.available():
            return math.nan, math.nan
        db = cpu.backend_seconds(self.database) if self.database else math.nan
        return cpu.tree_seconds(self.pid), db


class Bench:
    """One benchmark run; :meth:`run` does everything and prints the table."""

    def __init__(self, plan: Plan, out: Path, scratch: Path, pg_url: str, redis_url: str,
                 peer: Peer | None = None, cold_peer: ColdPeer | None = None) -> None:
        self.plan, self.out, self.scratch = plan, out, scratch
        self.peer, self.cold_peer = peer, cold_peer
        self.cold_peer_cursor = 0
        self.pg_url, self.redis_url = pg_url, redis_url
        self.logs = out / "logs"
        self.locust_dir = out / "locust"
        for folder in (self.logs, self.locust_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.measurements: list[Measurement] = []
        self.skipped: list[str] = []
        self.started = time.monotonic()
        self.load_start = os.getloadavg()
        (self.node_http, self.node_hdl, self.ent_http, self.ent_hdl, self.root_http,
         self.root_hdl) = free_ports(6)
        self.baselines: dict[int, Target] = {}
        self.baselined: set[tuple[str, str, float]] = set()
        self.stack = contextlib.ExitStack()
        self.sample_file = scratch / "sample.hex"
        self.body_size = 0
        self.cursor = 0
        self.run_number = 0

    # --- progress -----------------------------------------------------------------

    def log(self, message: str) -> None:
        """One progress line."""
        print(f"[{time.monotonic() - self.started:6.1f}s] {message}", flush=True)

    def skip(self, what: str, why: str) -> None:
        """Record (and say) that something was not measured."""
        self.skipped.append(f"{what}: {why}")
        self.log(f"NOT MEASURED {what}: {why}")

    # --- data -----------------------------------------------------------------------

    def prepare(self, store: str, database_url: str, enterprise: list[str]) -> StoreData:
        """Initialise and load a node on ``store``; delegate the enterprise prefix."""
        data_dir = self.scratch / f"node-{store}"
        self.log(f"loading {self.plan.products} products into {store}")
        names = init_node(data_dir, database_url=database_url, handle_port=self.node_hdl,
                          http_port=self.node_http, products=self.plan.products,
                          progress=self.log)
        if enterprise:
            run_idnode(data_dir, "prefix", "delegate", ENTERPRISE_PREFIX, "--server",
                       f"127.0.0.1:{self.ent_hdl}",
                       env={"IDNODE_DATABASE_URL": database_url})
        random.Random(7).shuffle(names)
        keys = self.scratch / f"keys-{store}.json"
        KeyFile(tuple(names), tuple(enterprise), f"{NODE_PREFIX}.8").save(keys)
        writer = writes.Credentials.of_enterprise(data_dir, WRITER, f"{NODE_PREFIX}.8",
                                                  {"IDNODE_DATABASE_URL": database_url})
        return StoreData(data_dir, database_url, keys, len(names), writer)

    def prepare_enterprise(self) -> list[str]:
        """The enterprise node's data (its own prefix, delegated by the node)."""
        data_dir = self.scratch / "enterprise"
        products = min(self.plan.products, self.plan.enterprise_products)
        self.log(f"loading {products} products into the enterprise node ({ENTERPRISE_PREFIX})")
        prefixes = dict.fromkeys(("appliance", "machinery", "rubber"), ENTERPRISE_PREFIX)
        names = init_node(data_dir, database_url=_sqlite_url(data_dir), demo=False,
                          handle_port=self.ent_hdl, http_port=self.ent_http,
                          products=products, progress=self.log, node_prefix=ENTERPRISE_PREFIX,
                          prefixes=prefixes)
        root = self.scratch / "root"
        run_idnode(root, "init", "--prefix", ROOT_PREFIX, "--handle-port", str(self.root_hdl),
                   "--http-port", str(self.root_http))
        run_idnode(root, "prefix", "delegate", NODE_PREFIX, "--server",
                   f"127.0.0.1:{self.node_hdl}")
        return names

    # --- servers --------------------------------------------------------------------

    def start_node(self, data: StoreData, setup: Setup, redis: RedisSlot | None,
                   root: bool = False) -> Server:
        """``idnode serve`` for ``setup`` on the node ports."""
        args = ["serve", "--handle-port", str(self.node_hdl), "--http-port", str(self.node_http),
                "--workers", str(setup.workers), "--database-url", data.database_url,
                "--dns-port", "0"]
        env = dict(BENCH_ENV)
        if self.plan.udp_amplification is not None:
            env["IDNODE_UDP_AMPLIFICATION_FACTOR"] = str(self.plan.udp_amplification)
        if redis is not None:
            args += ["--redis-url", redis.url]
            env.update(redis.env)
        if root:
            args += ["--root-address", f"127.0.0.1:{self.root_hdl}"]
        self.run_number += 1
        log = self.logs / f"node-{self.run_number:02d}-{setup.name.replace('/', '_')}.log"
        self.log(f"starting node {setup.name}")
        server = start_server(f"node {setup.name}", idnode_argv(data.data_dir, *args), log, env)
        self.cursor = self.plan.hot_set
        return server

    def start_other(self, name: str, data_dir: Path, *args: str) -> Server:
        """The enterprise or the root node."""
        return start_server(name, idnode_argv(data_dir, "serve", "--dns-port", "0", *args),
                            self.logs / f"{name}.log", BENCH_ENV)

    def baseline(self, processes: int) -> Target:
        """The bare servers with ``processes`` processes (started on first use, with
        the sample captured from the node; they stay up, idle, until the end)."""
        if processes not in self.baselines:
            http_port, hdl_port = free_ports(2)
            argv = [sys.executable, "-m", "benchmarks.baselines", "--http-port",
                    str(http_port), "--udp-port", str(hdl_port), "--body-size",
                    str(self.body_size), "--sample", str(self.sample_file),
                    "--processes", str(processes)]
            self.log(f"starting baseline servers ({processes} process(es))")
            server = start_server(f"baseline x{processes}", argv,
                                  self.logs / f"baseline-{processes}.log")
            self.stack.callback(server.stop)
            self.baselines[processes] = Target(http_port, hdl_port, processes,
                                               server.process.pid)
        return self.baselines[processes]

    def paired_baseline(self, tool: str, protocol: str, rate: float, processes: int,
                        keys: Path) -> None:
        """The baseline run matching a node run, right after it (same machine load),
        unless it was made already."""
        key = (tool, protocol, rate if tool == "locust" else float(processes))
        if key in self.baselined or not self.body_size:
            return
        self.baselined.add(key)
        spec = PROFILES["hot"].spec(str(keys), self.plan.hot_set)
        if tool == "locust":
            self.locust(("baseline", "bare/1p", "canned"), protocol, rate, spec,
                        self.baseline(1))
        else:
            self.driver(("baseline", f"bare/{processes}p", "canned"), protocol, spec,
                        self.baseline(processes))

    # --- measurements ---------------------------------------------------------------

    def locust(self, label: tuple[str, str, str], protocol: str, rate: float,
               spec: WorkloadSpec, target: Target, admin_key: str = "") -> None:
        """One Locust run at ``rate`` req/s; adds a measurement."""
        who, setup, profile = label
        name = f"{who}-{setup}-{profile}-{protocol}-{rate:.0f}".replace("/", "_")
        run = LocustRun(LOCUST_CLASSES[protocol], rate, self.plan.locust_seconds,
                        self.plan.warmup, f"http://127.0.0.1:{target.http_port}",
                        target.hdl_port, admin_key)
        self.log(f"locust {who} {setup} {profile} {protocol} at {rate:.0f} req/s")
        try:
            by_type, seconds = run_locust(run, spec, self.locust_dir / name)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            self.skip(f"locust {who} {setup} {profile} {protocol} {rate:.0f}/s", str(exc))
            return
        got = by_type.get(protocol)
        if got is None:
            self.skip(f"locust {who} {setup} {profile} {protocol}", "no requests were made")
            return
        m = Measurement.from_samples(got.latencies, seconds=seconds, errors=got.errors,
                                     answer_bytes=got.answer_bytes, target=who, setup=setup,
                                     profile=profile,
                                     protocol=protocol, tool="locust", offered_rps=rate,
                                     processes=target.processes,
                                     note=fallback_note(got.tcp_fallbacks,
                                                        len(got.latencies) + got.errors))
        self.add(m)

    def driver(self, label: tuple[str, str, str], protocol: str, spec: WorkloadSpec,
               target: Target, max_requests: int = UNBOUNDED, rate: float = 0.0
               ) -> DriverResult:
        """One driver run at full speed, or paced at ``rate`` requests/s; adds a
        measurement."""
        who, setup, profile = label
        pace = f"at {rate:.0f} req/s (half of max)" if rate else "(max throughput)"
        self.log(f"driver {who} {setup} {profile} {protocol} {pace}")
        opts = replace(self.driver_options(protocol, target, max_requests), rate=rate)
        before = target.cpu_seconds()
        result = drive(opts, spec)
        after = target.cpu_seconds()
        cpu_us, db_cpu_us = cpu_spent(before, after, result.issued)
        notes = [fallback_note(result.tcp_fallbacks, result.completed + result.errors)]
        if result.late:
            notes.append(f"{result.late} request(s) left > 1 ms late: the node fell behind")
        if result.first_error:
            notes.append(f"first error: {result.first_error}")
        if result.wrapped:
            notes.append("ran out of fresh handles")
        if max_requests < UNBOUNDED and result.completed + result.errors >= max_requests * 0.9:
            notes.append(f"stopped at {max_requests} fresh handles")
        m = Measurement(target=who, setup=setup, profile=profile, protocol=protocol,
                        tool="driver", offered_rps=rate or None,
                        achieved_rps=result.achieved_rps,
                        requests=result.completed + result.errors, errors=result.errors,
                        p50=result.p50, p95=result.p95, p99=result.p99, p999=result.p999,
                        processes=target.processes, mean_bytes=result.mean_bytes,
                        note="; ".join(n for n in notes if n), cpu_us=cpu_us,
                        db_cpu_us=db_cpu_us)
        self.add(m)
        return result

    def driver_options(self, protocol: str, target: Target, max_requests: int
                       ) -> DriverOptions:
        """Driver settings for a run against ``target``."""
        port = target.http_port if protocol == "HTTP" else target.hdl_port
        bounded = max_requests < UNBOUNDED
        return DriverOptions(DRIVER_PROTOCOLS[protocol], port, host=target.host,
                             concurrency=self.plan.concurrency,
                             duration=self.plan.driver_seconds,
                             warmup=0.0 if bounded else min(1.0, self.plan.driver_seconds / 4),
                             max_requests=max_requests, sockets=8 * target.processes,
                             processes=self.plan.driver_processes)

    def add(self, m: Measurement) -> None:
        """Keep a measurement and show it."""
        self.measurements.append(m)
        cpu_text = "" if math.isnan(m.cpu_us) else f", server CPU {m.cpu_us:.0f} us/answer" + (
            "" if math.isnan(m.db_cpu_us) else f" + database {m.db_cpu_us:.0f} us")
        self.log(f"  -> {m.achieved_rps:.0f} req/s, p50 {m.p50:.2f} ms, p99 {m.p99:.2f} ms"
                 f"{cpu_text}, errors {m.errors}/{m.requests}{'  ' + m.note if m.note else ''}")

    def warm(self, data: StoreData, target: Target) -> None:
        """Ask for every hot handle over UDP a few times (each worker caches its own)."""
        spec = WorkloadSpec(keys=str(data.keys), order="walk")
        opts = replace(self.driver_options("HDL-UDP", target, self.plan.hot_set),
                       warmup=0.0, duration=30.0, processes=1)
        for _ in range(target.processes + 1):
            drive(opts, spec)

    def cold_spec(self, data: StoreData, budget: int) -> WorkloadSpec:
        """A walk over ``budget`` handles no one asked this node process for."""
        spec = PROFILES["cold"].spec(str(data.keys), self.plan.hot_set, self.cursor)
        self.cursor += budget
        return spec

    # --- phases ---------------------------------------------------------------------

    def measure_setup(self, data: StoreData, setup: Setup, primary: bool) -> None:
        """Every run for one node setup."""
        plan = self.plan
        profiles = [p for p in plan.profiles if p not in ("recursive", "import")]
        if not primary:
            profiles = [p for p in profiles if p in ("hot", "cold")]
        slot = redis_slot(self.redis_url, NODE_PREFIX) if setup.redis else None
        node = self.start_node(data, setup, slot)
        target = Target(self.node_http, self.node_hdl, setup.workers, node.process.pid,
                        _database_of(data.database_url))
        try:
            if primary:
                self.capture_sample(data)
            self.warm(data, target)
            for profile in profiles:
                self.profile_runs(data, setup, profile, primary, target)
            if slot is not None and slot.key_count() == 0:
                self.skip(f"Redis for {setup.name}",
                          "the node wrote no keys to Redis: its figures are without Redis")
        finally:
            node.stop()
            if slot is not None:
                slot.clean()

    def profile_runs(self, data: StoreData, setup: Setup, profile: str, primary: bool,
                     target: Target) -> None:
        """Locust and driver runs of one profile on a running node."""
        plan, label = self.plan, ("node", setup.name, profile)
        keys = str(data.keys)
        if profile == "write":
            admin_key = str(data.data_dir / "keys" / "admin_key.pem")
            self.locust(label, "HDL-WRITE", plan.write_rate, PROFILES["hot"].spec(keys, 1),
                        target, admin_key)
            self.creates(data, setup, target)
            return
        sweep = primary and profile == "hot"
        rates = plan.rates if sweep else (plan.mid_rate,)
        protocols = plan.sweep_protocols + (plan.extra_protocols if sweep else ())
        if not primary and profile != "hot":
            protocols = ()
        for protocol in protocols:
            for rate in rates if protocol in plan.sweep_protocols else (plan.mid_rate,):
                if profile == "cold":
                    users, _ = users_for(rate)
                    spec = self.cold_spec(data, math.ceil(rate * (plan.locust_seconds + 2))
                                          + users)
                else:
                    spec = PROFILES[profile].spec(keys, plan.hot_set)
                self.locust(label, protocol, rate, spec, target)
                self.paired_baseline("locust", protocol, rate, 1, data.keys)
        if profile == "mixed" or (not primary and profile not in ("hot", "cold")):
            return
        half_load = profile in plan.half_load_profiles
        cold_runs = len(DRIVER_PROTOCOLS) + (1 if half_load else 0)
        udp_budget = 0
        for protocol in DRIVER_PROTOCOLS:
            paced = half_load and protocol == "HDL-UDP"
            rate = 0.0
            for _ in range(2 if paced else 1):
                if profile == "cold":
                    budget = max(1, (data.hosted - self.cursor) // cold_runs)
                    cold_runs -= 1
                    if protocol == "HDL-UDP" and not rate:
                        udp_budget = budget
                    result = self.driver(label, protocol, self.cold_spec(data, budget), target,
                                         budget, rate=rate)
                else:
                    result = self.driver(label, protocol,
                                         PROFILES[profile].spec(keys, plan.hot_set), target,
                                         rate=rate)
                rate = result.achieved_rps / 2
            self.paired_baseline("driver", protocol, 0.0, setup.workers, data.keys)
        if profile == "cold" and self.cold_peer is not None:
            self.measure_cold_peer(self.cold_peer, setup, udp_budget)

    def measure_cold_peer(self, peer: ColdPeer, after: Setup, budget: int) -> None:
        """The cold peer's Handle UDP run right after the node's cold runs of ``after``:
        restarted (``--peer-cold-restart``), then asked for up to ``budget`` handles of its
        list no earlier run asked for, each once, with the node's driver settings."""
        path = self.scratch / "keys-cold-peer.json"
        if not path.exists():
            peer.key_file(path)
        hosted = len(KeyFile.load(path).hosted)
        label = ("peer", f"{peer.name} (after {after.name})", "cold")
        self.log(f"restarting the cold peer {peer.name}" if peer.restart
                 else f"cold peer {peer.name} (no --peer-cold-restart: not restarted)")
        try:
            waited = restart(peer)
        except (BenchError, OSError, subprocess.TimeoutExpired) as exc:
            self.skip(f"peer cold {peer.name}", str(exc))
            return
        self.log(f"  the cold peer answered {waited:.1f} s after the restart began; "
                 f"{hosted - self.cold_peer_cursor} of its {hosted} handles not asked yet")
        if self.cold_peer_cursor >= hosted:
            self.skip(f"peer cold {peer.name} after {after.name}",
                      "every handle of --peer-cold-handles was asked already")
            return
        spec = PROFILES["cold"].spec(str(path), self.plan.hot_set, self.cold_peer_cursor)
        budget = min(budget, hosted - self.cold_peer_cursor)
        self.cold_peer_cursor += budget
        target = Target(0, peer.port, 1, listening_pid(peer.host, peer.port), host=peer.host)
        self.driver(label, "HDL-UDP", spec, target, budget)

    def creates(self, data: StoreData, setup: Setup, target: Target) -> None:
        """Creates one at a time over the Handle protocol (a secret-key session) and over
        REST (an authenticated REST session): :mod:`benchmarks.writes`; with a peer that
        has a writer, the same number on the peer right after each (same machine load)."""
        peer = self.peer if self.peer is not None and self.peer.writer is not None else None
        if self.peer is not None and peer is None:
            self.skip("peer creates", "give --peer-admin, --peer-secret-env and "
                      "--peer-create-prefix to create handles on the peer")
        tag = datetime.now().strftime("%Y%m%d%H%M%S")
        for protocol in ("HDL-TCP", "HTTP"):
            self.run_number += 1
            handles = writes.names(data.writer, f"{self.run_number}", self.plan.creates)
            where = ("127.0.0.1", target.hdl_port, f"http://127.0.0.1:{target.http_port}")
            warmup = writes.names(data.writer, f"{self.run_number}w", self.plan.create_warmup)
            if warmup:
                self.log(f"creates node {setup.name} {protocol}: {len(warmup)} to warm up")
                _creates(protocol, *where, data.writer, warmup)
            self.log(f"creates node {setup.name} {protocol}: {len(handles)}, one at a time")
            before = target.cpu_seconds()
            result = _creates(protocol, *where, data.writer, handles)
            after = target.cpu_seconds()
            self.add(create_measurement(result, "node", setup.name, protocol,
                                        target.processes, cpu_spent(before, after,
                                                                    len(handles))))
            if peer is not None:
                self.peer_creates(peer, protocol, f"P{tag}{self.run_number}")

    def peer_creates(self, peer: Peer, protocol: str, tag: str) -> None:
        """As many creates on the peer as on the node, over ``protocol``, named with
        ``tag`` (handles stay on the peer: a tag of this run's time keeps them new)."""
        who = peer.writer
        assert who is not None
        handles = writes.names(who, tag, self.plan.creates)
        warmup = writes.names(who, tag + "w", self.plan.create_warmup)
        where = (f"{peer.host}:{peer.hdl_port}" if protocol == "HDL-TCP" else peer.rest_url)
        run = (protocol, peer.host, peer.hdl_port, peer.rest_url, who)
        try:
            if warmup:
                self.log(f"creates peer {where} {protocol}: {len(warmup)} to warm up")
                _creates(*run, warmup, verify_tls=peer.verify_tls)
            self.log(f"creates peer {where} {protocol}: {len(handles)} under {who.prefix} as "
                     f"{who.index}:{who.handle}, one at a time")
            result = _creates(*run, handles, verify_tls=peer.verify_tls)
        except (BenchError, OSError, TimeoutError, aiohttp.ClientError) as exc:
            self.skip(f"peer creates {protocol} at {where}", f"{type(exc).__name__}: {exc}")
            return
        self.add(create_measurement(result, "peer", where, protocol, 1))

    def measure_imports(self) -> None:
        """``idnode import`` on a fresh SQLite node: demo product records (JSON Lines),
        then a plain CSV (:mod:`benchmarks.writes`)."""
        data_dir = self.scratch / "import-node"
        env = {"IDNODE_DATABASE_URL": _sqlite_url(data_dir)}
        run_idnode(data_dir, "init", "--prefix", NODE_PREFIX, "--demo", "--demo-products", "0",
                   env=env)
        demo, plain = self.scratch / "demo.jsonl", self.scratch / "plain.csv"
        records = writes.demo_jsonl(demo, self.plan.import_products,
                                    f"http://127.0.0.1:{self.node_http}/trace/{{handle}}")
        rows = writes.plain_csv(plain, self.plan.csv_rows, f"{NODE_PREFIX}.8")
        for profile, source, count, unit in (("import-demo", demo, records, "records"),
                                             ("import-csv", plain, rows, "rows")):
            self.log(f"idnode import {count} {unit} ({profile})")
            result = writes.run_import(data_dir, source, env)
            self.add(Measurement(
                target="node", setup="sqlite/cli", profile=profile, protocol="CLI",
                tool="import", offered_rps=None, achieved_rps=result.rate,
                requests=result.rows, errors=result.rejected, p50=math.nan, p95=math.nan,
                p99=math.nan, p999=math.nan, processes=result.processes,
                cpu_us=result.cpu_seconds * 1e6 / result.rows if result.rows else math.nan,
                note=f"{result.rows} {unit} in {result.seconds:.1f} s by "
                     f"{result.processes} process{'es' if result.processes > 1 else ''}, "
                     f"CPU {result.cpu_seconds:.1f} s (all of them)"))

    def measure_recursive(self, data: StoreData) -> None:
        """The recursive profile: node -> delegated enterprise node (root running)."""
        setup = self.plan.primary
        servers: list[Server] = []
        try:
            servers.append(self.start_other("enterprise", self.scratch / "enterprise",
                                            "--handle-port", str(self.ent_hdl),
                                            "--http-port", str(self.ent_http)))
            servers.append(self.start_other("root", self.scratch / "root", "--role", "root",
                                            "--handle-port", str(self.root_hdl),
                                            "--http-port", str(self.root_http)))
            servers.append(self.start_node(data, setup, None, root=True))
            self.log(f"recursive: the node resolves {ENTERPRISE_PREFIX}/* (delegated to the "
                     f"enterprise node :{self.ent_hdl}); the root :{self.root_hdl} holds "
                     f"0.NA/{NODE_PREFIX} and is the node's root_address")
            keys = KeyFile.load(data.keys)
            problem = probe_recursion(self.node_hdl, keys.delegated[0])
            if problem:
                self.skip("recursive profile", problem)
                return
            target = Target(self.node_http, self.node_hdl, setup.workers)
            label = ("node", setup.name, "recursive")
            spec = PROFILES["recursive"].spec(str(data.keys), self.plan.hot_set)
            for protocol in self.plan.sweep_protocols:
                self.locust(label, protocol, self.plan.mid_rate, spec, target)
                self.paired_baseline("locust", protocol, self.plan.mid_rate, 1, data.keys)
            for protocol in DRIVER_PROTOCOLS:
                self.driver(label, protocol, spec, target)
                self.paired_baseline("driver", protocol, 0.0, setup.workers, data.keys)
        finally:
            for server in reversed(servers):
                server.stop()

    def measure_peer(self, peer: Peer) -> None:
        """Hot UDP and REST at full speed against the peer (its handles warmed first)."""
        try:
            keys = node_keys(peer.http_url, peer.handles, peer.prefixes or (NODE_PREFIX,),
                             self.log)
        except NoIdentifiers as exc:
            self.skip("peer", str(exc))
            return
        path = self.scratch / "keys-peer.json"
        keys.save(path)
        http = urllib.parse.urlsplit(peer.http_url)
        target = Target(http.port or 80, peer.hdl_port, 1)
        self.log(f"peer {peer.host}:{peer.hdl_port} {peer.http_url}: {len(keys.hosted)} "
                 "handle(s)")
        spec = PROFILES["hot"].spec(str(path), self.plan.hot_set)
        for protocol in DRIVER_PROTOCOLS:
            if protocol == "HTTP" and http.scheme != "http":
                self.skip("peer hot HTTP", f"the driver speaks plain HTTP, and {peer.http_url} "
                          "is not http://: give http:// in --peer (and https:// in "
                          "--peer-write-url for creates)")
                continue
            opts = replace(self.driver_options(protocol, target, UNBOUNDED),
                           host=http.hostname or peer.host if protocol == "HTTP" else peer.host)
            self.log(f"driver peer hot {protocol} (max throughput)")
            result = drive(opts, spec)
            self.add(Measurement(
                target="peer", setup=f"{peer.host}:{peer.hdl_port}", profile="hot",
                protocol=protocol, tool="driver", offered_rps=None,
                achieved_rps=result.achieved_rps, requests=result.completed + result.errors,
                errors=result.errors, p50=result.p50, p95=result.p95, p99=result.p99,
                p999=result.p999, processes=1, mean_bytes=result.mean_bytes,
                note=f"first error: {result.first_error}" if result.first_error else ""))

    def capture_sample(self, data: StoreData) -> None:
        """The typical response: median HTTP body size over hot handles, and the Handle
        answer for the handle with that size (for the baselines)."""
        hot = KeyFile.load(data.keys).hosted[:SAMPLE_HANDLES]
        sizes = {h: len(http_get(self.node_http, h)) for h in hot}
        median = statistics.median_low(sizes.values())
        handle = next(h for h, size in sizes.items() if size == median)
        frame = tcp_resolve(self.node_hdl, handle)
        self.body_size = median
        self.sample_file.write_text(frame.hex())
        self.log(f"typical resolution: {handle}, {median} B JSON, {len(frame)} B Handle "
                 f"frame ({len(udp_pieces(frame))} UDP datagrams)")

    # --- the whole run ----------------------------------------------------------------

    def run(self) -> int:
        """Everything; prints the table; exit status."""
        plan = self.plan
        self.log(f"benchmark: {plan.products} products, setups "
                 f"{', '.join(s.name for s in plan.setups())}, profiles "
                 f"{', '.join(plan.profiles)}; results in {self.out}")
        with self.stack as stack:
            enterprise = self.prepare_enterprise() if "recursive" in plan.profiles else []
            stores: dict[str, StoreData] = {}
            for setup in plan.setups():
                if setup.store in stores:
                    continue
                url = _sqlite_url(self.scratch / f"node-{setup.store}")
                if setup.store == "postgresql":
                    try:
                        url = stack.enter_context(scratch_postgres(self.pg_url))
                    except BenchError as exc:
                        self.skip("postgresql setups", str(exc))
                        continue
                stores[setup.store] = self.prepare(setup.store, url, enterprise)
            primary = stores[plan.primary.store]
            for setup in plan.setups():
                if setup.store in stores:
                    self.measure_setup(stores[setup.store], setup, setup == plan.primary)
            if self.peer is not None and "hot" in plan.profiles:
                self.measure_peer(self.peer)
            if self.cold_peer is not None and "cold" not in plan.profiles:
                self.skip("peer cold", "--peer-cold is measured by the cold profile, which "
                          "this run leaves out")
            if enterprise:
                self.measure_recursive(primary)
            if "import" in plan.profiles:
                self.measure_imports()
        return self.finish()

    def finish(self) -> int:
        """Write the CSV, the plots and the table."""
        load_end = os.getloadavg()
        write_csv(self.measurements, self.out / "measurements.csv")
        plot(self.measurements, self.out / "latency_vs_load.png", self.out / "throughput.png",
             (self.plan.primary.name, "hot"))
        lines = [
            f"idnode benchmark {datetime.now().isoformat(timespec='seconds')} "
            f"on {socket.gethostname()}: {os.cpu_count()} cores, load average "
            f"{self.load_start[0]:.1f} at the start, {load_end[0]:.1f} at the end; "
            f"commit {git_commit()}",
            f"{self.plan.products} products; Locust {self.plan.locust_seconds:.0f} s per run "
            f"({self.plan.warmup:.0f} s warm-up not counted); driver "
            f"{self.plan.driver_seconds:.0f} s, {self.plan.concurrency} outstanding requests",
            "ratios in brackets: node / baseline (latency > 1: slower; req/s < 1: fewer)",
            "HDL-UDP: a UDP request the node refuses as too large for UDP (RC_ERROR, its "
            "amplification cap: "
            + _cap(self.plan.udp_amplification) + ") is repeated over a new TCP "
            "connection, as Handle clients do (share in the note); baselines have no cap",
            "",
            table(self.measurements),
        ]
        values = goals.evaluate(self.measurements)
        goals.save(values, self.out)
        before = goals.previous(self.out.parent, self.out)
        lines += ["", "goals of issue 17 (ratios of this run; previous: "
                  + (before[1] if before else "none") + ")",
                  goals.goal_table(values, before[0] if before else None)]
        if self.skipped:
            lines += ["", "not measured:", *(f"  - {s}" for s in self.skipped)]
        lines += ["", f"files: {self.out}"]
        text = "\n".join(lines)
        (self.out / "table.txt").write_text(text + "\n", encoding="utf-8")
        print("\n" + text, flush=True)
        return 0 if self.measurements else 1


def cpu_spent(before: tuple[float, float], after: tuple[float, float],
              requests: int) -> tuple[float, float]:
    """Server and database CPU microseconds per request between two
    :meth:`Target.cpu_seconds` readings (NaN where not read)."""
    per = 1e6 / max(1, requests)
    server, database = ((a - b) * per for a, b in zip(after, before, strict=True))
    return server, database


def _creates(protocol: str, host: str, hdl_port: int, rest_url: str, who: writes.Credentials,
             handles: Sequence[str], *, verify_tls: bool = True) -> writes.WriteRun:
    """Create ``handles`` one at a time as ``who`` over ``protocol`` (HDL-TCP at
    ``host``:``hdl_port``, else REST at ``rest_url``)."""
    if protocol == "HDL-TCP":
        return asyncio.run(writes.handle_creates(host, hdl_port, who, handles))
    return asyncio.run(writes.rest_creates(rest_url, who, handles, verify_tls=verify_tls))


def create_measurement(result: writes.WriteRun, target: str, setup: str, protocol: str,
                       processes: int, cpu_us: tuple[float, float] = (math.nan, math.nan)
                       ) -> Measurement:
    """A run of creates as a measurement, with the server's (and its database's) CPU per
    create when read; its note says the load average at its end and, over the Handle
    protocol, how many connections the server made the session use."""
    notes = [f"load {os.getloadavg()[0]:.1f}"]
    if result.connections > 1:
        notes.append(f"{result.connections} TCP connections (the server closed them)")
    if result.first_error:
        notes.append(f"first error: {result.first_error}")
    return Measurement.from_samples(
        result.latencies, seconds=result.seconds, errors=result.errors, target=target,
        setup=setup, profile="create", protocol=protocol, tool="writes", offered_rps=None,
        processes=processes, note="; ".join(notes), cpu_us=cpu_us[0], db_cpu_us=cpu_us[1])


def _cap(factor: float | None) -> str:
    if factor is None:
        return "the node's default"
    return "off" if factor == 0 else f"{factor:g}x the request"


def fallback_note(fallbacks: int, requests: int) -> str:
    """Say how many UDP requests had to be repeated over TCP."""
    if not fallbacks:
        return ""
    return f"{100 * fallbacks / max(1, requests):.0f}% UDP->TCP (answer over UDP cap)"


def _database_of(url: str) -> str:
    """The PostgreSQL database name in ``url`` (empty for SQLite)."""
    parts = urllib.parse.urlsplit(url)
    return parts.path.lstrip("/") if parts.scheme.startswith("postgres") else ""


def _sqlite_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{data_dir.resolve() / 'registry.db'}"


def http_get(port: int, handle: str) -> bytes:
    """The REST API's body for ``handle`` (any status)."""
    url = f"http://127.0.0.1:{port}/api/handles/{handle}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        return bytes(exc.read())


def tcp_resolve(port: int, handle: str) -> bytes:
    """The node's answer for ``handle`` over TCP (the whole frame)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        return tcp_resolve_frame(sock, handle, random.getrandbits(30))


def probe_recursion(port: int, handle: str) -> str:
    """Empty when the node resolves a delegated ``handle``; otherwise why not."""
    code = response_code(tcp_resolve(port, handle))
    if code == RC_SUCCESS:
        return ""
    return (f"the node answered {response_code_name(code)} ({code}) for {handle}, a handle "
            f"of the enterprise node its prefix {ENTERPRISE_PREFIX} is delegated to: "
            "`idnode serve` does not resolve delegated handles recursively in this tree")


def git_commit() -> str:
    """The commit the tree is at (``+`` when it has uncommitted changes)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+" if dirty.strip() else "")


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_plan(argv: list[str] | None) -> tuple[Plan, argparse.Namespace]:
    """The plan the command line asks for (defaults: DEFAULT, or QUICK with --quick)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small and short (< 2 min): SQLite, 1 worker, hot profile")
    parser.add_argument("--products", type=int,
                        help="demo products to load (each comes with its parts and batches: "
                             "about 3 records a product, 326000 make ~1M handles)")
    parser.add_argument("--profiles", help=f"comma-separated from {','.join(PROFILE_NAMES)}")
    parser.add_argument("--stores", help=f"comma-separated from {','.join(STORES)}")
    parser.add_argument("--workers", help="worker counts, e.g. 1,2")
    parser.add_argument("--redis", help="off,on / on / off")
    parser.add_argument("--rates", help="Locust offered rates (req/s), e.g. 50,150,400")
    parser.add_argument("--locust-seconds", type=float)
    parser.add_argument("--driver-seconds", type=float)
    parser.add_argument("--concurrency", type=int, help="driver: outstanding requests")
    parser.add_argument("--driver-processes", type=int, help="driver processes")
    parser.add_argument("--udp-amplification", type=float,
                        help="the node's udp_amplification_factor (0: no UDP size cap; "
                        "default: the node's own)")
    parser.add_argument("--creates", type=int,
                        help="write profile: creates per protocol (one at a time)")
    parser.add_argument("--create-warmup", type=int,
                        help="write profile: creates each target makes over a protocol before "
                        "the measured ones (a JVM peer compiles as it runs)")
    parser.add_argument("--import-products", type=int,
                        help="import profile: demo products imported as JSON Lines")
    parser.add_argument("--csv-rows", type=int, help="import profile: plain CSV rows imported")
    parser.add_argument("--all-combinations", action="store_true",
                        help="every store x workers x Redis combination")
    parser.add_argument("--pg-url", default=os.environ.get(
        "IDNODE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--redis-url", default=os.environ.get(
        "IDNODE_BENCH_REDIS", "redis://127.0.0.1:6379/0"))
    add_options(parser)
    add_cold_options(parser)
    parser.add_argument("--out", type=Path, help="results folder (default: a new timestamped "
                        "folder under benchmarks/results/)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else DEFAULT
    changes: dict[str, Any] = {}
    for name in ("products", "locust_seconds", "driver_seconds", "concurrency",
                 "driver_processes", "udp_amplification", "creates", "create_warmup",
                 "import_products",
                 "csv_rows"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if args.profiles:
        changes["profiles"] = tuple(_items(args.profiles))
    if args.stores:
        changes["stores"] = tuple(_items(args.stores))
    if args.workers:
        changes["workers"] = tuple(int(item) for item in _items(args.workers))
    if args.redis:
        changes["redis"] = tuple(item == "on" for item in _items(args.redis))
    if args.rates:
        changes["rates"] = tuple(float(item) for item in _items(args.rates))
    if args.all_combinations:
        changes["all_combinations"] = True
    plan = replace(plan, **changes)
    unknown = set(plan.profiles) - set(PROFILE_NAMES) or set(plan.stores) - set(STORES)
    if unknown:
        parser.error(f"unknown: {', '.join(sorted(unknown))}")
    return plan, args


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    """A temporary folder for data dirs and key files, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="idnode-bench-") as folder:
        yield Path(folder)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    plan, args = parse_plan(argv)
    try:
        peer = peer_from_args(args, os.environ)
        cold_peer = cold_peer_from_args(args)
    except ValueError as exc:
        print(f"python -m benchmarks.run: {exc}", file=sys.stderr, flush=True)
        return 2
    out = args.out or RESULTS / datetime.now().strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    with scratch_dir() as scratch:
        try:
            return Bench(plan, out, scratch, args.pg_url, args.redis_url, peer,
                         cold_peer).run()
        except BenchError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr, flush=True)
            return 1


if __name__ == "__main__":
    sys.exit(main())
