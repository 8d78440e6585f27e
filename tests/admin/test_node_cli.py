"""``idnode init``, ``status``, help texts and error reporting, as subprocesses."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from admin.cli import build_parser, config_overrides
from tests.admin.conftest import Node, idnode

COMMANDS = [
    ("init",), ("status",), ("prefix", "create"), ("prefix", "delegate"), ("prefix", "list"),
    ("prefix", "show"), ("prefix", "remove"), ("prefix", "home"), ("prefix", "unhome"),
    ("enterprise", "add"), ("enterprise", "list"),
    ("enterprise", "show"), ("enterprise", "suspend"), ("enterprise", "resume"),
    ("enterprise", "quota"), ("enterprise", "credentials"), ("handle", "create"),
    ("handle", "get"), ("handle", "set"), ("handle", "delete"), ("handle", "list"),
    ("resolve",), ("import",), ("export",), ("audit", "show"), ("audit", "verify"),
    ("stats",), ("stats", "report"),
]


def test_init_makes_config_keys_database_and_node_prefix_handle(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    result = idnode(data_dir, "--json", "init", "--demo", "--demo-products", "5")
    assert result.returncode == 0, result.stderr
    config = tomllib.loads((data_dir / "idnode.toml").read_text())
    assert config["prefixes"] == ["88.118"]
    for key in ("server_key.pem", "server_pubkey.bin", "admin_key.pem", "admin_pubkey.bin"):
        mode = stat.S_IMODE((data_dir / "keys" / key).stat().st_mode)
        assert mode == 0o600, key
    node = Node(data_dir)
    record = node.json("handle", "get", "0.NA/88.118")
    by_index = {v["index"]: v for v in record["values"]}
    assert by_index[1]["type"] == "HS_SITE"
    assert by_index[100]["type"] == "HS_ADMIN"
    assert by_index[100]["data"]["value"]["handle"] == "0.NA/88.118"
    assert by_index[100]["data"]["value"]["index"] == 300
    assert by_index[300]["type"] == "HS_PUBKEY"
    enterprises = node.json("enterprise", "list")
    assert {e["industry"] for e in enterprises} == {"appliance", "machinery", "rubber"}
    assert sum(e["handles"] for e in enterprises) >= 5

    product = node.json("handle", "list", "88.118.8")["handles"][0]
    answer = node.json("resolve", product, "--verify", "--trace")
    assert answer["response"] == "SUCCESS"
    assert answer["verification"]["status"] == "unsigned"
    assert answer["trace"]["node"]["handle"] == product
    assert "events" in answer["trace"] and "down" in answer["trace"]

    again = idnode(data_dir, "init")
    assert again.returncode == 1
    assert "already initialised" in again.stderr
    assert idnode(data_dir, "init", "--if-missing").returncode == 0


def test_status_reports_counts_and_servers(node: Node) -> None:
    status = node.json("status")
    assert status["database_status"] == "reachable"
    assert status["node_prefix_handle"] == "present"
    assert status["enterprises"] == 1
    assert "handle_server" in status


def test_status_on_unreachable_database_exits_3(tmp_path: Path) -> None:
    result = idnode(tmp_path, "--database-url", "postgresql://nobody@127.0.0.1:1/none", "status")
    assert result.returncode == 3
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_examples(command: tuple[str, ...]) -> None:
    parser = build_parser([*command, "--help"])
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args([*command, "--help"])
    assert exit_info.value.code == 0


def test_top_level_config_options_reach_commands_that_repeat_them() -> None:
    for argv, expected in (
        (["--database-url", "postgresql://db/a", "serve"], "postgresql://db/a"),
        (["--database-url", "postgresql://db/a", "serve", "--database-url", "sqlite:///b"],
         "sqlite:///b"),
        (["--database-url", "postgresql://db/a", "import", "x.csv"], "postgresql://db/a"),
    ):
        args = build_parser(argv).parse_args(argv)
        assert config_overrides(argv, args)["database_url"] == expected


def test_help_text_shows_examples_and_exit_codes(node: Node) -> None:
    text = node.run("import", "--help").stdout
    assert "examples:" in text
    assert "exit codes:" in text


def test_expected_errors_are_one_line_without_traceback(node: Node, tmp_path: Path) -> None:
    cases = [
        (("handle", "get", "88.118.8/NOPE"), 1),
        (("handle", "create", "88.118.8/X", "--value", "nonsense"), 2),
        (("enterprise", "show", "NOBODY"), 1),
        (("import", str(tmp_path / "missing.csv")), 2),
    ]
    for args, code in cases:
        result = idnode(node.data_dir, *args)
        assert result.returncode == code, (args, result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("idnode: ")


def test_uninitialised_node_says_so(tmp_path: Path) -> None:
    result = idnode(tmp_path, "handle", "list")
    assert result.returncode == 1
    assert "not initialised" in result.stderr


def test_prefix_home_and_unhome(node: Node) -> None:
    """``idnode prefix home|unhome`` mirror OC_HOME_NA / OC_UNHOME_NA (registry.homing)."""
    assert node.json("prefix", "home", "0.NA/88.118.77") == {"prefix": "88.118.77", "homed": True}
    hosted = node.json("prefix", "list", "--kind", "hosted")
    assert "88.118.77" in {row["prefix"] for row in hosted}
    node.json("prefix", "unhome", "88.118.77")
    assert "88.118.77" not in {row["prefix"] for row in node.json("prefix", "list")}
    assert "own prefix" in node.run("prefix", "unhome", "88.118", expect=1).stderr
    assert "not a prefix handle" in node.run("prefix", "home", "88.118/x", expect=2).stderr
