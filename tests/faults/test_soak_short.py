"""A 2-minute soak (``benchmarks.soak``) in the suite: no errors, nothing written is lost.

The same mixed load as the 30-minute soak (hot/cold/missing reads over Handle
UDP, TCP and REST; Handle and REST writers) against an ``idnode serve``
subprocess.  It asserts that no request failed and that every acknowledged
write is in the registry, whole; its latency table is printed, never asserted
on (this machine's timing is not the node's).
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.soak import soak

MINUTES = 2.0


async def test_two_minute_soak_has_no_errors_and_loses_nothing(tmp_path: Path) -> None:
    result = await soak(tmp_path / "node", MINUTES, cold=2000, sample_seconds=30.0)
    print(result.table())
    assert result.errors == [], result.errors[:10]
    assert result.problems == [], result.problems[:10]
    assert result.writes_acked > 0
    assert len(result.rows) == 4 and all(row[2] > 0 for row in result.rows)
