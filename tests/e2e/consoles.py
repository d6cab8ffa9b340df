"""Browser helpers for the consoles' tests (issue #12): Debian's Chromium, pages, a daemon on a fixed port."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from cti.app import Daemon
from cti.config import parse_config
from tests.conftest import ROOT, timeout
from tests.e2e.running import config_text, serving

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():  # noqa: ASYNC240 - one stat before anything runs
        pytest.fail("Debian's chromium is missing (make chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def new_page(browser: Browser, width: int = 1280, height: int = 900, locale: str = "en-US") -> Page:
    """A page in its own context (its own sessionStorage): one console each, in the browser language
    ``locale`` (the consoles' catalogue follows it: tests/e2e/test_i18n_browser.py)."""
    context = await browser.new_context(viewport={"width": width, "height": height}, locale=locale)
    page = await context.new_page()
    page.set_default_timeout(timeout(10) * 1000)
    return page


async def login(page: Page, base: str, path: str, user: str) -> None:
    await page.goto(base + path)
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", "demo")
    await page.click("button[type=submit]")
    await expect(page.locator("#app")).to_be_visible()
    await expect(page.locator("#status")).to_contain_text("connected")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def daemon_on(
    url: str, port: int, extra: str = "", secret_file: Path | None = None
) -> AsyncIterator[Daemon]:
    """A daemon whose consoles listen on ``port`` (the same one after a restart); with ``secret_file``,
    its token key is the random one kept there (``[web] secret_file``), not a fixed secret."""
    text = config_text(url, extra).replace("port = 0", f"port = {port}")
    if secret_file is not None:
        text = text.replace('secret = "0123456789abcdef0123"', f'secret = ""\nsecret_file = "{secret_file}"')
    async with serving(Daemon(parse_config(text))) as daemon:
        yield daemon
