"""``idnode qr``: a decodable code of the page URL, SVG to stdout, PNG to a file, clear refusals."""

from __future__ import annotations

from pathlib import Path

from admin.context import EXIT_FAILED, EXIT_USAGE
from tests.admin.conftest import Node
from tests.resolver.http.test_qr_http import decoded

TV = "88.118.8/QR-1"


def test_qr_png_and_svg(node: Node, tmp_path: Path) -> None:
    node.run("handle", "create", TV, "--value", "1:URL:https://example.com/qr")
    out = tmp_path / "label.png"
    node.run("qr", TV, "--out", str(out), "--level", "h", "--base-url", "https://id.example.cn")
    assert decoded(out.read_bytes()) == (f"https://id.example.cn/{TV}", "H")
    svg = node.run("qr", TV).stdout
    assert svg.startswith("<svg") and f"http://127.0.0.1:8000/{TV}" in svg


def test_qr_refusals(node: Node) -> None:
    assert "not found" in node.run("qr", "88.118.8/NOPE", expect=EXIT_FAILED).stderr
    node.run("handle", "create", TV, "--value", "1:URL:https://example.com/qr")
    assert "--out" in node.run("qr", TV, "--format", "png", expect=EXIT_USAGE).stderr
    assert "scale 99" in node.run("qr", TV, "--scale", "99", expect=EXIT_USAGE).stderr
