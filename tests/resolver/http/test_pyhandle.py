"""The PyPI ``pyhandle`` REST client, configured as for a CNRI server, works against idnode."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path

import pytest
from pyhandle.client.resthandleclient import RESTHandleClient
from pyhandle.handleexceptions import HandleAlreadyExistsException, HandleAuthenticationError

from registry.store import HandleStore
from tests.resolver.http.test_rest_harness import ADMIN_ID, NA, PREFIX, SECRET, TV, TV_URL, serve

HANDLE = f"{PREFIX}/PY-0001"


def _client(url: str, password: str = SECRET) -> RESTHandleClient:
    return RESTHandleClient.instantiate_with_username_and_password(
        url, ADMIN_ID, password, HTTPS_verify=False, handleowner=ADMIN_ID
    )


def _lifecycle(url: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # urllib3's InsecureRequestWarning for the test cert
        client = _client(url)
        assert client.get_value_from_handle(TV, "URL") == TV_URL

        assert client.register_handle(
            HANDLE, "https://example.org/py", checksum="abc123", EXTRA="x"
        ) == HANDLE
        with pytest.raises(HandleAlreadyExistsException):
            client.register_handle(HANDLE, "https://example.org/again")
        record = client.retrieve_handle_record(HANDLE)
        assert record is not None
        assert record["URL"] == "https://example.org/py" and record["CHECKSUM"] == "abc123"
        admin = client.retrieve_handle_record_json(HANDLE)
        assert admin is not None
        assert any(v["type"] == "HS_ADMIN" and v["data"]["value"]["handle"] == NA
                   for v in admin["values"])

        assert client.modify_handle_value(HANDLE, URL="https://example.org/moved") == HANDLE
        assert client.modify_handle_value(HANDLE, NOTE="added") == HANDLE
        assert client.get_value_from_handle(HANDLE, "URL") == "https://example.org/moved"
        assert client.get_value_from_handle(HANDLE, "NOTE") == "added"

        assert client.delete_handle_value(HANDLE, "CHECKSUM") == HANDLE
        assert client.get_value_from_handle(HANDLE, "CHECKSUM") is None

        assert client.delete_handle(HANDLE) == HANDLE
        assert client.retrieve_handle_record(HANDLE) is None

        with pytest.raises(HandleAuthenticationError):
            _client(url, "wrong").register_handle(f"{PREFIX}/PY-0002", "https://example.org")


async def test_pyhandle_rest_client(database: HandleStore, tmp_path: Path) -> None:
    async with serve(database, tmp_path) as node:
        await asyncio.to_thread(_lifecycle, node.url)
        resolution = await node.service.resolve(HANDLE)
        assert resolution.response_code == 100
