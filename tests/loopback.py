"""Test worlds run every node on loopback, which recursion refuses by default
(:mod:`resolver.core.upstream`): this lets a node's recursion reach them."""

from __future__ import annotations

from pathlib import Path

from registry.config import CONFIG_FILE_NAME

LOOPBACK = "127.0.0.0/8"


def allow_loopback_upstream(data_dir: Path) -> None:
    """Set ``upstream_allow`` to loopback in the ``idnode.toml`` that ``idnode init`` wrote."""
    path = data_dir / CONFIG_FILE_NAME
    lines = [line for line in path.read_text().splitlines()
             if not line.startswith("upstream_allow =")]
    path.write_text("\n".join([*lines, f'upstream_allow = ["{LOOPBACK}"]']) + "\n")
