"""Back-links on one store: the outbox writes fill, the statement format, and what the
receiver keeps or refuses (the three-node run is tests/resolver/test_backlinks_nodes.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from protocol.site_info import SiteInfo
from protocol.values import HandleValue
from registry.backlinks import ReceivedBacklink
from registry.store import HandleStore
from registry.trust.keys import PrivateKey, generate_key, public_key_to_hs_pubkey
from resolver.core.backlink_claims import MAX_JWS_CHARS, ClaimError, read_claim, sign_claim
from resolver.core.backlinks import BacklinkReceiver
from resolver.core.homes import HomeFinder
from resolver.core.site import build_site_info
from tests.resolver.core.test_trace_support import service_of

PART = "88.118.9/PCB-1"
PRODUCT = "88.118.7/WM-1"
MAKER_KEY = generate_key("ed25519")


def component(*parts: str) -> list[HandleValue]:
    return [HandleValue(index=i, type="TRACE.COMPONENT", data=p.encode())
            for i, p in enumerate(parts, start=1)]


class FixedHomes(HomeFinder):
    """Every prefix is homed on one site publishing ``key`` (no network)."""

    def __init__(self, store: HandleStore, key: PrivateKey) -> None:
        super().__init__(service_of(store), client=None)  # type: ignore[arg-type]
        self.site = build_site_info([("127.0.0.7", 2641)],
                                    public_key=public_key_to_hs_pubkey(key.public_key()))

    async def _find(self, prefix: str) -> SiteInfo:
        return self.site


def claim(op: str = "add", *, key: PrivateKey = MAKER_KEY, part: str = PART,
          product: str = PRODUCT, iat: int | None = None) -> str:
    return sign_claim(key, op=op, part=part, product=product, relation="component",
                      node="88.118.7", iat=int(time.time()) if iat is None else iat)


async def test_writes_queue_links_to_parts_homed_elsewhere(database: HandleStore) -> None:
    await database.create_prefix("88.118.7")                     # the maker: hosted here
    await database.create_prefix("88.118.9", kind="delegated")   # the supplier's own node
    await database.create_handle(PRODUCT, component(PART, "88.118.7/MOTOR-1", "88.119/X-1"),
                                 actor="test")
    queued = await database.backlink_outbox()
    assert sorted((i.product, i.part, i.op) for i in queued) == [   # not 88.118.7/MOTOR-1
        (PRODUCT, PART, "add"), (PRODUCT, "88.119/X-1", "add")]
    await database.replace_handle(PRODUCT, component("88.118.7/MOTOR-1", "88.119/X-1"),
                                  actor="test")
    queued = await database.backlink_outbox()
    assert sorted((i.part, i.op) for i in queued) == [(PART, "remove"), ("88.119/X-1", "add")]
    await database.backlinks_delivered(queued)
    assert await database.backlink_outbox() == []
    await database.delete_handle(PRODUCT, actor="test")
    assert [(i.part, i.op) for i in await database.backlink_outbox()] == [
        ("88.119/X-1", "remove")]


async def test_a_failed_delivery_stays_with_its_reason(database: HandleStore) -> None:
    await database.create_handle(PRODUCT, component(PART), actor="test")
    (item,) = await database.due_backlinks(limit=10)
    later = datetime(2999, 1, 1, tzinfo=UTC)
    await database.backlinks_failed([item], "88.118.9: connection refused", later)
    assert await database.due_backlinks(limit=10) == []
    (kept,) = await database.backlink_outbox()
    assert (kept.attempts, kept.last_error) == (1, "88.118.9: connection refused")


def test_statements_round_trip_and_bad_ones_say_why() -> None:
    read = read_claim(claim())
    assert (read.op, read.part, read.product, read.relation, read.node) == (
        "add", PART, PRODUCT, "component", "88.118.7")
    assert read.verifies(MAKER_KEY.public_key())
    assert not read.verifies(generate_key("ed25519").public_key())
    for bad, words in [
        (42, "compact JWS string"),
        ("a" * (MAX_JWS_CHARS + 1), "at most"),
        ("a.b", "compact JWS"),
        (claim(product="no-slash"), "product"),
        (sign_claim(MAKER_KEY, op="add", part=PART, product=PRODUCT, relation="sibling",
                    node="x", iat=1), "relation"),
        (sign_claim(MAKER_KEY, op="maybe", part=PART, product=PRODUCT, relation="batch",
                    node="x", iat=1), "op"),
    ]:
        with pytest.raises(ClaimError, match=words):
            read_claim(bad)


async def test_the_receiver_keeps_verified_statements_and_refuses_the_rest(
    database: HandleStore,
) -> None:
    await database.create_prefix("88.118.9")                     # the supplier: hosted here
    receiver = BacklinkReceiver(database, FixedHomes(database, MAKER_KEY), max_per_prefix=2)
    old = int(time.time()) - 60
    results = await receiver.receive([
        claim(iat=old), claim(key=generate_key("ed25519")), claim(part="88.118.5/P-1"),
        claim(product="88.118.9/LOCAL-1"), claim(iat=1), "x.y.z",
    ])
    assert [r["status"] for r in results] == ["stored"] + ["refused"] * 5
    assert [r.get("reason") for r in results[1:]] == [
        "signature", "not-here", "local", "expired", "malformed"]
    assert results[0]["server"] == "127.0.0.7:2641"
    (link,) = (await database.backlinks_many([PART]))[PART.upper()]
    assert (link.product, link.origin) == (PRODUCT, "88.118.7")

    assert (await receiver.receive([claim("remove")]))[0]["status"] == "withdrawn"
    assert await database.backlinks_many([PART]) == {}
    # an older "add" replayed after the withdrawal does not bring it back
    assert (await receiver.receive([claim(iat=old)]))[0]["status"] == "stale"
    assert await database.backlinks_many([PART]) == {}

    with pytest.raises(ClaimError, match="at most 100"):
        await receiver.receive([claim()] * 101)


async def test_a_product_prefix_keeps_a_bounded_number(database: HandleStore) -> None:
    await database.create_prefix("88.118.9")
    now = datetime.now(UTC)
    for number in range(3):
        status = await database.store_backlink(ReceivedBacklink(
            f"88.118.9/B-{number}", PRODUCT, "batch", "add", "88.118.7", "h:1", now, "jws"),
            max_per_prefix=2)
        assert status == ("stored" if number < 2 else "full")
