"""The goals of issue 17 as ratios of one run, each with a verdict and the previous run's value.

Every goal divides one measurement of this run by another of the same run
(the machine's load then weighs on both), or bounds a latency:

==========================  ==========================================  ======
hot UDP per process         node hot HDL-UDP driver / bare UDP loop     >= 0.5
hot REST per process        node hot HTTP driver / bare aiohttp         >= 0.8
cold UDP per process        node cold HDL-UDP driver / bare UDP loop    >= 0.1
cold UDP p99                node cold HDL-UDP driver p99 (ms)           <= 5
misses as fast as cold      node miss / cold HDL-UDP driver, 1 worker   >= 1.0
hot UDP p99 at half load    node hot HDL-UDP driver paced at half the   <= 2
                            rate its max run reached: p99 (ms)
cold UDP p99 at half load   the same for the cold profile (ms)          <= 10
hot UDP vs peer             node hot HDL-UDP driver / peer              >= 1.0
hot REST vs peer            node hot HTTP driver / peer                 >= 1.0
cold UDP vs peer, SQLite    node cold HDL-UDP driver on SQLite / the    >= 0.5
                            cold peer's run right after it (CNRI with
                            its default storage in issue 17)
cold UDP vs peer,           the same on PostgreSQL                      >= 0.5
PostgreSQL
creates over Handle         creates/s, one at a time, secret-key        >= 900
                            session (CNRI 9.2's figure in issue 17:
                            877-922/s on its machine)
creates over REST           creates/s, one at a time, REST session      >= 900
                            (CNRI 9.2's figure in issue 17)
creates over Handle vs      node creates over Handle / peer's, the      >= 1.0
peer                        same number right after on the same machine
creates over REST vs peer   node creates over REST / peer's             >= 1.0
import demo records         ``idnode import`` records/s, SQLite         >= 10k
import 1M CSV rows          seconds for 1M plain CSV rows (from the     <= 20
                            measured rows/s)
==========================  ==========================================  ======

Max-throughput goals take the closed-loop driver runs (no offered rate), the
half-load ones the paced runs (:mod:`benchmarks.driver` ``rate``).
Per process means 1-worker node runs against 1-process baselines; the peer
(``--peer``, another Handle server such as CNRI's) is compared with the node
setup that has the most workers, the cold peer (``--peer-cold``, restarted before
its run) with the node's cold run on the store it followed.  A goal whose measurements were not made
says so.  :func:`save` writes the figures as ``goals.json`` in the results
folder; :func:`previous` finds the newest earlier run's file (by the time it
was written, whatever the folders are called) for the "previous" column.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.measure import Measurement

GOALS_FILE = "goals.json"
#: the absolute create rates: CNRI HANDLE.NET 9.2 on issue 17's machine, not this one
CNRI_FIGURE = "CNRI 9.2's figure in issue 17"

Pick = Callable[[Measurement], bool]


@dataclass(frozen=True)
class Goal:
    """``figure`` of the measurement ``top`` picks, divided by that of ``bottom`` (no
    bottom: the figure itself), compared with ``target`` (``at_least`` or at most)."""

    name: str
    top: Pick
    bottom: Pick | None
    figure: str
    target: float
    at_least: bool = True
    #: the figure's unit when there is no bottom (a ratio's is ``x``)
    unit: str = "ms"
    #: ``figure`` is a rate; the goal is the time ``per`` items take at that rate
    per: float = 0.0
    #: where the target comes from, said after it (``CNRI 9.2 in issue 17``)
    basis: str = ""

    def value(self, measurements: Sequence[Measurement]) -> float:
        """The ratio (or figure) in ``measurements``; NaN when not measured."""
        top = _best(measurements, self.top)
        if top is None:
            return math.nan
        figure = float(getattr(top, self.figure))
        if self.per:
            return self.per / figure if figure > 0 else math.inf
        if self.bottom is None:
            return figure
        bottom = _best(measurements, self.bottom)
        if bottom is None or not float(getattr(bottom, self.figure)):
            return math.nan
        return figure / float(getattr(bottom, self.figure))

    def met(self, value: float) -> bool:
        """Whether ``value`` reaches the target."""
        return value >= self.target if self.at_least else value <= self.target

    def wanted(self) -> str:
        """The target as text (``>= 0.5x``, ``<= 5 ms``)."""
        wanted = f"{'>=' if self.at_least else '<='} {self.target:g}{self.suffix}"
        return f"{wanted} ({self.basis})" if self.basis else wanted

    @property
    def suffix(self) -> str:
        """The unit as written after a number (``x``, `` ms``, ``/s``)."""
        if self.bottom is not None:
            return "x"
        return self.unit if self.unit.startswith("/") else f" {self.unit}"


def _best(measurements: Sequence[Measurement], pick: Pick) -> Measurement | None:
    """The last measurement ``pick`` accepts (re-runs replace earlier ones)."""
    found = [m for m in measurements if pick(m)]
    return found[-1] if found else None


def _driver(target: str, profile: str, protocol: str, processes: int | None = None,
            tool: str = "driver", paced: bool = False, store: str = "") -> Pick:
    """Measurements of ``target``'s ``profile`` over ``protocol`` by ``tool``; with
    ``store``, only those of a node setup on it (``sqlite/2w/redis-off``) or of a peer
    run after one (``127.0.0.1:2641 (after sqlite/2w/redis-off)``)."""
    def pick(m: Measurement) -> bool:
        return (m.target == target and m.tool == tool and m.protocol == protocol
                and (profile == "" or m.profile == profile)
                and (processes is None or m.processes == processes)
                and (m.offered_rps is not None) == paced
                and (not store or f"{store}/" in m.setup))
    return pick


GOALS = (
    Goal("hot UDP per process", _driver("node", "hot", "HDL-UDP", 1),
         _driver("baseline", "", "HDL-UDP", 1), "achieved_rps", 0.5),
    Goal("hot REST per process", _driver("node", "hot", "HTTP", 1),
         _driver("baseline", "", "HTTP", 1), "achieved_rps", 0.8),
    Goal("cold UDP per process", _driver("node", "cold", "HDL-UDP", 1),
         _driver("baseline", "", "HDL-UDP", 1), "achieved_rps", 0.1),
    Goal("cold UDP p99", _driver("node", "cold", "HDL-UDP"), None, "p99", 5.0, at_least=False),
    Goal("misses as fast as cold hits", _driver("node", "miss", "HDL-UDP", 1),
         _driver("node", "cold", "HDL-UDP", 1), "achieved_rps", 1.0),
    Goal("hot UDP p99 at half load", _driver("node", "hot", "HDL-UDP", paced=True), None,
         "p99", 2.0, at_least=False),
    Goal("cold UDP p99 at half load", _driver("node", "cold", "HDL-UDP", paced=True), None,
         "p99", 10.0, at_least=False),
    Goal("hot UDP vs peer", _driver("node", "hot", "HDL-UDP"),
         _driver("peer", "hot", "HDL-UDP"), "achieved_rps", 1.0),
    Goal("hot REST vs peer", _driver("node", "hot", "HTTP"),
         _driver("peer", "hot", "HTTP"), "achieved_rps", 1.0),
    Goal("cold UDP vs peer, SQLite", _driver("node", "cold", "HDL-UDP", store="sqlite"),
         _driver("peer", "cold", "HDL-UDP", store="sqlite"), "achieved_rps", 0.5),
    Goal("cold UDP vs peer, PostgreSQL",
         _driver("node", "cold", "HDL-UDP", store="postgresql"),
         _driver("peer", "cold", "HDL-UDP", store="postgresql"), "achieved_rps", 0.5),
    Goal("creates over Handle", _driver("node", "create", "HDL-TCP", tool="writes"), None,
         "achieved_rps", 900.0, unit="/s", basis=CNRI_FIGURE),
    Goal("creates over REST", _driver("node", "create", "HTTP", tool="writes"), None,
         "achieved_rps", 900.0, unit="/s", basis=CNRI_FIGURE),
    Goal("creates over Handle vs peer", _driver("node", "create", "HDL-TCP", tool="writes"),
         _driver("peer", "create", "HDL-TCP", tool="writes"), "achieved_rps", 1.0),
    Goal("creates over REST vs peer", _driver("node", "create", "HTTP", tool="writes"),
         _driver("peer", "create", "HTTP", tool="writes"), "achieved_rps", 1.0),
    Goal("import demo records", _driver("node", "import-demo", "CLI", tool="import"), None,
         "achieved_rps", 10_000.0, unit="/s"),
    Goal("import 1M CSV rows", _driver("node", "import-csv", "CLI", tool="import"), None,
         "achieved_rps", 20.0, at_least=False, unit="s", per=1_000_000),
)


def evaluate(measurements: Sequence[Measurement]) -> dict[str, float]:
    """Each goal's value in this run (NaN: not measured)."""
    ordered = sorted(measurements, key=lambda m: m.processes)  # most workers last
    return {goal.name: goal.value(ordered) for goal in GOALS}


