"""``idnode user`` and the console accounts ``idnode init`` makes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pyotp

from registry.accounts import UserInfo
from registry.passwords import verify_password
from registry.store import HandleStore
from tests.admin.conftest import Node, idnode


async def _user(db: Path, name: str) -> UserInfo | None:
    store = await HandleStore.open(f"sqlite+aiosqlite:///{db}", migrate=False)
    try:
        return await store.get_user(name)
    finally:
        await store.close()


def test_init_prints_the_first_operator_password_once(node: Node) -> None:
    # the session's template node was made by a plain `idnode init`
    first = asyncio.run(_user(node.db, "operator"))
    assert first is not None and first.role == "operator"
    again = node.json("init", "--if-missing")
    assert "console_accounts" not in again


def test_init_demo_makes_one_account_per_role(tmp_path: Path) -> None:
    result = idnode(tmp_path / "demo", "--json", "init", "--demo", "--demo-products", "3")
    assert result.returncode == 0, result.stderr
    accounts = json.loads(result.stdout)["console_accounts"]
    roles = {line.split(":")[1] for line in accounts}
    assert roles == {"operator", "reviewer", "enterprise_admin", "enterprise_user"}
    name, _role, password = accounts[2].split(":")
    user = asyncio.run(_user(tmp_path / "demo" / "registry.db", name))
    assert user is not None and user.enterprise is not None
    assert verify_password(user.password_hash, password)


def test_user_add_generates_a_password_and_totp_can_be_turned_on(node: Node) -> None:
    added = node.json("user", "add", "alice", "--role", "reviewer")
    user = asyncio.run(_user(node.db, "alice"))
    assert user is not None and verify_password(user.password_hash, added["password"])
    node.run("user", "add", "bob", "--role", "enterprise_user", expect=2)  # needs --enterprise
    node.run("user", "add", "bob", "--role", "enterprise_user", "--enterprise", "ACME")
    shown = node.json("user", "totp", "alice")
    user = asyncio.run(_user(node.db, "alice"))
    assert user is not None and user.totp_secret == shown["secret"]
    assert pyotp.TOTP(shown["secret"]).provisioning_uri(name="alice", issuer_name="idnode"
                                                        ) == shown["uri"]
    node.run("user", "disable", "alice")
    assert [u["user"] for u in node.json("user", "list") if u["disabled"]] == ["alice"]
