"""``idnode resolve HANDLE``: what a client asking this node would get back.

By default the question goes to the resolution service over the local
registry (public view: values an anonymous client may read).  Exit code 1
when the handle or the selected values do not exist.
"""

from __future__ import annotations

import argparse

from admin.context import EXIT_FAILED, EXIT_OK, CommandContext
from admin.parsing import add_command
from admin.values import print_record
from protocol.constants import RC_SUCCESS, response_code_name
from resolver.service import ResolutionService


async def resolve(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Resolve one handle against the local registry."""
    async with ctx.store() as store:
        service = ResolutionService(store)
        answer = await service.resolve(args.handle, types=args.type or (),
                                       indexes=args.index or ())
    head = {"handle": answer.handle, "response_code": answer.response_code,
            "response": response_code_name(answer.response_code), "source": answer.source}
    print_record(ctx.out, head, answer.values)
    return EXIT_OK if answer.response_code == RC_SUCCESS else EXIT_FAILED


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``resolve``."""
    parser = add_command(
        subparsers, "resolve", resolve,
        summary="Resolve a handle as a client of this node would see it.",
        examples="  idnode resolve 88.118.8/TV-0001\n"
        "  idnode resolve 88.118.8/TV-0001 --type URL\n"
        "  idnode --json resolve 0.NA/88.118 --index 100",
    )
    parser.add_argument("handle")
    parser.add_argument("--type", action="append", help="only values of this type (repeatable)")
    parser.add_argument("--index", action="append", type=int,
                        help="only the value at this index (repeatable)")
