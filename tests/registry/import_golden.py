"""A fixed import scenario and a dump of everything it stores, for
``test_import_golden`` (issue 17: making imports faster must not change what they store).

The inputs are generated here from fixed data (demo products of
:func:`registry.demo.generate` with a fixed seed, records that break each rule,
a CSV, an overwrite); :func:`dump` reads every table an import writes, with
what differs from run to run (ids, times) left out.  Run this module to rewrite
the expected dump (``python -m tests.registry.import_golden``) after a change that
is meant to change what imports store.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select, text

from protocol.rest_json import value_to_json
from protocol.values import HandleValue
from registry.demo import generate
from registry.importer import import_file
from registry.models import (
    AuditLog,
    BacklinkOutbox,
    Handle,
    HandleLink,
    HandleValueRow,
    IdentifierKey,
    ImportJob,
    table_of,
)
from registry.store import HandleStore

EXPECTED = Path(__file__).parent / "data" / "import_golden.json"
PRODUCTS, SEED = 6, 7


def _line(handle: str, values: list[HandleValue] | list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"handle": handle, "values": [
        v if isinstance(v, dict) else value_to_json(v) for v in values]}) + b"\n"


def _odd_records() -> list[bytes]:
    """Records that take the less common paths: each rule broken once, GS1 keys with other
    application identifiers, a partners-only link, a link to another node's part,
    references, explicit permissions and timestamps, a value JSON form other than text."""
    url = {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://o.test/"}}
    return [
        _line("88.118.8/ODD-GS1-LOT", [HandleValue(1, "ID.GS1", b"(01)06901234567892(10)LOT-7")]),
        _line("88.118.8/ODD-GS1-SSCC", [HandleValue(1, "ID.GS1", b"(00)069012345000000011")]),
        _line("88.118.8/ODD-GS1-SSCC-BAD", [HandleValue(1, "ID.GS1", b"(00)069012345000000017")]),
        _line("88.118.8/ODD-GS1-DL", [HandleValue(1, "ID.GS1",
                                                  b"https://id.o.test/01/06901234567892/21/A%2F1")]),
        _line("88.118.8/ODD-GS1-SPACE", [HandleValue(1, "ID.GS1", b"(01)06901234567892 (21)X")]),
        _line("88.118.8/ODD-GS1-SERIAL", [HandleValue(1, "ID.GS1", b"(01)06901234567892(21)A(B)"),
                                          HandleValue(2, "ID.GS1", b"(01)06901234567892(21)A(B)",
                                                      public_read=False)]),
        _line("88.118.8/ODD-GS1-TAKEN", [HandleValue(1, "ID.GS1", b"(01)06901234567892(10)LOT-7")]),
        _line("88.118.8/ODD-GS1-BAD", [HandleValue(1, "ID.GS1", b"(01)06901234567893")]),
        _line("88.118.8/ODD-OID", [HandleValue(1, "ID.OID", b"1.2.156.3001.1")]),
        _line("88.118.8/ODD-TEMPLATE", [HandleValue(200, "TRACE.TEMPLATE", b"component@1"),
                                        HandleValue(201, "TRACE.DATA", b'{"serial": 5}')]),
        _line("88.118.8/ODD-NO-TEMPLATE", [HandleValue(200, "TRACE.TEMPLATE", b"nothing@9"),
                                           HandleValue(201, "TRACE.DATA", b"{}")]),
        _line("88.118.8/ODD-EVENT", [HandleValue(1, "TRACE.EVENT", b"not an event")]),
        _line("88.118.8/ODD-LINKS", [
            HandleValue(1, "TRACE.COMPONENT", b"88.118.8/ODD-OID"),
            HandleValue(2, "TRACE.COMPONENT", b"88.999.1/FAR-PART"),
            HandleValue(3, "TRACE.BATCH", b"not a handle"),
            HandleValue(4, "TRACE.BATCH", b"88.118.8/ODD-GS1-LOT", public_read=False),
            HandleValue(5, "TRACE.PARTNERS", b"4", public_read=False),
            HandleValue(6, "HS_VLIST", b"", timestamp=1234,
                        references=(),),
        ]),
        _line("88.118.8/ODD-FORMS", [url | {"permissions": "1110", "ttl": 60},
                                     {"index": 2, "type": "EMAIL", "data": "a@o.test",
                                      "timestamp": "2024-01-02T03:04:05Z"},
                                     {"index": 3, "type": "BLOB", "data": {
                                         "format": "base64",
                                         "value": base64.b64encode(b"\0\1").decode()}}]),
        _line("88.118.8/ODD-EMPTY", []),
        _line("no-slash", [url]),
        b"{not json\n",
        _line("88.118.8/ODD-FORMS", [url]),  # twice in one batch
    ]


def write_inputs(folder: Path) -> tuple[Path, Path, Path]:
    """The demo JSON Lines (with the odd records in the middle), a CSV, and a JSON Lines
    that overwrites some of the demo records."""
    records = list(generate(PRODUCTS, seed=SEED, page_url="https://o.test/{handle}"))
    lines = [_line(h, v) for h, v in records]
    demo = folder / "demo.jsonl"
    demo.write_bytes(b"".join(lines[:10] + _odd_records() + lines[10:]))
    plain = folder / "plain.csv"
    with plain.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(("handle", "index", "type", "data", "ttl"))
        for n in range(12):
            writer.writerow((f"88.118.8/CSV-{n:03d}", 1, "URL", f"https://o.test/{n}", ""))
            writer.writerow((f"88.118.8/CSV-{n:03d}", 2, "EMAIL", "ops@o.test", 300))
        writer.writerow(("88.118.8/CSV-BAD", "x", "URL", "https://o.test/bad", ""))
        writer.writerow(("88.118.8/CSV-HEX", 1, "HS_ADMIN", "88.118.8/CSV-000:300", ""))
    again = folder / "again.jsonl"
    # new URLs (replaced), and a few dropping their last value (an event, or breaking
    # the mapping: rejected)
    changed = [(h, [HandleValue(1, "URL", f"https://o.test/v2/{h}".encode()), *v[1:]])
               for h, v in records[::3]]
    changed += [(h, v[:-1]) for h, v in records[1::7]]
    again.write_bytes(b"".join(_line(h, v) for h, v in changed))
    return demo, plain, again


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


async def dump(store: HandleStore, stamps: set[int]) -> dict[str, Any]:
    """Every row the imports wrote, ordered, without ids and times (a value timestamp
    is ``"import"`` when it is the time of an import batch, ``stamps``)."""
    h, v, ln = table_of(Handle), table_of(HandleValueRow), table_of(HandleLink)
    k, o, a, j = (table_of(IdentifierKey), table_of(BacklinkOutbox), table_of(AuditLog),
                  table_of(ImportJob))
    out: dict[str, Any] = {}
    async with store.engine.connect() as conn:
        out["handles"] = [list(r) for r in await conn.execute(
            select(h.c.name, h.c.name_key, h.c.prefix, h.c.enterprise, h.c.version)
            .order_by(h.c.name_key))]
        rows = await conn.execute(
            select(h.c.name, v.c.idx, v.c.type, v.c.data, v.c.ttl_type, v.c.ttl, v.c.timestamp,
                   v.c.admin_read, v.c.admin_write, v.c.public_read, v.c.public_write,
                   v.c.references, v.c.name_key)
            .select_from(v.join(h, h.c.id == v.c.handle_id)).order_by(h.c.name_key, v.c.idx))
        out["values"] = [
            _plain([*r[:6], "import" if r[6] in stamps else r[6], *map(bool, r[7:11]),
                    json.loads(r[11]) if isinstance(r[11], str) else r[11], r[12]])
            for r in rows]
        out["links"] = [list(r) for r in await conn.execute(
            select(ln).order_by(ln.c.from_key, ln.c.to_key, ln.c.relation))]
        out["identifiers"] = [[*r[:4], bool(r[4])] for r in await conn.execute(
            select(k.c.key, k.c.scheme, k.c.name_key, k.c.handle, k.c.public).order_by(k.c.key))]
        out["outbox"] = [list(r) for r in await conn.execute(
            select(o.c.product_key, o.c.part_key, o.c.relation, o.c.product_handle,
                   o.c.part_handle, o.c.op, o.c.attempts)
            .order_by(o.c.product_key, o.c.part_key, o.c.relation))]
        out["audit"] = [[r[0], r[1], r[2], r[3] is not None, _plain(r[4])]
                        for r in await conn.execute(
                            select(a.c.actor, a.c.action, a.c.handle, a.c.after, a.c.detail)
                            .order_by(a.c.seq))]
        out["jobs"] = sorted([list(r) for r in await conn.execute(
            select(j.c.rows_done, j.c.status))])
        out["changes"] = (await conn.execute(text("SELECT count(*) FROM changes"))).scalar()
    return out


async def run_scenario(store: HandleStore, folder: Path) -> dict[str, Any]:
    """Import the inputs into ``store`` (small batches, so records span several); what
    it stored and what each import reported, with the rejected rows."""
    demo, plain, again = write_inputs(folder)
    # enterprise ACME holds 88.118.8 (its new handles get its default admin), the node
    # hosts 88.118; 88.118.10 and 88.999 are elsewhere (links to them go to the outbox)
    await store.create_prefix("88.118")
    await store.add_enterprise("ACME", "Acme")
    await store.create_prefix("88.118.8", owner="ACME")
    summaries = []
    started = int(time.time())
    for source, options in ((demo, {"batch_rows": 9}), (plain, {"batch_rows": 7}),
                            (again, {"batch_rows": 4, "overwrite": True}),
                            (demo, {"batch_rows": 9})):
        summary = (await import_file(store, source, actor="golden", **options)).as_dict()
        report = (await asyncio.to_thread(Path(summary["report"]).read_text,
                                          encoding="utf-8")).splitlines()
        summaries.append({key: summary[key] for key in (
            "format", "rows", "resumed_from", "rows_done", "inserted", "replaced", "rejected",
            "already_done")} | {"report": report})
    stamps = set(range(started, int(time.time()) + 1))
    assert (await store.verify_audit()).ok
    return {"imports": summaries, "stored": await dump(store, stamps)}


async def _main(url: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = await HandleStore.open(url or f"sqlite:///{folder}/registry.db")
        try:
            result = await run_scenario(store, Path(folder))
        finally:
            await store.close()
    EXPECTED.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    print(f"wrote {EXPECTED}")


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1] if len(sys.argv) > 1 else ""))
