"""Run the atheris harnesses, one subprocess per target, for a bounded time.

``python -m tests.fuzz.run --seconds 300`` (what ``make fuzz`` calls) splits the
time evenly over the targets.  Each target starts from its seed corpus in
``tests/fuzz/corpus/<target>/`` (read, never written) plus a working corpus
where libFuzzer keeps what it finds interesting.  The contract per input is in
``tests.fuzz.contract_<target>``; on top of it libFuzzer enforces ``-timeout``
(no hang) and ``-rss_limit_mb`` (no allocation far beyond the bounded input).
A failing input is written to the artifacts directory and the run exits 1;
copy it to ``tests/fuzz/regressions/<target>/`` with the fix, and pytest
replays it from then on.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TARGETS = ("wire", "rest_json", "dns")
#: per-input time limit, seconds: a slower input is a hang
INPUT_TIMEOUT = 10
#: the input bound; one input may not grow the process beyond RSS_LIMIT_MB
MAX_LEN = 8192
RSS_LIMIT_MB = 1024
#: extra wall time allowed for a target's start-up and shut-down
GRACE = 60


@dataclass
class Outcome:
    """What one target's run did."""

    target: str
    returncode: int
    execs: int
    corpus: int
    artifacts: list[Path]

    def line(self) -> str:
        """One summary line."""
        state = "ok" if self.returncode == 0 else f"FAILED (exit {self.returncode})"
        found = "".join(f" finding={p}" for p in self.artifacts)
        return f"fuzz {self.target}: {state} execs={self.execs} corpus={self.corpus}{found}"


def run_target(target: str, seconds: int, work: Path, artifacts: Path) -> Outcome:
    """Fuzz ``target`` for ``seconds`` in a subprocess and report what it did."""
    corpus = work / "corpus" / target
    corpus.mkdir(parents=True, exist_ok=True)
    tmp = work / "tmp" / target
    tmp.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    prefix = artifacts / f"{target}-"
    command = [
        sys.executable, "-m", f"tests.fuzz.fuzz_{target}",
        str(corpus), str(HERE / "corpus" / target),
        f"-max_total_time={seconds}", f"-timeout={INPUT_TIMEOUT}",
        f"-rss_limit_mb={RSS_LIMIT_MB}", f"-max_len={MAX_LEN}",
        f"-artifact_prefix={prefix}", "-print_final_stats=1",
    ]
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
    code, output = _fuzz_once(command, env, seconds)
    found = sorted(p for p in artifacts.glob(f"{target}-*") if p.is_file())
    if code < 0 and not found:
        # killed by a signal with no input to blame (seen once: a stray SIGALRM
        # from atheris' timeout timer): the fuzzer's fault, not the target's
        output += f"\nrun.py: killed by signal {-code} without a failing input, once more\n"
        code, again = _fuzz_once(command, env, seconds)
        output += again
        found = sorted(p for p in artifacts.glob(f"{target}-*") if p.is_file())
    (work / f"{target}.log").write_text(output)
    if code != 0:
        sys.stderr.write(output[-4000:])
    return Outcome(target, code, _stat(output, "number_of_executed_units"),
                   len(list(corpus.iterdir())), found)


def _fuzz_once(command: list[str], env: dict[str, str], seconds: int) -> tuple[int, str]:
    """(exit code, output) of one libFuzzer run; 124 if it overran its time."""
    try:
        proc = subprocess.run(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, timeout=seconds + INPUT_TIMEOUT + GRACE, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return 124, _text(exc.stdout) + "\nrun.py: target did not stop in time\n"
    return proc.returncode, proc.stdout


def _text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data or ""


def _stat(output: str, name: str) -> int:
    match = re.search(rf"stat::{name}:\s*(\d+)", output)
    return int(match.group(1)) if match else 0


def main(argv: list[str] | None = None) -> int:
    """Fuzz every chosen target; exit 1 if any found a failing input."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=300, help="total time, split over targets")
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("--work", type=Path, help="keep the working corpora and logs here")
    parser.add_argument("--artifacts", type=Path, help="write failing inputs here")
    args = parser.parse_args(argv)
    each = max(1, args.seconds // len(args.targets))
    work = args.work or Path(tempfile.mkdtemp(prefix="idnode-fuzz-"))
    artifacts = args.artifacts or work / "artifacts"
    started = time.monotonic()
    try:
        outcomes = [run_target(t, each, work, artifacts) for t in args.targets]
    finally:
        if args.work is None:
            shutil.rmtree(work / "tmp", ignore_errors=True)
    for outcome in outcomes:
        print(outcome.line())
    print(f"fuzz: {len(outcomes)} targets in {time.monotonic() - started:.0f} s, work dir {work}")
    return 0 if all(o.returncode == 0 for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
