"""The ``--peer*`` options: where the peer listens, its writer (the secret from the
environment only, never shown), and certificate checks waived for loopback peers only."""

from __future__ import annotations

import pytest

from benchmarks.peer import Peer, parse_peer, peer_from_args
from benchmarks.run import parse_plan

CNRI = ["--peer", "127.0.0.1:12641,https://127.0.0.1:18000", "--peer-admin", "300:9999/admin",
        "--peer-secret-env", "PEER_SECRET", "--peer-create-prefix", "9999"]


def _peer(argv: list[str], environ: dict[str, str] | None = None) -> Peer | None:
    _, args = parse_plan(argv)
    return peer_from_args(args, environ if environ is not None else {"PEER_SECRET": "s3cr3t"})


def test_peer_option() -> None:
    peer = parse_peer("127.0.0.1:12641,http://127.0.0.1:18000/")
    assert (peer.host, peer.hdl_port, peer.http_url) == ("127.0.0.1", 12641,
                                                         "http://127.0.0.1:18000")
    for bad in ("127.0.0.1:12641", "127.0.0.1,http://x", "h:p,http://x"):
        with pytest.raises(ValueError, match="HOST:PORT,HTTP_URL"):
            parse_peer(bad)


def test_the_peer_writer_takes_its_secret_from_the_environment_and_never_shows_it() -> None:
    peer = _peer([*CNRI, "--peer-tls-no-verify", "--peer-handles", "9999/A, 9999/B"])
    assert peer is not None and peer.writer is not None
    assert (peer.writer.index, peer.writer.handle, peer.writer.prefix) == (300, "9999/admin",
                                                                           "9999")
    assert peer.writer.secret == "s3cr3t"
    assert "s3cr3t" not in repr(peer)
    assert (peer.handles, peer.rest_url, peer.verify_tls) == (("9999/A", "9999/B"),
                                                              "https://127.0.0.1:18000", False)
    plain = _peer([*CNRI, "--peer-write-url", "https://localhost:18443/"])
    assert plain is not None and plain.verify_tls and plain.rest_url == "https://localhost:18443"
    reading = _peer(CNRI[:2])
    assert reading is not None and reading.writer is None
    assert _peer([]) is None


def test_peer_options_at_fault_are_named() -> None:
    with pytest.raises(ValueError, match="--peer-secret-env PEER_SECRET: that environment"):
        _peer(CNRI, {})
    with pytest.raises(ValueError, match="--peer-create-prefix missing"):
        _peer(CNRI[:6])
    with pytest.raises(ValueError, match=r"--peer-admin: expected INDEX:HANDLE.*'admin'"):
        _peer([*CNRI[:2], "--peer-admin", "admin", *CNRI[4:]])
    with pytest.raises(ValueError, match=r"--peer-admin need.* --peer HOST:PORT"):
        _peer(CNRI[2:4])
    with pytest.raises(ValueError, match=r"--peer-write-url: .*'ftp://x'"):
        _peer([*CNRI, "--peer-write-url", "ftp://x"])
    remote = ["--peer", "192.0.2.7:2641,https://192.0.2.7:8000", *CNRI[2:]]
    with pytest.raises(ValueError, match=r"--peer-tls-no-verify: .*https://192\.0\.2\.7:8000"):
        _peer([*remote, "--peer-tls-no-verify"])
    assert _peer(remote) is not None  # verified certificates: any host
