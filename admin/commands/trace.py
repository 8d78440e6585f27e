"""``idnode trace HANDLE``: a product's parts tree, where it is used, and its events.

The same lookups as ``GET /api/trace/{handle}`` (:mod:`resolver.core.trace`), made
from the command line over the node's registry: parts on other nodes are
resolved recursively from the configured root (``root_address``), signatures
are checked against the configured trust anchor.  The text output is an
indented tree, one node per line::

    88.118.9/WL-0000010  machinery.equipment@1  [local, unsigned]
      component 88.118.10/TY-00000031  rubber.product@1  [local, unsigned]
        batch 88.118.10/MB-TRD-000002  material.batch@1  [local, unsigned]

``--json`` prints the whole answer.  Exit code 1 when the handle itself cannot
be resolved, with one line on stderr saying why (``not found``...); with
``--up`` a handle this node does not hold still answers when its where-used
index names products containing it (a part registered elsewhere), and is
"not found" (exit 1) only when nothing here uses it either, so a recall
script never reads a mistyped handle as "nothing affected".  Products on other
nodes that registered a signed back-link here (:mod:`resolver.core.backlinks`)
show the node they came from and the signature status::

    88.118.9/PCB-1  material.batch@1  [local, unsigned]
      component 88.118.7/WM-1  [88.118.7 ..., unsigned]  <- back-link from 88.118.7
        (127.0.0.1:2641, verified)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from admin.context import EXIT_OK, EXIT_USAGE, CliError, CommandContext
from admin.parsing import add_command
from protocol.constants import RC_HANDLE_NOT_FOUND, RC_SUCCESS, RC_VALUES_NOT_FOUND
from resolver.core.assembly import build_service
from resolver.core.far_recall import DEFAULT_HOPS, MAX_HOPS, FarRecall
from resolver.core.homes import home_finder
from resolver.core.recall import affected_products
from resolver.core.trace import DEFAULT_DEPTH, Tracer, TraceRequestError, record_verifier


def node_line(node: Mapping[str, Any]) -> str:
    """One node as ``[relation ]handle  template  [source, signature]`` or its problem."""
    head = f"{node['relation']} " if node.get("relation") else ""
    text = head + str(node.get("handle", ""))
    if node.get("template"):
        text += f"  {node['template']}"
    if node.get("responseCode") == RC_HANDLE_NOT_FOUND:
        text += "  !! not found"
    elif node.get("error"):
        detail = node.get("message", "")
        text += f"  !! {node['error']}" + (f": {detail}" if detail else "")
    elif node.get("repeated"):
        text += "  (shown above)"
    else:
        stale = ", stale" if node.get("stale") else ""
        text += f"  [{node.get('source', '?')}, {node.get('signature', '?')}{stale}]"
    if node.get("backlink"):
        link = node["backlink"]
        text += f"  <- back-link from {link['origin']} ({link['server']}, {link['signature']})"
    if node.get("more"):
        text += f"  (+{node['more']} beyond the depth)"
    return text


def tree_lines(nodes: Sequence[Mapping[str, Any]], key: str, indent: int = 1) -> list[str]:
    """The nodes under ``key`` (``children`` or ``usedIn``), indented two spaces a level."""
    lines: list[str] = []
    for node in nodes:
        lines.append("  " * indent + node_line(node))
        lines += tree_lines(node.get(key, ()), key, indent + 1)
    return lines


def answer_text(answer: Mapping[str, Any]) -> str:
    """The human-readable rendering of a trace answer."""
    lines = [node_line(answer["node"])]
    if "down" in answer:
        lines += ["parts:"] + (tree_lines(answer["down"].get("children", ()), "children")
                               or ["  (none)"])
    if "up" in answer:
        lines += ["used in:"] + (tree_lines(answer["up"].get("usedIn", ()), "usedIn")
                                 or ["  (none)"])
    if "events" in answer:
        lines.append("events:")
        for event in answer["events"] or ():
            if "error" in event:
                lines.append(f"  !! {event['error']}")
            else:
                lines.append(f"  {event['time']}  {event['kind']:<9}  {event['actor']}  "
                             f"{event['place']}  {event['note']}".rstrip())
        if not answer["events"]:
            lines.append("  (none)")
    if answer.get("truncated"):
        lines.append(f"(cut at {answer['nodes']} nodes)")
    return "\n".join(lines)


def _direction(args: argparse.Namespace) -> str:
    chosen = [name for name in ("up", "events", "all") if getattr(args, name)]
    if len(chosen) > 1:
        raise CliError("give at most one of --up, --events, --all", EXIT_USAGE)
    return chosen[0] if chosen else "down"


async def _recall_list(ctx: CommandContext, args: argparse.Namespace) -> int:
    """``--up --products``: the finished products containing HANDLE, flat, with a count."""
    if not 0 <= args.hops <= MAX_HOPS:
        raise CliError(f"--hops must be 0 to {MAX_HOPS}", EXIT_USAGE)
    async with ctx.store() as store:
        service = await build_service(store, ctx.config, site_info=None)
        try:
            far = FarRecall(home_finder(service, ctx.config),
                            scheme=ctx.config.backlinks_scheme)
            answer = await affected_products(store, args.handle, far=far.follow,
                                             hops=args.hops)
        finally:
            await service.close()
        if not answer.products and await store.get_handle(args.handle) is None:
            raise CliError(f"{args.handle} not found (and nothing here contains it)")
    if args.csv:
        sys.stdout.write(answer.as_csv())
        return EXIT_OK
    lines = [f"{len(answer.products)} finished products contain {args.handle}"
             + (" (list cut short: more exist)" if answer.truncated else "")]
    lines += [f"  {p.handle}  via {p.via}  ({p.levels} up)"
              + (f"  from {p.origin} ({p.server}, signature {p.signature})" if p.origin else "")
              for p in answer.products]
    ctx.out.result(answer.as_json(), "\n".join(lines))
    return EXIT_OK


async def trace(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Trace one handle and print the answer."""
    direction = _direction(args)
    if args.products or args.csv:
        if direction != "up":
            raise CliError("--products lists where-used products: add --up", EXIT_USAGE)
        return await _recall_list(ctx, args)
    async with ctx.store() as store:
        service = await build_service(store, ctx.config, site_info=None)
        try:
            tracer = Tracer(service, verifier=record_verifier(service),
                            hop_timeout=args.timeout)
            answer = await tracer.trace(args.handle, direction=direction, depth=args.depth)
        except TraceRequestError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
        finally:
            await service.close()
    problem = _problem(answer)
    if problem is None or ctx.out.json_mode:
        ctx.out.result(answer, answer_text(answer))
    if problem is not None:
        raise CliError(f"{args.handle} {problem}")
    return EXIT_OK


