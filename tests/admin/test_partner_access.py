"""Tiered data access (issue 21 item 5): public, partners-only and owner-only values.

A node made by the CLI hosts ACME (the owner, 88.118.8), PARTNERCO (granted
partner access with ``idnode enterprise partners ACME grant PARTNERCO``) and
STRANGER (no grant).  ``88.118.8/P-1`` is a templated product holding one
plain value and one lifecycle event of each tier (``--tier`` at create, and
``idnode handle tier`` later).

* The same trace request by anonymous, partner and owner shows three
  different views: 1, 2 and 3 events; a stranger sees the anonymous view, and
  so does the partner once the grant is revoked.
* The same holds for REST ``/api/handles``, the Handle protocol over UDP, TCP
  and HTTP with each enterprise's credentials, and the product page for
  logged-in console users of each enterprise.
* Where-used and the recall list of a part show a product containing it only
  to those who may read the link value: ``BOX-P`` links the part with a
  partners-only value, ``BOX-O`` with an owner-only one.
* No front end shows an anonymous reader a byte of the partners-only or
  owner-only data: every path (REST, trace, recall list, product and values
  pages, trace page, Digital Link, ``/api/resolve``, QR, the Handle protocol,
  DNS, the console portal) is walked and its answers searched.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import aiohttp
import dns.asyncquery
import dns.message
import pytest

from protocol.rest_json import values_to_json
from protocol.values import HandleValue
from registry.config import CONFIG_FILE_NAME, load_config
from resolver.core.client import HandleClient, SecretKeyAuth
from resolver.dns.names import handle_to_name
from resolver.node import RunningNode, start_node
from tests.admin.conftest import Node
from tests.resolver.core.test_trace_support import appliance, event, templated

PRODUCT = "88.118.8/P-1"
PART = "88.118.8/PART-1"
BOXES = {"partners": "88.118.8/BOX-P", "owner": "88.118.8/BOX-O"}
GTIN, SERIAL = "06901234567892", "P1SERIAL"
ZONE = "id.example."
PASSWORD = "correct-horse-battery-staple"
HTML = {"Accept": "text/html,application/xhtml+xml"}
PUBLIC_MARK = b"PUBLIC-MARK-4471"
PARTNER_MARKS = (b"PARTNER-SECRET-8812", b"PARTNER-EVENT-5521", BOXES["partners"].encode())
OWNER_MARKS = (b"OWNER-SECRET-9931", b"OWNER-EVENT-6632", BOXES["owner"].encode())
NA = {"ACME": "0.NA/88.118.8", "PARTNERCO": "0.NA/88.118.9", "STRANGER": "0.NA/88.118.10"}


def _values() -> list[HandleValue]:
    values = templated("appliance.product@1", appliance(product_name="Tiered TV"))
    values += [
        HandleValue(1, "URL", b"https://example.com/p1"),
        HandleValue(50, "DESC", PUBLIC_MARK),
        HandleValue(51, "DESC", PARTNER_MARKS[0]),
        HandleValue(52, "DESC", OWNER_MARKS[0]),
        HandleValue(60, "ID.GS1", f"(01){GTIN}(21){SERIAL}".encode()),
        event(0, "produced", "2026-01-02T08:00:00Z", note="made"),
        event(1, "shipped", "2026-01-03T08:00:00Z", note=PARTNER_MARKS[1].decode()),
        event(2, "inspected", "2026-01-04T08:00:00Z", note=OWNER_MARKS[1].decode()),
    ]
    return values


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    """The running node, each enterprise's admin secret and the DNS port."""

    node: Node
    running: RunningNode
    secrets: dict[str, str]
    dns_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.running.http_port}"

    def basic(self, code: str) -> dict[str, str]:
        token = base64.b64encode(f"{quote(f'300:{NA[code]}')}:{self.secrets[code]}".encode())
        return {"Authorization": f"Basic {token.decode()}"}

    def auth(self, code: str) -> SecretKeyAuth:
        return SecretKeyAuth(NA[code], 300, self.secrets[code].encode())


@pytest.fixture
async def served(node: Node, tmp_path: Path) -> AsyncIterator[Served]:
    """The node with the three enterprises, their console users and the tiered product."""
    for code, prefix in (("PARTNERCO", "88.118.9"), ("STRANGER", "88.118.10")):
        node.run("enterprise", "add", code, "--name", f"{code} Ltd", "--prefix", prefix)
    secrets = {code: node.json("enterprise", "credentials", code)["secret_key"] for code in NA}
    password = tmp_path / "password"
    password.write_text(PASSWORD)
    for code in NA:
        node.run("user", "add", code.lower(), "--role", "enterprise_user", "--enterprise", code,
                 "--password-file", str(password))
    record = tmp_path / "p1.json"
    record.write_text(json.dumps({"values": values_to_json(_values())}))
    node.run("handle", "create", PRODUCT, "--from-json", str(record),
             "--tier", "51:partners", "--tier", "52:owner", "--tier", "1001:partners")
    node.run("handle", "tier", PRODUCT, "1002", "owner")
    node.run("handle", "create", PART, "--value", "1:URL:https://example.com/part")
    for tier, box in BOXES.items():
        node.run("handle", "create", box, "--value", "1:URL:https://example.com/box",
                 "--value", f"2:TRACE.COMPONENT:{PART}", "--tier", f"2:{tier}")
    assert node.json("enterprise", "partners", "ACME", "grant", "PARTNERCO")["partners"][0][
        "partner"] == "PARTNERCO"
    dns_port = _free_port()
    config = load_config(node.data_dir / CONFIG_FILE_NAME, environ={}, overrides={
        "data_dir": node.data_dir, "handle_port": 0, "http_port": 0, "dns_port": dns_port,
        "dns_zone": ZONE, "http_insecure_auth": True,
    })
    running = await start_node(config)
    try:
        yield Served(node, running, secrets, dns_port)
    finally:
        await running.close()


