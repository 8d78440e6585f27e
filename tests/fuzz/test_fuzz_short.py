"""Short fuzz run inside ``make test``, plus replays of the seed corpus and of every
input the fuzzer ever found failing (each a regression test of its fix).

The atheris run happens in a subprocess (atheris instruments modules as they
are imported, which must not touch this pytest process); the replays call the
same contracts (``tests.fuzz.contract_*``) in-process, without atheris.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import orjson
import pytest

from protocol.errors import ProtocolError
from protocol.rest_json import values_from_json
from tests.fuzz.contract_dns import DnsTarget
from tests.fuzz.contract_rest import check_rest_json
from tests.fuzz.contract_wire import check_wire
from tests.fuzz.run import ROOT, TARGETS

HERE = Path(__file__).resolve().parent
SHORT_SECONDS = 8  # per target
CHECKS = {"wire": check_wire, "rest_json": check_rest_json}


def _inputs(kind: str, target: str) -> list[Path]:
    folder = HERE / kind / target
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


@pytest.fixture(scope="module")
def dns_target() -> Iterator[DnsTarget]:
    target = DnsTarget()
    yield target
    target.close()


def _check(target: str, data: bytes, dns_target: DnsTarget) -> None:
    if target == "dns":
        dns_target.check(data)
    else:
        CHECKS[target](data)


@pytest.mark.parametrize("target", TARGETS)
def test_seed_corpus_keeps_the_contract(target: str, dns_target: DnsTarget) -> None:
    seeds = _inputs("corpus", target)
    assert seeds, f"no seed corpus for {target}"
    for seed in seeds:
        _check(target, seed.read_bytes(), dns_target)


@pytest.mark.parametrize(
    ("target", "finding"),
    [(t, p) for t in TARGETS for p in _inputs("regressions", t)],
    ids=lambda v: v.name if isinstance(v, Path) else v,
)
def test_past_finding_keeps_the_contract(
    target: str, finding: Path, dns_target: DnsTarget
) -> None:
    _check(target, finding.read_bytes(), dns_target)


def test_non_ascii_label_below_the_zone_is_nxdomain(dns_target: DnsTarget) -> None:
    """Finding: a query for ``fuzz.\\xdf.8.118.88.<zone>`` made ``answer`` raise
    DnsNameError (is_empty_non_terminal on a non-ASCII label) instead of answering."""
    wire = (HERE / "regressions" / "dns" / "non-ascii-label-below-zone").read_bytes()
    answer = dns_target.loop.run_until_complete(dns_target.bridge.answer(wire, udp=True))
    assert answer is not None
    assert dns.message.from_wire(answer).rcode() == dns.rcode.NXDOMAIN


def test_edns_payload_size_zero_gets_a_truncated_512_byte_answer(
    dns_target: DnsTarget,
) -> None:
    """Finding: an OPT record announcing payload size 0 (ANY for a big record)
    made the UDP answer unbounded (to_wire(max_size=0)): 4330 bytes for 52."""
    wire = (HERE / "regressions" / "dns" / "edns-payload-zero-unbounded-udp-answer").read_bytes()
    answer = dns_target.loop.run_until_complete(dns_target.bridge.answer(wire, udp=True))
    assert answer is not None and len(answer) <= 512
    assert dns.message.from_wire(answer).flags & dns.flags.TC


def test_site_value_with_a_non_number_version_is_a_protocol_error() -> None:
    """Finding: ``"version": [...]`` in an HS_SITE value's JSON made
    values_from_json raise TypeError (``int(list)``) instead of ProtocolError."""
    body = (HERE / "regressions" / "rest_json" / "site-version-not-a-number").read_bytes()
    with pytest.raises(ProtocolError, match="version must be an integer"):
        values_from_json(orjson.loads(body))


def test_short_fuzz_run_finds_nothing(tmp_path: Path) -> None:
    """Every harness runs under atheris for a few seconds without a finding."""
    seconds = SHORT_SECONDS * len(TARGETS)
    proc = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.run", "--seconds", str(seconds),
         "--work", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=seconds + 150, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    for target in TARGETS:
        line = next(ln for ln in proc.stdout.splitlines() if ln.startswith(f"fuzz {target}:"))
        execs = int(line.split("execs=")[1].split()[0])
        assert execs > 0, line
