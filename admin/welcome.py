"""What ``idnode serve --welcome`` (``make run``) prints once the node listens: where to look
and what to type next.

A newcomer gets the home page, a demo product's page and trace page, the REST
API description, the enterprises with the command that issues their
credentials, the exact ``idnode`` executable to run, and one ``curl`` that
writes a handle and works as printed.  REST credentials count only over
HTTPS unless ``http_insecure_auth`` is set (``make run`` sets it for its
loopback-only demo), so the write example follows the node's configuration:
an ``https`` URL with TLS, a plain one with ``http_insecure_auth``, or, with
neither, the line saying what to set.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from registry.bootstrap import CREDENTIAL_INDEX
from registry.config import NodeConfig
from registry.demo import DEMO_PREFIXES
from registry.names import prefix_handle
from registry.store import HandleStore

#: the handle the printed ``curl`` writes, under the first enterprise's prefix
EXAMPLE_SUFFIX = "HELLO-1"
_NOT_PRODUCTS = ("/CMP-", "/MB-", "/ORG-")


def shown_path(path: Path) -> str:
    """``path`` relative to the working directory when under it, else absolute."""
    absolute = path.absolute()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def idnode_executable() -> Path:
    """The ``idnode`` script of the running interpreter's environment (``.venv/bin/idnode``)."""
    script = Path(sys.executable).parent / "idnode"
    return script if script.exists() else Path(sys.argv[0])


async def _a_product(store: HandleStore, prefixes: list[str]) -> str | None:
    """A product of the demo data (a machine has the deepest parts tree), if any."""
    for prefix in prefixes:
        for name in await store.list_handles(prefix, page=0, page_size=200):
            if not any(part in name for part in _NOT_PRODUCTS):
                return name
    return None


async def welcome_text(config: NodeConfig, store: HandleStore) -> str:
    """The lines to print under the ``serving`` line."""
    base = config.public_http_url
    idnode = shown_path(idnode_executable())
    cli = f"{idnode} --data-dir {shlex.quote(shown_path(config.data_dir))}"
    enterprises = await store.list_enterprises()
    owned = {e.code: [p.name for p in await store.list_prefixes(owner=e.code)]
             for e in enterprises}
    product = await _a_product(store, sorted((p for ps in owned.values() for p in ps),
                                             key=lambda p: (p != DEMO_PREFIXES["machinery"], p)))
    lines = ["", "idnode is ready:",
             f"  home page        {base}/"]
    if product is not None:
        lines += [f"  a demo product   {base}/{product}?noredirect "
                  "(its record; without ?noredirect the page goes to its URL)",
                  f"  its trace        {base}/trace/{product}"]
    lines += [f"  REST API         {base}/api/openapi.json (OpenAPI description; e.g. "
              f"{base}/api/handles/{prefix_handle(config.prefixes[0])})",
              "",
              f"The idnode command is {idnode_executable().absolute()}; to type just 'idnode':",
              f"  export PATH=\"{idnode_executable().absolute().parent}:$PATH\"",
              f"  {cli} handle list {next(iter(owned.values()), [config.prefixes[0]])[0]}"
              if owned else f"  {cli} status"]
    if enterprises:
        lines += ["", "Enterprises (their admin's secret key: "
                  f"{cli} enterprise credentials CODE, shown once):"]
        for info in enterprises[:10]:
            prefixes = ",".join(owned[info.code]) or "-"
            lines.append(f"  {info.code:<10} {prefixes:<12} {info.name}")
        lines += ["", *_write_example(config, cli, enterprises[0].code, owned[enterprises[0].code])]
    else:
        lines += ["", f"No enterprises yet: {cli} enterprise add CODE --name NAME"]
    lines += ["", "Stop with Ctrl-C."]
    return "\n".join(lines)


def _write_example(config: NodeConfig, cli: str, code: str, prefixes: list[str]) -> list[str]:
    """One REST write that works as printed on this configuration (or why there is none)."""
    if not prefixes:
        return []
    tls = str(config.http_tls_cert) not in ("", ".")
    if not tls and not config.http_insecure_auth:
        return ["REST writes need credentials, accepted only over HTTPS: set http_tls_cert "
                "and http_tls_key, or, for a local demo on 127.0.0.1 only, "
                "IDNODE_HTTP_INSECURE_AUTH=true (make run does)."]
    admin = f"{CREDENTIAL_INDEX}%3A0.NA%2F{prefixes[0]}"  # 300:0.NA/<prefix>, URL-encoded
    handle = f"{prefixes[0]}/{EXAMPLE_SUFFIX}"
    body = '[{"index":1,"type":"URL","data":"https://example.com/hello"}]'
    why = ("over HTTPS (-k: a self-signed certificate)" if tls else
           "over plain HTTP because http_insecure_auth is on (make run's local demo; "
           "a real node uses HTTPS)")
    return [f"Write a handle as {code}'s admin {why}:",
            f"  SECRET=$({cli} enterprise credentials {code} --secret-only)",
            f"  curl{' -k' if tls else ''} -u \"{admin}:$SECRET\" -X PUT "
            f"-H 'Content-Type: application/json' --data '{body}' "
            f"{config.public_http_url}/api/handles/{handle}",
            f"  then open {config.public_http_url}/{handle}"]
