"""``idnode handle create|get|set|tier|delete|list``: editing handle records in the registry.

Values come from ``--value INDEX:TYPE:DATA`` (see :mod:`admin.values`) and/or
``--from-json FILE``: a JSON list of REST JSON values, or an object with a
``values`` list (what ``idnode --json handle get`` prints).  The store holds
every write to the node's write rules like the servers' (:mod:`registry.write_rules`):
a record whose HS_SIGNATURE does not verify is refused, and handles of
enterprises the node signs for are signed.  ``--tier INDEX:TIER`` (and ``idnode
handle tier``) says who may read a value: public, partners or owner
(:mod:`registry.tiers`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson

from admin.context import EXIT_OK, EXIT_USAGE, CliError, CommandContext
from admin.parsing import add_command, add_group
from admin.values import ValueSyntaxError, parse_value, print_record
from protocol.errors import ProtocolError
from protocol.rest_json import values_from_json
from protocol.values import HandleValue
from registry.errors import HandleNotFound, InvalidArgument
from registry.records import HandleRecord
from registry.tiers import TIERS, keep_tiers, with_tiers

DEFAULT_LIMIT = 100
VALUE_HELP = "a value INDEX:TYPE:DATA, e.g. 1:URL:https://example.com (repeatable)"


def given_values(args: argparse.Namespace) -> list[HandleValue]:
    """The values of ``--from-json`` then ``--value``; a usage error if malformed."""
    values: list[HandleValue] = []
    if getattr(args, "from_json", None):
        try:
            doc: Any = orjson.loads(Path(args.from_json).read_bytes())
            if isinstance(doc, dict):
                doc = doc.get("values")
            values.extend(values_from_json(doc))
        except (OSError, orjson.JSONDecodeError, ProtocolError) as exc:
            raise CliError(f"--from-json {args.from_json}: {exc}", EXIT_USAGE) from None
    try:
        values.extend(parse_value(spec, ttl=args.ttl) for spec in args.value or ())
    except ValueSyntaxError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    return values


def record_head(record: HandleRecord) -> dict[str, Any]:
    """The fields printed above a record's values."""
    return {"handle": record.name, "version": record.version}


def given_tiers(args: argparse.Namespace) -> dict[int, str]:
    """``--tier INDEX:TIER`` options as ``{index: tier}``; a usage error if malformed."""
    tiers: dict[int, str] = {}
    for spec in getattr(args, "tier", None) or ():
        index, _, tier = spec.partition(":")
        if not index.strip().isdigit() or tier not in TIERS:
            raise CliError(f"--tier must be INDEX:{'|'.join(TIERS)}, got {spec!r}", EXIT_USAGE)
        tiers[int(index)] = tier
    return tiers


def _tiered(values: list[HandleValue], tiers: dict[int, str]) -> list[HandleValue]:
    try:
        return with_tiers(values, tiers) if tiers else values
    except InvalidArgument as exc:
        raise CliError(str(exc), EXIT_USAGE) from None


