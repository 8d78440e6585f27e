"""Headless Chromium signs an enterprise's identifiers from the portal: it uploads the key file
written like ``idnode keys gen`` does (encrypted), types the passphrase, first wrongly, and signs
every identifier of the prefix; the records then verify up to the root.  Screenshots of the
form, the refused form and the result at 390 px and 1280 px go to ``tests/artifacts/console/``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from selenium.webdriver.common.by import By

from registry.trust.keys import private_key_to_pem
from tests.resolver.http.console.harness import APPLICATION
from tests.resolver.http.console.test_console_browser import SHOTS, SIZES, Walk, browser
from tests.resolver.http.console.test_signing import (
    HANDLES,
    PASSPHRASE,
    PREFIX,
    World,
    open_world,
    verified,
)
from tests.resolver.http.test_browser import chromium as chromium  # the fixture
from tests.resolver.http.test_browser import cjk_font as cjk_font  # the fixture


def shoot(walk: Walk, name: str, taken: list[Path]) -> None:
    """The current page at both widths (the page is loaded again at each width)."""
    url = walk.driver.current_url
    for size, (width, height) in SIZES.items():
        walk.driver.set_window_size(width, height)
        if walk.driver.current_url != url:
            walk.driver.get(url)
        shot = SHOTS / f"{name}.zh_CN.{size}.png"
        walk.driver.save_screenshot(str(shot))
        taken.append(shot)
    walk.driver.set_window_size(*SIZES["desktop"])


def fill(walk: Walk, key_file: Path, passphrase: str) -> None:
    walk.open("/console/portal/sign")
    walk.click("mode-all")
    walk.el("f-key").send_keys(str(key_file))
    walk.type("f-passphrase", passphrase)


def sign_in_browser(walk: Walk, key_file: Path) -> tuple[dict[str, str], list[Path]]:
    """Log in, photograph the form, sign with a wrong passphrase, then the right one."""
    seen: dict[str, str] = {}
    taken: list[Path] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    walk.login(APPLICATION["admin_username"])
    walk.open("/console/portal/sign")
    seen["nav"] = walk.driver.find_element(By.CSS_SELECTOR,
                                           "nav a[href='/console/portal/sign']").text
    shoot(walk, "portal-sign", taken)
    fill(walk, key_file, "wrong passphrase")
    walk.click("sign")
    seen["refused"] = walk.text("err-passphrase")
    seen["passphrase_after"] = walk.el("f-passphrase").get_attribute("value") or ""
    walk.driver.set_window_size(*SIZES["phone"])
    taken.append(SHOTS / "portal-sign-refused.zh_CN.phone.png")
    walk.driver.save_screenshot(str(taken[-1]))
    walk.driver.set_window_size(*SIZES["desktop"])
    fill(walk, key_file, PASSPHRASE)
    walk.click("sign")
    seen["signed"] = walk.text("signed-count")
    seen["failed"] = walk.text("failed-count")
    seen["rows"] = str(len(walk.driver.find_elements(By.CSS_SELECTOR, "#signed tbody tr")))
    for size, (width, height) in SIZES.items():  # the result page is a POST answer: no reload
        walk.driver.set_window_size(width, height)
        taken.append(SHOTS / f"portal-sign-result.zh_CN.{size}.png")
        walk.driver.save_screenshot(str(taken[-1]))
    return seen, taken


async def test_enterprise_signs_in_a_browser_with_its_key_file(
        cjk_font: None, sqlite_url: str, tmp_path: Path) -> None:
    del cjk_font
    async for world in open_world(sqlite_url, tmp_path):
        key_file = tmp_path / "acme.pem"
        key_file.write_bytes(private_key_to_pem(world.key, PASSPHRASE))
        with browser(tmp_path / "profile") as driver:
            seen, shots = await asyncio.to_thread(
                sign_in_browser, Walk(driver, world.console.url), key_file)
        await check(world, seen, shots)


async def check(world: World, seen: dict[str, str], shots: list[Path]) -> None:
    assert seen["nav"] == "签名"
    assert seen["refused"] == "口令错误，无法解密此私钥。"
    assert seen["passphrase_after"] == ""
    assert (seen["signed"], seen["failed"], seen["rows"]) == (str(len(HANDLES)), "0",
                                                             str(len(HANDLES)))
    for handle in HANDLES:
        assert handle.startswith(PREFIX)
        assert await verified(world, handle) == "valid"
    assert len(shots) == 5 and all(shot.stat().st_size > 5000 for shot in shots)
