"""The goals of issue 17: ratios of one run (the peer's creates too), verdicts, the previous
run's values (the run written last, whatever its folder is called)."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest

from benchmarks.goals import evaluate, goal_table, previous, save
from benchmarks.measure import Measurement


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


def test_the_previous_run_is_the_one_written_last_not_the_last_name(tmp_path: Path) -> None:
    # --out names that do not sort by time: "after-fix" was written after "before-fix"
    older, newer, current = (tmp_path / name for name in ("before-fix", "after-fix", "now"))
    for folder, rate in ((older, 100.0), (newer, 200.0)):
        folder.mkdir()
        save(evaluate([writes("create", "HDL-TCP", "writes", rate)]), folder)
    os.utime(older / "goals.json", (1_700_000_000, 1_700_000_000))
    os.utime(newer / "goals.json", (1_700_000_600, 1_700_000_600))
    current.mkdir()
    before = previous(tmp_path, current)
    assert before is not None and before[1] == "after-fix"
    assert before[0]["creates over Handle"] == 200.0


def writes(profile: str, protocol: str, tool: str, rate: float, target: str = "node"
           ) -> Measurement:
    return Measurement(target=target, setup="s", profile=profile, protocol=protocol, tool=tool,
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
    cnri = "(CNRI 9.2's figure in issue 17)"
    assert ["creates over Handle", f">= 900/s {cnri}", "950/s", "-", "MET"] in rows
    assert ["creates over REST", f">= 900/s {cnri}", "400/s", "-", "not met"] in rows
    assert ["creates over Handle vs peer", ">= 1x", "-", "-", "not measured"] in rows
    assert ["import demo records", ">= 10000/s", "2500/s", "-", "not met"] in rows
    assert ["import 1M CSV rows", "<= 20 s", "25.00 s", "-", "not met"] in rows
    assert math.isnan(evaluate(RUN)["creates over REST"])


def test_creates_against_the_peer_are_ratios_of_the_same_run() -> None:
    values = evaluate([
        writes("create", "HDL-TCP", "writes", 950.0),
        writes("create", "HDL-TCP", "writes", 1_000.0, target="peer"),
        writes("create", "HTTP", "writes", 1_200.0),
        writes("create", "HTTP", "writes", 800.0, target="peer"),
    ])
    assert values["creates over Handle vs peer"] == pytest.approx(0.95)
    assert values["creates over REST vs peer"] == pytest.approx(1.5)
    assert values["creates over Handle"] == 950.0  # the node's, not the peer's
    rows = [re.split(r"\s{2,}", line) for line in goal_table(values, None).splitlines()]
    assert ["creates over Handle vs peer", ">= 1x", "0.95x", "-", "not met"] in rows
    assert ["creates over REST vs peer", ">= 1x", "1.50x", "-", "MET"] in rows
