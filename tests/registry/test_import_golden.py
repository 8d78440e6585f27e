"""Imports store exactly what they stored before they were made faster (issue 17).

:mod:`tests.registry.import_golden` imports demo products, records breaking each
rule, a CSV and an overwrite in small batches, and dumps every row written; the
dump must equal the one recorded in ``data/import_golden.json`` on both backends.
"""

from __future__ import annotations

import json
from pathlib import Path

from registry.store import HandleStore
from tests.registry.import_golden import EXPECTED, run_scenario


async def test_an_import_stores_what_it_always_stored(database: HandleStore,
                                                      tmp_path: Path) -> None:
    got = json.loads(json.dumps(await run_scenario(database, tmp_path)))
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    assert got["imports"] == expected["imports"]
    for table, rows in expected["stored"].items():
        assert got["stored"][table] == rows, table
