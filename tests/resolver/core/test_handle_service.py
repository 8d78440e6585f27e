"""ResolutionService against real stores: resolution, read filtering, authorisation."""

from __future__ import annotations

import pytest

from protocol import auth
from protocol.auth import MAX_PBKDF2_ITERATIONS
from protocol.constants import (
    ADMIN_PERM_ADD_HANDLE,
    ADMIN_PERM_LIST_HANDLES,
    HASH_CODE_PBKDF2_HMAC_SHA1,
    RC_AUTHENTICATION_FAILED,
    RC_AUTHENTICATION_NEEDED,
    RC_HANDLE_ALREADY_EXISTS,
    RC_HANDLE_NOT_FOUND,
    RC_INSUFFICIENT_PERMISSIONS,
    RC_INVALID_HANDLE,
    RC_INVALID_VALUE,
    RC_SESSION_TIMEOUT,
    RC_SUCCESS,
    RC_VALUE_ALREADY_EXISTS,
    RC_VALUES_NOT_FOUND,
)
from protocol.values import HandleValue
from protocol.wire import Writer
from registry.store import HandleStore
from registry.write_rules import WriteRules
from resolver.core.limits import Limits
from resolver.core.model import Caller, ServiceError
from resolver.core.service import ResolutionService
from tests.resolver.handle.test_handle_support import (
    NA,
    OPS,
    OTHER_NA,
    SECRET,
    TV,
    admin_value,
    dsa_key,
    rsa_key,
    seed,
    url,
)

ADMIN = Caller(NA, 300)
MEMBER = Caller(OPS, 300)
STRANGER = Caller(OTHER_NA, 300)


@pytest.fixture
async def service(database: HandleStore) -> ResolutionService:
    await seed(database)
    database.rules = WriteRules(max_values=8)
    return ResolutionService(database, limits=Limits(max_handle_length=64))


async def test_anonymous_resolution_leaves_out_restricted_values(
    service: ResolutionService,
) -> None:
    res = await service.resolve(TV)
    assert res.response_code == RC_SUCCESS
    assert [v.index for v in res.values] == [1, 100, 101]
    assert res.withheld == 1
    assert res.source == "local" and res.authoritative


async def test_filters_and_not_found_codes(service: ResolutionService) -> None:
    assert [v.index for v in (await service.resolve(TV, types=["URL"])).values] == [1]
    assert [v.index for v in (await service.resolve(TV, indexes=[100])).values] == [100]
    assert (await service.resolve("88.118.8/none")).response_code == RC_HANDLE_NOT_FOUND
    assert (await service.resolve(TV, types=["DESC"])).response_code == RC_VALUES_NOT_FOUND
    only_restricted = await service.resolve(TV, types=["EMAIL"])
    assert only_restricted.response_code == RC_VALUES_NOT_FOUND
    assert only_restricted.withheld == 1


async def test_admins_and_group_members_read_restricted_values(service: ResolutionService) -> None:
    for caller in (ADMIN, MEMBER):
        res = await service.resolve(TV, types=["EMAIL"], caller=caller)
        assert [v.data for v in res.values] == [b"owner@example.test"]
    res = await service.resolve(TV, types=["EMAIL"], caller=STRANGER)
    assert res.response_code == RC_VALUES_NOT_FOUND


async def test_create_modify_remove_delete_by_admin(service: ResolutionService) -> None:
    new = "88.118.8/TV-0002"
    await service.create_handle(new, [url(1, "a")], caller=ADMIN)
    assert (await service.resolve(new)).values[0].data == b"a"
    assert (await service.resolve(new)).values[0].timestamp > 0
    await service.add_values(TV, [url(3, "b")], caller=MEMBER)
    await service.modify_values(TV, [url(3, "c")], caller=MEMBER)
    assert (await service.resolve(TV, indexes=[3])).values[0].data == b"c"
    await service.remove_values(TV, [3], caller=ADMIN)
    assert (await service.resolve(TV, indexes=[3])).response_code == RC_VALUES_NOT_FOUND
    await service.replace_handle(new, [url(2, "d"), admin_value(100, NA, 200)], caller=ADMIN)
    assert [v.index for v in (await service.resolve(new)).values] == [2, 100]
    await service.delete_handle(new, caller=MEMBER)
    assert (await service.resolve(new)).response_code == RC_HANDLE_NOT_FOUND


async def _refused(code: int, op) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ServiceError) as info:
        await op
    assert info.value.response_code == code


