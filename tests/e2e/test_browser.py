"""The consoles in Debian's headless Chromium (Playwright from PyPI; never a downloaded browser).

Screenshots are kept in test-artifacts/ (gitignored).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect

from cti.core.events import AgentState
from cti.store import Store
from tests.bus.events import agent_state, inbound_call
from tests.conftest import ROOT, timeout
from tests.e2e.running import HOSTILE, HOSTILE_NUMBER, running_daemon, seed_accounts
from tests.waiting import eventually

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@asynccontextmanager
async def browser_page() -> AsyncIterator[tuple[Page, list[str]]]:
    if not Path(CHROMIUM).exists():  # noqa: ASYNC240 - one stat before anything runs
        pytest.fail("Debian's chromium is missing (make chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(timeout(10) * 1000)
            dialogs: list[str] = []

            async def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
                dialogs.append(dialog.message)
                await dialog.dismiss()

            page.on("dialog", on_dialog)
            yield page, dialogs
        finally:
            await browser.close()


async def login(page: Page, base: str, path: str, user: str) -> None:
    await page.goto(base + path)
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", "demo")
    await page.click("button[type=submit]")
    await expect(page.locator("#app")).to_be_visible()
    await expect(page.locator("#login")).to_be_hidden()


async def test_the_agent_console_shows_a_hostile_caller_name_as_text_and_saves_the_disposition(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    async with running_daemon(url) as daemon, browser_page() as (page, dialogs):
        assert daemon.server is not None
        await login(page, f"http://127.0.0.1:{daemon.server.port}", "/agent", "alice")
        events = inbound_call(
            "1763900000.1", agent="Alice", number="4155550101", name=HOSTILE, at=time.time()
        )
        daemon.publish([agent_state("Alice", AgentState.AVAILABLE, at=time.time()), *events[:2]])
        name = page.locator(".pop .caller-name")
        await expect(name).to_have_text(HOSTILE)
        await expect(page.locator(".pop .customer h4")).to_contain_text(HOSTILE)
        assert await page.locator("#pops script").count() == 0
        assert dialogs == []
        assert (
            await page.evaluate("document.querySelectorAll('script').length") == 5
        )  # i18n.js, en.js, zh-CN.js, console.js, agent.js
        await page.screenshot(path=str(ARTIFACTS / "agent-pop-hostile-name.png"), full_page=True)
        daemon.publish(events[2:4])
        await expect(page.locator(".pop .call-state")).to_have_text("answered")
        await page.select_option(".pop select[name=disposition]", "complaint")
        await page.fill(".pop textarea[name=notes]", "angry about <b>billing</b> 账单")
        await page.click(".pop form.disposition button[type=submit]")
        await expect(page.locator("#action-result")).to_have_text("disposition: done")
        daemon.publish(events[4:])
        await expect(page.locator(".pop .call-state")).to_contain_text("ended")
        await page.screenshot(path=str(ARTIFACTS / "agent-pop-ended.png"), full_page=True)
        assert dialogs == []
    store = await Store.open(url)
    try:
        lookup = await store.customers.lookup_caller(HOSTILE_NUMBER)
        (interaction,) = lookup.customers[0].interactions
        assert (interaction.disposition, interaction.notes) == (
            "complaint",
            "angry about <b>billing</b> 账单",
        )
    finally:
        await store.close()


async def test_the_supervisor_console_shows_live_queue_and_agent_figures(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    async with running_daemon(url) as daemon, browser_page() as (page, dialogs):
        assert daemon.server is not None
        now = time.time()
        daemon.publish(
            [
                agent_state("Alice", AgentState.AVAILABLE, at=now),
                agent_state("Bob", AgentState.PAUSED, at=now, reason="lunch"),
            ]
        )
        await login(page, f"http://127.0.0.1:{daemon.server.port}", "/supervisor", "super")
        bob = page.locator('#agents tr[data-agent="Bob"]')
        await expect(bob.locator(".state")).to_have_text("paused")
        await expect(bob).to_contain_text("lunch")
        assert (await bob.locator("td").nth(1).text_content() or "").startswith("0:0")  # time in state
        first = inbound_call("1.1", agent="Alice", name=HOSTILE, at=now)
        daemon.publish(first[:1])  # queued: one waiting
        sales = page.locator('#queues tr[data-queue="sales"]')
        await expect(sales.locator(".waiting")).to_have_text("1")
        daemon.publish(first[1:])  # rang Alice, answered, ended
        await expect(sales.locator(".waiting")).to_have_text("0")
        await expect(sales.locator(".answered")).to_have_text("1")
        await expect(sales.locator(".sl")).to_have_text("100.0% in 20s")
        second = inbound_call("2.2", agent="Alice", at=now + 1)
        daemon.publish(second[:1])
        await expect(sales.locator(".waiting")).to_have_text("1")
        await expect(sales.locator(".offered")).to_have_text("1")
        await page.screenshot(path=str(ARTIFACTS / "supervisor-live.png"), full_page=True)
        assert dialogs == []


async def test_the_agent_console_reconnects_by_itself_and_gets_what_it_missed(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    async with running_daemon(url) as daemon, browser_page() as (page, _):
        assert daemon.server is not None and daemon.hub is not None
        hub = daemon.hub
        await login(page, f"http://127.0.0.1:{daemon.server.port}", "/agent", "alice")
        (client,) = hub.clients()
        client.kill(4008, "too slow: test")  # the server drops the console
        await eventually(lambda: hub.client_count == 0, 5, "the drop")
        daemon.publish(inbound_call("1763900000.9", agent="Alice", name="Missed Caller", at=time.time())[:2])
        await expect(page.locator(".pop .caller-name")).to_have_text("Missed Caller")
        await expect(page.locator("#status")).to_contain_text("reconnected")
