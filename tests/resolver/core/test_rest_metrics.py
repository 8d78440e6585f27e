"""The Prometheus text exposition of :class:`resolver.core.metrics.Metrics`."""

from __future__ import annotations

from resolver.core.metrics import Metrics


async def test_counters_histogram_and_gauges() -> None:
    metrics = Metrics(buckets=(0.01, 0.1))
    metrics.observe_request("rest", 1, 0.005)
    metrics.observe_request("rest", 1, 0.05)
    metrics.observe_request("rest", 100, 3.0)
    metrics.observe_request('we"ird\n', 2, 0.0)
    metrics.cache_hit("memory")
    metrics.cache_miss("redis")
    metrics.cache_miss("redis")
    reads: list[int] = []

    async def count() -> int:
        reads.append(1)
        return 42

    def broken() -> float:
        raise RuntimeError("down")

    metrics.add_gauge("idnode_store_handles", "Handles.", count, max_age=3600)
    metrics.add_gauge("idnode_broken", "Never readable.", broken)
    text = await metrics.render()
    lines = text.splitlines()
    assert 'idnode_requests_total{frontend="rest",response_code="1"} 2' in lines
    assert 'idnode_requests_total{frontend="rest",response_code="100"} 1' in lines
    assert 'idnode_requests_total{frontend="we\\"ird\\n",response_code="2"} 1' in lines
    assert 'idnode_request_duration_seconds_bucket{frontend="rest",le="0.01"} 1' in lines
    assert 'idnode_request_duration_seconds_bucket{frontend="rest",le="0.1"} 2' in lines
    assert 'idnode_request_duration_seconds_bucket{frontend="rest",le="+Inf"} 3' in lines
    assert 'idnode_request_duration_seconds_count{frontend="rest"} 3' in lines
    assert any(line.startswith('idnode_request_duration_seconds_sum{frontend="rest"} 3.05')
               for line in lines)
    assert 'idnode_cache_hits_total{layer="memory"} 1' in lines
    assert 'idnode_cache_misses_total{layer="redis"} 2' in lines
    assert "# TYPE idnode_store_handles gauge" in lines and "idnode_store_handles 42" in lines
    assert "idnode_broken" not in text
    assert text.endswith("\n")
    await metrics.render()
    assert len(reads) == 1  # remembered for max_age
    assert metrics.request_count("rest", 1) == 2
