"""Console login: lockout with backoff, one-time codes, sessions in the registry, the separate
listener."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pyotp
import pytest

from registry.accounts import FREE_ATTEMPTS, LOCK_BASE_SECONDS, LOCK_MAX_SECONDS, lock_seconds
from registry.config import NodeConfig
from registry.store import HandleStore
from resolver.http.console.sessions import RegistrySessions, token_key
from resolver.node import start_node
from tests.resolver.http.console.harness import PASSWORD, console_node, seed_staff


def test_backoff_doubles_after_the_free_attempts_and_is_capped() -> None:
    assert [lock_seconds(n) for n in range(1, FREE_ATTEMPTS + 1)] == [0] * FREE_ATTEMPTS
    assert lock_seconds(FREE_ATTEMPTS + 1) == LOCK_BASE_SECONDS
    assert lock_seconds(FREE_ATTEMPTS + 2) == 2 * LOCK_BASE_SECONDS
    assert lock_seconds(FREE_ATTEMPTS + 40) == LOCK_MAX_SECONDS


async def test_wrong_passwords_lock_the_account_even_for_the_right_one(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with console_node(sqlite_url, tmp_path) as console:
        visitor = console.visitor()
        await visitor.get("/console/login")
        for _ in range(FREE_ATTEMPTS + 1):
            status, text, _ = await visitor.post("/console/login",
                                                 {"username": "operator", "password": "wrong!"})
            assert status == 401
        assert "秒后再试" in text
        status, text, _ = await visitor.post("/console/login",
                                             {"username": "operator", "password": PASSWORD})
        await visitor.close()
        assert status == 401 and "秒后再试" in text
        user = await console.store.get_user("operator")
        assert user is not None and user.failed_logins == FREE_ATTEMPTS + 1
        actions = [e.action for e in await console.store.audit_entries(limit=100)]
        assert actions.count("login.failed") == FREE_ATTEMPTS + 1


async def test_an_operator_with_totp_needs_the_code(sqlite_url: str, tmp_path: Path) -> None:
    async with console_node(sqlite_url, tmp_path) as console:
        user = await console.store.get_user("operator")
        assert user is not None
        secret = pyotp.random_base32()
        await console.store.set_totp_secret(user.id, secret, actor="test")
        visitor = console.visitor()
        await visitor.get("/console/login")
        status, _, _ = await visitor.post("/console/login",
                                          {"username": "operator", "password": PASSWORD})
        assert status == 401
        status, _, location = await visitor.post("/console/login", {
            "username": "operator", "password": PASSWORD, "otp": pyotp.TOTP(secret).now()})
        await visitor.close()
        assert status == 303 and location == "/console/ops"


async def test_sessions_are_shared_through_the_registry_hashed_and_end_at_logout(
    sqlite_url: str
) -> None:
    database = await HandleStore.open(sqlite_url)
    await seed_staff(database)
    user = await database.get_user("operator")
    assert user is not None
    sessions = RegistrySessions(database)
    token, stored = await sessions.create(user.id)
    other_store = await HandleStore.open(sqlite_url)         # another worker process
    try:
        other = RegistrySessions(other_store)
        assert await other.get(token) == stored
        assert await database.get_console_session(token) is None   # only the hash is kept
        assert await database.get_console_session(token_key(token)) == stored
        await sessions.drop(token)
        assert await other.get(token) is None
    finally:
        await other_store.close()
        await database.close()


async def test_console_port_serves_the_console_alone(tmp_path: Path) -> None:
    config = NodeConfig(data_dir=tmp_path / "node", handle_port=0, http_port=0, dns_port=0,
                        console=False, console_port=0)
    node = await start_node(config)
    try:
        assert node.console_runner is None
    finally:
        await node.close()
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = NodeConfig(data_dir=tmp_path / "node", handle_port=0, http_port=0, dns_port=0,
                        console=False, console_port=port)
    node = await start_node(config)
    try:
        await seed_staff(node.store)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/console/login") as response:
                assert response.status == 200
                assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
            async with http.get(f"http://127.0.0.1:{node.http_port}/console/login",
                                allow_redirects=False) as response:
                assert response.status == 404  # console = false: not on the public port
            async with http.get(f"http://127.0.0.1:{port}/",
                                allow_redirects=False) as response:
                assert response.headers["Location"] == "/console/"
    finally:
        await node.close()


async def test_totp_is_stored_only_after_a_code_from_it_and_turned_off_with_one(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with console_node(sqlite_url, tmp_path) as console:
        visitor = console.visitor()
        await visitor.login("operator")
        status, page = await visitor.get("/console/account", enrol="1")
        secret = page.split('id="totp-secret">')[1].split("<")[0]
        assert status == 200 and "<svg" in page
        status, _, _ = await visitor.post("/console/account/totp",
                                          {"secret": secret, "otp": "000000"})
        user = await console.store.get_user("operator")
        assert status == 400 and user is not None and user.totp_secret is None
        status, _, _ = await visitor.post("/console/account/totp",
                                          {"secret": secret, "otp": pyotp.TOTP(secret).now()})
        user = await console.store.get_user("operator")
        assert status == 303 and user is not None and user.totp_secret == secret
        await visitor.get("/console/account")
        status, _, _ = await visitor.post("/console/account/totp",
                                          {"otp": pyotp.TOTP(secret).now()})
        await visitor.close()
        user = await console.store.get_user("operator")
        assert status == 303 and user is not None and user.totp_secret is None


async def test_password_checks_run_off_the_event_loop_even_for_unknown_users(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from registry import passwords

    threads: list[bool] = []
    real = passwords.verify_password

    def recording(stored_hash: str, password: str) -> bool:
        threads.append(threading.current_thread() is threading.main_thread())
        return real(stored_hash, password)

    monkeypatch.setattr(passwords, "verify_password", recording)
    async with console_node(sqlite_url, tmp_path) as console:
        visitor = console.visitor()
        await visitor.get("/console/login")
        for name in ("operator", "nobody-here"):
            status, _, _ = await visitor.post("/console/login",
                                              {"username": name, "password": "wrong-password"})
            assert status == 401
        await visitor.close()
    assert threads == [False, False]  # one check per attempt, both in a worker thread
