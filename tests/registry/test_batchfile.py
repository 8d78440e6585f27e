"""CNRI batch files (registry.batchfile): value lines against the bytes CNRI HANDLE.NET 9.2's
GenericBatch stored for the same lines (read back with its HDLTrace), the block syntax, and
writing records so that they read back to the same bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol.site_info import decode_site_info
from protocol.values import HandleValue
from registry.batchfile import (
    BatchSyntaxError,
    FolderSink,
    parse_value_line,
    read_batch,
    record_block,
)

#: value line -> data bytes CNRI 9.2 stored for it (GenericBatch CREATE, then HDLTrace)
CNRI_GOLDEN = {
    "100 HS_ADMIN 86400 1110 ADMIN 300:111111111111:0.NA/9999":
        "0FFF00000009302E4E412F393939390000012C",
    "100 HS_ADMIN 86400 1110 ADMIN 300:110011110001:0.NA/9999":
        "08F300000009302E4E412F393939390000012C",
    "200 HS_VLIST 3600 1110 LIST 300:0.NA/9999;301:9999/ops;":
        "0000000200000009302E4E412F393939390000012C00000008393939392F6F70730000012D",
    "1 URL 86400 1110 UTF8   http://example.com/a b  ": b"http://example.com/a b".hex(),
}

SITEINFO_JSON = """{"version": 1, "protocolVersion": "2.11", "serialNumber": 1,
  "primarySite": true, "multiPrimary": false, "attributes": [{"name": "desc", "value": "x"}],
  "servers": [{"serverId": 1, "address": "127.0.0.1",
    "publicKey": {"format": "base64", "value": "AQID"},
    "interfaces": [{"query": true, "admin": true, "protocol": "TCP", "port": 12641}]}]}"""


@pytest.mark.parametrize("line", sorted(CNRI_GOLDEN))
def test_value_lines_give_cnris_bytes(line: str, tmp_path: Path) -> None:
    value = parse_value_line(line, tmp_path)
    assert value.data.hex().upper() == CNRI_GOLDEN[line].upper()


def test_fields_and_permissions(tmp_path: Path) -> None:
    value = parse_value_line("7 EMAIL 3600 1100 utf8 a@example.com", tmp_path)
    assert (value.index, value.type, value.ttl) == (7, "EMAIL", 3600)
    assert (value.admin_read, value.admin_write, value.public_read, value.public_write) == (
        True, True, False, False)


def test_file_data_and_siteinfo_json(tmp_path: Path) -> None:
    (tmp_path / "key.bin").write_bytes(b"\x00\x01binary")
    (tmp_path / "siteinfo.json").write_text(SITEINFO_JSON)
    assert parse_value_line("300 HS_PUBKEY 86400 1110 FILE key.bin", tmp_path).data == (
        b"\x00\x01binary")
    site = parse_value_line("1 HS_SITE 86400 1110 FILE siteinfo.json", tmp_path)
    assert decode_site_info(site.data).servers[0].interfaces[0].port == 12641


@pytest.mark.parametrize("line", [
    "x URL 86400 1110 UTF8 a", "1 URL ttl 1110 UTF8 a", "1 URL 86400 11 UTF8 a",
    "1 URL 86400 1110 UTF8", "1 URL 86400 1110 HEX 00", "1 HS_ADMIN 1 1110 ADMIN 300:111:0.NA/x",
    "1 HS_VLIST 1 1110 LIST nope", "1 X 1 1110 FILE missing.bin",
])
def test_bad_value_lines_are_refused_naming_the_line(line: str, tmp_path: Path) -> None:
    with pytest.raises(BatchSyntaxError):
        parse_value_line(line, tmp_path)


BATCH = """AUTHENTICATE PUBKEY:300:0.NA/88.118
/keys/admpriv.bin|secret

CREATE 88.118.8/a
100 HS_ADMIN 86400 1110 ADMIN 300:111111111111:0.NA/88.118.8
1 URL 86400 1110 UTF8 https://example.test/a

ADD 88.118.8/a
2 EMAIL 86400 1110 UTF8 a@example.test

MODIFY 88.118.8/a
1 URL 60 1110 UTF8 https://example.test/b

REMOVE 2,3:88.118.8/a
DELETE 88.118.8/b
home 127.0.0.1:2641:TCP
0.NA/88.118.20
0.NA/88.118.21

UNHOME 127.0.0.1:2641:TCP
0.NA/88.118.21

CREATE 88.118.8/broken
1 URL notanumber 1110 UTF8 x

FROB 88.118.8/a
"""


def test_blocks(tmp_path: Path) -> None:
    ops = list(read_batch(BATCH, tmp_path))
    assert [(op.kind, op.row, op.end) for op in ops] == [
        ("CREATE", 4, 6), ("ADD", 8, 9), ("MODIFY", 11, 12), ("REMOVE", 14, 14),
        ("DELETE", 15, 15), ("HOME", 16, 18), ("UNHOME", 20, 21), ("CREATE", 23, 24),
        ("FROB", 26, 26),
    ]
    create, add, modify, remove, delete, home, unhome, broken, unknown = ops
    assert create.handle == "88.118.8/a" and [v.index for v in create.values] == [100, 1]
    assert add.values[0].data == b"a@example.test" and modify.values[0].ttl == 60
    assert remove.indexes == (2, 3) and remove.handle == "88.118.8/a"
    assert delete.handle == "88.118.8/b"
    assert home.prefixes == ("0.NA/88.118.20", "0.NA/88.118.21")
    assert unhome.prefixes == ("0.NA/88.118.21",)
    assert broken.error is not None and "notanumber" in broken.error
    assert unknown.error == "unknown command 'FROB'"


def test_records_are_written_to_read_back_the_same(tmp_path: Path) -> None:
    values = (
        HandleValue(1, "URL", b"https://example.test/a"),
        HandleValue(2, "DESC", b" leading blank", public_read=False),
        HandleValue(3, "NOTE", b"two\nlines", ttl=60),
        HandleValue(4, "EMPTY", b""),
        HandleValue(100, "HS_ADMIN", bytes.fromhex("0FFF00000009302E4E412F393939390000012C")),
        HandleValue(200, "HS_VLIST", bytes.fromhex(CNRI_GOLDEN[
            "200 HS_VLIST 3600 1110 LIST 300:0.NA/9999;301:9999/ops;"])),
        HandleValue(300, "HS_PUBKEY", b"\x00\x00\x00\x0bRSA_PUB_KEY\xff"),
    )
    sink = FolderSink(tmp_path / "out.files", tmp_path)
    block = record_block("88.118.8/x", values, sink)
    assert block.splitlines()[:2] == ["CREATE 88.118.8/x", "1 URL 86400 1110 UTF8 https://example.test/a"]
    assert "100 HS_ADMIN 86400 1110 ADMIN 300:111111111111:0.NA/9999" in block
    assert "200 HS_VLIST 86400 1110 LIST 300:0.NA/9999;301:9999/ops;" in block
    assert "2 DESC 86400 1100 FILE out.files/000001-2.bin" in block
    assert block.endswith("\n\n")
    (op,) = read_batch(block, tmp_path)
    assert op.values == values
    with pytest.raises(BatchSyntaxError):
        record_block("88.118.8/with space", values, sink)
