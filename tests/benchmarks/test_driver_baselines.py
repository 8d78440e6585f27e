"""The load driver and the Locust Handle users against the baseline servers (no node)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.driver import DriverOptions, drive
from benchmarks.locust_runner import LocustRun, run_locust
from benchmarks.processes import free_ports, start_server
from benchmarks.workload import KeyFile, WorkloadSpec
from protocol.bodies import ResolutionResponse, error_body
from protocol.constants import OC_RESOLUTION, RC_ERROR, RC_SUCCESS
from protocol.framing import encode_tcp, encode_udp
from protocol.message import Message
from protocol.values import HandleValue


@dataclass
class Baseline:
    http_port: int
    hdl_port: int
    spec: WorkloadSpec
    reply: Message


@contextlib.contextmanager
def canned(folder: Path, reply: Message, processes: int) -> Iterator[Baseline]:
    (folder / "sample.hex").write_text(encode_tcp(reply).hex())
    KeyFile(tuple(f"88.118.8/K-{i}" for i in range(100))).save(folder / "keys.json")
    http_port, hdl_port = free_ports(2)
    server = start_server("baseline", [
        sys.executable, "-m", "benchmarks.baselines", "--http-port", str(http_port),
        "--udp-port", str(hdl_port), "--body-size", "2000", "--sample",
        str(folder / "sample.hex"), "--processes", str(processes)], folder / "baseline.log")
    try:
        yield Baseline(http_port, hdl_port, WorkloadSpec(keys=str(folder / "keys.json")), reply)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Baseline]:
    values = tuple(HandleValue(i + 1, "DESC", b"v" * 80) for i in range(20))
    reply = Message(op_code=OC_RESOLUTION, response_code=RC_SUCCESS,
                    body=ResolutionResponse("88.118.8/X", values))
    with canned(tmp_path_factory.mktemp("baseline"), reply, processes=2) as target:
        yield target


@pytest.mark.parametrize("protocol", ["udp", "http"])
def test_driver_runs_until_its_time_is_up(baseline: Baseline, protocol: str) -> None:
    port = baseline.hdl_port if protocol == "udp" else baseline.http_port
    opts = DriverOptions(protocol, port, concurrency=8, duration=1.5, warmup=0.3, sockets=2)
    result = drive(opts, baseline.spec)
    assert result.completed > 0 and result.errors == 0, result.first_error
    assert 1.0 <= result.seconds < 3.0
    assert result.achieved_rps > 0 and 0 < result.p50 <= result.p99
    assert result.mean_bytes == (2000 if protocol == "http" else sum(
        len(d) for d in encode_udp(baseline.reply)))


def test_driver_stops_at_max_requests_in_several_processes(baseline: Baseline) -> None:
    opts = DriverOptions("udp", baseline.hdl_port, concurrency=4, duration=20.0, warmup=0.0,
                         max_requests=200, processes=2)
    result = drive(opts, baseline.spec)
    assert result.completed + result.errors <= 200 and result.seconds < 15


@pytest.mark.parametrize("protocol", ["udp", "http"])
def test_a_paced_driver_never_runs_ahead_of_its_rate(baseline: Baseline, protocol: str) -> None:
    port = baseline.hdl_port if protocol == "udp" else baseline.http_port
    opts = DriverOptions(protocol, port, concurrency=8, duration=1.5, warmup=0.0, sockets=2,
                         rate=100.0, processes=2)
    result = drive(opts, baseline.spec)
    assert result.errors == 0, result.first_error
    # request n leaves no earlier than n / rate: at most rate x duration (+1 per process)
    assert 0 < result.completed <= 100 * 1.5 + 2
    unpaced = drive(DriverOptions(protocol, port, concurrency=8, duration=1.5, warmup=0.0,
                                  sockets=2), baseline.spec)
    assert unpaced.completed > 152  # the same baseline answers far more when not paced


def test_driver_counts_unanswered_requests_as_errors(baseline: Baseline) -> None:
    (silent,) = free_ports(1)
    opts = DriverOptions("udp", silent, concurrency=2, duration=1.0, warmup=0.0,
                         timeout=0.3, max_requests=6)
    result = drive(opts, baseline.spec)
    assert result.completed == 0 and result.errors == 6
    assert result.first_error.startswith("TimeoutError")


def test_driver_repeats_over_tcp_what_udp_refused(tmp_path: Path) -> None:
    refusal = Message(op_code=OC_RESOLUTION, response_code=RC_ERROR,
                      body=error_body("response too large for UDP: use TCP"))
    with canned(tmp_path, refusal, processes=1) as target:
        opts = DriverOptions("udp", target.hdl_port, concurrency=2, duration=5.0,
                             warmup=0.0, max_requests=20)
        result = drive(opts, target.spec)
    assert result.tcp_fallbacks == 20 and result.errors == 20
    assert result.first_error == "hit answered with code 2"


def test_locust_tcp_user_resolves_against_the_baseline(baseline: Baseline, tmp_path: Path
                                                       ) -> None:
    run = LocustRun("HdlTcpResolver", 20.0, 3.0, 0.5, f"http://127.0.0.1:{baseline.http_port}",
                    baseline.hdl_port)
    by_type, seconds = run_locust(run, baseline.spec, tmp_path / "tcp")
    assert by_type["HDL-TCP"].latencies and by_type["HDL-TCP"].errors == 0
    assert seconds > 1.0
    assert (tmp_path / "tcp_stats.csv").exists()


def test_a_server_runs_in_a_session_of_its_own(tmp_path: Path) -> None:
    """As a peer started by its own scripts does: the load tool's session (a scheduling
    group under autogroup) is not the server's."""
    server = start_server("sleeper", [
        sys.executable, "-c", "import time; print('serving', flush=True); time.sleep(60)"],
        tmp_path / "sleeper.log")
    try:
        assert os.getsid(server.process.pid) == server.process.pid != os.getsid(0)
    finally:
        server.stop()
    assert server.process.returncode is not None
