"""``idnode init`` and ``idnode status``: create a node, and look at one."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
from pathlib import Path
from typing import Any

from admin.context import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    CommandContext,
    is_database_error,
)
from admin.parsing import add_command
from admin.probe import Identity, probe_handle, probe_http
from registry.bootstrap import (
    CREDENTIAL_INDEX,
    create_node_keys,
    ensure_node_identity,
)
from registry.config import CONFIG_FILE_NAME, NodeConfig, render_toml
from registry.names import prefix_handle
from registry.replicas import ReadReplicas
from registry.signing_policy import install_trust_anchor
from registry.store import HandleStore
from resolver.core.redis_link import RedisLink

DEMO_PRODUCTS = 50
FIRST_OPERATOR = "operator"
DEMO_PASSWORD = "idnode-demo-2026"  # noqa: S105 - documented password of the demo accounts
PROBE_TIMEOUT = 1.0


async def _is_initialised(ctx: CommandContext) -> bool:
    """Whether the database already holds the node prefix handle.

    A shared database initialised from another host's data dir counts: a
    second ``init`` would replace the node admin's key in the prefix handle.
    """
    if ctx.missing_sqlite_file() is not None:
        return False
    async with ctx.store(migrate=False) as store:
        try:
            return await store.get_handle(prefix_handle(ctx.node_prefix)) is not None
        except Exception as exc:
            if is_database_error(exc):  # not migrated yet
                return False
            raise


async def load_demo(ctx: CommandContext, store: HandleStore, products: int) -> dict[str, int]:
    """The demo enterprises with their prefixes and ``products`` products' records."""
    # Imported here: the demo generator pulls in the templates and jsonschema.
    from admin.commands.demo import (
        REPORT_NAME,
        RejectionReport,
        demo_page_url,
        ensure_demo_enterprises,
        store_records,
    )
    from registry.demo import DEMO_ENTERPRISES, generate

    await ensure_demo_enterprises(ctx, store, force=False)
    records = list(generate(products, page_url=demo_page_url(ctx.config)))
    report = RejectionReport(ctx.config.data_dir / REPORT_NAME)
    try:
        counts = await store_records(store, iter([records]), ctx.actor, report, overwrite=True)
    finally:
        report.close()
    if report.count:
        raise CliError(f"{report.count} demo records were rejected, listed in {report.path}; "
                       f"the first: {report.first_reason}")
    return {"enterprises": len(DEMO_ENTERPRISES),
            "records": counts["inserted"] + counts["replaced"]}