async def _get(session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
               ) -> tuple[int, bytes]:
    """GET ``url``, following redirects within this node (none leave it: no network)."""
    body = b""
    for _hop in range(5):
        async with session.get(url, headers=headers, allow_redirects=False) as response:
            body += await response.read()
            location = response.headers.get("Location", "")
            if response.status not in (301, 302, 303, 307, 308) or not location.startswith("/"):
                return response.status, body
            url = location
    raise AssertionError(f"redirect loop at {url}")


async def _events(served: Served, headers: dict[str, str] | None) -> list[str]:
    async with aiohttp.ClientSession(served.url) as http:
        status, body = await _get(http, f"/api/trace/{PRODUCT}?direction=events", headers)
    assert status == 200, body
    return [e["kind"] for e in json.loads(body)["events"]]


async def _rest_indexes(served: Served, headers: dict[str, str] | None) -> set[int]:
    async with aiohttp.ClientSession(served.url) as http:
        status, body = await _get(http, f"/api/handles/{PRODUCT}", headers)
    assert status == 200, body
    return {v["index"] for v in json.loads(body)["values"]}


async def _users(served: Served, headers: dict[str, str] | None) -> tuple[set[str], set[str]]:
    """The products where-used and the recall list of the part show to this reader."""
    async with aiohttp.ClientSession(served.url) as http:
        _status, body = await _get(http, f"/api/trace/{PART}?direction=up", headers)
        used = {n["handle"] for n in json.loads(body)["up"].get("usedIn", [])}
        _status, body = await _get(http, f"/api/trace/{PART}/affected", headers)
        return used, {p["handle"] for p in json.loads(body)["products"]}


PUBLIC_EVENTS = ["produced"]
PARTNER_EVENTS = ["produced", "shipped"]
OWNER_EVENTS = ["produced", "shipped", "inspected"]


async def test_same_trace_three_views(served: Served) -> None:
    assert await _events(served, None) == PUBLIC_EVENTS
    assert await _events(served, served.basic("PARTNERCO")) == PARTNER_EVENTS
    assert await _events(served, served.basic("ACME")) == OWNER_EVENTS
    assert await _events(served, served.basic("STRANGER")) == PUBLIC_EVENTS

    anonymous = await _rest_indexes(served, None)
    partner = await _rest_indexes(served, served.basic("PARTNERCO"))
    owner = await _rest_indexes(served, served.basic("ACME"))
    assert {51, 52, 1001, 1002} & anonymous == set()
    assert partner - anonymous == {51, 1001}
    assert owner - partner >= {52, 1002}     # and the tier marker, owner-only itself

    async with aiohttp.ClientSession(served.url) as http:
        for headers, private in ((None, False), (served.basic("PARTNERCO"), True)):
            async with http.get(f"/trace/{PRODUCT}", headers=headers) as response:
                assert ("private" in response.headers.get("Cache-Control", "")) is private

    wrong = dict(served.basic("PARTNERCO"))
    wrong["Authorization"] = wrong["Authorization"][:-4] + "AAAA"
    async with aiohttp.ClientSession(served.url) as http:
        status, _body = await _get(http, f"/api/trace/{PRODUCT}", wrong)
    assert status == 401      # failed credentials are refused, not quietly shown the public view

    for headers, boxes in ((None, set()), (served.basic("STRANGER"), set()),
                           (served.basic("PARTNERCO"), {BOXES["partners"]}),
                           (served.basic("ACME"), set(BOXES.values()))):
        assert await _users(served, headers) == (boxes, boxes)

    served.node.run("enterprise", "partners", "ACME", "revoke", "PARTNERCO")
    assert await _events(served, served.basic("PARTNERCO")) == PUBLIC_EVENTS
    assert served.node.json("enterprise", "partners", "ACME", "list")["partners"] == []


@pytest.mark.parametrize("transport", ["udp", "tcp", "http"])
async def test_handle_protocol_views(served: Served, transport: str) -> None:
    client = HandleClient(timeout=10.0, attempts=1, udp=transport == "udp",
                          http=transport == "http")
    port = served.running.http_port if transport == "http" else served.running.handle_port
    server = ("127.0.0.1", port)

    async def indexes(code: str | None) -> set[int]:
        res = await client.resolve(PRODUCT, server=server,
                                   auth=None if code is None else served.auth(code))
        return {v.index for v in res.values}

    anonymous, partner, owner = await indexes(None), await indexes("PARTNERCO"), await indexes(
        "ACME")
    assert {51, 52, 1001, 1002} & anonymous == set()
    assert partner - anonymous == {51, 1001}
    assert owner - partner >= {52, 1002}
    assert await indexes("STRANGER") == anonymous