async def create(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Create a handle with the given values."""
    values = _tiered(given_values(args), given_tiers(args))
    if not values:
        raise CliError("give at least one --value or --from-json", EXIT_USAGE)
    async with ctx.store() as store:
        record = await store.create_handle(args.handle, values, actor=ctx.actor)
    print_record(ctx.out, record_head(record), record.values)
    return EXIT_OK


async def get(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Show a handle's values as stored (secret keys hidden)."""
    async with ctx.store() as store:
        record = await store.get_handle(args.handle, types=args.type or (),
                                        indexes=args.index or ())
    if record is None:
        raise HandleNotFound(f"handle {args.handle} not found")
    print_record(ctx.out, record_head(record), record.values)
    return EXIT_OK


async def set_(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Add or overwrite values by index, remove indexes, or replace the whole record."""
    values = given_values(args)
    tiers = given_tiers(args)
    if not values and not args.remove and not tiers:
        raise CliError("give --value, --from-json, --tier or --remove", EXIT_USAGE)
    async with ctx.store() as store:
        current = await store.get_handle(args.handle)
        if current is None:
            raise HandleNotFound(f"handle {args.handle} not found")
        if args.replace:
            merged = {v.index: v for v in values}
        else:
            merged = {v.index: v for v in current.values} | {v.index: v for v in values}
        missing = [i for i in args.remove or () if i not in merged]
        if missing:
            raise CliError(f"{current.name} has no value at index {missing[0]}")
        for index in args.remove or ():
            del merged[index]
        kept = keep_tiers(current.values, list(merged.values()))  # a rewritten value keeps its tier
        record = await store.replace_handle(
            current.name, _tiered(kept, tiers), actor=ctx.actor,
            expected_version=current.version)
    print_record(ctx.out, record_head(record), record.values)
    return EXIT_OK


async def tier(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Say who may read a value: anyone, the owner's partners, or the owner only."""
    async with ctx.store() as store:
        current = await store.get_handle(args.handle)
        if current is None:
            raise HandleNotFound(f"handle {args.handle} not found")
        values = _tiered(list(current.values), {args.index: args.tier})
        record = await store.replace_handle(current.name, values, actor=ctx.actor,
                                            expected_version=current.version)
    print_record(ctx.out, record_head(record), record.values)
    return EXIT_OK


async def delete(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Delete a handle."""
    async with ctx.store() as store:
        await store.delete_handle(args.handle, actor=ctx.actor)
    ctx.out.result({"handle": args.handle, "deleted": True}, f"deleted {args.handle}")
    return EXIT_OK


async def list_(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Handle names under a prefix (all when none), a page at a time."""
    if args.page < 0 or args.limit < 1:
        raise CliError("--page must be 0 or more and --limit at least 1", EXIT_USAGE)
    async with ctx.store() as store:
        names = await store.list_handles(args.prefix, page=args.page, page_size=args.limit)
        total = await store.count_handles(args.prefix)
    remaining = max(0, total - args.page * args.limit - len(names))
    ctx.out.result({"prefix": args.prefix, "total": total, "page": args.page,
                    "remaining": remaining, "handles": names},
                   "\n".join([*(names or ["(none)"]), _page_footer(args, len(names), total,
                                                               remaining)]))
    return EXIT_OK


def _page_footer(args: argparse.Namespace, shown: int, total: int, remaining: int) -> str:
    """``page 0: 1-100 of 523, 423 more: idnode handle list 88.118.8 --page 1``."""
    first = args.page * args.limit + 1
    span = f"{first}-{first + shown - 1} of {total}" if shown else f"none of {total}"
    if not remaining:
        return f"page {args.page}: {span}, no more"
    command = " ".join(["idnode handle list", *([args.prefix] if args.prefix else []),
                        f"--page {args.page + 1}",
                        *([f"--limit {args.limit}"] if args.limit != DEFAULT_LIMIT else [])])
    return f"page {args.page}: {span}, {remaining} more: {command}"


def _value_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--value", action="append", metavar="INDEX:TYPE:DATA", help=VALUE_HELP)
    parser.add_argument("--from-json", metavar="FILE",
                        help="values in REST JSON form (a list, or an object with 'values')")
    parser.add_argument("--ttl", type=int, help="TTL in seconds of the --value values")
    parser.add_argument("--tier", action="append", metavar="INDEX:TIER",
                        help="who may read the value at INDEX: public (default), partners "
                        "(the owner and enterprises it granted) or owner (repeatable)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``handle`` command group."""
    group = add_group(subparsers, "handle", "Create, inspect, change and delete handles.")
    parser = add_command(
        group, "create", create, summary="Create a handle.", writes=True,
        examples="  idnode handle create 88.118.8/TV-0000001 --value 1:URL:https://example.com/tv1\n"
        "  idnode handle create 88.118.8/TV-0000003 --value 1:URL:https://example.com/tv2 "
        "--value 100:HS_ADMIN:0.NA/88.118.8:300\n"
        "  idnode handle create 88.118.8/TV-0000017 --from-json examples/tv.json\n"
        "  idnode handle create 88.118.8/TV-0000018 --value 1:URL:https://example.com/tv "
        "--value 5:TRACE.NOTE:'supplier price' --tier 5:partners",
    )
    parser.add_argument("handle")
    _value_options(parser)

    parser = add_command(
        group, "get", get, summary="Show a handle's stored values (secret keys hidden).",
        examples="  idnode handle get 88.118.8/TV-0000001\n"
        "  idnode --json handle get 88.118.8/TV-0000001 --type URL",
    )
    parser.add_argument("handle")
    parser.add_argument("--type", action="append", help="only values of this type (repeatable)")
    parser.add_argument("--index", action="append", type=int,
                        help="only the value at this index (repeatable)")

    parser = add_command(
        group, "set", set_, summary="Add or change values by index, or remove some.",
        writes=True,
        examples="  idnode handle set 88.118.8/TV-0000001 --value 1:URL:https://example.com/new\n"
        "  idnode handle set 88.118.8/TV-0000001 --remove 2\n"
        "  idnode handle set 88.118.8/TV-0000001 --replace --from-json examples/tv.json",
    )
    parser.add_argument("handle")
    _value_options(parser)
    parser.add_argument("--remove", action="append", type=int, metavar="INDEX",
                        help="remove the value at this index (repeatable)")
    parser.add_argument("--replace", action="store_true",
                        help="the given values replace all current values")

    parser = add_command(
        group, "tier", tier, summary="Say who may read a value: public, partners or owner.",
        writes=True,
        examples="  idnode handle tier 88.118.8/TV-0000001 5 partners\n"
        "  idnode handle tier 88.118.8/TV-0000001 6 owner\n"
        "  idnode handle tier 88.118.8/TV-0000001 5 public",
    )
    parser.add_argument("handle")
    parser.add_argument("index", type=int, help="the value's index")
    parser.add_argument("tier", choices=TIERS, help="public: anyone; partners: the owner and "
                        "the enterprises it granted (idnode enterprise partners); owner: its "
                        "administrators and console users only")

    parser = add_command(group, "delete", delete, summary="Delete a handle.", writes=True,
                         examples="  idnode handle delete 88.118.8/TV-0000001")
    parser.add_argument("handle")

    parser = add_command(group, "list", list_, summary="List handle names under a prefix.",
                         examples="  idnode handle list 88.118.8\n"
                         "  idnode handle list 88.118.8 --page 2 --limit 50")
    parser.add_argument("prefix", nargs="?", help="a prefix such as 88.118.8 (default: all)")
    parser.add_argument("--page", type=int, default=0, help="page number from 0")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT,
                        help=f"names per page (default {DEFAULT_LIMIT})")
