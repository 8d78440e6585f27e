"""verify_record: the chain root -> node -> enterprise and every way it can fail."""

from __future__ import annotations

import dataclasses
from typing import Any

from protocol.values import HandleValue
from registry.names import name_key
from registry.trust import (
    PublicKey,
    Status,
    generate_key,
    issue_revocation,
    public_key_to_hs_pubkey,
    sign_record,
    verify_record,
)
from registry.trust.verify import LINK_OK, VerificationReport, chain_hint
from tests.registry.trust.conftest import (
    ADMIN_INDEX,
    DAY,
    ENT8,
    ENT9,
    NODE,
    NOW,
    RECORD,
    ROOT,
    World,
    record_values,
    signed_record,
)


async def verify(
    world: World, values: list[HandleValue], anchor: PublicKey | None = None
) -> VerificationReport:
    """verify_record of RECORD at NOW, anchored at the root key unless told otherwise."""
    trust_anchor = anchor or world.root_key.public_key()
    return await verify_record(
        RECORD, values, fetch=world.fetch, trust_anchor=trust_anchor, now=NOW
    )


def replace(values: list[HandleValue], index: int, **changes: Any) -> list[HandleValue]:
    """``values`` with the value at ``index`` changed."""
    return [dataclasses.replace(v, **changes) if v.index == index else v for v in values]


async def test_signed_record_verifies_through_the_full_chain(world: World) -> None:
    report = await verify(world, signed_record(world))
    assert report.status is Status.VALID and report.valid
    assert [(link.handle, link.index, link.status) for link in report.chain] == [
        (RECORD, 400, LINK_OK),
        (ENT8, 400, LINK_OK),
        (NODE, 400, LINK_OK),
    ]
    assert [link.issuer for link in report.chain] == [f"300:{ENT8}", f"300:{NODE}", f"300:{ROOT}"]


async def test_one_changed_byte_names_the_value(world: World) -> None:
    values = signed_record(world)
    email = next(v for v in values if v.index == 2)
    tampered = replace(values, 2, data=email.data[:-1] + b"X")
    report = await verify(world, tampered)
    assert report.status is Status.INVALID and not report.valid
    assert report.failed_values == (2,)
    assert "value 2 does not match its signed digest" in report.reason


async def test_changed_permissions_or_ttl_break_the_digest(world: World) -> None:
    report = await verify(world, replace(signed_record(world), 1, ttl=60))
    assert report.status is Status.INVALID and report.failed_values == (1,)


async def test_removed_and_added_values_are_named(world: World) -> None:
    values = [v for v in signed_record(world) if v.index != 3]
    values.append(HandleValue(7, "URL", b"https://attacker.test/"))
    report = await verify(world, values)
    assert report.status is Status.INVALID
    assert report.failed_values == (3, 7)
    assert "value 3 was signed but is missing" in report.reason
    assert "value 7 is not covered" in report.reason


async def test_timestamp_and_non_public_values_are_not_covered(world: World) -> None:
    values = replace(signed_record(world), 1, timestamp=NOW)
    values = replace(values, 200, data=b"cost=99")
    assert (await verify(world, values)).status is Status.VALID


async def test_unsigned_record_is_unsigned_never_valid(world: World) -> None:
    report = await verify(world, record_values())
    assert report.status is Status.UNSIGNED and not report.valid
    assert report.chain == () and report.signatures == ()


async def test_tampered_signature_is_invalid(world: World) -> None:
    values = signed_record(world)
    sig = values[-1]
    header, payload, signature = sig.data.split(b".")
    flipped = (b"A" if signature[:1] != b"A" else b"B") + signature[1:]
    report = await verify(
        world, [*values[:-1], dataclasses.replace(sig, data=b".".join((header, payload, flipped)))]
    )
    assert report.status is Status.INVALID
    assert "does not verify" in report.reason


