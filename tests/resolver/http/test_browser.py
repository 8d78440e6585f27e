"""Headless Chromium (Debian's package) uses the resolve box and lands on the values page.

The Chromium and chromedriver packages are installed with apt-get when missing;
without them the test is skipped, except on CI (``CI=true``) where it fails.  A
screenshot of the values page is kept in ``tests/artifacts/``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from registry.store import HandleStore
from tests.resolver.http.test_rest_harness import TV, TV_URL, serve

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1200,900",
)


def _install_chromium() -> str | None:
    """Install chromium and chromium-driver with apt-get if missing; why not, if it failed."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return None
    if shutil.which("apt-get") is None:
        return "apt-get not available to install chromium"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return f"{' '.join(command)} failed: {done.stderr.strip()[-300:]}"
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        return "chromium packages installed but binaries missing"
    return None


@pytest.fixture(scope="module")
def chromium() -> Path:
    problem = _install_chromium()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser test needs chromium on CI: {problem}", pytrace=False)
        pytest.skip(problem)
    return CHROMIUM


CJK_FONT_PACKAGE = "fonts-wqy-microhei"


def _cjk_font_problem() -> str | None:
    """Install a Chinese font with apt-get if fontconfig knows none; why not, if it failed."""
    if shutil.which("fc-list") is None:
        return "fontconfig (fc-list) missing"
    found = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False)
    if found.stdout.strip():
        return None
    if shutil.which("apt-get") is None:
        return "apt-get not available to install a Chinese font"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"],
                    ["apt-get", "install", "-y", "-q", CJK_FONT_PACKAGE]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return f"{' '.join(command)} failed: {done.stderr.strip()[-300:]}"
    return None


@pytest.fixture(scope="module")
def cjk_font(chromium: Path) -> None:
    """A font with Chinese glyphs for the screenshots (after chromium, which brings fontconfig)."""
    del chromium
    problem = _cjk_font_problem()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"screenshots of Chinese pages need a Chinese font on CI: {problem}",
                        pytrace=False)
        pytest.skip(problem)


def _resolve_in_browser(base_url: str, profile: Path, screenshot: Path) -> tuple[str, str]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        driver.set_page_load_timeout(30)
        driver.get(base_url + "/")
        box = driver.find_element(By.ID, "hdl")
        box.send_keys(TV)
        driver.find_element(By.ID, "submit").click()
        WebDriverWait(driver, 20).until(expected_conditions.presence_of_element_located(
            (By.ID, "values")))
        driver.save_screenshot(str(screenshot))
        return driver.current_url, driver.find_element(By.TAG_NAME, "main").text
    finally:
        driver.quit()


async def test_resolve_box_leads_to_values_page(
    chromium: Path, sqlite_url: str, tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "browser-values-page.png"
    store = await HandleStore.open(sqlite_url)
    try:
        async with serve(store) as node:
            url, text = await asyncio.to_thread(
                _resolve_in_browser, node.url, tmp_path / "chromium-profile", screenshot
            )
    finally:
        await store.close()
    assert url == f"{node.url}/{TV}?noredirect"
    assert f"Handle {TV}" in text
    assert TV_URL in text and "ops@example.org" in text
    assert "<b>Smart TV</b> & remote" in text  # shown as text, not markup
    assert screenshot.stat().st_size > 0
