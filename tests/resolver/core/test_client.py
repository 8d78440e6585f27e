"""The async Handle client: choice of server by hash, failover, timeouts, challenge checks."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from protocol.auth import make_challenge
from protocol.bodies import HandleRequest, ResolutionRequest
from protocol.constants import (
    OC_DELETE_HANDLE,
    OC_RESOLUTION,
    RC_ERROR,
    RC_INVALID_CREDENTIAL,
    RC_SUCCESS,
    SP_HDL_UDP,
    ST_QUERY,
)
from protocol.message import Message
from protocol.server_select import server_index
from protocol.site_info import Interface, ServerInfo, SiteInfo, address_from_string
from registry.store import HandleStore
from resolver.core.client import HandleClient, HandleClientError, SecretKeyAuth, _answer, endpoints
from resolver.core.service import ResolutionService
from resolver.core.site import build_site_info, site_info_value
from resolver.handle.server import HandleServer, run_handle_server
from tests.resolver.handle.test_handle_support import NA, SECRET, TV, seed


def _closed_port() -> int:
    """A port nothing listens on (TCP and UDP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def server(database: HandleStore) -> AsyncIterator[HandleServer]:
    await seed(database)
    running = await run_handle_server(ResolutionService(database), "127.0.0.1", 0)
    try:
        yield running
    finally:
        await running.close()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_failover_to_the_sites_other_server(server: HandleServer) -> None:
    dead = _closed_port()
    for order in ([dead, server.port], [server.port, dead]):
        site = build_site_info([("127.0.0.1", p) for p in order])
        client = HandleClient(timeout=2, attempts=1)
        res = await client.resolve(TV, server=site_info_value(site))
        assert res.response_code == RC_SUCCESS
        assert res.source == f"127.0.0.1:{server.port}"


def test_the_responsible_server_is_asked_first() -> None:
    site = build_site_info([("127.0.0.1", 1000 + i) for i in range(5)])
    for handle in ("88.118.8/a", "88.118.8/b", "88.118.8/c", "0.NA/88.118.8"):
        chosen = site.servers[server_index(handle, site.hash_option, len(site.servers))]
        first = endpoints(site, handle)[0]
        assert first.tcp_port == chosen.interfaces[0].port
        assert len(endpoints(site, handle)) == 5


async def test_no_server_answers() -> None:
    client = HandleClient(timeout=0.5, attempts=2)
    with pytest.raises(HandleClientError) as info:
        await client.resolve(TV, server=("127.0.0.1", _closed_port()))
    assert info.value.response_code == RC_ERROR


async def test_silent_server_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mute:
        mute.bind(("127.0.0.1", 0))
        port = mute.getsockname()[1]
        itf = Interface(ST_QUERY, SP_HDL_UDP, port)
        site = SiteInfo(servers=(ServerInfo(1, address_from_string("127.0.0.1"), b"", (itf,)),))
        client = HandleClient(timeout=0.3, attempts=1)
        with pytest.raises(HandleClientError) as info:
            await client.resolve(TV, server=site)
        assert info.value.response_code == RC_ERROR


def test_a_challenge_for_another_request_is_not_answered() -> None:
    mine = Message(OC_DELETE_HANDLE, body=HandleRequest(TV), request_id=1)
    other = Message(OC_RESOLUTION, body=ResolutionRequest("88.118.8/other"), request_id=1)
    auth = SecretKeyAuth(NA, 300, SECRET)
    assert _answer(mine, make_challenge(mine), auth).session_id == 0
    with pytest.raises(HandleClientError) as info:
        _answer(mine, make_challenge(other), auth)
    assert info.value.response_code == RC_INVALID_CREDENTIAL
