"""``idnode trace H --up --products``: the recall list as text, JSON and CSV; refusals."""

from __future__ import annotations

from admin.context import EXIT_FAILED, EXIT_USAGE
from tests.admin.conftest import Node

BATCH = "88.118.8/PCB-B1"


def test_recall_list(node: Node) -> None:
    node.run("handle", "create", BATCH, "--value", "1:URL:https://example.com/b1")
    node.run("handle", "create", "88.118.8/BOARD-1", "--value", f"300:TRACE.BATCH:{BATCH}")
    for n in (1, 2):
        node.run("handle", "create", f"88.118.8/TV-R{n}", "--value",
                 "300:TRACE.COMPONENT:88.118.8/BOARD-1")
    text = node.run("trace", BATCH, "--up", "--products").stdout
    assert text.startswith(f"2 finished products contain {BATCH}")
    assert "88.118.8/TV-R1  via 88.118.8/BOARD-1  (2 up)" in text
    assert node.json("trace", BATCH, "--up", "--products")["count"] == 2
    csv_out = node.run("trace", BATCH, "--up", "--products", "--csv").stdout
    assert csv_out.splitlines()[0] == "product,via,levels,origin,signature"
    assert len(csv_out.splitlines()) == 3


def test_recall_list_refusals(node: Node) -> None:
    assert "add --up" in node.run("trace", BATCH, "--products", expect=EXIT_USAGE).stderr
    missing = node.run("trace", "88.118.8/NOPE", "--up", "--products", expect=EXIT_FAILED)
    assert "not found" in missing.stderr
