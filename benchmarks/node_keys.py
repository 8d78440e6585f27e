"""Identifiers for a load test when no key file is given: from the command line or the node.

``locust -f benchmarks/locustfile.py --host http://NODE:8000`` must find
something to ask for on any node.  In order:

1. ``--bench-handles H1,H2,...``: exactly those handles;
2. the node's listing ``GET /api/handles?prefix=P`` for each of
   ``--bench-prefixes`` (default ``88.118``, the default node prefix), when
   the node lets this client list;
3. otherwise the prefix handles ``0.NA/P`` themselves, each kept if the node
   resolves it (a node always holds its own prefix handles): a hot load on
   one record, said in a warning.

Misses are made up under the first prefix.  :class:`NoIdentifiers` says what
was tried when nothing was found.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence

from benchmarks.workload import KeyFile

MAX_LISTED = 100_000
TIMEOUT = 10.0

Warn = Callable[[str], None]


class NoIdentifiers(Exception):
    """Neither the command line nor the node gave a handle to ask for."""


def _get_json(url: str) -> tuple[int, object]:
    """(HTTP status, decoded JSON body or None) of an http(s) URL."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise NoIdentifiers(f"--host must be an http:// or https:// URL, got {url!r}")
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:  # noqa: S310 (checked)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise NoIdentifiers(f"cannot reach {url}: {exc}") from None


def listed(host: str, prefix: str) -> tuple[str, ...] | str:
    """The handles the node lists under ``prefix``, or why it did not."""
    url = f"{host.rstrip('/')}/api/handles?{urllib.parse.urlencode({'prefix': prefix})}"
    status, body = _get_json(url)
    if status != 200 or not isinstance(body, dict) or not isinstance(body.get("handles"), list):
        return f"GET {url}: HTTP {status}"
    return tuple(str(h) for h in body["handles"][:MAX_LISTED])


def resolvable(host: str, handle: str) -> bool:
    """Whether the node's REST API resolves ``handle``."""
    status, _ = _get_json(f"{host.rstrip('/')}/api/handles/{urllib.parse.quote(handle)}")
    return status == 200


def node_keys(host: str, handles: Sequence[str], prefixes: Sequence[str],
              warn: Warn) -> KeyFile:
    """The identifiers to load ``host`` with (see the module docstring)."""
    prefixes = [p for p in prefixes if p] or ["88.118"]
    miss_prefix = prefixes[0]
    if handles:
        return KeyFile(tuple(handles), (), miss_prefix)
    found: list[str] = []
    refusals: list[str] = []
    for prefix in prefixes:
        got = listed(host, prefix)
        if isinstance(got, str):
            refusals.append(got)
        else:
            found.extend(got)
    if found:
        return KeyFile(tuple(found), (), miss_prefix)
    own = [f"0.NA/{p}" for p in prefixes if resolvable(host, f"0.NA/{p}")]
    if own:
        warn(f"the node did not list its handles ({'; '.join(refusals)}): asking for the "
             f"prefix handle(s) {', '.join(own)} only; give --bench-handles H1,H2,... or "
             "--bench-keys FILE for a wider load")
        return KeyFile(tuple(own), (), miss_prefix)
    raise NoIdentifiers(
        f"no handles to ask {host} for: {'; '.join(refusals)}, and no prefix handle of "
        f"{', '.join(prefixes)} resolves; give --bench-handles H1,H2,..., --bench-prefixes "
        "P1,P2 or --bench-keys FILE"
    )
