"""Records an enterprise can manage (issue 15 item 5), on a node made by the CLI.

* A handle its admin creates over REST or the Handle protocol, or the operator
  with ``idnode handle create`` / ``idnode import``, without an HS_ADMIN gets
  one naming the enterprise admin ``300:0.NA/<prefix>`` (what ``enterprise
  credentials`` issues a key for), so the admin can later add, remove and
  delete (before: 403 on DELETE and on ``PUT ?index=``).
* Handles under a prefix nobody holds here are refused with the reason, by
  ``handle create`` and ``import`` alike; an import record with no values too.
* A CSV row writes typed data as ``--value`` does: ``HS_ADMIN`` ``HANDLE:INDEX``
  becomes an admin record, not the bytes of the text.
"""

from __future__ import annotations

import base64
import csv
import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from protocol.constants import ADMIN_PERM_ADD_NA, ADMIN_PERM_DELETE_HANDLE, TYPE_HS_ADMIN
from protocol.rest_json import values_to_json
from protocol.values import HandleValue
from registry.config import CONFIG_FILE_NAME, load_config
from resolver.core.client import HandleClient, SecretKeyAuth
from resolver.node import RunningNode, start_node
from tests.admin.conftest import Node

ACME_NA = "0.NA/88.118.8"


def url(index: int, text: str) -> HandleValue:
    return HandleValue(index, "URL", text.encode())


def admins(record: dict[str, object]) -> list[tuple[int, str, int, bool, bool]]:
    """(index, admin handle, admin index, may delete, may add prefixes) of each HS_ADMIN."""
    found = []
    for value in record["values"]:  # type: ignore[attr-defined]
        if value["type"] == TYPE_HS_ADMIN:
            data = value["data"]["value"]
            found.append((value["index"], data["handle"], data["index"],
                          bool(_perms(data) & ADMIN_PERM_DELETE_HANDLE),
                          bool(_perms(data) & ADMIN_PERM_ADD_NA)))
    return found


def _perms(data: dict[str, object]) -> int:
    return int(str(data["permissions"]), 2)


@pytest.fixture
async def served(node: Node) -> AsyncIterator[tuple[RunningNode, str]]:
    """The node served in this process, and ACME's admin secret."""
    secret = node.json("enterprise", "credentials", "ACME")["secret_key"]
    config = load_config(node.data_dir / CONFIG_FILE_NAME, environ={}, overrides={
        "data_dir": node.data_dir, "handle_port": 0, "http_port": 0, "dns_port": 0,
        "http_insecure_auth": True,
    })
    running = await start_node(config)
    try:
        yield running, secret
    finally:
        await running.close()


async def test_rest_created_record_is_managed_by_its_enterprise(
    served: tuple[RunningNode, str], node: Node
) -> None:
    running, secret = served
    token = base64.b64encode(f"{quote(f'300:{ACME_NA}')}:{secret}".encode()).decode()
    handle = "88.118.8/REST-1"
    async with aiohttp.ClientSession(f"http://127.0.0.1:{running.http_port}",
                                     headers={"Authorization": f"Basic {token}"}) as http:
        async def call(method: str, path: str, values: list[HandleValue] | None) -> int:
            body = None if values is None else {"values": values_to_json(values)}
            async with http.request(method, path, json=body) as response:
                return response.status

        assert await call("PUT", f"/api/handles/{handle}", [url(1, "https://a")]) < 300
        assert admins(node.json("handle", "get", handle)) == [(100, ACME_NA, 300, True, False)]
        assert await call("PUT", f"/api/handles/{handle}?index=2", [url(2, "https://b")]) < 300
        assert await call("DELETE", f"/api/handles/{handle}?index=2", None) < 300
        assert await call("DELETE", f"/api/handles/{handle}", None) < 300
    node.run("handle", "get", handle, expect=1)