def _problem(answer: Mapping[str, Any]) -> str | None:
    """Why the traced handle itself has no answer (None when it has one).

    Where-used (``--up``) of a handle this node does not hold still answers
    when products here contain it.
    """
    code = answer["responseCode"]
    if code in (RC_SUCCESS, RC_VALUES_NOT_FOUND):
        return None
    if answer["direction"] == "up" and answer["up"].get("usedIn"):
        return None
    if code == RC_HANDLE_NOT_FOUND:
        return "not found"
    node = answer["node"]
    return f"could not be resolved: {node.get('message') or node.get('error', code)}"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``trace``."""
    parser = add_command(
        subparsers, "trace", trace,
        summary="Trace a product: its parts tree (default), where it is used (--up), "
        "its lifecycle events (--events), or all three (--all).",
        examples="  idnode trace 88.118.9/WL-0000010\n"
        "  idnode trace 88.118.10/MB-NR-000001 --up --depth 3\n"
        "  idnode trace 88.118.8/RF-0000005 --events\n"
        "  idnode --json trace 88.118.8/RF-0000005 --all\n"
        "  idnode trace 88.118.10/MB-NR-000001 --up --products --csv > recall.csv",
    )
    parser.add_argument("handle")
    parser.add_argument("--up", action="store_true",
                        help="where-used: every product containing HANDLE, transitively")
    parser.add_argument("--events", action="store_true", help="the lifecycle events in order")
    parser.add_argument("--all", action="store_true", help="parts, where-used and events")
    parser.add_argument("--products", action="store_true",
                        help="with --up: the flat recall list of finished products, counted")
    parser.add_argument("--csv", action="store_true",
                        help="with --up --products: the list as CSV "
                        "(product,via,levels,origin,signature)")
    parser.add_argument("--hops", type=int, default=DEFAULT_HOPS,
                        help="with --products: follow products on other nodes this many "
                        f"nodes further (0-{MAX_HOPS}, default {DEFAULT_HOPS})")
    parser.add_argument("--depth", type=int, default=DEFAULT_DEPTH,
                        help=f"levels to follow (default {DEFAULT_DEPTH})")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="seconds to wait for each part's server (default 5)")
