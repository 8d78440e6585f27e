"""``idnode serve``: run the node's front ends until interrupted.

With ``--workers N`` (N > 1) this process runs worker 0 and starts N-1 more
worker processes; all share the Handle and HTTP ports through SO_REUSEPORT, keep
authentication challenges and sessions in the registry database (a CNRI client
may answer a challenge on a new connection that reaches another worker:
:mod:`resolver.core.auth_sessions`), and stop when this process stops.  A line
``idnode ... on LOOP: serving`` on stdout says the node is ready; it names the
event loop (uvloop where installed: the node's hot paths are mostly event-loop
work, which uvloop does in C).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import signal
import subprocess
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from admin.context import EXIT_OK, EXIT_USAGE, CliError, CommandContext
from admin.parsing import add_command
from registry.collector import settle_heap
from resolver.core.log_format import configure_logging
from resolver.core.orphans import die_with_parent
from resolver.node import ListenError, start_node
from resolver.site_sync import SiteMismatch

log = logging.getLogger("idnode.serve")

EXAMPLES = """  idnode serve                              # the node in ./idnode-data
  idnode serve --handle-port 2641 --http-port 8000 --workers 2
  idnode serve --role root --data-dir root-data --handle-port 12641
  IDNODE_DATABASE_URL=postgresql://127.0.0.1/test idnode serve"""

def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve``."""
    parser = add_command(
        subparsers, "serve", serve, summary="Serve the Handle protocol, HTTP API and DNS.",
        examples=EXAMPLES,
    )
    parser.add_argument("--role", dest="cfg_role", choices=("node", "root"))
    parser.add_argument("--listen", dest="cfg_listen_hosts", help="addresses, comma-separated")
    parser.add_argument("--public-host", dest="cfg_public_host", help="address put in HS_SITE")
    parser.add_argument("--handle-port", dest="cfg_handle_port", type=int)
    parser.add_argument("--http-port", dest="cfg_http_port", type=int)
    parser.add_argument("--dns-port", dest="cfg_dns_port", type=int, help="0 = DNS off")
    parser.add_argument("--dns-zone", dest="cfg_dns_zone")
    parser.add_argument("--database-url", dest="cfg_database_url")
    parser.add_argument("--redis-url", dest="cfg_redis_url")
    parser.add_argument("--root-address", dest="cfg_root_address", help="HOST:PORT of the root")
    parser.add_argument("--prefixes", dest="cfg_prefixes", help="node prefixes, comma-separated")
    parser.add_argument("--workers", dest="cfg_workers", type=int, help="processes (default 1)")
    parser.add_argument("--welcome", action="store_true",
                        help="after starting, print where to look and what to try "
                        "(pages, REST API, enterprises, a write with curl)")
    parser.add_argument("--worker-child", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(run_loop=event_loop_runner())


def event_loop_runner() -> Callable[[Coroutine[Any, Any, int]], int]:
    """``uvloop.run`` when uvloop is installed (not on Windows), else ``asyncio.run``."""
    if importlib.util.find_spec("uvloop") is None:
        return asyncio.run
    import uvloop

    return uvloop.run


async def serve(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM."""
    configure_logging(ctx.config.log_level)
    for noisy in ("alembic", "aiohttp.access"):  # one line per request costs the hot path
        logging.getLogger(noisy).setLevel(logging.WARNING)
    workers = 1 if args.worker_child else ctx.config.workers
    if workers > 1 and (ctx.config.handle_port == 0 or ctx.config.http_port == 0):
        raise CliError("--workers needs fixed --handle-port and --http-port", EXIT_USAGE)
    try:
        node = await start_node(ctx.config, reuse_port=workers > 1 or args.worker_child,
                                primary=not args.worker_child)
    except (ListenError, SiteMismatch) as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    children = _start_workers(workers - 1, args.argv)
    loops = await asyncio.to_thread(_wait_ready, children)
    settle_heap()  # started: what startup built is never walked by the collector again
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    loops.add(type(loop).__module__.split(".")[0])
    print(f"{node.describe()}; on {','.join(sorted(loops))}: serving", flush=True)
    if args.welcome and not args.worker_child:
        from admin.welcome import welcome_text  # only make run's first screen needs it

        print(await welcome_text(ctx.config, node.store), flush=True)
    try:
        await stop.wait()
    finally:
        for child in children:
            child.terminate()
        await node.close()
        for child in children:
            await asyncio.to_thread(child.wait)
    return EXIT_OK


def _start_workers(count: int, cli_args: Sequence[str]) -> list[subprocess.Popen[bytes]]:
    """Start ``count`` more worker processes with this command's arguments."""
    argv = [sys.executable, "-m", "admin.cli", *cli_args, "--worker-child"]
    children = []
    for _ in range(count):
        child = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, preexec_fn=die_with_parent
        )
        children.append(child)
    return children


def _wait_ready(children: Sequence[subprocess.Popen[bytes]]) -> set[str]:
    """Block until every worker has printed its ``... on LOOP: serving`` line (it
    listens then); the event loops they run on."""
    loops = set()
    for child in children:
        assert child.stdout is not None
        line = child.stdout.readline()
        if b"serving" not in line:
            raise CliError(f"worker {child.pid} did not start (exit {child.wait()})")
        loops.add(line.split()[-2].decode().rstrip(":"))
    return loops


