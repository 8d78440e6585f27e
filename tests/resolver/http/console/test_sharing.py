"""Sharing in the portal (issue 21 item 5): partner grants and who may read each value."""

from __future__ import annotations

from pathlib import Path

from registry.tiers import OWNER, PARTNERS, PUBLIC, tiers_of
from tests.resolver.http.console.harness import APPLIANCE, console_node, onboard

HANDLE = f"{APPLIANCE['prefix']}/{APPLIANCE['suffix']}"


async def test_grant_revoke_and_pick_tiers(sqlite_url: str, tmp_path: Path) -> None:
    async with console_node(sqlite_url, tmp_path) as console:
        admin = await onboard(console)
        code = (await console.store.list_enterprises())[0].code
        await console.store.add_enterprise("PARTNERCO", "Partner Co", actor="test")

        status, page = await admin.get("/console/portal/partners")
        assert status == 200 and "PARTNERCO" not in page
        status, text, _ = await admin.post("/console/portal/partners",
                                           {"action": "grant", "partner": "NOBODY"})
        assert status == 400 and "NOBODY" in text
        status, text, _ = await admin.post("/console/portal/partners",
                                           {"action": "grant", "partner": "PARTNERCO"})
        assert status == 303, text
        assert [p.code for p in await console.store.list_partners(code)] == ["PARTNERCO"]
        assert "PARTNERCO" in (await admin.get("/console/portal/partners"))[1]

        await admin.get("/console/portal/ids/new")
        status, text, _ = await admin.post("/console/portal/ids/new", APPLIANCE)
        assert status == 303, text
        record = await console.store.get_handle(HANDLE)
        assert record is not None
        model = next(v.index for v in record.values if v.type == "TRACE.MODEL")
        document = next(v.index for v in record.values if v.type == "TRACE.DATA")
        url = next(v.index for v in record.values if v.type == "URL")
        status, page = await admin.get("/console/portal/id", h=HANDLE)
        assert f'name="tier-{model}"' in page
        status, text, _ = await admin.post(f"/console/portal/id/tiers?h={HANDLE}",
                                           {f"tier-{model}": PARTNERS, f"tier-{url}": OWNER})
        assert status == 303, text
        record = await console.store.get_handle(HANDLE)
        assert record is not None
        tiers = tiers_of(record.values)
        assert (tiers[model], tiers[url], tiers[document]) == (PARTNERS, OWNER, PARTNERS)

        await admin.get("/console/portal/id/edit", h=HANDLE)   # editing keeps the tiers
        status, text, _ = await admin.post(f"/console/portal/id/edit?h={HANDLE}",
                                           {**APPLIANCE, "energy_grade": "B"})
        assert status == 303, text
        record = await console.store.get_handle(HANDLE)
        assert record is not None and record.version == 3
        assert tiers_of(record.values)[model] == PARTNERS
        assert tiers_of(record.values)[next(
            v.index for v in record.values if v.type == "TRACE.ENERGY_GRADE")] == PUBLIC

        await admin.get("/console/portal/partners")
        status, text, _ = await admin.post("/console/portal/partners",
                                           {"action": "revoke", "partner": "PARTNERCO"})
        assert status == 303, text
        assert await console.store.list_partners(code) == []
        await admin.close()
