"""10320/LOC multi-location handles: the proxy page's choice as CNRI's Location handler
(choose_by order, locatt, address, country, score, weights, href_template), and a 10320/LOC
value written by pyhandle redirecting through idnode's page."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Sequence
from pathlib import Path

import aiohttp
from pyhandle.client.resthandleclient import RESTHandleClient

from protocol.values import HandleValue
from registry.store import HandleStore
from resolver.http.locations import DEFAULT_CHOOSE_BY, choose_location, parse_locations
from tests.resolver.http.test_rest_harness import ADMIN_ID, PREFIX, SECRET, serve

#: the XML pyhandle's own tests write as a 10320/LOC value
PYHANDLE_LOC = (b'<locations><location href="http://bar.bar" id="0" />'
                b'<location href="http://foo.foo" id="1" /></locations>')


def loc(xml: str, index: int = 5) -> HandleValue:
    return HandleValue(index, "10320/LOC", xml.encode())


def pick(values: list[HandleValue], draw: float = 0.0, *, locatt: Sequence[str] = (),
         country: str | None = None, client: str | None = None) -> str | None:
    return choose_location(values, "88.118.8/x", rng=lambda: draw, locatt=locatt,
                           country=country, client=client)


def test_parse() -> None:
    choose_by, found = parse_locations([HandleValue(5, "10320/loc", PYHANDLE_LOC)])
    assert choose_by == list(DEFAULT_CHOOSE_BY)
    assert [x["href"] for x in found] == ["http://bar.bar", "http://foo.foo"]
    assert parse_locations([loc("<locations chooseby='weighted'/>")])[0] == ["weighted"]
    assert parse_locations([loc("not xml"), loc("<!DOCTYPE x><locations/>")])[1] == []


def test_weights() -> None:
    values = [loc('<locations><location href="https://a" weight="1"/>'
                  '<location href="https://b" weight="3"/><location href="https://z" weight="0"/>'
                  "</locations>")]
    assert pick(values, 0.0) == "https://a"
    assert pick(values, 0.24) == "https://a"
    assert pick(values, 0.26) == "https://b"
    assert pick(values, 0.999) == "https://b"  # weight 0 is never chosen
    zero = [loc('<locations><location href="https://a" weight="0"/>'
                '<location href="https://b" weight="0"/></locations>')]
    assert pick(zero, 0.9) == "https://b"  # all zero: uniform


def test_locatt_country_address_score_and_templates() -> None:
    values = [loc('<locations chooseby="locatt,country,address,score,weighted">'
                  '<location href="https://de" country="de" view="html"/>'
                  '<location href="https://cn" country="CN" view="json" score="1"/>'
                  '<location href="https://lan" addresses="10.0.0.0/8" score="2"/>'
                  '<location href_template="https://t/?id={hdl}&amp;p={hdl:path}" view="tpl"/>'
                  "</locations>")]
    assert pick(values, locatt=["view:json"]) == "https://cn"
    assert pick(values, locatt=["view:none"], country="cn") == "https://cn"
    assert pick(values, country="fr", client="10.1.2.3") == "https://lan"
    assert pick(values, country="fr", client="192.0.2.1") == "https://lan"  # best score
    assert pick(values, locatt=["view:tpl"]) == "https://t/?id=88.118.8%2Fx&p=88.118.8/x"


async def test_pyhandle_10320_loc_redirects(database: HandleStore, tmp_path: Path) -> None:
    handle = f"{PREFIX}/LOC-0001"
    xml = ('<locations chooseby="locatt,weighted"><location href="https://eu.example/1" '
           'region="eu" weight="0"/><location href="https://cn.example/1" region="cn"/>'
           "</locations>")

    def register(url: str) -> str | None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client = RESTHandleClient.instantiate_with_username_and_password(
                url, ADMIN_ID, SECRET, HTTPS_verify=False, handleowner=ADMIN_ID)
            client.register_handle(handle, "https://fallback.example/1", **{"10320/LOC": xml})
            value: str | None = client.get_value_from_handle(handle, "10320/LOC")
            return value

    async with serve(database, tmp_path) as node:
        assert await asyncio.to_thread(register, node.url) == xml
        connector = aiohttp.TCPConnector(ssl=False)
        async with aiohttp.ClientSession(node.url, connector=connector) as http:
            async with http.get(f"/{handle}", allow_redirects=False) as response:
                assert response.headers["Location"] == "https://cn.example/1"  # weight 0: never
            async with http.get(f"/{handle}?locatt=region:eu", allow_redirects=False) as response:
                assert response.headers["Location"] == "https://eu.example/1"
