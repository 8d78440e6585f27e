"""Locust command lines and sample processing (no Locust process is started here)."""

from __future__ import annotations

import itertools
from pathlib import Path

from benchmarks.locust_runner import MAX_USERS, LocustRun, figures, locust_argv, users_for
from benchmarks.run import BENCH_ENV
from benchmarks.scale import BENCH_ENV as SCALE_ENV
from benchmarks.workload import WorkloadSpec
from registry.config import load_config


def test_users_pace_to_the_offered_rate() -> None:
    for rate in (1.0, 50.0, 400.0, 5000.0):
        users, per_user = users_for(rate)
        assert users >= 1 and abs(users * per_user - rate) < 1e-6


def test_command_line_carries_the_workload_and_target(tmp_path: Path) -> None:
    run = LocustRun("HdlUdpResolver", 150.0, 12.0, 2.0, "http://127.0.0.1:8000", 2641,
                    admin_key="k.pem")
    argv = locust_argv(run, WorkloadSpec(keys="keys.json", miss_share=0.25), tmp_path / "x")
    assert argv[-1] == "HdlUdpResolver" and "--headless" in argv
    pairs = dict(itertools.pairwise(argv))
    assert pairs["--hdl-port"] == "2641" and pairs["--bench-keys"] == "keys.json"
    assert pairs["--bench-miss-share"] == "0.25" and pairs["--admin-key"] == "k.pem"
    assert pairs["--run-time"] == "12s" and int(pairs["-u"]) == 15


def test_samples_are_grouped_by_type_after_the_warmup() -> None:
    samples = [[100.0, "GET", "hit", 9.0, True, 50], [101.5, "GET", "hit", 1.0, True, 300],
               [102.0, "GET", "miss", 2.0, False, 0],
               [102.5, "HDL-UDP", "hit+tcp", 0.7, True, 900],
               [103.0, "HDL-UDP", "hit", 0.5, True, 400]]
    by_type, seconds = figures(samples, warmup=1.0)
    assert set(by_type) == {"HTTP", "HDL-UDP"}
    assert by_type["HTTP"].latencies == [1.0] and by_type["HTTP"].errors == 1
    assert by_type["HTTP"].answer_bytes == 300 and by_type["HDL-UDP"].answer_bytes == 1300
    assert by_type["HDL-UDP"].tcp_fallbacks == 1 and by_type["HTTP"].tcp_fallbacks == 0
    assert seconds == 2.0
    assert figures([], 1.0) == ({}, 0.0)


def test_bench_nodes_take_every_user_of_one_load_generator() -> None:
    """All of a bench's load comes from 127.0.0.1: the nodes it starts must not cap that
    client's rate or connections below what Locust's users open (else failures measure
    the limiter: 40 users at 400 req/s were 20% `HTTP 0` on one worker)."""
    for env in (BENCH_ENV, SCALE_ENV):
        config = load_config(environ=env)
        assert config.rate_limit == 0
        cap = config.max_connections_per_client
        assert cap == 0 or cap >= MAX_USERS
