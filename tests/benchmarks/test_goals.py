"""The goals of issue 17: ratios of one run, verdicts, the previous run's values, --peer."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from benchmarks.goals import evaluate, goal_table, previous, save
from benchmarks.measure import Measurement
from benchmarks.run import parse_peer


def driver(target: str, profile: str, protocol: str, rps: float, p99: float = 1.0,
           processes: int = 1, offered: float | None = None) -> Measurement:
    return Measurement(target=target, setup="s", profile=profile, protocol=protocol,
                       tool="driver", offered_rps=offered, achieved_rps=rps, requests=100,
                       errors=0, p50=p99 / 2, p95=p99, p99=p99, p999=p99,
                       processes=processes)


RUN = [
    driver("baseline", "canned", "HDL-UDP", 20_000.0),
    driver("baseline", "canned", "HTTP", 5_000.0),
    driver("node", "hot", "HDL-UDP", 12_000.0),
    driver("node", "hot", "HTTP", 3_000.0),
    driver("node", "cold", "HDL-UDP", 1_000.0, p99=8.0),
    driver("node", "miss", "HDL-UDP", 1_500.0),
    driver("node", "hot", "HDL-UDP", 20_000.0, processes=2),
    driver("node", "cold", "HDL-UDP", 3_000.0, p99=4.0, processes=2),
    driver("peer", "hot", "HDL-UDP", 40_000.0),
    driver("node", "hot", "HDL-UDP", 10_000.0, p99=1.5, processes=2, offered=10_000.0),
    driver("node", "cold", "HDL-UDP", 1_500.0, p99=12.0, processes=2, offered=1_500.0),
]


def test_ratios_of_one_run_with_verdicts() -> None:
    values = evaluate(RUN)
    assert values["hot UDP per process"] == pytest.approx(0.6)
    assert values["hot REST per process"] == pytest.approx(0.6)
    assert values["cold UDP per process"] == pytest.approx(0.05)
    assert values["cold UDP p99"] == 4.0  # the setup with the most workers
    assert values["misses as fast as cold hits"] == pytest.approx(1.5)  # both on 1 worker
    assert values["hot UDP vs peer"] == pytest.approx(0.5)  # the 2-worker node, not paced
    assert values["hot UDP p99 at half load"] == 1.5  # the paced runs only
    assert values["cold UDP p99 at half load"] == 12.0
    assert math.isnan(values["hot REST vs peer"])
    rows = {line.split("  ")[0]: line for line in goal_table(values, None).splitlines()}
    assert rows["hot UDP per process"].endswith("MET")
    assert rows["hot REST per process"].endswith("not met")
    assert rows["cold UDP p99"].endswith("MET") and "<= 5 ms" in rows["cold UDP p99"]
    assert rows["hot REST vs peer"].endswith("not measured")
    assert rows["hot UDP p99 at half load"].endswith("MET")
    assert rows["cold UDP p99 at half load"].endswith("not met")


def test_the_previous_run_is_shown_next_to_this_one(tmp_path: Path) -> None:
    old, new = tmp_path / "20260101-000000", tmp_path / "20260102-000000"
    old.mkdir()
    new.mkdir()
    save(evaluate(RUN[:3]), old)
    before = previous(tmp_path, new)
    assert before is not None and before[1] == old.name
    assert before[0]["hot UDP per process"] == pytest.approx(0.6)
    assert math.isnan(before[0]["hot REST per process"])
    rows = [re.split(r"\s{2,}", line) for line in goal_table(evaluate(RUN), before[0])
            .splitlines()]
    assert ["hot UDP per process", ">= 0.5x", "0.60x", "0.60x", "MET"] in rows
    assert previous(tmp_path, old) is None


def test_peer_option() -> None:
    peer = parse_peer("127.0.0.1:12641,http://127.0.0.1:18000/")
    assert (peer.host, peer.hdl_port, peer.http_url) == ("127.0.0.1", 12641,
                                                         "http://127.0.0.1:18000")
    for bad in ("127.0.0.1:12641", "127.0.0.1,http://x", "h:p,http://x"):
        with pytest.raises(ValueError, match="HOST:PORT,HTTP_URL"):
            parse_peer(bad)


def writes(profile: str, protocol: str, tool: str, rate: float) -> Measurement:
    return Measurement(target="node", setup="s", profile=profile, protocol=protocol, tool=tool,
                       offered_rps=None, achieved_rps=rate, requests=100, errors=0,
                       p50=math.nan, p95=math.nan, p99=math.nan, p999=math.nan)


def test_write_goals_are_rates_and_the_csv_goal_seconds_for_a_million_rows() -> None:
    values = evaluate([
        writes("create", "HDL-TCP", "writes", 950.0),
        writes("create", "HTTP", "writes", 400.0),
        writes("import-demo", "CLI", "import", 2_500.0),
        writes("import-csv", "CLI", "import", 40_000.0),
    ])
    assert values["creates over Handle"] == 950.0
    assert values["import 1M CSV rows"] == pytest.approx(25.0)
    rows = [re.split(r"\s{2,}", line) for line in goal_table(values, None).splitlines()]
    assert ["creates over Handle", ">= 900/s", "950/s", "-", "MET"] in rows
    assert ["creates over REST", ">= 900/s", "400/s", "-", "not met"] in rows
    assert ["import demo records", ">= 10000/s", "2500/s", "-", "not met"] in rows
    assert ["import 1M CSV rows", "<= 20 s", "25.00 s", "-", "not met"] in rows
    assert math.isnan(evaluate(RUN)["creates over REST"])
