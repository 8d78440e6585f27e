"""``idnode backlinks outbox|push``: the where-used links this node owes other nodes.

Every write that links a product here to a part homed on another node queues a
signed back-link for the part's home (:mod:`resolver.core.backlinks`);
``idnode serve`` delivers them every ``backlinks_interval`` seconds.
``outbox`` lists what is still waiting, with the number of attempts and the
last error (the part's node down, a refusal and its reason); ``push``
delivers what is due now, from this process, and says what happened.
"""

from __future__ import annotations

import argparse

from admin.context import EXIT_FAILED, EXIT_OK, CliError, CommandContext
from admin.parsing import add_command, add_group
from resolver.core.assembly import build_service
from resolver.core.backlinks import sender_from

MAX_LISTED = 1000


async def outbox(ctx: CommandContext, args: argparse.Namespace) -> int:
    """The back-links not yet taken by their parts' home nodes."""
    async with ctx.store() as store:
        items = await store.backlink_outbox(limit=args.limit)
    rows = [{"product": i.product, "part": i.part, "relation": i.relation, "op": i.op,
             "queued": i.queued.isoformat(timespec="seconds"), "attempts": i.attempts,
             "last_error": i.last_error} for i in items]
    ctx.out.result(rows)
    return EXIT_OK


async def push(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Deliver the due back-links now; exit 1 when some could not be delivered."""
    async with ctx.store() as store:
        service = await build_service(store, ctx.config, site_info=None)
        try:
            sender = sender_from(service, ctx.config)
            if sender is None:
                raise CliError(f"no usable server key at {ctx.config.server_key_path}")
            report = await sender.deliver_due()
        finally:
            await service.close()
    lines = [f"{report.delivered} delivered, {report.failed} not delivered"]
    lines += [f"  {error}" for error in report.errors]
    ctx.out.result(report.as_json(), "\n".join(lines))
    return EXIT_FAILED if report.failed else EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``backlinks`` command group."""
    group = add_group(subparsers, "backlinks",
                      "Where-used links owed to the home nodes of parts homed elsewhere.")
    parser = add_command(group, "outbox", outbox,
                         summary="List the back-links waiting for delivery, with the last error.",
                         examples="  idnode backlinks outbox\n  idnode --json backlinks outbox")
    parser.add_argument("--limit", type=int, default=MAX_LISTED,
                        help=f"at most this many (default {MAX_LISTED})")
    add_command(group, "push", push,
                summary="Deliver the due back-links now (idnode serve does it periodically).",
                examples="  idnode backlinks push")
