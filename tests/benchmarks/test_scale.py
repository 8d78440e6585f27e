"""benchmarks.scale at a tiny size: loads with COPY, stops part way, resumes, measures.

2,000 handles in batches of 300 with checkpoints at 1,000 and 2,000: the first
run is stopped after five batches (past the first checkpoint, which it
measures), the second goes on from the committed progress without loading a
handle twice and measures the second checkpoint only.  No timing is asserted.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import text

from benchmarks.processes import scratch_postgres
from benchmarks.scale import ScaleOptions, ScaleRun, handle_name
from registry.db import open_engine


async def _count(url: str) -> tuple[int, int, int]:
    engine = await open_engine(url)
    try:
        async with engine.connect() as conn:
            loaded = "WHERE name_key LIKE '88.118/S%'"  # not the node's own records
            handles = (await conn.execute(text(
                f"SELECT count(DISTINCT name_key) FROM handles {loaded}"))).scalar_one()
            values = (await conn.execute(text(
                f"SELECT count(*) FROM handle_values {loaded}"))).scalar_one()
            parts = (await conn.execute(text(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = 'handles'::regclass"))
            ).scalar_one()
        return int(handles), int(values), int(parts)
    finally:
        await engine.dispose()


def test_interrupted_run_resumes_where_it_stopped(postgres_server: str, tmp_path: Path) -> None:
    said: list[str] = []
    with scratch_postgres(postgres_server) as url:
        opts = ScaleOptions(url, 2000, (1000, 2000), tmp_path, batch=300, partitions=4,
                            duration=1.0, cold_requests=50, stop_after_batches=5)
        asyncio.run(ScaleRun(opts, said.append).run())
        assert any("stopped after 5 batches at 1,300 handles" in line for line in said)
        assert asyncio.run(_count(url)) == (1300, 2600, 4)
        first = json.loads((tmp_path / "scale.json").read_text())["checkpoints"]
        assert [c["rows"] for c in first] == [1000]

        said.clear()
        resumed = ScaleOptions(url, 2000, (1000, 2000), tmp_path, batch=300, partitions=4,
                               duration=1.0, cold_requests=50)
        report = asyncio.run(ScaleRun(resumed, said.append).run())
        assert said[0].startswith("loaded 1,600 / 2,000")  # went on, did not start over
        assert asyncio.run(_count(url)) == (2000, 4000, 4)
    assert [c.rows for c in report.checkpoints] == [1000, 2000]
    assert report.checkpoints[0].measured_at == first[0]["measured_at"]  # not measured again
    for point in report.checkpoints:
        assert point.handles_bytes > 0 and point.values_index_bytes > 0
        assert point.cold["completed"] == 50 and point.cold["errors"] == 0
        assert point.hot["errors"] == 0
    table = (tmp_path / "scale.md").read_text()
    assert "| 1,000 |" in table and "| 2,000 |" in table
    assert len({handle_name(n) for n in range(5000)}) == 5000