async def test_garbage_signature_value_is_invalid(world: World) -> None:
    report = await verify(world, [*record_values(), HandleValue(400, "HS_SIGNATURE", b"not a jws")])
    assert report.status is Status.INVALID
    assert "HS_SIGNATURE 400" in report.reason


async def test_signature_copied_from_another_handle_is_invalid(world: World) -> None:
    values = record_values()
    other = sign_record(
        "88.118.8/TV-0002", values, ENT8, ADMIN_INDEX, world.ent8_key, NOW - DAY, NOW + DAY
    )
    report = await verify(world, [*values, other])
    assert report.status is Status.INVALID
    assert "88.118.8/TV-0002" in report.reason


async def test_expired_enterprise_certificate(world: World) -> None:
    world.put(ENT8, [world.enterprise_cert(ENT8, world.ent8_key, NOW - 100 * DAY, NOW - DAY)])
    report = await verify(world, signed_record(world))
    assert report.status is Status.EXPIRED
    assert [(link.handle, link.status) for link in report.chain][1] == (ENT8, "expired")


async def test_expired_record_signature(world: World) -> None:
    values = record_values()
    sig = sign_record(RECORD, values, ENT8, ADMIN_INDEX, world.ent8_key, NOW - 10 * DAY, NOW - DAY)
    report = await verify(world, [*values, sig])
    assert report.status is Status.EXPIRED
    assert report.chain[0].status == "expired"


async def test_newer_certificate_replaces_older_one(world: World) -> None:
    newer = world.enterprise_cert(
        ENT8, world.ent8_key, NOW - 100 * DAY, NOW - DAY, issued=NOW - 2 * DAY, index=401
    )
    world.add(ENT8, newer)
    report = await verify(world, signed_record(world))
    assert report.status is Status.EXPIRED
    assert report.chain[1].index == 401


async def test_revoked_enterprise_key(world: World) -> None:
    world.add(
        NODE,
        issue_revocation(
            NODE, ADMIN_INDEX, world.node_key, [world.ent8_key.public_key()], NOW - 60
        ),
    )
    report = await verify(world, signed_record(world))
    assert report.status is Status.REVOKED
    assert report.chain[1].handle == ENT8 and report.chain[1].status == "revoked"


async def test_root_revoking_the_node_key_revokes_everything_below(world: World) -> None:
    world.put(
        ROOT,
        [issue_revocation(ROOT, ADMIN_INDEX, world.root_key, [world.node_key.public_key()], NOW)],
    )
    report = await verify(world, signed_record(world))
    assert report.status is Status.REVOKED
    assert report.chain[-1].handle == NODE


async def test_revocation_signed_by_someone_else_is_ignored(world: World) -> None:
    forged = issue_revocation(NODE, ADMIN_INDEX, world.ent9_key, [world.ent8_key.public_key()], NOW)
    world.add(NODE, forged)
    assert (await verify(world, signed_record(world))).status is Status.VALID


async def test_other_enterprise_key_is_not_authorised_for_this_prefix(world: World) -> None:
    report = await verify(world, signed_record(world, key=world.ent9_key, signer=ENT9))
    assert report.status is Status.UNTRUSTED
    first = report.chain[0]
    assert (first.handle, first.issuer, first.status) == (RECORD, f"300:{ENT9}", "unauthorized")
    assert "not authorised for 88.118.8/TV-0001" in report.reason


async def test_other_enterprise_key_claiming_to_be_this_enterprise_is_invalid(world: World) -> None:
    report = await verify(world, signed_record(world, key=world.ent9_key, signer=ENT8))
    assert report.status is Status.INVALID


async def test_chain_not_reaching_the_anchor_is_untrusted(world: World) -> None:
    report = await verify(world, signed_record(world), generate_key("ed25519").public_key())
    assert report.status is Status.UNTRUSTED
    assert report.chain[-1].status == "no-issuer"


async def test_unresolvable_signer_is_untrusted(world: World) -> None:
    del world.records[ENT8.upper()]
    report = await verify(world, signed_record(world))
    assert report.status is Status.UNTRUSTED
    assert "cannot resolve 0.NA/88.118.8" in report.reason


