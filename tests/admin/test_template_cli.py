"""``idnode template add|list|show`` and records checked against an added template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry.templates import load_builtin_templates
from tests.admin.conftest import Node
from tests.admin.test_trace_cli_support import Cli


@pytest.fixture
def cli(node: Node, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(node, capsys)


def fitting_template(folder: Path, version: int = 1, **extra: object) -> Path:
    """A template file derived from ``component@1``: ``hose.fitting`` needing a serial."""
    schema = dict(load_builtin_templates()["component@1"].schema)
    schema["x-idnode"] = {**schema["x-idnode"], "name": "hose.fitting", "version": version}
    schema["required"] = [*schema["required"], "serial"]
    schema.update(extra)
    path = folder / f"fitting-{version}.json"
    path.write_text(json.dumps(schema))
    return path


def test_add_list_show_and_enforce(cli: Cli) -> None:
    added = cli.json("template", "add", str(fitting_template(cli.node.data_dir)))
    assert added["template"] == "hose.fitting@1" and added["origin"] == "added"
    listed = {row["template"]: row["origin"] for row in cli.json("template", "list")}
    assert listed["hose.fitting@1"] == "added" and listed["rubber.product@1"] == "builtin"
    assert "TRACE.SERIAL" in cli.run("template", "show", "hose.fitting").stdout
    assert cli.json("template", "show", "hose.fitting@1")["x-idnode"]["version"] == 1
    cli.run("template", "add", str(fitting_template(cli.node.data_dir)))  # the same again: fine
    changed = fitting_template(cli.node.data_dir, title="Changed")
    assert "higher version" in cli.run("template", "add", str(changed), expect=1).stderr

    record = cli.node.data_dir / "fitting.json"
    document = {"part_number": "HF-12", "component_type": "fitting", "manufacturer": "Acme"}
    record.write_text(json.dumps([
        {"index": 200, "type": "TRACE.TEMPLATE", "data": "hose.fitting@1"},
        {"index": 201, "type": "TRACE.DATA", "data": json.dumps(document)},
    ]))
    refused = cli.run("handle", "create", "88.118.8/HF-1", "--from-json", str(record), expect=1)
    assert "/serial: required field is missing (required)" in refused.stderr


def test_a_bad_template_file_is_refused_naming_the_field(cli: Cli) -> None:
    bad = fitting_template(cli.node.data_dir, version=0)
    result = cli.run("template", "add", str(bad), expect=1)
    assert "/x-idnode/version" in result.stderr and "(minimum)" in result.stderr
    assert cli.run("template", "show", "nope", expect=1).stderr.startswith("idnode: ")
