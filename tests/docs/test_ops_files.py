"""The Prometheus rules and the Grafana dashboard in docs/ops name only metrics a node exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp
import yaml

from protocol.values import HandleValue
from registry.config import NodeConfig
from registry.store import HandleStore
from resolver.core.assembly import build_service
from resolver.core.metrics import Metrics
from resolver.http.api import run_http_server

OPS = Path(__file__).resolve().parents[2] / "docs" / "ops"
METRIC = re.compile(r"\bidnode_[a-z_]+\b")
EXPORTED_SUFFIXES = ("", "_bucket", "_count", "_sum")


def _rule_expressions() -> list[str]:
    rules = yaml.safe_load((OPS / "prometheus-alerts.yml").read_text(encoding="utf-8"))
    found = [rule for group in rules["groups"] for rule in group["rules"]]
    assert all({"alert", "expr", "labels", "annotations"} <= set(rule) for rule in found)
    return [rule["expr"] for rule in found]


def _dashboard_expressions() -> list[str]:
    dashboard = json.loads((OPS / "grafana-dashboard.json").read_text(encoding="utf-8"))
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


async def test_every_metric_named_is_exported(database: HandleStore) -> None:
    named = {m for expr in _rule_expressions() + _dashboard_expressions()
             for m in METRIC.findall(expr)}
    assert named
    await database.create_handle("88.118.8/OPS", [HandleValue(1, "URL", b"https://e")],
                                 actor="t")
    metrics = Metrics()
    service = await build_service(database, NodeConfig(), site_info=None, metrics=metrics)
    runner, port = await run_http_server(service, "127.0.0.1", 0, metrics=metrics)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            for _ in range(2):   # a miss, then a hit
                async with http.get("/api/handles/88.118.8/OPS") as response:
                    assert response.status == 200
            async with http.get("/metrics") as response:
                exposition = await response.text()
    finally:
        await runner.cleanup()
        await service.close()
    exported = {line.split("{")[0].split(" ")[0] for line in exposition.splitlines()
                if line and not line.startswith("#")}
    missing = sorted(m for m in named
                     if not any(m + s in exported or m in exported for s in EXPORTED_SUFFIXES))
    assert missing == [], f"named in docs/ops but not exported: {missing}"