async def _console_page(served: Served, user: str | None) -> bytes:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(served.url, cookie_jar=jar) as http:
        if user is not None:
            _status, page = await _get(http, "/console/login")
            csrf = page.decode().split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            async with http.post("/console/login", data={
                "username": user, "password": PASSWORD, "csrf_token": csrf,
            }, allow_redirects=False) as response:
                assert response.status == 303, await response.text()
        status, body = await _get(http, f"/{PRODUCT}", HTML)
    assert status == 200, body
    return body


async def test_product_page_shows_each_console_user_its_view(served: Served) -> None:
    anonymous = await _console_page(served, None)
    partner = await _console_page(served, "partnerco")
    owner = await _console_page(served, "acme")
    stranger = await _console_page(served, "stranger")
    assert PARTNER_MARKS[1] not in anonymous and PARTNER_MARKS[1] not in stranger
    assert PARTNER_MARKS[1] in partner and OWNER_MARKS[1] not in partner
    assert PARTNER_MARKS[1] in owner and OWNER_MARKS[1] in owner


async def _anonymous_http_answers(served: Served) -> dict[str, bytes]:
    paths = [
        f"/api/handles/{PRODUCT}", f"/api/handles/{PRODUCT}?index=51&index=52",
        f"/api/handles/{PRODUCT}?type=DESC", f"/api/handles/{PRODUCT}?verify=true",
        f"/api/trace/{PRODUCT}", f"/api/trace/{PRODUCT}?direction=events",
        f"/api/trace/{PRODUCT}/affected", f"/api/trace/{PRODUCT}/affected?format=csv",
        f"/trace/{PRODUCT}", f"/{PRODUCT}?noredirect", f"/{PRODUCT}/qr.svg",
        f"/api/resolve?id=(01){GTIN}(21){SERIAL}",
        "/console/portal/id?h=" + quote(PRODUCT),
        f"/api/trace/{PART}", f"/api/trace/{PART}?direction=up", f"/trace/{PART}",
        f"/api/trace/{PART}/affected", f"/api/trace/{PART}/affected?format=csv",
        f"/{PART}?noredirect",
    ]
    found: dict[str, bytes] = {}
    async with aiohttp.ClientSession(served.url) as http:
        for path in paths:
            for headers in (None, HTML):
                found[f"{path} {headers}"] = (await _get(http, path, headers))[1]
        # twice: the second answer may come from what the first one left in the caches
        for path in (f"/{PRODUCT}", f"/01/{GTIN}/21/{SERIAL}"):
            for headers in (HTML, None, HTML):
                found[f"{path} {headers}"] = (await _get(http, path, headers))[1]
        status, body = await _get(http, f"/01/{GTIN}/21/{SERIAL}", HTML)
        assert status == 200 and PUBLIC_MARK not in body and b"Tiered TV" in body
    return found


async def _anonymous_handle_answers(served: Served) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for name, client, port in (
        ("udp", HandleClient(timeout=10.0, attempts=1), served.running.handle_port),
        ("tcp", HandleClient(timeout=10.0, attempts=1, udp=False), served.running.handle_port),
        ("http", HandleClient(timeout=10.0, attempts=1, http=True), served.running.http_port),
    ):
        for _round in range(2):          # the second from the kept datagrams
            for indexes in ((), (51, 52, 1001, 1002)):
                res = await client.resolve(PRODUCT, indexes=indexes, server=("127.0.0.1", port))
                found[f"{name} {indexes}"] = b"".join(v.data for v in res.values)
    return found


async def _dns_answers(served: Served) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    name = handle_to_name(PRODUCT, ZONE)
    for rdtype in ("TXT", "URI", "ANY"):
        query = dns.message.make_query(name, rdtype)
        answer = await dns.asyncquery.udp(query, "127.0.0.1", port=served.dns_port, timeout=5)
        found[f"dns {rdtype}"] = answer.to_wire()
        tcp = await dns.asyncquery.tcp(query, "127.0.0.1", port=served.dns_port, timeout=5)
        found[f"dns tcp {rdtype}"] = tcp.to_wire()
    assert b"example.com" in found["dns URI"] or PUBLIC_MARK in found["dns TXT"]
    return found


async def test_no_front_end_shows_anonymous_readers_restricted_data(served: Served) -> None:
    answers = {**await _anonymous_http_answers(served), **await _anonymous_handle_answers(served),
               **await _dns_answers(served)}
    assert any(PUBLIC_MARK in body for body in answers.values())   # the walk reaches the data
    for where, body in answers.items():
        for mark in PARTNER_MARKS + OWNER_MARKS:
            assert mark not in body, (where, mark)
            assert base64.b64encode(mark) not in body, (where, mark)
