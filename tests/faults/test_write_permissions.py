"""Auth review: every write path refuses an unauthorised write and stores nothing.

* Handle protocol: no credentials (RC_AUTHENTICATION_NEEDED), a wrong secret
  (RC_AUTHENTICATION_FAILED), a real identity without rights
  (RC_INSUFFICIENT_PERMISSIONS) — for create, create of a derived prefix,
  add, modify (also of the HS_ADMIN, to grant itself rights), remove, delete.
* REST: the same callers on PUT (create, replace, one index) and DELETE get
  401/401/403.
* Enterprise scope: an admin with every right of a suspended enterprise's
  prefix cannot write its handles over Handle or REST, including handles that
  were there before the prefix was given to the enterprise; over quota,
  creates are refused.
* CLI / import: the operator has local database authority (no credentials;
  see docs/security-review.md), but enterprise suspension and quota still
  bind ``idnode import``: the rows are rejected with the reason, none stored.

After each refusal the registry is checked unchanged: same handles, the
record at its version and generation, no audit entry added.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import cast
from urllib.parse import quote

import aiohttp
import pytest

from benchmarks.soak import ADMIN, BASIC, NA, PREFIX, admin_value, generation_of, record_values
from protocol.constants import (
    RC_AUTHENTICATION_FAILED,
    RC_AUTHENTICATION_NEEDED,
    RC_INSUFFICIENT_PERMISSIONS,
)
from protocol.rest_json import values_to_json
from protocol.values import HandleValue
from registry.store import HandleStore
from resolver.core.client import HandleClient, HandleClientError, SecretKeyAuth
from resolver.node import RunningNode
from tests.faults._node import NOBODY, NOBODY_SECRET, NodeProcess, running_node, seed

TARGET = f"{PREFIX}/guarded"
STRANGER = SecretKeyAuth(NOBODY, 300, NOBODY_SECRET)
IMPOSTOR = SecretKeyAuth(NA, 300, b"not-the-secret")
ACME_PREFIX = "88.118.7"
Write = Callable[[], Awaitable[None]]


def _basic(user: str, secret: bytes) -> str:
    token = f"{quote(user, safe='')}:{secret.decode()}".encode()
    return "Basic " + base64.b64encode(token).decode()


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[RunningNode]:
    """The seeded node (in this process) with :data:`TARGET` at generation 1."""
    async with running_node(tmp_path / "node") as running:
        await HandleClient(timeout=10.0, attempts=1).create_handle(
            TARGET, record_values(TARGET, 1), server=("127.0.0.1", running.handle_port),
            auth=ADMIN)
        yield running


async def _snapshot(store: HandleStore) -> tuple[list[str], int, int, int]:
    record = await store.get_handle(TARGET)
    assert record is not None
    names = await store.list_handles(page_size=1000)
    return names, record.version, generation_of(record.values) or -1, len(
        await store.audit_entries(limit=1 << 30))


def _handle_writes(client: HandleClient, address: tuple[str, int],
                   auth: SecretKeyAuth | None) -> list[tuple[str, Write]]:
    """Every Handle write a caller might try: (what, how)."""
    who = cast(SecretKeyAuth, auth)  # None: the client asks without credentials
    grant = [HandleValue(101, "HS_ADMIN", admin_value().data)]
    return [
        ("create", partial(client.create_handle, f"{PREFIX}/intruder", record_values("i", 1),
                           auth=who, server=address)),
        ("overwrite", partial(client.create_handle, TARGET, record_values(TARGET, 9),
                              overwrite=True, auth=who, server=address)),
        ("add", partial(client.add_values, TARGET, [HandleValue(7, "URL", b"https://x")],
                        auth=who, server=address)),
        ("modify", partial(client.modify_values, TARGET, record_values(TARGET, 9)[:3],
                           auth=who, server=address)),
        ("remove", partial(client.remove_values, TARGET, [1], auth=who, server=address)),
        ("grant itself", partial(client.add_values, TARGET, grant, auth=who, server=address)),
        ("delete", partial(client.delete_handle, TARGET, auth=who, server=address)),
        ("create prefix", partial(client.create_handle, f"0.NA/{PREFIX}.66", [admin_value()],
                                  auth=who, server=address)),
    ]


@pytest.mark.parametrize(("auth", "expected"), [
    (None, RC_AUTHENTICATION_NEEDED),
    (IMPOSTOR, RC_AUTHENTICATION_FAILED),
    (STRANGER, RC_INSUFFICIENT_PERMISSIONS),
], ids=["anonymous", "wrong-secret", "no-rights"])
async def test_handle_protocol_refuses_unauthorised_writes(
    node: RunningNode, auth: SecretKeyAuth | None, expected: int
) -> None:
    before = await _snapshot(node.store)
    client = HandleClient(timeout=10.0, attempts=1)
    for what, write in _handle_writes(client, ("127.0.0.1", node.handle_port), auth):
        with pytest.raises(HandleClientError) as refused:
            await write()
        assert refused.value.response_code == expected, what
    assert await _snapshot(node.store) == before


@pytest.mark.parametrize(("header", "status"), [
    (None, 401),
    (_basic(f"300:{NA}", b"not-the-secret"), 401),
    (_basic(f"300:{NOBODY}", NOBODY_SECRET), 403),
], ids=["anonymous", "wrong-secret", "no-rights"])
async def test_rest_refuses_unauthorised_writes(node: RunningNode, header: str | None,
                                                status: int) -> None:
    before = await _snapshot(node.store)
    headers = {"Authorization": header} if header else {}
    record = {"values": values_to_json(record_values(TARGET, 9))}
    one = {"values": values_to_json(record_values(TARGET, 9)[:1])}
    async with aiohttp.ClientSession(f"http://127.0.0.1:{node.http_port}",
                                     headers=headers) as http:
        for method, path, body in (
            ("PUT", f"/api/handles/{PREFIX}/intruder", record),
            ("PUT", f"/api/handles/{TARGET}", record),
            ("PUT", f"/api/handles/{TARGET}?index=1", one),
            ("DELETE", f"/api/handles/{TARGET}", None),
        ):
            async with http.request(method, path, json=body) as response:
                assert response.status == status, (method, path, await response.text())
    assert await _snapshot(node.store) == before


async def test_suspended_enterprise_and_quota_bind_its_admin(node: RunningNode) -> None:
    store, address = node.store, ("127.0.0.1", node.handle_port)
    await store.add_enterprise("ACME", "Acme")
    await store.create_prefix(PREFIX, owner="ACME")
    await store.set_enterprise_status("ACME", "suspended")
    before = await _snapshot(store)
    client = HandleClient(timeout=10.0, attempts=1)
    for what, write in _handle_writes(client, address, ADMIN)[:-1]:  # 0.NA/ is the node's
        with pytest.raises(HandleClientError) as refused:
            await write()
        assert refused.value.response_code == RC_INSUFFICIENT_PERMISSIONS, what
    async with aiohttp.ClientSession(f"http://127.0.0.1:{node.http_port}") as http:
        body = {"values": values_to_json(record_values(TARGET, 9))}
        async with http.put(f"/api/handles/{TARGET}", json=body,
                            headers={"Authorization": BASIC}) as response:
            assert response.status == 403
    assert await _snapshot(store) == before

    await store.set_enterprise_status("ACME", "active")
    await store.set_enterprise_quota("ACME", await store.count_handles(PREFIX))
    with pytest.raises(HandleClientError) as over:
        await client.create_handle(f"{PREFIX}/one-too-many", record_values("q", 1),
                                   server=address, auth=ADMIN)
    assert over.value.response_code == RC_INSUFFICIENT_PERMISSIONS
    assert await store.get_handle(f"{PREFIX}/one-too-many") is None


def _csv(path: Path, names: list[str]) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["handle", "index", "type", "data"])
        writer.writerows([name, 1, "URL", f"https://i.example/{name}"] for name in names)
    return path


async def test_import_respects_enterprise_suspension_and_quota(tmp_path: Path) -> None:
    node = NodeProcess(tmp_path / "node")
    await seed(node.database_url)
    store = await node.open_store()
    try:
        await store.add_enterprise("ACME", "Acme")
        await store.create_prefix(ACME_PREFIX, owner="ACME")
        await store.set_enterprise_status("ACME", "suspended")
        names = [f"{ACME_PREFIX}/imp-{i}" for i in range(3)]
        report = tmp_path / "report.csv"
        suspended = await asyncio.to_thread(node.run, "--json", "import",
                                            str(_csv(tmp_path / "a.csv", names)),
                                            "--report", str(report), "--quiet")
        assert json.loads(suspended.stdout)["rejected"] == 3, suspended.stdout + suspended.stderr
        assert all("suspended" in row["reason"] for row in csv.DictReader(report.open()))

        await store.set_enterprise_status("ACME", "active")
        await store.set_enterprise_quota("ACME", 1)
        again = [f"{ACME_PREFIX}/imp-{i}" for i in range(3, 6)]  # a new file: a new import job
        quota = await asyncio.to_thread(node.run, "--json", "import",
                                        str(_csv(tmp_path / "b.csv", again)), "--quiet")
        summary = json.loads(quota.stdout)
        assert (summary["inserted"], summary["rejected"]) == (1, 2), summary
        assert await store.count_handles(ACME_PREFIX) == 1
    finally:
        await store.close()
