"""``idnode import --format batch`` / ``idnode export --format batch``: a CNRI batch file moved
into a node and out again byte for byte, FILE data included, and into a second node."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.admin.conftest import Node

#: in the form an export writes: CREATE blocks, values by index, binary data in FILE
CANONICAL = """CREATE 88.118.66/a
1 URL 86400 1110 UTF8 https://example.test/a
2 EMAIL 3600 1100 UTF8 owner@example.test
100 HS_ADMIN 86400 1110 ADMIN 300:111111111111:0.NA/88.118.66
200 HS_VLIST 86400 1110 LIST 300:0.NA/88.118.66;301:88.118.66/ops;
300 HS_PUBKEY 86400 1110 FILE in.batch.files/000001-300.bin

CREATE 88.118.66/b
1 URL 60 1110 UTF8 https://example.test/b
2 NOTE 86400 1110 FILE in.batch.files/000002-2.bin

"""


def write_source(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    files = folder / "in.batch.files"
    files.mkdir()
    (files / "000001-300.bin").write_bytes(b"\x00\x00\x00\x0bRSA_PUB_KEY\x00\x01\xff")
    (files / "000002-2.bin").write_bytes(b"two\nlines")
    source = folder / "in.batch"
    source.write_text("HOME 127.0.0.1:2641:TCP\n0.NA/88.118.66\n\n" + CANONICAL)
    return source


def test_batch_file_in_and_out_byte_stable(node: Node, tmp_path: Path) -> None:
    source = write_source(tmp_path / "src")
    summary = node.json("import", "--format", "batch", str(source))
    assert (summary["inserted"], summary["rejected"], summary["format"]) == (2, 0, "batch")
    assert "88.118.66" in {row["prefix"] for row in node.json("prefix", "list")}

    out = tmp_path / "out" / "in.batch"
    out.parent.mkdir()
    exported = node.json("export", "--format", "batch", "--prefix", "88.118.66", str(out))
    assert exported["records"] == 2
    assert out.read_text() == CANONICAL
    for name in ("000001-300.bin", "000002-2.bin"):
        assert (out.parent / "in.batch.files" / name).read_bytes() == (
            source.parent / "in.batch.files" / name).read_bytes()

    # and into a second node, from which it comes out the same again
    second = Node(tmp_path / "second")
    shutil.copytree(node.data_dir, second.data_dir)
    second.run("handle", "delete", "88.118.66/a")
    second.run("handle", "delete", "88.118.66/b")
    assert second.json("import", "--format", "batch", str(out))["inserted"] == 2
    again = tmp_path / "again" / "in.batch"
    again.parent.mkdir()
    second.json("export", "--format", "batch", "--prefix", "88.118.66", str(again))
    assert again.read_bytes() == out.read_bytes()


def test_batch_export_needs_a_file(node: Node) -> None:
    assert "needs a file" in node.run("export", "--format", "batch", "-", expect=2).stderr
