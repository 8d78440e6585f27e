"""Handle protocol messages over the HTTP port (CNRI ``NativeServlet``), with golden bytes
captured from CNRI HANDLE.NET 9.2's ``HandleResolver.sendHttpRequest`` and with idnode's
own client speaking it (``HandleClient(http=True)``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from protocol.bodies import GetSiteInfoResponse, ResolutionResponse
from protocol.constants import (
    HDL_MIME_TYPE,
    OC_GET_SITE_INFO,
    OC_RESERVED,
    OC_RESOLUTION,
    RC_HANDLE_NOT_FOUND,
    RC_PROTOCOL_ERROR,
    RC_SUCCESS,
    SP_HDL_HTTP,
)
from protocol.envelope import decode_envelope
from protocol.public_key import encode_public_key
from registry.store import HandleStore
from resolver.core.client import HandleClient, HandleClientError, SecretKeyAuth
from resolver.core.http_exchange import handle_uri, split_messages
from resolver.core.limits import Limits
from resolver.core.service import ResolutionService
from resolver.core.site import build_site_info, site_info_value
from resolver.handle.over_http import NativeHttpAnswerer
from resolver.handle.server import HandleServer, run_handle_server
from resolver.http.api import run_http_server
from tests.resolver.handle.test_handle_support import NA, SECRET, TV, admin_value, seed, url

#: the transport does not depend on the backend
SQLITE = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
SERVER_KEY = rsa.generate_private_key(65537, 2048)
LIMITS = Limits(list_page_size=2)
ADMIN = SecretKeyAuth(NA, 300, SECRET)
HEADERS = {"Content-Type": HDL_MIME_TYPE, "Accept": HDL_MIME_TYPE}

#: the body CNRI 9.2 ``sendHttpRequest`` POSTs to ``/88.118.8%2FTV-0001`` for a resolution
#: (envelope 2.3 suggesting 2.11, request id 0x3388bace, recursive, all types and indexes)
CNRI_RESOLVE = bytes.fromhex(
    "0203020b000000003388bace0000000000000038000000010000000019000000ffff00006b1606a7"
    "0000001c0000001038382e3131382e382f54562d30303031000000000000000000000000"
)
#: the body it POSTs to ``/%2F`` for OC_GET_SITE_INFO (request id 0x1b5fccd0)
CNRI_SITE = bytes.fromhex(
    "0203020b000000001b5fccd00000000000000021000000020000000019000000ffff00006b1606ac"
    "00000005000000012f00000000"
)


@dataclass
class Node:
    handle: HandleServer
    http: web.AppRunner
    http_port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


@pytest.fixture
async def node(database: HandleStore) -> AsyncIterator[Node]:
    await seed(database)
    service = ResolutionService(database, limits=LIMITS)
    handle = await run_handle_server(
        service, "127.0.0.1", 0, limits=LIMITS, private_key=SERVER_KEY
    )
    runner, port = await run_http_server(
        service, "127.0.0.1", 0, native=NativeHttpAnswerer(handle.processor)
    )
    service.site_info = site_info_value(build_site_info(
        [("127.0.0.1", handle.port)],
        public_key=encode_public_key(SERVER_KEY.public_key()),
        http_port=port,
    ))
    try:
        yield Node(handle, runner, port)
    finally:
        await runner.cleanup()
        await handle.close()


def test_handle_uri_is_cnris_encoding() -> None:
    assert handle_uri("88.118.8/TV-0001") == "/88.118.8%2FTV-0001"
    assert handle_uri("/") == "/%2F"


@SQLITE
async def test_cnri_resolution_request_gets_a_binary_answer(node: Node) -> None:
    async with aiohttp.ClientSession() as session, session.post(
        f"{node.base}/88.118.8%2FTV-0001", data=CNRI_RESOLVE, headers=HEADERS
    ) as response:
        body = await response.read()
        assert response.status == 200
        assert response.headers["Content-Type"] == HDL_MIME_TYPE
        assert int(response.headers["Content-Length"]) == len(body)  # never chunked
        assert "Transfer-Encoding" not in response.headers
    (answer,) = split_messages(body, 1 << 20)
    assert answer.request_id == 0x3388BACE
    assert (answer.major_version, answer.minor_version) == (2, 11)  # as CNRI 9 answers 2.11
    assert answer.op_code == OC_RESOLUTION and answer.response_code == RC_SUCCESS
    assert isinstance(answer.body, ResolutionResponse) and answer.body.handle == TV
    assert [v.index for v in answer.body.values] == [1, 100, 101]


@SQLITE
async def test_cnri_site_info_request(node: Node) -> None:
    async with aiohttp.ClientSession() as session, session.post(
        f"{node.base}/%2F", data=CNRI_SITE, headers=HEADERS
    ) as response:
        (answer,) = split_messages(await response.read(), 1 << 20)
    assert answer.op_code == OC_GET_SITE_INFO and answer.request_id == 0x1B5FCCD0
    assert isinstance(answer.body, GetSiteInfoResponse)
    http = answer.body.site.servers[0].interface(SP_HDL_HTTP)
    assert http is not None and http.port == node.http_port


@SQLITE
async def test_leading_newline_is_skipped_and_bad_bodies_get_protocol_errors(node: Node) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(node.base + "/x", data=b"\n" + CNRI_SITE, headers=HEADERS) as r:
            (answer,) = split_messages(await r.read(), 1 << 20)
            assert answer.response_code == RC_SUCCESS
        async with session.post(node.base + "/x", data=CNRI_SITE[:12], headers=HEADERS) as r:
            (short,) = split_messages(await r.read(), 1 << 20)
            assert (short.op_code, short.response_code) == (OC_RESERVED, RC_PROTOCOL_ERROR)
        async with session.post(node.base + "/x", data=CNRI_SITE[:-3], headers=HEADERS) as r:
            (cut,) = split_messages(await r.read(), 1 << 20)
            assert cut.response_code == RC_PROTOCOL_ERROR
            assert cut.request_id == 0x1B5FCCD0
        # a body whose envelope claims 1 GiB is refused without waiting for it
        huge = CNRI_SITE[:16] + (1 << 30).to_bytes(4, "big") + CNRI_SITE[20:]
        async with session.post(node.base + "/x", data=huge, headers=HEADERS) as r:
            (refused,) = split_messages(await r.read(), 1 << 20)
            assert refused.response_code == RC_PROTOCOL_ERROR


@SQLITE
async def test_other_posts_are_resolutions_as_cnris_proxy(node: Node) -> None:
    """A POST without the Handle type on both headers is ``HDLProxy``'s POST-as-GET."""
    async with aiohttp.ClientSession() as session:
        form = {"noredirect": ""}
        async with session.post(f"{node.base}/{TV}", data=form, allow_redirects=False) as r:
            assert r.status == 302 or "text/html" in r.headers["Content-Type"]
        only_type = {"Content-Type": HDL_MIME_TYPE}
        async with session.post(f"{node.base}/{TV}", data=CNRI_RESOLVE, headers=only_type,
                                allow_redirects=False) as r:
            assert HDL_MIME_TYPE not in r.headers.get("Content-Type", "")


