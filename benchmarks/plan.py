"""What a benchmark run measures: node setups, workload profiles, rates and durations.

A *setup* is how the node runs (store, worker processes, Redis on or off);
a *profile* is what the clients ask for:

=========  ==================================================================
hot        Zipf (s=1.0) over the first ``hot_set`` handles, warmed up first:
           answered from the node's caches
cold       every request a handle not asked for before on this node process
           (the store answers; nothing cached)
miss       handles that do not exist (a fresh made-up suffix every time)
mixed      Zipf over every stored handle with 5 % misses
recursive  handles of an enterprise prefix the node delegates to another
           node (a second idnode), resolved by the node recursively; a root
           node holds the node's prefix
write      create and modify handles as the node admin (Locust), then
           ``creates`` creates one at a time over the Handle protocol (a
           secret-key session) and over REST (:mod:`benchmarks.writes`),
           each target first given ``create_warmup`` creates not measured
import     ``idnode import`` on a fresh SQLite node: ``import_products``
           demo products (JSON Lines), then ``csv_rows`` plain CSV rows
=========  ==================================================================

The first setup (first store, first worker count, first Redis choice) gets
every profile and the latency sweep over all rates; the others vary one of
those choices at a time (``all_combinations`` runs every combination) and
get the hot and cold profiles.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from benchmarks.workload import WorkloadSpec

PROFILE_NAMES = ("hot", "cold", "miss", "mixed", "recursive", "write", "import")
STORES = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Setup:
    """How the node under test runs."""

    store: str
    workers: int
    redis: bool

    @property
    def name(self) -> str:
        """Short label: ``sqlite/1w/redis-off``."""
        return f"{self.store}/{self.workers}w/redis-{'on' if self.redis else 'off'}"


@dataclass(frozen=True)
class Profile:
    """A workload: how identifiers are chosen (see the module docstring)."""

    name: str
    order: str = "zipf"
    zipf_s: float = 1.0
    hot_only: bool = False
    miss_share: float = 0.0
    cross_share: float = 0.0

    def spec(self, keys: str, hot_set: int, walk_start: int = 0) -> WorkloadSpec:
        """The workload spec over key file ``keys``."""
        return WorkloadSpec(keys=keys, order=self.order, zipf_s=self.zipf_s,
                            hot_set=hot_set if self.hot_only else 0,
                            miss_share=self.miss_share, cross_share=self.cross_share,
                            walk_start=walk_start)


PROFILES = {
    "hot": Profile("hot", hot_only=True),
    "cold": Profile("cold", order="walk"),
    "miss": Profile("miss", miss_share=1.0),
    "mixed": Profile("mixed", miss_share=0.05),
    "recursive": Profile("recursive", cross_share=1.0),
    "write": Profile("write"),
    "import": Profile("import"),
}


@dataclass(frozen=True)
class Plan:
    """Everything one ``python -m benchmarks.run`` does."""

    products: int
    profiles: tuple[str, ...]
    stores: tuple[str, ...]
    workers: tuple[int, ...]
    redis: tuple[bool, ...]
    rates: tuple[float, ...]
    write_rate: float
    locust_seconds: float
    driver_seconds: float
    warmup: float
    hot_set: int
    concurrency: int
    driver_processes: int
    sweep_protocols: tuple[str, ...] = ("HTTP", "HDL-UDP")
    extra_protocols: tuple[str, ...] = ("HDL-TCP",)
    all_combinations: bool = False
    enterprise_products: int = 500
    udp_amplification: float | None = None
    creates: int = 2000
    #: creates each target (node and peer) makes over a protocol before the measured ones:
    #: a JVM peer (CNRI's) compiles its create path while it runs, so its first creates
    #: measure its interpreter (issue 17: CNRI's Handle creates went 868/s for its first
    #: 500, 1,207/s for the next 500, 1,724/s over 3,000 after those; with 1,000 warm-up
    #: creates, four runs of 3,000 in a row measured it at 1,417, 1,758, 2,257 and
    #: 2,209/s, settled after ~12,000)
    create_warmup: int = 12000
    import_products: int = 3000
    csv_rows: int = 1_000_000
    #: profiles whose Handle UDP driver run is repeated at half the rate it reached
    #: ("p99 at half of max throughput", issue 17)
    half_load_profiles: tuple[str, ...] = ("hot", "cold")

    @property
    def primary(self) -> Setup:
        """The setup every profile runs on."""
        return Setup(self.stores[0], self.workers[0], self.redis[0])

    @property
    def mid_rate(self) -> float:
        """The rate single-rate Locust runs use."""
        return self.rates[len(self.rates) // 2]

    def setups(self) -> list[Setup]:
        """The primary setup first, then the variations."""
        if self.all_combinations:
            every = [Setup(*c) for c in itertools.product(self.stores, self.workers, self.redis)]
            return [self.primary, *(s for s in every if s != self.primary)]
        p = self.primary
        found = [p]
        found += [Setup(s, p.workers, p.redis) for s in self.stores[1:]]
        found += [Setup(p.store, w, p.redis) for w in self.workers[1:]]
        found += [Setup(p.store, p.workers, r) for r in self.redis[1:]]
        return found

    def baseline_processes(self) -> list[int]:
        """Server process counts the baselines run with (one per worker count)."""
        return sorted({s.workers for s in self.setups()})


DEFAULT = Plan(
    products=6000, profiles=PROFILE_NAMES, stores=STORES, workers=(1, 2),
    redis=(False, True), rates=(50.0, 150.0, 400.0), write_rate=20.0, locust_seconds=10.0,
    driver_seconds=6.0, warmup=2.0, hot_set=1000, concurrency=32, driver_processes=1,
)
QUICK = Plan(
    products=300, profiles=("hot",), stores=("sqlite",), workers=(1,), redis=(False,),
    rates=(100.0,), write_rate=10.0, locust_seconds=5.0, driver_seconds=3.0, warmup=1.0,
    hot_set=200, concurrency=16, driver_processes=1, extra_protocols=(), half_load_profiles=(),
    create_warmup=20,
)
