"""Which identifier a benchmark client asks for next.

A :class:`KeyFile` lists the identifiers a benchmark may use: ``hosted``
handles stored on the node under test (in a fixed shuffled order; the first
``hot_set`` of them are the popular ones), ``delegated`` handles stored on an
enterprise node this node refers to (cross-node lookups), and the prefix
under which misses are made up.

A :class:`WorkloadSpec` says how to draw from it:

* ``order="zipf"``: popularity rank ``k`` (1-based) is drawn with weight
  ``1 / k**zipf_s`` over the first ``hot_set`` hosted handles (all of them
  when ``hot_set`` is 0); ``zipf_s = 0`` is uniform.
* ``order="walk"``: each client walks the hosted handles in order from
  ``walk_start``, client ``i`` of ``n`` taking every ``n``-th one, so no
  handle is asked twice within a run (cold: never in the node's caches).
* ``miss_share`` of the requests ask for a handle that does not exist (a new
  random suffix each time, so no negative cache answers it), and
  ``cross_share`` for a delegated handle (Zipf-drawn as well).

Specs travel to Locust and driver processes as ``IDNODE_BENCH_*``
environment variables (:meth:`WorkloadSpec.to_env` / :meth:`from_env`).
"""

from __future__ import annotations

import bisect
import itertools
import json
import os
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

HIT, MISS, CROSS = "hit", "miss", "cross"
ORDERS = ("zipf", "walk")
ENV_PREFIX = "IDNODE_BENCH_"


@dataclass(frozen=True, slots=True)
class KeyFile:
    """The identifiers a benchmark draws from (JSON on disk)."""

    hosted: tuple[str, ...]
    delegated: tuple[str, ...] = ()
    miss_prefix: str = "88.118.8"

    def save(self, path: Path) -> None:
        """Write as JSON."""
        data = {"hosted": self.hosted, "delegated": self.delegated,
                "miss_prefix": self.miss_prefix}
        path.write_text(json.dumps(data), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> KeyFile:
        """Read what :meth:`save` wrote."""
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(tuple(data["hosted"]), tuple(data.get("delegated", ())),
                   data.get("miss_prefix", "88.118.8"))


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    """How a client chooses identifiers; see the module docstring."""

    keys: str = ""
    order: str = "zipf"
    zipf_s: float = 1.0
    hot_set: int = 0
    miss_share: float = 0.0
    cross_share: float = 0.0
    walk_start: int = 0
    seed: int = 1

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {self.order!r}")
        if not 0 <= self.miss_share + self.cross_share <= 1 or min(
            self.miss_share, self.cross_share
        ) < 0:
            raise ValueError("miss_share and cross_share must be >= 0 and sum to at most 1")
        if self.zipf_s < 0 or self.hot_set < 0 or self.walk_start < 0:
            raise ValueError("zipf_s, hot_set and walk_start must not be negative")

    def to_env(self) -> dict[str, str]:
        """The ``IDNODE_BENCH_*`` variables that carry this spec."""
        return {ENV_PREFIX + k.upper(): str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkloadSpec:
        """The spec in ``environ`` (default ``os.environ``); absent keys keep defaults."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                default = getattr(cls(), f.name)
                values[f.name] = type(default)(raw)
        return cls(**values)  # type: ignore[arg-type]


class ZipfChooser:
    """Draws indexes ``0..n-1`` with weight ``1 / (i + 1) ** s``."""

    def __init__(self, n: int, s: float) -> None:
        if n < 1:
            raise ValueError("nothing to choose from")
        self.cumulative = list(itertools.accumulate(1.0 / (k**s) for k in range(1, n + 1)))

    def draw(self, rng: random.Random) -> int:
        """One index."""
        total = self.cumulative[-1]
        return min(bisect.bisect_left(self.cumulative, rng.random() * total),
                   len(self.cumulative) - 1)


class Workload:
    """An endless stream of ``(kind, handle)`` for client ``client`` of ``clients``."""

    def __init__(self, spec: WorkloadSpec, keys: KeyFile, client: int = 0,
                 clients: int = 1) -> None:
        if not keys.hosted:
            raise ValueError("the key file lists no hosted handles")
        self.spec, self.keys = spec, keys
        self.rng = random.Random(spec.seed * 1_000_003 + client)
        popular = keys.hosted[: spec.hot_set] if spec.hot_set else keys.hosted
        self.popular: Sequence[str] = popular
        self.zipf = ZipfChooser(len(popular), spec.zipf_s)
        self.cross = ZipfChooser(len(keys.delegated), spec.zipf_s) if keys.delegated else None
        self.walk = itertools.count(spec.walk_start + client, max(1, clients))
        self.wrapped = False

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return self

    def __next__(self) -> tuple[str, str]:
        pick = self.rng.random()
        if pick < self.spec.miss_share:
            return MISS, f"{self.keys.miss_prefix}/MISS-{self.rng.getrandbits(48):012x}"
        if pick < self.spec.miss_share + self.spec.cross_share:
            if self.cross is None:
                raise ValueError("cross_share > 0 but the key file lists no delegated handles")
            return CROSS, self.keys.delegated[self.cross.draw(self.rng)]
        if self.spec.order == "walk":
            position = next(self.walk)
            if position >= len(self.keys.hosted):
                self.wrapped = True
            return HIT, self.keys.hosted[position % len(self.keys.hosted)]
        return HIT, self.popular[self.zipf.draw(self.rng)]
