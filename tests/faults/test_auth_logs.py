"""Auth review: no secret or key material reaches the logs.

Every logger is captured at DEBUG (aiohttp's access log included) while a node
in this process goes through the authentication flows, good and bad: Handle
secret-key answers (PBKDF2 and HMAC-SHA256), a wrong secret, REST Basic auth,
REST ``Handle`` sessions with an HS_SECKEY MAC, a bad MAC, and writes whose
values carry a new HS_SECKEY.  No record (message, arguments, traceback)
holds a secret in any spelling: raw, hex, base64, URL-quoted.  A failing
statement's error does not carry its parameters either (they can be secrets).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from benchmarks.soak import ADMIN, BASIC, NA, PREFIX, SECRET
from protocol.constants import HASH_CODE_HMAC_SHA256
from protocol.references import encode_secret_key
from protocol.rest_json import values_to_json
from protocol.values import HandleValue
from registry.db import open_engine
from resolver.core.client import HandleClient, HandleClientError, SecretKeyAuth
from resolver.node import RunningNode
from tests._services import PgDatabase
from tests.faults._node import NOBODY, NOBODY_SECRET, running_node

NEW_SECRET = b"brand-new-secret-0c55e1"
WRONG_SECRET = b"wrong-guess-secret-77ab"


def _spellings(secret: bytes) -> list[str]:
    text_ = secret.decode()
    return [text_, secret.hex(), base64.b64encode(secret).decode(), quote(text_),
            base64.b64encode(encode_secret_key(secret)).decode()]


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    formatter = logging.Formatter("%(name)s %(message)s")
    return "\n".join(f"{formatter.format(r)} {r.args!r}" for r in caplog.records)


async def _handle_flows(node: RunningNode) -> None:
    address = ("127.0.0.1", node.handle_port)
    client = HandleClient(timeout=10.0, attempts=1)
    secret_value = HandleValue(300, "HS_SECKEY", encode_secret_key(NEW_SECRET),
                               public_read=False)
    await client.create_handle(f"{PREFIX}/logs-1", [secret_value], server=address, auth=ADMIN)
    hmac_auth = SecretKeyAuth(NA, 300, SECRET, HASH_CODE_HMAC_SHA256)
    await client.create_handle(f"{PREFIX}/logs-2", [secret_value], server=address, auth=hmac_auth)
    for wrong in (SecretKeyAuth(NA, 300, WRONG_SECRET), SecretKeyAuth(NOBODY, 300, NOBODY_SECRET)):
        with pytest.raises(HandleClientError):
            await client.create_handle(f"{PREFIX}/logs-x", [secret_value], server=address,
                                       auth=wrong)


async def _rest_flows(node: RunningNode) -> None:
    body = {"values": values_to_json([HandleValue(300, "HS_SECKEY", encode_secret_key(NEW_SECRET),
                                                  public_read=False)])}
    wrong_basic = "Basic " + base64.b64encode(f"300%3A{quote(NA, safe='')}:"
                                              f"{WRONG_SECRET.decode()}".encode()).decode()
    async with aiohttp.ClientSession(f"http://127.0.0.1:{node.http_port}") as http:
        for suffix, header, expected in (("logs-3", BASIC, 201), ("logs-y", wrong_basic, 401)):
            async with http.put(f"/api/handles/{PREFIX}/{suffix}", json=body,
                                headers={"Authorization": header}) as response:
                assert response.status == expected
        for suffix, key, expected in (("logs-4", SECRET, 201), ("logs-z", WRONG_SECRET, 401)):
            async with http.post("/api/sessions") as response:
                session = await response.json()
            cnonce = os.urandom(16)
            mac = hmac.new(key, base64.b64decode(session["nonce"]) + cnonce,
                           hashlib.sha256).digest()
            header = (f'Handle sessionId="{session["sessionId"]}", id="300:{NA}", '
                      f'type="HS_SECKEY", cnonce="{base64.b64encode(cnonce).decode()}", '
                      f'alg="HMAC-SHA256", signature="{base64.b64encode(mac).decode()}"')
            async with http.put(f"/api/handles/{PREFIX}/{suffix}", json=body,
                                headers={"Authorization": header}) as response:
                assert response.status == expected


async def test_auth_flows_log_no_secret(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_node(tmp_path / "node") as node:
        await _handle_flows(node)
        await _rest_flows(node)
    logged = _logged(caplog)
    assert "auth failed" in logged  # the failures are logged, by identity only
    for secret in (SECRET, NOBODY_SECRET, NEW_SECRET, WRONG_SECRET):
        for spelling in _spellings(secret):
            assert spelling not in logged, f"{spelling!r} was logged"
    assert BASIC.split()[1] not in logged


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_statement_errors_hide_their_parameters(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "sqlite":
        engine = await open_engine(f"sqlite:///{tmp_path / 'errors.db'}")
    else:
        pg: PgDatabase = request.getfixturevalue("pg_url")
        engine = await open_engine(pg.url, schema=pg.schema)
    try:
        with pytest.raises(DBAPIError) as failed:
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO no_such_table VALUES (:secret)"),
                                   {"secret": NEW_SECRET.decode()})
        assert NEW_SECRET.decode() not in str(failed.value)
    finally:
        await engine.dispose()
