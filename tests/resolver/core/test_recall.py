"""The recall list: finished products containing a batch, flat, once each, bounded."""

from __future__ import annotations

import aiohttp

from registry.store import HandleStore
from resolver.core.recall import affected_products
from resolver.http.api import run_http_server
from tests.resolver.core.test_trace_support import linked, service_of

BATCH = "88.118.10/RB-0001"
# RB-0001 -> compound C1 -> tyre T1 (sold alone) ; C1 -> tyre T2 -> machine M1 ;
# RB-0001 -> hose H1 -> machine M1 (M1 reached twice) ; C1 -> tyre T3 -> machine M2
RECORDS = {
    "88.118.10/C1": linked(batches=[BATCH]),
    "88.118.10/T1": linked("88.118.10/C1"),
    "88.118.10/T2": linked("88.118.10/C1"),
    "88.118.10/T3": linked("88.118.10/C1"),
    "88.118.10/H1": linked(batches=[BATCH]),
    "88.118.9/M1": linked("88.118.10/T2", "88.118.10/H1"),
    "88.118.9/M2": linked("88.118.10/T3"),
    "88.118.9/OTHER": linked("88.118.10/T9"),
}


async def _load(store: HandleStore) -> None:
    for handle, values in RECORDS.items():
        await store.create_handle(handle, values, actor="test")


async def test_finished_products_once_each_with_the_part_and_depth(
    database: HandleStore,
) -> None:
    await _load(database)
    answer = await affected_products(database, BATCH)
    assert [(p.handle, p.via, p.levels) for p in answer.products] == [
        ("88.118.10/T1", "88.118.10/C1", 2),
        ("88.118.9/M1", "88.118.10/H1", 2),   # reached first through the hose
        ("88.118.9/M2", "88.118.10/T3", 3),
    ]
    assert answer.as_json()["count"] == 3 and not answer.truncated
    assert answer.as_csv().splitlines() == [
        "product,via,levels,origin,signature", "88.118.10/T1,88.118.10/C1,2,,",
        "88.118.9/M1,88.118.10/H1,2,,", "88.118.9/M2,88.118.10/T3,3,,",
    ]


async def test_the_walk_is_bounded(database: HandleStore) -> None:
    await _load(database)
    answer = await affected_products(database, BATCH, max_nodes=2)
    assert answer.truncated


async def test_rest_json_csv_and_not_found(database: HandleStore) -> None:
    await _load(database)
    runner, port = await run_http_server(service_of(database), "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            async with http.get(f"/api/trace/{BATCH}/affected") as response:
                assert response.status == 200
                body = await response.json()
            assert body["count"] == 3 and body["products"][0]["handle"] == "88.118.10/T1"
            async with http.get(f"/api/trace/{BATCH}/affected?format=csv") as response:
                assert response.content_type == "text/csv"
                assert "attachment" in response.headers["Content-Disposition"]
                assert (await response.text()).count("\n") == 4
            async with http.get("/api/trace/88.118.10/NOPE/affected") as response:
                assert response.status == 404
                assert (await response.json())["responseCode"] == 100
            async with http.get("/api/trace/88.118.9/M2/affected") as response:
                assert (await response.json())["count"] == 0   # exists, nothing contains it
    finally:
        await runner.cleanup()
