"""The portal's Sign records page: an enterprise signs one, all, or the expiring identifiers of
its prefix with its own uploaded (encrypted) key; what it signs verifies up to the root; a wrong
passphrase, a foreign handle or prefix, an uncertified key and too many records are refused by
name; the key and passphrase never reach a log, the audit log or a page."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from protocol.values import HandleValue
from registry.names import prefix_handle
from registry.store import HandleStore
from registry.trust import (
    PrivateKey,
    generate_key,
    issue_cert,
    issue_revocation,
    prefix_permissions,
)
from registry.trust.keys import jwk_thumbprint, private_key_to_pem, public_key_to_pem
from registry.trust.verify import verify_record
from resolver.http.console import signing
from tests.resolver.http.console.harness import (
    APPLICATION,
    NODE_PREFIX,
    Console,
    Visitor,
    console_node,
    onboard,
)

PREFIX = "88.118.1"
ENT_NA, NODE_NA, ROOT_ID = prefix_handle(PREFIX), prefix_handle(NODE_PREFIX), ("0.NA/88", 300)
HANDLES = [f"{PREFIX}/TV-{n}" for n in (1, 2, 3)]
PASSPHRASE = "海岳 correct horse 2026"
DAY = 86_400
ACTOR = f"console:{APPLICATION['admin_username']}"


@dataclass
class World:
    """A console whose enterprise (prefix 88.118.1) holds a certified key, and its admin."""

    console: Console
    admin: Visitor
    root: PrivateKey
    node: PrivateKey
    key: PrivateKey
    pem: bytes


async def certify(store: HandleStore, root: PrivateKey, node: PrivateKey, key: PrivateKey
                  ) -> None:
    """root -> node (on 0.NA/88.118) -> enterprise (on 0.NA/88.118.1), valid now."""
    t = 1_700_000_000
    far = t + 20 * 365 * DAY
    await store.upsert_values(NODE_NA, [issue_cert(
        *ROOT_ID, root, NODE_NA, 300, node.public_key(), t, far,
        prefix_permissions(NODE_NA, derived_prefixes=True))], actor="test")
    await store.upsert_values(ENT_NA, [issue_cert(
        NODE_NA, 300, node, ENT_NA, 300, key.public_key(), t, far,
        prefix_permissions(ENT_NA, derived_prefixes=True))], actor="test")


async def open_world(sqlite_url: str, tmp_path: Path, key_type: str = "p256"
                     ) -> AsyncIterator[World]:
    async with console_node(sqlite_url, tmp_path) as console:
        admin = await onboard(console)
        root, node, key = generate_key("ed25519"), generate_key("p256"), generate_key(key_type)
        await certify(console.store, root, node, key)
        for handle in HANDLES:
            await console.store.create_handle(handle, [HandleValue(
                1, "URL", f"https://example.com/{handle}".encode())], actor="test")
        try:
            yield World(console, admin, root, node, key, private_key_to_pem(key, PASSPHRASE))
        finally:
            await admin.close()


@pytest.fixture
async def world(sqlite_url: str, tmp_path: Path) -> AsyncIterator[World]:
    async for opened in open_world(sqlite_url, tmp_path):
        yield opened


async def submit(world: World, *, pem: bytes | None = None, passphrase: str = PASSPHRASE,
                 filename: str = "acme.pem", **fields: str) -> tuple[int, str]:
    """Post the Sign records form as the enterprise admin."""
    await world.admin.get("/console/portal/sign")
    form = aiohttp.FormData()
    form.add_field("csrf_token", world.admin.csrf)
    for name, value in fields.items():
        form.add_field(name, value)
    form.add_field("passphrase", passphrase)
    form.add_field("key", world.pem if pem is None else pem, filename=filename,
                   content_type="application/x-pem-file")
    status, text, _location = await world.admin.post("/console/portal/sign", form)
    return status, text


async def verified(world: World, handle: str) -> str:
    """The verdict on ``handle`` up to the root's key (the trust anchor)."""
    store = world.console.store

    async def fetch(name: str) -> list[HandleValue] | None:
        record = await store.get_handle(name)
        return None if record is None else list(record.values)

    record = await store.get_handle(handle)
    assert record is not None
    report = await verify_record(handle, record.values, fetch=fetch,
                                 trust_anchor=world.root.public_key())
    return f"{report.status}: {report.reason}" if not report.valid else "valid"


