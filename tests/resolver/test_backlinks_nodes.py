"""Recalls across enterprise nodes: three ``idnode serve`` processes on loopback.

* secondary: prefix 88.118, delegates 88.118.7 to the maker's node and 88.118.9
  to the supplier's node (``idnode prefix delegate``), and is the root both of
  them resolve from (``root_address``);
* supplier: prefix 88.118.9, holds the PCB batch ``88.118.9/PCB-1``;
* maker: prefix 88.118.7, registers the washing machine ``88.118.7/WM-1``
  whose TRACE.COMPONENT is the supplier's batch.

The maker's write queues a back-link; its node signs it with its server key and
delivers it to the batch's home, found through the secondary node.  While the
supplier is down the back-link waits in the maker's outbox with the reason;
once the supplier serves it arrives, and the supplier's recall list (CLI and
REST) and where-used show the machine with the maker as origin and the
signature verified; once the maker puts the machine in a kit, the supplier's
recall list follows the back-link to the maker's node and lists the kit.  A
back-link signed by another key, or not signed, is refused; deleting the
machine withdraws it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from protocol.rest_json import value_to_json
from registry.store import HandleStore
from registry.trust.jws import Jws
from registry.trust.keys import b64url, generate_key
from resolver.core.backlink_claims import sign_claim
from tests.loopback import LOOPBACK
from tests.resolver.core.test_trace_support import templated
from tests.resolver.test_e2e import Proc, free_port, init_all, serve, stop, wait_ready

BATCH = "88.118.9/PCB-1"
MACHINE = "88.118.7/WM-1"
KIT = "88.118.7/KIT-1"
WAIT = 40.0


def configure(proc: Proc, root: Proc) -> None:
    """Resolve from ``root``, reach loopback upstreams, deliver back-links every second."""
    path = proc.folder / "idnode.toml"
    kept = [line for line in path.read_text().splitlines()
            if not line.startswith(("upstream_allow =", "root_address =",
                                    "backlinks_interval ="))]
    path.write_text("\n".join([*kept, f'upstream_allow = ["{LOOPBACK}"]',
                               f'root_address = "{root.endpoint}"',
                               "backlinks_interval = 1"]) + "\n")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Proc]]:
    folder = tmp_path_factory.mktemp("backlinks")
    procs = {name: Proc(name, folder / name, prefix, "node", free_port(), free_port())
             for name, prefix in (("secondary", "88.118"), ("supplier", "88.118.9"),
                                  ("maker", "88.118.7"))}
    secondary, supplier, maker = procs["secondary"], procs["supplier"], procs["maker"]
    init_all(list(procs.values()))
    for proc in (supplier, maker):
        configure(proc, secondary)
        secondary.run("prefix", "delegate", proc.prefix, "--server", proc.endpoint)
    batch_values = folder / "pcb-1.json"
    batch_values.write_text(json.dumps([value_to_json(v) for v in templated(
        "material.batch@1", {"batch_number": "PCB-1", "material_type": "pcb",
                             "production_date": "2024-01-02", "quantity": 500, "unit": "pcs"})]))
    supplier.run("handle", "create", BATCH, "--from-json", str(batch_values))
    try:
        serve(secondary, None)
        serve(maker, None)
        for proc in (secondary, maker):
            wait_ready(proc)
        yield procs
    finally:
        stop(list(procs.values()))


async def outbox(proc: Proc) -> list[Any]:
    store = await HandleStore.open(f"sqlite:///{proc.folder / 'registry.db'}")
    try:
        return await store.backlink_outbox()
    finally:
        await store.close()


async def until(what: str, check: Any) -> Any:
    """Poll ``check()`` until it answers something true (at most :data:`WAIT` seconds)."""
    deadline = time.monotonic() + WAIT
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"waited {WAIT} s for {what}; last: {found!r}")
        await asyncio.sleep(0.5)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # a connection each: a kept-alive one may be closed by the node while CLI commands run
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30),
                                     connector=connector) as session:
        yield session


async def affected(http: aiohttp.ClientSession, proc: Proc, handle: str, query: str = ""
                   ) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{proc.http_port}/api/trace/{handle}/affected{query}"
    async with http.get(url) as response:
        return response.status, await response.json()


async def post(http: aiohttp.ClientSession, proc: Proc, claims: list[str]) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{proc.http_port}/api/backlinks"
    async with http.post(url, json={"backlinks": claims}) as response:
        return response.status, await response.json()


async def test_a_recall_at_the_supplier_finds_the_makers_product(
    nodes: dict[str, Proc], http: aiohttp.ClientSession
) -> None:
    supplier, maker = nodes["supplier"], nodes["maker"]
    maker.run("handle", "create", MACHINE, "--value", f"1:TRACE.COMPONENT:{BATCH}",
              "--value", "2:URL:https://maker.example/wm-1")

    # the supplier's node is down: the back-link waits in the maker's outbox, with why
    waiting = await until("a failed delivery",
                          lambda: _failed(outbox(maker)))
    assert (waiting[0].product, waiting[0].part, waiting[0].op) == (MACHINE, BATCH, "add")
    listed: Any = maker.run("backlinks", "outbox")
    assert [(row["product"], row["part"], row["op"]) for row in listed] == [
        (MACHINE, BATCH, "add")]
    assert "88.118.9" in listed[0]["last_error"] and listed[0]["attempts"] >= 1

    serve(supplier, None)
    wait_ready(supplier)
    await until("the outbox to empty", lambda: _empty(outbox(maker)))

    status, body = await affected(http, supplier, BATCH)
    assert status == 200, body
    assert body["count"] == 1
    (product,) = body["products"]
    assert product["handle"] == MACHINE and product["via"] == BATCH
    assert product["origin"] == "88.118.7" and product["signature"] == "verified"
    assert product["server"] == maker.endpoint

    recall = supplier.run("trace", BATCH, "--up", "--products")
    assert recall["count"] == 1 and recall["products"] == [product]

    where_used = supplier.run("trace", BATCH, "--up")
    (used,) = where_used["up"]["usedIn"]
    assert used["handle"] == MACHINE and used["relation"] == "component"
    assert used["backlink"]["origin"] == "88.118.7"
    assert used["backlink"]["signature"] == "verified"
    assert used["backlink"]["server"] == maker.endpoint
    assert maker.endpoint in used["source"]   # the far record, fetched from the maker
    assert "error" not in used

    # the batch's page: the machine under "used in", with the node that registered it
    for lang, words in (("zh-CN", "由节点 88.118.7 登记，签名已验证"),
                        ("en", "registered by node 88.118.7, signature verified")):
        url = f"http://127.0.0.1:{supplier.http_port}/{BATCH}?lang={lang}"
        async with http.get(url, headers={"Accept": "text/html"}) as response:
            page = await response.text()
        assert response.status == 200 and MACHINE in page and words in page, page

    # someone else's key, or no signature at all, is refused and changes nothing
    forged = sign_claim(generate_key("p256"), op="remove", part=BATCH, product=MACHINE,
                        relation="component", node="88.118.7", iat=int(time.time()))
    status, body = await post(http, supplier, [forged])
    assert status == 403, body
    assert body["results"][0]["status"] == "refused"
    assert body["results"][0]["reason"] == "signature"
    unsigned = _unsigned(part=BATCH, product="88.118.7/FAKE-1")
    status, body = await post(http, supplier, [unsigned])
    assert status in (403, 422), body
    assert body["results"][0]["status"] == "refused"
    status, body = await post(http, supplier, ["not a jws"])
    assert status == 422 and body["results"][0]["reason"] == "malformed"
    status, body = await post(http, supplier, [forged] * 101)
    assert status == 400 and "at most 100" in body["message"]
    assert (await affected(http, supplier, BATCH))[1]["count"] == 1

    # the maker sells the machine in a kit (a link on its own node): the supplier's recall
    # list follows the back-link to the maker's node and lists the kit instead
    maker.run("handle", "create", KIT, "--value", f"1:TRACE.COMPONENT:{MACHINE}")
    status, body = await affected(http, supplier, BATCH)
    assert status == 200 and body["count"] == 1, body
    assert body["products"] == [{"handle": KIT, "via": MACHINE, "levels": 2,
                                 "origin": "88.118.7", "server": maker.endpoint,
                                 "signature": "verified"}]
    assert supplier.run("trace", BATCH, "--up", "--products")["products"] == body["products"]
    status, body = await affected(http, supplier, BATCH, "?hops=0")   # this node's view only
    assert [p["handle"] for p in body["products"]] == [MACHINE]
    status, body = await affected(http, supplier, BATCH, "?hops=9")
    assert status == 400 and "hops" in body["message"]

    # the maker deletes the machine: the back-link is withdrawn at the supplier
    maker.run("handle", "delete", MACHINE)

    async def gone() -> bool:
        return (await affected(http, supplier, BATCH))[1]["count"] == 0
    await until("the withdrawal", gone)
    assert supplier.run("trace", BATCH, "--up", "--products")["count"] == 0
    assert not await outbox(maker)
    assert maker.run("backlinks", "push") == {"delivered": 0, "failed": 0, "errors": []}


async def _failed(pending: Any) -> list[Any]:
    return [item for item in await pending if item.attempts and item.last_error]


async def _empty(pending: Any) -> bool:
    return not await pending


def _unsigned(*, part: str, product: str) -> str:
    """A statement with ``alg: none`` and no signature."""
    header = b64url(json.dumps({"alg": "none"}).encode())
    payload = b64url(json.dumps({"v": 1, "op": "add", "part": part, "product": product,
                                 "relation": "component", "node": "88.118.7",
                                 "iat": int(time.time())}).encode())
    return Jws(header, payload, b"").compact()