async def test_uncertified_hs_pubkey_checks_the_signature_but_is_untrusted(world: World) -> None:
    key = generate_key("p256")
    world.put(
        "88.118.8/ADMIN", [HandleValue(300, "HS_PUBKEY", public_key_to_hs_pubkey(key.public_key()))]
    )
    values = record_values()
    sig = sign_record(RECORD, values, "88.118.8/ADMIN", 300, key, NOW - DAY, NOW + DAY)
    report = await verify(world, [*values, sig])
    assert report.status is Status.UNTRUSTED
    assert [(link.handle, link.index, link.status) for link in report.chain] == [
        (RECORD, 400, "ok"),
        ("88.118.8/ADMIN", 300, "uncertified"),
    ]
    tampered = replace([*values, sig], 1, data=b"https://evil.test/")
    assert (await verify(world, tampered)).status is Status.INVALID


async def test_one_valid_signature_among_several_makes_the_record_valid(world: World) -> None:
    values = signed_record(world)
    bad = sign_record(
        RECORD, record_values(), ENT9, ADMIN_INDEX, world.ent9_key, NOW - DAY, NOW + DAY, index=401
    )
    report = await verify(world, [*values, bad])
    assert report.status is Status.VALID
    assert [s.status for s in report.signatures] == [Status.VALID, Status.UNTRUSTED]


def chained_record(world: World, chain: tuple[str, ...]) -> list[HandleValue]:
    """``record_values()`` signed by enterprise 8 with the ``chain`` claim ``chain``."""
    values = record_values()
    return [*values, sign_record(RECORD, values, ENT8, ADMIN_INDEX, world.ent8_key,
                                 NOW - DAY, NOW + DAY, chain=chain)]


async def test_chain_claim_is_written_by_chain_hint_and_followed(world: World) -> None:
    hint = await chain_hint(world.fetch, f"{ADMIN_INDEX}:{ENT8}")
    assert hint == (ENT8, NODE)
    report = await verify(world, chained_record(world, hint))
    assert report.status is Status.VALID, report.reason
    assert [(link.handle, link.index) for link in report.chain] == [
        (RECORD, 400), (ENT8, 400), (NODE, 400)]


async def test_chain_claim_pins_a_certificate_elsewhere(world: World) -> None:
    """An entry INDEX:HANDLE names the certificate itself, even off the issuer's handle (as
    Handle 9 ChainBuilder does); the default lookup on the issuer's handle would fail."""
    certs = {name_key(ENT8): world.records.pop(name_key(ENT8))}
    world.put("88.118.8/CERTS", [dataclasses.replace(certs[name_key(ENT8)][0], index=7)])
    unhinted = await verify(world, signed_record(world))
    assert unhinted.status is Status.UNTRUSTED
    report = await verify(world, chained_record(world, ("7:88.118.8/CERTS",)))
    assert report.status is Status.VALID, report.reason
    assert [(link.handle, link.index) for link in report.chain][1] == ("88.118.8/CERTS", 7)


async def test_broken_chain_claim_names_the_entry(world: World) -> None:
    wrong = await verify(world, chained_record(world, (f"400:{ENT9}",)))
    assert wrong.status is Status.UNTRUSTED
    assert f"chain entry '400:{ENT9}' does not certify 300:{ENT8}: the chain is broken" in (
        wrong.reason)
    missing = await verify(world, chained_record(world, ("0.NA/88.999",)))
    assert "cannot resolve 0.NA/88.999 (chain entry '0.NA/88.999')" in missing.reason
    world.put("88.118.8/X", [HandleValue(1, "URL", b"https://example.test/x")])
    not_cert = await verify(world, chained_record(world, ("1:88.118.8/X",)))
    assert "chain entry '1:88.118.8/X' is not an HS_CERT value" in not_cert.reason