def count(text: str, element: str) -> int:
    """The number a result tile shows."""
    start = text.index(f'id="{element}">') + len(f'id="{element}">')
    return int(text[start:text.index("<", start)])


@pytest.mark.parametrize("key_type", ["rsa", "p256", "ed25519", "sm2"])
async def test_sign_one_identifier_with_each_key_type(sqlite_url: str, tmp_path: Path,
                                                      key_type: str) -> None:
    async for world in open_world(sqlite_url, tmp_path, key_type):
        status, text = await submit(world, mode="one", handle=HANDLES[0], prefix=PREFIX)
        assert status == 200, text
        assert (count(text, "signed-count"), count(text, "failed-count")) == (1, 0)
        assert await verified(world, HANDLES[0]) == "valid"
        assert (await verified(world, HANDLES[1])).startswith("unsigned")
        record = await world.console.store.get_handle(HANDLES[0])
        assert record is not None
        assert [v.index for v in record.values if v.type == "HS_SIGNATURE"] == [400]


async def test_sign_all_then_renew_only_what_expires(world: World) -> None:
    status, text = await submit(world, mode="all", prefix=PREFIX, days="30")
    assert status == 200, text
    assert count(text, "signed-count") == len(HANDLES)
    assert all([await verified(world, h) == "valid" for h in HANDLES])
    first = {h: await world.console.store.get_handle(h) for h in HANDLES}
    # signatures last signature_days (365): none expires within 30 days
    status, text = await submit(world, mode="expiring", prefix=PREFIX, days="30")
    assert status == 200, text
    assert (count(text, "signed-count"), count(text, "not-due-count")) == (0, len(HANDLES))
    # all of them expire within 400 days: renewed in place, at the same index
    status, text = await submit(world, mode="expiring", prefix=PREFIX, days="400")
    assert (count(text, "signed-count"), count(text, "not-due-count")) == (len(HANDLES), 0)
    for handle in HANDLES:
        record, before = await world.console.store.get_handle(handle), first[handle]
        assert record is not None and before is not None
        assert [v.index for v in record.values if v.type == "HS_SIGNATURE"] == [400]
        assert record.version > before.version
        assert await verified(world, handle) == "valid"


async def test_missing_identifier_is_a_named_failure(world: World) -> None:
    status, text = await submit(world, mode="one", handle=f"{PREFIX}/NOPE", prefix=PREFIX)
    assert status == 200, text
    assert count(text, "failed-count") == 1
    assert f"{PREFIX}/NOPE" in text and "标识不存在。" in text


async def test_wrong_or_missing_passphrase_is_said_and_nothing_is_signed(world: World) -> None:
    status, text = await submit(world, mode="one", handle=HANDLES[0], prefix=PREFIX,
                                passphrase="wrong")
    assert status == 400
    assert 'id="err-passphrase">口令错误，无法解密此私钥。' in text
    status, text = await submit(world, mode="one", handle=HANDLES[0], prefix=PREFIX,
                                passphrase="")
    assert status == 400 and "此私钥已加密，请填写口令。" in text
    assert (await verified(world, HANDLES[0])).startswith("unsigned")


async def test_not_a_private_key_and_oversized_files_are_refused(world: World) -> None:
    public = world.key.public_key()
    status, text = await submit(world, mode="one", handle=HANDLES[0], prefix=PREFIX,
                                pem=public_key_to_pem(public), filename="acme.pem.pub")
    assert status == 400 and 'id="err-key">不是可用于签名的私钥' in text
    status, text = await submit(world, mode="one", handle=HANDLES[0], prefix=PREFIX,
                                pem=b"x" * (signing.MAX_KEY_BYTES + 1))
    assert status == 400 and "文件超过 64 KiB" in text