@SQLITE
async def test_idnode_client_over_http(node: Node) -> None:
    client = HandleClient(http=True, timeout=5)
    target = ("127.0.0.1", node.http_port)
    site = await client.get_site_info(target)
    res = await client.resolve(TV, server=site, certify=True)  # chosen by the site's HTTP interface
    assert res.response_code == RC_SUCCESS
    assert res.source == f"127.0.0.1:{node.http_port}"
    assert (await client.resolve("88.118.8/none", server=target)).response_code == (
        RC_HANDLE_NOT_FOUND
    )
    # administration: challenge and answer are two POSTs
    h1 = [url(1, "https://e.test/1"), admin_value(100, NA, 300)]
    await client.create_handle("88.118.8/h1", h1,
                               server=target, auth=ADMIN)
    await client.create_handle("88.118.8/h2", [url(1, "https://example.test/2")],
                               server=target, auth=ADMIN)
    listed = await client.list_handles("88.118.8", server=target, auth=ADMIN)  # several messages
    assert {"88.118.8/h1", "88.118.8/h2", TV} <= set(listed)
    await client.delete_handle("88.118.8/h1", server=target, auth=ADMIN)
    assert (await client.resolve("88.118.8/h1", server=target)).response_code == (
        RC_HANDLE_NOT_FOUND
    )
    with pytest.raises(HandleClientError):
        await client.create_handle("88.118.8/h3", [url(1, "x")], server=target,
                                   auth=SecretKeyAuth(NA, 300, b"wrong"))


@SQLITE
async def test_client_refuses_a_json_answer(node: Node, database: HandleStore) -> None:
    """What CNRI's client met before: JSON where Handle messages were expected."""
    service = ResolutionService(database)
    runner, port = await run_http_server(service, "127.0.0.1", 0)  # no native answerer
    try:
        with pytest.raises(HandleClientError, match="not Handle messages"):
            await HandleClient(http=True, timeout=2, attempts=1).resolve(
                TV, server=("127.0.0.1", port)
            )
    finally:
        await runner.cleanup()


@SQLITE
async def test_older_suggestions_are_answered_in_their_version(node: Node) -> None:
    at_2_10 = CNRI_SITE[:2] + bytes([2, 10]) + CNRI_SITE[4:]
    async with aiohttp.ClientSession() as session, session.post(
        node.base + "/x", data=at_2_10, headers=HEADERS
    ) as response:
        (answer,) = split_messages(await response.read(), 1 << 20)
    assert answer.response_code == RC_SUCCESS
    assert (answer.major_version, answer.minor_version) == (2, 10)


def test_envelope_of_golden_request() -> None:
    env = decode_envelope(CNRI_RESOLVE)
    assert (env.major_version, env.minor_version) == (2, 3)
    assert (env.suggest_major_version, env.suggest_minor_version) == (2, 11)
    assert env.message_length == len(CNRI_RESOLVE) - 20
