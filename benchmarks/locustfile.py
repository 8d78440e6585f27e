"""Locust scenarios for an idnode: resolve over HTTP, UDP and TCP, and write.

User classes (pick them by name on the command line; all run by default):

* ``HttpResolver``: ``GET /api/handles/{handle}`` on ``--host`` (REST API);
* ``HdlUdpResolver``, ``HdlTcpResolver``: Handle protocol resolution at
  ``--hdl-host`` (default: the host of ``--host``):``--hdl-port`` (default
  2641) (:mod:`benchmarks.handle_user`);
* ``Writer``: create and modify handles as the node admin (``--admin-key``,
  the data dir's ``keys/admin_key.pem``); left out when no key is given.

Each user runs ``--bench-user-rate`` tasks per second (Locust's
``constant_throughput``, from a random phase; 0 = as fast as it can), so
``-u U`` users offer ``U * rate`` requests per second.  Identifiers follow the workload options
``--bench-keys`` (a key file, see :mod:`benchmarks.workload`),
``--bench-order`` (zipf/walk), ``--bench-zipf-s``, ``--bench-hot-set``,
``--bench-miss-share``, ``--bench-cross-share``, ``--bench-walk-start`` and
``--bench-seed``; each defaults to its ``IDNODE_BENCH_*`` environment
variable.  Without ``--bench-keys`` the identifiers are ``--bench-handles
H1,H2,...`` or found on the node (its listing of ``--bench-prefixes``, else
its prefix handles: :mod:`benchmarks.node_keys`), so
``locust -f benchmarks/locustfile.py --host http://NODE:8000`` needs nothing
else.  ``--bench-samples FILE`` writes every request's (time, type,
name, latency ms, ok, response bytes) to FILE as JSON when the test stops, for exact
percentiles.

Example::

    locust -f benchmarks/locustfile.py --headless -u 20 -r 20 --run-time 30s \\
        --host http://127.0.0.1:8000 --hdl-port 2641 --bench-keys keys.json \\
        --bench-user-rate 10 HttpResolver HdlUdpResolver
"""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, User, constant_throughput, events, task
from locust.env import Environment

from benchmarks.handle_user import (
    HandleTcpUser,
    HandleUdpUser,
    HandleWriterUser,
    provide_keys,
    workload_for,
)
from benchmarks.node_keys import NoIdentifiers, node_keys
from benchmarks.workload import MISS, WorkloadSpec

_samples: list[tuple[float, str, str, float, bool, int]] = []


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    defaults = WorkloadSpec.from_env()
    parser.add_argument("--hdl-host", default="",
                        help="Handle server address (default: the host of --host)")
    parser.add_argument("--hdl-port", type=int, default=2641, help="Handle server port")
    parser.add_argument("--admin-key", default=os.environ.get("IDNODE_BENCH_ADMIN_KEY", ""),
                        help="node admin private key (PEM) for the Writer")
    parser.add_argument("--bench-user-rate", type=float,
                        default=float(os.environ.get("IDNODE_BENCH_USER_RATE", "0")),
                        help="tasks per second per user (0: no wait)")
    parser.add_argument("--bench-samples", default=os.environ.get("IDNODE_BENCH_SAMPLES", ""),
                        help="write the raw request samples here (JSON)")
    parser.add_argument("--bench-handles", default=os.environ.get("IDNODE_BENCH_HANDLES", ""),
                        help="handles to ask for, comma-separated (instead of --bench-keys)")
    parser.add_argument("--bench-prefixes",
                        default=os.environ.get("IDNODE_BENCH_PREFIXES", "88.118"),
                        help="prefixes whose handles are listed from the node when neither "
                        "--bench-keys nor --bench-handles is given")
    for name, default in ((f, getattr(defaults, f)) for f in WorkloadSpec.__dataclass_fields__):
        parser.add_argument("--bench-" + name.replace("_", "-"), type=type(default),
                            default=default, help=f"workload {name} (IDNODE_BENCH_{name.upper()})")


@events.init.add_listener
def _targets(environment: Environment, **_: Any) -> None:
    """Fill in what the command line left out: the Handle host, the identifiers; and
    leave the Writer out without an admin key."""
    opts = environment.parsed_options
    if opts is None:
        return
    if not opts.hdl_host:
        opts.hdl_host = urllib.parse.urlsplit(opts.host or "").hostname or "127.0.0.1"
    if not opts.admin_key:
        environment.user_classes = [c for c in environment.user_classes if c is not Writer]
    if not opts.bench_keys and environment.user_classes:
        items = [h.strip() for h in opts.bench_handles.split(",") if h.strip()]
        prefixes = [p.strip() for p in opts.bench_prefixes.split(",")]
        try:
            provide_keys("", node_keys(opts.host or "", items, prefixes, logging.warning))
        except NoIdentifiers as exc:
            logging.error("%s", exc)
            sys.exit(2)


@events.init.add_listener
def _fresh_clock(**_: Any) -> None:
    # gevent's loop caches "now"; after the slow imports before the test starts it
    # lags, and --run-time (gevent.spawn_later) would end the run seconds early.
    gevent.get_hub().loop.update_now()


@events.request.add_listener
def _record(request_type: str, name: str, response_time: float, response_length: int = 0,
            exception: Any = None, **_: Any) -> None:
    _samples.append((time.time(), request_type, name, response_time, exception is None,
                     response_length or 0))


@events.test_stop.add_listener
def _write_samples(environment: Environment, **_: Any) -> None:
    path = environment.parsed_options.bench_samples if environment.parsed_options else ""
    if path:
        Path(path).write_text(json.dumps(_samples), encoding="utf-8")


class _Paced(User):
    """``constant_throughput`` at ``--bench-user-rate``, each user starting at a random
    phase of the period: users spawned together would otherwise fire in bursts, and
    Locust's own queueing of the burst's answers would be measured as latency."""

    abstract = True

    def wait_time(self) -> float:
        """Seconds until the next task."""
        rate = self.environment.parsed_options.bench_user_rate
        return float(constant_throughput(rate)(self)) if rate > 0 else 0.0

    def on_start(self) -> None:
        super().on_start()
        rate = self.environment.parsed_options.bench_user_rate
        if rate > 0:
            gevent.sleep(random.uniform(0, 1 / rate))


class HttpResolver(_Paced, FastHttpUser):
    """Resolves through the REST API; a 404 is the right answer for a miss."""

    def on_start(self) -> None:
        self.work = workload_for(self)
        super().on_start()

    @task
    def resolve(self) -> None:
        """One ``GET /api/handles/{handle}``."""
        kind, handle = next(self.work)
        expected = 404 if kind == MISS else 200
        with self.client.get(f"/api/handles/{handle}", name=kind,
                             catch_response=True) as response:
            if response.status_code == expected:
                response.success()
            else:
                response.failure(f"{kind}: HTTP {response.status_code}")


class HdlUdpResolver(_Paced, HandleUdpUser):
    """Handle protocol resolution over UDP."""


class HdlTcpResolver(_Paced, HandleTcpUser):
    """Handle protocol resolution over TCP."""


class Writer(_Paced, HandleWriterUser):
    """Creates and modifies handles as the node admin."""
