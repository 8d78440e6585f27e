"""Template and event rules over the Handle protocol: a real server, an authenticated client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from protocol.constants import RC_INVALID_VALUE
from registry.store import HandleStore
from resolver.core.client import HandleClient, HandleClientError, SecretKeyAuth
from resolver.core.service import ResolutionService
from resolver.handle.server import run_handle_server
from tests.resolver.core.test_trace_support import appliance, event, templated
from tests.resolver.handle.test_handle_support import NA, SECRET, admin_value, seed

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
ADMIN = SecretKeyAuth(NA, 300, SECRET)
TV = "88.118.8/TV-77"


@pytest.fixture
async def server(database: HandleStore) -> AsyncIterator[tuple[str, int]]:
    await seed(database)
    running = await run_handle_server(ResolutionService(database), "127.0.0.1", 0)
    try:
        yield "127.0.0.1", running.port
    finally:
        await running.close()


async def test_rules_hold_over_the_handle_protocol(server: tuple[str, int]) -> None:
    client = HandleClient(timeout=5)
    admin = admin_value(100, NA, 300)
    bad = templated("appliance.product@1", appliance(serial="tv-1"))
    with pytest.raises(HandleClientError) as info:
        await client.create_handle(TV, [admin, *bad], server=server, auth=ADMIN)
    assert info.value.response_code == RC_INVALID_VALUE
    assert "/serial" in info.value.message and "(pattern)" in info.value.message

    good = [admin, *templated("appliance.product@1", appliance()),
            event(0, "produced", "2024-01-02T08:00:00Z")]
    await client.create_handle(TV, good, server=server, auth=ADMIN)
    await client.add_values(TV, [event(1, "sold", "2024-02-02T08:00:00Z")], server=server,
                            auth=ADMIN)
    with pytest.raises(HandleClientError) as info:
        await client.modify_values(TV, [event(1, "sold", "2024-02-03T08:00:00Z")],
                                   server=server, auth=ADMIN)
    assert info.value.response_code == RC_INVALID_VALUE
    assert "append-only" in info.value.message