async def test_a_create_reads_what_it_checks_with_its_write(
    service: ResolutionService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller an HS_ADMIN of the prefix handle names: the prefix handle and the caller's
    key are read with the create's lock (registry.store.ReadWith), with no read before."""
    proven = await service.credential_version(ADMIN)

    async def no_read(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a read before the create's write")

    monkeypatch.setattr(service.store, "get_handles", no_read)
    await service.create_handle("88.118.8/W-1", [url(1, "a")], caller=ADMIN, proven=proven)
    assert (await service.resolve("88.118.8/W-1")).values[0].data == b"a"
    await _refused(RC_HANDLE_ALREADY_EXISTS, service.create_handle(
        "88.118.8/w-1", [url(1, "b")], caller=ADMIN, proven=proven))
    await _refused(RC_SESSION_TIMEOUT, service.create_handle(  # the credential changed
        "88.118.8/W-2", [url(1, "b")], caller=ADMIN, proven=b"an older credential"))
    assert await service.store.get_handle("88.118.8/W-2") is None


async def test_a_group_member_creates_after_its_group_is_followed(
    service: ResolutionService,
) -> None:
    """MEMBER's right comes through the admin group HS_ADMIN 101 of the prefix handle names:
    the create is checked the way groups are, reads before its write."""
    await service.create_handle("88.118.8/W-3", [url(1, "a")], caller=MEMBER)
    assert (await service.resolve("88.118.8/W-3")).values[0].data == b"a"
    await _refused(RC_HANDLE_ALREADY_EXISTS,
                   service.create_handle("88.118.8/W-3", [url(1, "b")], caller=MEMBER))


async def test_writes_are_refused_to_others_and_change_nothing(service: ResolutionService) -> None:
    before = await service.store.get_handle(TV)
    for caller, code in (
        (Caller(None, None), RC_AUTHENTICATION_NEEDED),
        (STRANGER, RC_INSUFFICIENT_PERMISSIONS),
        (Caller(NA, 305), RC_INSUFFICIENT_PERMISSIONS),  # an index no HS_ADMIN names
    ):
        await _refused(code, service.create_handle("88.118.8/x", [url(1, "x")], caller=caller))
        await _refused(code, service.add_values(TV, [url(9, "x")], caller=caller))
        await _refused(code, service.modify_values(TV, [url(1, "x")], caller=caller))
        await _refused(code, service.remove_values(TV, [1], caller=caller))
        await _refused(code, service.delete_handle(TV, caller=caller))
        await _refused(code, service.list_handles("88.118.8", caller=caller))
    assert await service.store.get_handle(TV) == before
    assert await service.store.get_handle("88.118.8/x") is None


async def test_group_admin_lacks_bits_its_record_does_not_grant(service: ResolutionService) -> None:
    admin_value_change = [TV_ADMIN := url(100, "not an admin any more")]
    await _refused(
        RC_INSUFFICIENT_PERMISSIONS, service.modify_values(TV, admin_value_change, caller=MEMBER)
    )
    await service.modify_values(TV, [TV_ADMIN], caller=ADMIN)  # full permissions
    await _refused(RC_INSUFFICIENT_PERMISSIONS, service.list_handles("88.118.8", caller=MEMBER))


async def test_request_checks(service: ResolutionService) -> None:
    await _refused(RC_HANDLE_ALREADY_EXISTS, service.create_handle(TV, [url(1, "x")], caller=ADMIN))
    await _refused(RC_INVALID_HANDLE, service.create_handle("nohandle", [], caller=ADMIN))
    await _refused(RC_INVALID_HANDLE, service.resolve("88.118.8/" + "x" * 80))
    too_many = [url(i, "x") for i in range(1, 10)]
    await _refused(RC_INVALID_VALUE, service.create_handle("88.118.8/y", too_many, caller=ADMIN))
    await _refused(RC_INVALID_VALUE, service.add_values(TV, [url(0, "x")], caller=ADMIN))
    await _refused(RC_VALUE_ALREADY_EXISTS, service.add_values(TV, [url(1, "x")], caller=ADMIN))
    await _refused(RC_VALUES_NOT_FOUND, service.remove_values(TV, [42], caller=ADMIN))
    await _refused(RC_HANDLE_NOT_FOUND, service.delete_handle("88.118.8/none", caller=ADMIN))


async def test_list_handles_and_authorize(service: ResolutionService) -> None:
    assert await service.list_handles("88.118.8", caller=ADMIN) == [OPS, TV]
    one_per_page = ResolutionService(service.store, limits=Limits(list_page_size=1))
    assert await one_per_page.all_handles("88.118.8", caller=ADMIN) == [OPS, TV]
    await service.authorize(ADMIN, NA, ADMIN_PERM_LIST_HANDLES)
    await service.authorize(MEMBER, NA, ADMIN_PERM_ADD_HANDLE)
    refused = service.authorize(STRANGER, NA, ADMIN_PERM_ADD_HANDLE)
    await _refused(RC_INSUFFICIENT_PERMISSIONS, refused)


async def test_server_admins_may_do_everything(database: HandleStore) -> None:
    await seed(database)
    service = ResolutionService(database, server_admins=[("0.NA/0.NA", 300)])
    await service.create_handle("0.NA/88.118.7", [url(1, "p")], caller=Caller("0.NA/0.NA", 300))
    assert (await service.resolve("0.NA/88.118.7")).response_code == RC_SUCCESS


async def test_credentials(service: ResolutionService) -> None:
    nonce, digest = auth.new_nonce(), b"d" * 32
    answer = auth.secret_key_answer(nonce, digest, SECRET)
    assert await service.verify_secret_key_answer(NA, 300, nonce, digest, answer)
    assert await service.verify_secret_key_answer(NA, 0, nonce, digest, answer)
    assert not await service.verify_secret_key_answer(OTHER_NA, 300, nonce, digest, answer)
    assert not await service.verify_secret_key_answer(NA, 301, nonce, digest, answer)
    signed = auth.public_key_answer(nonce, digest, rsa_key())
    assert await service.verify_public_key_answer(NA, 301, nonce, digest, signed) == 301
    assert await service.verify_public_key_answer(NA, 0, nonce, digest, signed) == 301
    assert await service.verify_public_key_answer(NA, 302, nonce, digest, signed) is None
    dsa_signed = auth.public_key_answer(nonce, digest, dsa_key(), b"SHA1")
    assert await service.verify_public_key_answer(NA, 0, nonce, digest, dsa_signed) == 302
    assert await service.authenticate_secret_key(NA, 300, SECRET) == ADMIN
    await _refused(RC_AUTHENTICATION_FAILED, service.authenticate_secret_key(NA, 300, b"wrong"))


async def test_costly_pbkdf2_answers_are_refused_unchecked(service: ResolutionService) -> None:
    nonce, digest = auth.new_nonce(), b"d" * 32
    cheap = auth.secret_key_answer(nonce, digest, SECRET, iterations=MAX_PBKDF2_ITERATIONS)
    assert await service.verify_secret_key_answer(NA, 300, nonce, digest, cheap)
    costly = bytes([HASH_CODE_PBKDF2_HMAC_SHA1]) + (  # more than any client may ask for
        Writer().byte_array(bytes(16)).i32(MAX_PBKDF2_ITERATIONS + 1).i32(160)
        .byte_array(bytes(20)).getvalue())
    assert not await service.verify_secret_key_answer(NA, 300, nonce, digest, costly)
    assert not await service.verify_secret_key_answer(NA, 300, nonce, digest, b"\x22\xff")


async def test_names_and_types_no_database_can_store_are_invalid(
    service: ResolutionService, database: HandleStore
) -> None:
    """Regression: a NUL in a name, prefix or type reached PostgreSQL and failed with 500."""
    await _refused(RC_INVALID_HANDLE, service.resolve("88.118.8/a\0b"))
    await _refused(RC_INVALID_HANDLE, service.resolve("88.118.8/\udcff"))
    await _refused(RC_INVALID_HANDLE, service.list_handles("88.118\0", caller=ADMIN))
    nul_type = HandleValue(index=2, type="UR\0L", data=b"x")
    await _refused(RC_INVALID_VALUE, service.add_values(TV, [nul_type], caller=ADMIN))
    await _refused(RC_INVALID_HANDLE, service.create_handle("88.118.8/a\0", [], caller=ADMIN))
    stored = await database.get_handle(TV)
    assert stored is not None and all(v.type != "UR\0L" for v in stored.values)


async def test_listing_everything_authorises_once_and_pages_by_key(
    service: ResolutionService, monkeypatch: pytest.MonkeyPatch
) -> None:
    for suffix in ("a", "B", "c"):
        await service.store.create_handle(f"88.118.8/{suffix}", [url(1, suffix)], actor="t")
    one_per_page = ResolutionService(service.store, limits=Limits(list_page_size=1))
    checks: list[str] = []
    pages: list[tuple[int, str | None]] = []
    authorize, list_page = one_per_page.authorize, service.store.list_handles

    async def counted(caller: Caller, handle: str, permission: int) -> None:
        checks.append(handle)
        await authorize(caller, handle, permission)

    async def page(prefix: str | None = None, *, page: int = 0, page_size: int = 100,
                   after: str | None = None) -> list[str]:
        pages.append((page, after))
        return await list_page(prefix, page=page, page_size=page_size, after=after)

    monkeypatch.setattr(one_per_page, "authorize", counted)
    monkeypatch.setattr(service.store, "list_handles", page)
    names = await one_per_page.all_handles("88.118.8", caller=ADMIN)
    assert names == ["88.118.8/a", "88.118.8/B", "88.118.8/c", OPS, TV]
    assert checks == [NA]
    assert pages == [(0, None), *((0, name) for name in names)]  # never an offset