def _text(goal: Goal, value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.0f}{goal.suffix}" if goal.unit == "/s" else f"{value:.2f}{goal.suffix}"


def goal_table(values: dict[str, float], before: dict[str, float] | None) -> str:
    """The goals with this run's value, the previous run's, and a verdict."""
    rows = [("goal", "wanted", "now", "previous", "verdict")]
    for goal in GOALS:
        value = values.get(goal.name, math.nan)
        old = (before or {}).get(goal.name, math.nan)
        verdict = ("not measured" if math.isnan(value)
                   else "MET" if goal.met(value) else "not met")
        rows.append((goal.name, goal.wanted(), _text(goal, value), _text(goal, old), verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def save(values: dict[str, float], folder: Path) -> None:
    """Write this run's goal values (``null`` when not measured)."""
    data = {k: (None if math.isnan(v) else v) for k, v in values.items()}
    (folder / GOALS_FILE).write_text(json.dumps(data, indent=1), encoding="utf-8")


def previous(results: Path, current: Path) -> tuple[dict[str, float], str] | None:
    """The goal values of the run under ``results`` whose ``goals.json`` was written
    last (folders named by ``--out`` need not sort by time), but ``current``'s; and
    that run's folder name."""
    files = [p for p in results.glob(f"*/{GOALS_FILE}")
             if p.parent.resolve() != current.resolve()]
    if not files:
        return None
    newest = max(files, key=lambda p: (p.stat().st_mtime_ns, p.parent.name))
    data = json.loads(newest.read_text(encoding="utf-8"))
    return {k: (math.nan if v is None else float(v)) for k, v in data.items()}, newest.parent.name
