"""``idnode template add|list|show``: the industry data templates records are checked against.

Built-in templates ship with idnode (:mod:`registry.templates`); an operator
adds more, without code, as JSON Schema files with an ``x-idnode`` block.
``add`` checks the file (its shape, the JSON Schema itself, the field
mapping) and stores it in the registry's templates table; from then on every
record whose ``TRACE.TEMPLATE`` names it is validated against it on each
write and import.  A stored version is never changed: a new version of a
template is a new file with the same name and a higher ``version``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from admin.context import EXIT_OK, CliError, CommandContext
from admin.output import fields, table
from admin.parsing import add_command, add_group
from registry.store import HandleStore
from registry.templates import (
    Template,
    TemplateError,
    find_template,
    load_builtin_templates,
    load_template_file,
    template_from_json,
)


async def known_templates(store: HandleStore) -> dict[str, tuple[Template, str]]:
    """Every template by ``name@version`` with where it comes from (builtin / added)."""
    found = {key: (t, "builtin") for key, t in load_builtin_templates().items()}
    for info in await store.list_templates():
        template = template_from_json(info.schema, source=f"stored {info.name}@{info.version}")
        found.setdefault(template.id, (template, "added"))
    return found


def _summary(template: Template, origin: str) -> dict[str, Any]:
    return {"template": template.id, "industry": template.industry, "origin": origin,
            "title": template.title, "fields": len(template.fields),
            "links": ", ".join(name for name, _ in template.links)}


async def add(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Check a template file and store it."""
    try:
        template = load_template_file(args.file)
    except TemplateError as exc:
        raise CliError(str(exc)) from None
    async with ctx.store() as store:
        known = await known_templates(store)
        if template.id in known:
            existing, origin = known[template.id]
            if existing.schema != template.schema:
                raise CliError(f"{template.id} is already {origin} with other content; "
                               "give the new file a higher version")
            ctx.out.result(_summary(existing, origin), f"{template.id} is already {origin}")
            return EXIT_OK
        await store.put_template(template.name, template.version, template.to_json())
    ctx.out.result(_summary(template, "added"), f"added template {template.id}")
    return EXIT_OK


async def list_(ctx: CommandContext, args: argparse.Namespace) -> int:
    """List the built-in and added templates."""
    async with ctx.store() as store:
        known = await known_templates(store)
    rows = [_summary(t, origin) for _key, (t, origin) in sorted(known.items())]
    ctx.out.result(rows, table(rows, ["template", "industry", "origin", "fields", "links",
                                      "title"]))
    return EXIT_OK


async def show(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Print one template: its summary and mapping, and with ``--schema`` its JSON Schema."""
    async with ctx.store() as store:
        known = await known_templates(store)
    try:
        template = find_template({k: t for k, (t, _o) in known.items()}, args.template)
    except TemplateError as exc:
        raise CliError(str(exc)) from None
    origin = known[template.id][1]
    if ctx.out.json_mode or args.schema:
        ctx.out.result(dict(template.schema), json.dumps(template.schema, indent=2,
                                                          ensure_ascii=False))
        return EXIT_OK
    mapping = [{"field": name, "value_type": vtype} for name, vtype in template.fields]
    mapping += [{"field": name, "value_type": f"{vtype} (link)"} for name, vtype in template.links]
    text = fields(_summary(template, origin)) + "\n\n" + table(mapping)
    ctx.out.result(None, text)
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``template add|list|show``."""
    group = add_group(subparsers, "template", "Industry data templates (JSON Schema).")
    parser = add_command(
        group, "add", add,
        summary="Check a template file and store it; records naming it are then validated.",
        examples="  idnode template add hose-v2.json",
    )
    parser.add_argument("file", help="a JSON Schema file with an x-idnode block")
    add_command(group, "list", list_, summary="List the built-in and added templates.",
                examples="  idnode template list\n  idnode --json template list")
    parser = add_command(
        group, "show", show, summary="Show a template (NAME for its newest version).",
        examples="  idnode template show rubber.product\n"
        "  idnode template show appliance.product@1 --schema",
    )
    parser.add_argument("template", help="NAME or NAME@VERSION")
    parser.add_argument("--schema", action="store_true", help="print the JSON Schema itself")