async def test_handle_protocol_created_record_is_managed_by_its_enterprise(
    served: tuple[RunningNode, str], node: Node
) -> None:
    running, secret = served
    auth = SecretKeyAuth(ACME_NA, 300, secret.encode())
    client, server = HandleClient(timeout=10.0, attempts=1), ("127.0.0.1", running.handle_port)
    handle = "88.118.8/HDL-1"
    await client.create_handle(handle, [url(1, "https://a")], server=server, auth=auth)
    await client.add_values(handle, [url(2, "https://b")], server=server, auth=auth)
    await client.remove_values(handle, [1], server=server, auth=auth)
    record = node.json("handle", "get", handle)
    assert [v["index"] for v in record["values"]] == [2, 100]
    await client.delete_handle(handle, server=server, auth=auth)
    node.run("handle", "get", handle, expect=1)


def test_cli_create_adds_the_enterprise_admin_unless_one_is_given(node: Node) -> None:
    node.run("handle", "create", "88.118.8/CLI-1", "--value", "1:URL:https://a",
             "--value", "100:NOTE:taken")
    assert admins(node.json("handle", "get", "88.118.8/CLI-1")) == [
        (101, ACME_NA, 300, True, False)]  # 100 was taken
    node.run("handle", "create", "88.118.8/CLI-2", "--value", "1:URL:https://a",
             "--value", "7:HS_ADMIN:0.NA/88.118:300")
    assert admins(node.json("handle", "get", "88.118.8/CLI-2")) == [
        (7, "0.NA/88.118", 300, True, True)]
    node.run("handle", "create", "88.118/NODE-1", "--value", "1:URL:https://a")
    assert admins(node.json("handle", "get", "88.118/NODE-1")) == []  # the node's own prefix


def test_handles_under_a_prefix_nobody_holds_are_refused(node: Node, tmp_path: Path) -> None:
    refused = node.run("handle", "create", "99.1/X", "--value", "1:URL:https://x", expect=1)
    assert "99.1/X: no prefix registered on this node holds it" in refused.stderr
    source = tmp_path / "foreign.jsonl"
    good = {"handle": "88.118.8/J-1", "values": values_to_json([url(1, "https://j")])}
    source.write_text("\n".join(json.dumps(line) for line in (
        good,
        good | {"handle": "99.1/J-2"},
        {"handle": "88.118.8/J-3", "values": []},
    )) + "\n")
    summary = node.json("import", str(source))
    assert (summary["inserted"], summary["rejected"]) == (1, 2)
    with Path(summary["report"]).open(newline="") as report:
        reasons = {row["handle"]: row["reason"] for row in csv.DictReader(report)}
    assert "no prefix registered on this node holds it" in reasons["99.1/J-2"]
    assert reasons["88.118.8/J-3"] == "88.118.8/J-3 has no values (a record needs at least one)"
    node.run("handle", "get", "99.1/J-2", expect=1)


def test_csv_typed_values_are_stored_as_handle_create_stores_them(
    node: Node, tmp_path: Path
) -> None:
    source = tmp_path / "typed.csv"
    source.write_text("handle,index,type,data\n"
                      "88.118.8/T-1,1,URL,https://t\n"
                      "88.118.8/T-1,100,HS_ADMIN,0.NA/88.118:300\n"
                      "88.118.8/T-1,200,HS_VLIST,\"0.NA/88.118:300,0.NA/88.118.8:300\"\n"
                      "88.118.8/T-2,100,HS_ADMIN,not-a-reference\n", encoding="utf-8")
    summary = node.json("import", str(source))
    assert (summary["inserted"], summary["rejected"]) == (1, 1)
    node.run("handle", "create", "88.118.8/T-3", "--value", "1:URL:https://t",
             "--value", "100:HS_ADMIN:0.NA/88.118:300",
             "--value", "200:HS_VLIST:0.NA/88.118:300,0.NA/88.118.8:300")
    imported = node.json("handle", "get", "88.118.8/T-1")["values"]
    created = node.json("handle", "get", "88.118.8/T-3")["values"]
    assert [(v["index"], v["type"], v["data"]) for v in imported] == [
        (v["index"], v["type"], v["data"]) for v in created]
    assert imported[1]["data"]["format"] == "admin"
