"""The peer of a benchmark run: another Handle server (e.g. CNRI's) measured beside the node.

``--peer HOST:PORT,HTTP_URL`` names where it listens: the Handle protocol (UDP and TCP)
and its REST API.  The hot profile asks it for ``--peer-handles`` (or what it lists
under ``--peer-prefixes``); the write profile creates handles on it as on the node, with
the peer's own writer:

* ``--peer-admin INDEX:HANDLE``: the admin identity holding an HS_SECKEY (e.g.
  ``300:9999/admin``);
* ``--peer-secret-env VAR``: the environment variable holding that secret key (never on
  the command line, in a log or in the results);
* ``--peer-create-prefix P``: the prefix the admin may create under;
* ``--peer-write-url URL``: where REST creates go (default HTTP_URL); a server that takes
  credentials over HTTPS only (CNRI) needs ``https://``;
* ``--peer-tls-no-verify``: take the peer's certificate unverified (a self-signed one),
  for a peer on a loopback address only.

Errors name the option and the input that caused them (a secret never).
"""

from __future__ import annotations

import argparse
import ipaddress
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from benchmarks.writes import Credentials


@dataclass(frozen=True)
class Peer:
    """Another Handle server to compare with: where it listens, what to ask it, and the
    writer to create handles on it with (None: the write profile leaves it out)."""

    host: str
    hdl_port: int
    http_url: str
    handles: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    writer: Credentials | None = None
    write_url: str = ""
    verify_tls: bool = True

    @property
    def rest_url(self) -> str:
        """The base URL REST creates go to."""
        return self.write_url or self.http_url


def parse_peer(text: str) -> Peer:
    """``HOST:PORT,HTTP_URL`` as a Peer; ValueError naming the input if malformed."""
    address, comma, http_url = text.partition(",")
    host, colon, port = address.rpartition(":")
    if not (comma and colon and host and port.isdigit() and http_url.startswith("http")):
        raise ValueError(f"--peer: expected HOST:PORT,HTTP_URL, got {text!r}")
    return Peer(host.strip("[]"), int(port), http_url.rstrip("/"))


def parse_admin(text: str) -> tuple[int, str]:
    """``INDEX:HANDLE`` (``300:9999/admin``) as (index, handle)."""
    index, colon, handle = text.partition(":")
    if not (colon and index.isdigit() and "/" in handle):
        raise ValueError(f"--peer-admin: expected INDEX:HANDLE such as 300:9999/admin, "
                         f"got {text!r}")
    return int(index), handle


def is_loopback(url: str) -> bool:
    """Whether ``url`` names a loopback host."""
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _items(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def add_options(parser: argparse.ArgumentParser) -> None:
    """The ``--peer*`` options."""
    parser.add_argument("--peer", type=parse_peer, metavar="HOST:PORT,HTTP_URL",
                        help="another Handle server to compare with (hot UDP and REST, "
                        "creates over Handle and REST)")
    parser.add_argument("--peer-handles", default="",
                        help="handles the peer holds, comma-separated (default: found on it)")
    parser.add_argument("--peer-prefixes", default="",
                        help="prefixes to find the peer's handles under (default: the node's)")
    parser.add_argument("--peer-admin", default="", metavar="INDEX:HANDLE",
                        help="write profile: the peer's admin with an HS_SECKEY, e.g. "
                        "300:9999/admin")
    parser.add_argument("--peer-secret-env", default="", metavar="VAR",
                        help="write profile: environment variable holding that admin's secret")
    parser.add_argument("--peer-create-prefix", default="", metavar="PREFIX",
                        help="write profile: prefix the peer's admin creates handles under")
    parser.add_argument("--peer-write-url", default="", metavar="URL",
                        help="write profile: base URL of the peer's REST API for creates "
                        "(default: the --peer HTTP_URL; CNRI takes credentials over https only)")
    parser.add_argument("--peer-tls-no-verify", action="store_true",
                        help="take the peer's TLS certificate unverified (self-signed); only "
                        "for a peer on a loopback address")


def peer_from_args(args: argparse.Namespace, environ: Mapping[str, str]) -> Peer | None:
    """The peer the options describe (None without ``--peer``); ValueError naming the
    option at fault."""
    writing = {"--peer-admin": args.peer_admin, "--peer-secret-env": args.peer_secret_env,
               "--peer-create-prefix": args.peer_create_prefix}
    given = [name for name, value in writing.items() if value]
    others = [name for name, value in (("--peer-write-url", args.peer_write_url),
                                       ("--peer-tls-no-verify", args.peer_tls_no_verify))
              if value]
    peer: Peer | None = args.peer
    if peer is None:
        if given or others:
            raise ValueError(f"{', '.join(given + others)} need(s) --peer HOST:PORT,HTTP_URL")
        return None
    if given and len(given) < len(writing):
        missing = [name for name in writing if name not in given]
        raise ValueError(f"creates on the peer need {', '.join(writing)}: "
                         f"{', '.join(missing)} missing")
    writer = None
    if given:
        index, handle = parse_admin(args.peer_admin)
        secret = environ.get(args.peer_secret_env, "")
        if not secret:
            raise ValueError(f"--peer-secret-env {args.peer_secret_env}: that environment "
                             "variable is not set or empty")
        writer = Credentials(handle, index, secret, args.peer_create_prefix.strip("/"))
    write_url = args.peer_write_url.rstrip("/")
    if write_url and urllib.parse.urlsplit(write_url).scheme not in ("http", "https"):
        raise ValueError(f"--peer-write-url: expected an http:// or https:// URL, "
                         f"got {args.peer_write_url!r}")
    peer = Peer(peer.host, peer.hdl_port, peer.http_url, _items(args.peer_handles),
                _items(args.peer_prefixes), writer, write_url, not args.peer_tls_no_verify)
    if not peer.verify_tls:
        for url in {peer.http_url, peer.rest_url}:
            if not is_loopback(url):
                raise ValueError(f"--peer-tls-no-verify: only for a peer on a loopback "
                                 f"address, and {url} is not")
    return peer
