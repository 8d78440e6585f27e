"""Identifier choice: Zipf popularity, cold walks, miss and cross-node shares, env round trip."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.workload import CROSS, HIT, MISS, KeyFile, Workload, WorkloadSpec, ZipfChooser

KEYS = KeyFile(tuple(f"88.118.8/K-{i:04d}" for i in range(500)),
               tuple(f"88.118.99/D-{i:03d}" for i in range(50)))


def draws(spec: WorkloadSpec, n: int, client: int = 0, clients: int = 1
          ) -> list[tuple[str, str]]:
    return list(itertools.islice(Workload(spec, KEYS, client, clients), n))


def test_zipf_favours_low_ranks() -> None:
    counts = Counter(h for _, h in draws(WorkloadSpec(zipf_s=1.2), 20_000))
    assert counts["88.118.8/K-0000"] > counts["88.118.8/K-0001"] > counts["88.118.8/K-0010"]
    assert counts["88.118.8/K-0000"] > 20 * max(counts["88.118.8/K-0400"], 1)


def test_zipf_zero_is_uniform() -> None:
    chooser, rng = ZipfChooser(4, 0.0), random.Random(3)
    counts = Counter(chooser.draw(rng) for _ in range(8000))
    assert set(counts) == {0, 1, 2, 3}
    assert max(counts.values()) < 1.2 * min(counts.values())


def test_hot_set_limits_the_popular_handles() -> None:
    handles = {h for _, h in draws(WorkloadSpec(hot_set=10), 2000)}
    assert handles <= set(KEYS.hosted[:10])


def test_walk_never_repeats_and_clients_do_not_overlap() -> None:
    spec = WorkloadSpec(order="walk", walk_start=100)
    first = [h for _, h in draws(spec, 150, client=0, clients=2)]
    second = [h for _, h in draws(spec, 150, client=1, clients=2)]
    assert len(set(first)) == 150 and not set(first) & set(second)
    assert first[0] == KEYS.hosted[100] and second[0] == KEYS.hosted[101]


def test_walk_says_when_it_wrapped() -> None:
    work = Workload(WorkloadSpec(order="walk", walk_start=499), KEYS)
    next(work)
    assert not work.wrapped
    next(work)
    assert work.wrapped


def test_shares_of_misses_and_cross_node_lookups() -> None:
    kinds = Counter(k for k, _ in draws(WorkloadSpec(miss_share=0.2, cross_share=0.3), 10_000))
    assert 1700 < kinds[MISS] < 2300 and 2700 < kinds[CROSS] < 3300
    assert kinds[HIT] == 10_000 - kinds[MISS] - kinds[CROSS]
    picked = draws(WorkloadSpec(miss_share=0.5, cross_share=0.5), 200)
    misses = [h for k, h in picked if k == MISS]
    assert len(set(misses)) == len(misses) and all(h.startswith("88.118.8/MISS-") for h in misses)
    assert all(h in KEYS.delegated for k, h in picked if k == CROSS)


def test_cross_share_needs_delegated_handles() -> None:
    work = Workload(WorkloadSpec(cross_share=1.0), KeyFile(KEYS.hosted))
    with pytest.raises(ValueError, match="delegated"):
        next(work)


@pytest.mark.parametrize("bad", [dict(order="random"), dict(miss_share=0.7, cross_share=0.5),
                                 dict(zipf_s=-1.0)])
def test_bad_specs_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        WorkloadSpec(**bad)  # type: ignore[arg-type]


def test_spec_travels_through_the_environment() -> None:
    spec = WorkloadSpec(keys="k.json", order="walk", zipf_s=0.8, hot_set=7, miss_share=0.1,
                        cross_share=0.2, walk_start=3, seed=9)
    assert WorkloadSpec.from_env(spec.to_env()) == spec
    assert WorkloadSpec.from_env({}) == WorkloadSpec()


def test_key_file_round_trip(tmp_path: Path) -> None:
    KEYS.save(tmp_path / "keys.json")
    assert KeyFile.load(tmp_path / "keys.json") == KEYS