async def init(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Create the data dir, config file, keys and database with the node prefix handle."""
    config = ctx.config
    if await _is_initialised(ctx):
        if args.if_missing:
            ctx.out.result({"initialised": False, "data_dir": str(config.data_dir)},
                           f"{config.data_dir} is already initialised; nothing to do")
            return EXIT_OK
        raise CliError(f"{config.data_dir} is already initialised: the database holds "
                       f"{prefix_handle(ctx.node_prefix)} (use --if-missing to accept)")
    config.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(config.data_dir, 0o700)
    config_file = config.data_dir / CONFIG_FILE_NAME
    if args.trust_anchor:
        config = install_trust_anchor(config, Path(args.trust_anchor))
    if not config_file.exists():
        resolved = dataclasses.replace(config, data_dir=config.data_dir.resolve())
        config_file.write_text(render_toml(resolved), encoding="utf-8")
    passphrase = None
    if args.admin_passphrase_file:
        passphrase = _read_secret(Path(args.admin_passphrase_file))
    written = create_node_keys(ctx.key_files, admin_passphrase=passphrase)
    admin_pubkey = ctx.key_files.admin_pubkey.read_bytes()
    demo: dict[str, int] = {}
    async with ctx.store(migrate=True) as store:
        for prefix in config.prefixes:
            await ensure_node_identity(store, prefix, site=ctx.site_value(),
                                       admin_pubkey=admin_pubkey, actor=ctx.actor)
        if args.demo:
            demo = await load_demo(ctx, store, args.demo_products)
        accounts = await _first_accounts(ctx, store, demo=args.demo)
    result: dict[str, Any] = {
        "initialised": True,
        "data_dir": str(config.data_dir),
        "config_file": str(config_file),
        "database": _safe_url(config.effective_database_url),
        "prefixes": list(config.prefixes),
        "node_admin": f"{CREDENTIAL_INDEX}:{prefix_handle(ctx.node_prefix)}",
        "admin_key": str(ctx.key_files.admin_key),
        "server_key": str(ctx.key_files.server_key),
        "keys_created": [str(p) for p in written],
    }
    if demo:
        result["demo_enterprises"] = demo["enterprises"]
        result["demo_records"] = demo["records"]
    if accounts:
        result["console_accounts"] = accounts
        result["console"] = (f"http://{config.public_host}:{config.http_port}/console/ "
                             "(passwords shown once)")
    ctx.out.result(result)
    return EXIT_OK


async def _first_accounts(
    ctx: CommandContext, store: HandleStore, *, demo: bool
) -> list[str]:
    """The first operator (random password, or the demo one) and, with ``demo``, one demo
    account of every other role; ``user:role:password`` lines to print once."""
    # Imported here: argon2 is only needed when accounts are made.
    from admin.commands.demo import demo_code
    from admin.commands.user import create_user, new_password
    from registry.demo import DEMO_ENTERPRISES

    if await store.list_users():
        return []
    wanted: list[tuple[str, str, str | None]] = [(FIRST_OPERATOR, "operator", None)]
    if demo:
        code = demo_code(DEMO_ENTERPRISES[0])
        wanted += [("reviewer", "reviewer", None), (f"{code.lower()}-admin", "enterprise_admin",
                   code), (f"{code.lower()}-user", "enterprise_user", code)]
    made = []
    for username, role, enterprise in wanted:
        password = DEMO_PASSWORD if demo else new_password()
        await create_user(store, username, role, password, enterprise=enterprise,
                          actor=ctx.actor)
        made.append(f"{username}:{role}:{password}")
    return made


def _read_secret(path: Path) -> str:
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", EXIT_USAGE) from None
    if not secret:
        raise CliError(f"{path} is empty", EXIT_USAGE)
    return secret


def _safe_url(url: str) -> str:
    """A database URL with any password masked."""
    head, at, tail = url.rpartition("@")
    if not at or "://" not in head:
        return url
    scheme, _, credentials = head.partition("://")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{tail}" if ":" in credentials else url


async def _replica_status(store: HandleStore, config: NodeConfig) -> list[dict[str, Any]]:
    """Each read replica's state as a serving node would judge it now."""
    replicas = ReadReplicas(
        store.engine, config.database_read_urls, schema=config.database_schema or None,
        max_lag=config.database_read_max_lag, check_seconds=config.database_read_check_seconds,
    )
    try:
        await replicas.check()
        return replicas.describe()
    finally:
        await replicas.close()


async def status(ctx: CommandContext, args: argparse.Namespace) -> int:
    """Configuration summary, database counts and whether the servers answer."""
    del args
    config = ctx.config
    host = config.public_host
    pubkey = ctx.key_files.server_pubkey
    me = Identity(ctx.node_prefix, pubkey.read_bytes() if pubkey.is_file() else b"")
    tls = bool(str(config.http_tls_cert)) and str(config.http_tls_cert) != "."
    handle_answer, http_answer = await asyncio.gather(
        probe_handle(host, config.handle_port, me, PROBE_TIMEOUT),
        probe_http(host, config.http_port, me, PROBE_TIMEOUT, tls),
    )
    result: dict[str, Any] = {
        "data_dir": str(config.data_dir),
        "role": config.role,
        "prefixes": list(config.prefixes),
        "database": _safe_url(config.effective_database_url),
        "handle_server": f"{host}:{config.handle_port} {handle_answer}",
        "http_server": f"{host}:{config.http_port} {http_answer}",
        "redis": RedisLink.of(config).describe() if config.redis_url else "(none)",
    }
    code = EXIT_OK
    if any(a.startswith("another server") for a in (handle_answer, http_answer)):
        code = EXIT_FAILED
    try:
        async with ctx.store(migrate=False) as store:
            result["handles"] = await store.count_handles()
            result["prefixes_registered"] = len(await store.list_prefixes())
            result["enterprises"] = len(await store.list_enterprises())
            node_handle = await store.get_handle(prefix_handle(ctx.node_prefix))
            result["node_prefix_handle"] = "present" if node_handle else "missing (run init)"
            result["database_status"] = "reachable"
            if config.database_read_urls:
                result["read_replicas"] = await _replica_status(store, config)
    except CliError as exc:
        result["database_status"] = str(exc)
        code = exc.exit_code
    ctx.out.result(result)
    return code


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``init`` and ``status``."""
    parser = add_command(
        subparsers, "init", init,
        summary="Create a node: data dir, idnode.toml, keys, database and the node prefix handle.",
        examples="""  idnode --data-dir ./idnode-data init
  idnode --data-dir ./idnode-data init --demo --if-missing
  idnode --database-url postgresql://db/idnode init --prefix 88.118 --public-host 10.0.0.5""",
    )
    parser.add_argument("--demo", action="store_true",
                        help=f"also load the demo enterprises and {DEMO_PRODUCTS} products")
    parser.add_argument("--demo-products", type=int, default=DEMO_PRODUCTS,
                        help="how many demo products to generate (with --demo)")
    parser.add_argument("--if-missing", action="store_true",
                        help="do nothing (exit 0) when the node is already initialised")
    parser.add_argument("--trust-anchor", metavar="FILE",
                        help="the root's public key record signatures are verified up to "
                        "(copied to keys/trust_anchor.pub, named in the new idnode.toml)")
    parser.add_argument("--admin-passphrase-file", metavar="FILE",
                        help="encrypt the node admin's private key with the passphrase in FILE")
    parser.add_argument("--prefix", dest="cfg_prefixes", help="node prefix(es), comma separated")
    parser.add_argument("--public-host", dest="cfg_public_host",
                        help="address published in the node's HS_SITE")
    parser.add_argument("--handle-port", dest="cfg_handle_port", type=int,
                        help="Handle protocol port (TCP and UDP)")
    parser.add_argument("--http-port", dest="cfg_http_port", type=int, help="HTTP port")
    add_command(
        subparsers, "status", status,
        summary="Show the configuration, database counts and whether the servers answer.",
        examples="  idnode status\n  idnode --json status",
    )

