"""How a node answers for prefixes it hosts or delegates, and how the root refers.

Non-recursive questions only (recursion: ``test_recursive.py``), asked of the
services and over the Handle protocol of the same three-node world.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from protocol.constants import (
    RC_HANDLE_NOT_FOUND,
    RC_SERVICE_REFERRAL,
    RC_SUCCESS,
    TYPE_HS_SITE,
)
from resolver.core.client import HandleClient
from resolver.core.model import Caller
from resolver.core.referral import candidate_prefixes
from tests.resolver.core.test_recursive import PUMP, TV, World, running_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with running_world(tmp_path) as started:
        yield started


async def test_the_node_refers_delegated_prefixes_and_answers_hosted_ones(world: World) -> None:
    service = world.node.service
    referral = await service.resolve(PUMP)
    assert referral.response_code == RC_SERVICE_REFERRAL
    assert [(v.type, v.data) for v in referral.referral_values] == [
        (TYPE_HS_SITE, world.enterprise.site().data)
    ]
    hosted = await service.resolve(TV)
    assert hosted.response_code == RC_SUCCESS and hosted.authoritative
    missing = await service.resolve("88.118.8/NOPE")
    assert missing.response_code == RC_HANDLE_NOT_FOUND and missing.authoritative
    foreign = await service.resolve("77.1/X")
    assert foreign.response_code == RC_HANDLE_NOT_FOUND and not foreign.authoritative
    prefix_handle = await service.resolve("0.NA/88.118.9")
    assert prefix_handle.response_code == RC_SUCCESS


async def test_the_root_serves_prefix_handles_and_refers_the_rest(world: World) -> None:
    service = world.root.service
    prefix = await service.resolve("0.NA/88.118", types=[TYPE_HS_SITE])
    assert [v.data for v in prefix.values] == [world.node.site().data]
    for name in (TV, PUMP, "0.NA/88.118.9"):
        res = await service.resolve(name)
        assert res.response_code == RC_SERVICE_REFERRAL, name
        assert [v.data for v in res.referral_values] == [world.node.site().data]
    homed = await service.resolve("88.5/X")
    assert homed.response_code == RC_HANDLE_NOT_FOUND and homed.authoritative


async def test_referrals_go_over_the_handle_protocol(world: World) -> None:
    client = HandleClient(timeout=2.0)
    res = await client.resolve(PUMP, server=world.node.address, recursive=False)
    assert res.response_code == RC_SERVICE_REFERRAL
    assert [v.data for v in res.referral_values] == [world.enterprise.site().data]
    missing = await client.resolve("88.118.8/NOPE", server=world.node.address, recursive=False)
    assert missing.response_code == RC_HANDLE_NOT_FOUND


async def test_changing_a_delegation_drops_cached_referrals(world: World) -> None:
    service = world.node.service
    assert (await service.resolve(PUMP)).response_code == RC_SERVICE_REFERRAL
    admin = Caller("0.NA/88.118", 300)
    await service.modify_values("0.NA/88.118.9", [world.root.site()], caller=admin)
    moved = await service.resolve(PUMP)
    assert [v.data for v in moved.referral_values] == [world.root.site().data]


def test_candidate_prefixes_nearest_first() -> None:
    assert candidate_prefixes("88.118.9/X") == ["88.118.9", "88.118", "88"]
    assert candidate_prefixes("0.NA/88.118.9") == ["88.118", "88"]
    assert candidate_prefixes("0.na/88") == []