async def test_foreign_handle_or_prefix_is_refused(world: World) -> None:
    # another enterprise's prefix (and the node's own prefix handle) in the form
    other = await onboard(world.console, APPLICATION | {
        "name": "北京贝塔机械有限公司", "credit_code": "91110000600037341L",
        "industry": "machinery", "admin_username": "beta-admin"})
    await other.close()
    [beta] = [p.name for p in await world.console.store.list_prefixes()
              if p.name not in (PREFIX, NODE_PREFIX)]
    await world.console.store.create_handle(f"{beta}/X-1", [HandleValue(
        1, "URL", b"https://example.com/x")], actor="test")
    for handle in (f"{beta}/X-1", ENT_NA, NODE_NA, "nonsense"):
        status, text = await submit(world, mode="one", handle=handle, prefix=PREFIX)
        assert status == 400, handle
        assert 'id="err-handle">' in text and "不属于本企业的前缀" in text
    status, text = await submit(world, mode="all", prefix=beta)
    assert status == 400 and 'id="err-prefix">' in text
    record = await world.console.store.get_handle(f"{beta}/X-1")
    assert record is not None and all(v.type != "HS_SIGNATURE" for v in record.values)
    entries = await world.console.store.audit_entries(newest=True, limit=1000)
    assert [e for e in entries if e.actor == ACTOR and e.handle is not None] == []


async def test_key_not_certified_names_what_to_do(world: World) -> None:
    stranger = generate_key("ed25519")
    status, text = await submit(world, mode="all", prefix=PREFIX,
                                pem=private_key_to_pem(stranger, PASSPHRASE))
    assert status == 400
    assert f"此私钥在 {ENT_NA} 上既无证书也未发布" in text
    assert "idnode cert request" in text and "idnode keys publish" in text
    assert 'id="cert-requests-link" href="/console/portal/cert-requests"' in text
    await world.admin.get("/console/lang/en", next="/console/portal/sign")
    status, text = await submit(world, mode="all", prefix=PREFIX,
                                pem=private_key_to_pem(stranger, PASSPHRASE))
    assert f"This key is neither certified nor published on {ENT_NA}" in text


async def test_one_submission_signs_a_bounded_number(world: World,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signing, "MAX_RECORDS", 2)
    status, text = await submit(world, mode="all", prefix=PREFIX)
    assert status == 400
    assert f"idnode sign --prefix {PREFIX} --key FILE" in text
    assert (await verified(world, HANDLES[0])).startswith("unsigned")


async def test_key_and_passphrase_stay_out_of_logs_audit_and_pages(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = [PASSPHRASE, world.pem.decode(), *world.pem.decode().splitlines()[1:-1]]
    pages = [await submit(world, mode="all", prefix=PREFIX),
             await submit(world, mode="one", handle=HANDLES[0], prefix=PREFIX,
                          passphrase=PASSPHRASE + "x"),
             await submit(world, mode="one", handle="99.1/X", prefix=PREFIX)]
    assert pages[0][0] == 200 and pages[1][0] == 400 and pages[2][0] == 400
    entries = await world.console.store.audit_entries(newest=True, limit=1000)
    mine = [e for e in entries if e.actor == ACTOR and e.handle in HANDLES]
    assert sorted(e.handle for e in mine) == sorted(HANDLES)  # audited as the console user
    for secret in secrets:
        assert secret not in caplog.text
        assert all(secret not in repr(e) for e in entries)
        assert all(secret not in text for _status, text in pages)
    assert 'name="passphrase" type="password" value=""' in pages[1][1]


async def test_a_revoked_key_signs_but_the_result_page_warns(world: World) -> None:
    world.console.service.trust_anchor = world.root.public_key()
    status, text = await submit(world, mode="one", handle=HANDLES[0], prefix=PREFIX)
    assert status == 200 and "key-warning" not in text
    await world.console.store.add_values(NODE_NA, [issue_revocation(
        NODE_NA, 300, world.node, [world.key.public_key()], int(time.time()))], actor="test")
    status, text = await submit(world, mode="all", prefix=PREFIX)
    assert status == 200, text
    assert count(text, "signed-count") == len(HANDLES)
    thumbprint = jwk_thumbprint(world.key.public_key())
    assert text.count("key-warning") == 1
    assert f"读者将看不到这些记录已验证：签名密钥 {thumbprint}（300:{ENT_NA}）已吊销。" in text
    assert f"300:{NODE_NA} revoked the key of 300:{ENT_NA}" in text
    await world.admin.get("/console/lang/en", next="/console/portal/sign")
    status, text = await submit(world, mode="one", handle=HANDLES[0], prefix=PREFIX)
    assert (f"Readers will not see these records as verified: the signing key {thumbprint} "
            f"(300:{ENT_NA}) is revoked.") in text
