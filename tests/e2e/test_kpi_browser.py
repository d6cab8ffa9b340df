"""A KPI target's breach on the supervisor's wallboard, in Debian's headless Chromium."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.async_api import expect

from cti.core.events import AgentState
from tests.bus.events import agent_state, inbound_call
from tests.e2e.running import HOSTILE, running_daemon, seed_accounts
from tests.e2e.test_browser import ARTIFACTS, browser_page, login

pytestmark = pytest.mark.browser
# any caller waiting in sales is a breach; the center warns from one waiting caller
TARGETS = """
[[kpi.target]]
metric = "waiting"
scope = "queue"
name = "sales"
threshold = 0
direction = "max"

[[kpi.target]]
metric = "waiting"
scope = "center"
threshold = 2
direction = "max"
warn = 0
"""


async def test_a_breach_colours_the_wallboard_tile_and_shows_the_alert(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    async with running_daemon(url, TARGETS) as daemon, browser_page() as (page, dialogs):
        assert daemon.server is not None
        await login(page, f"http://127.0.0.1:{daemon.server.port}", "/supervisor", "super")
        await expect(page.locator("#kpi")).to_be_hidden()  # nothing to show while every target is ok
        now = time.time()
        call = inbound_call("7.7", agent="Alice", name=HOSTILE, at=now)
        daemon.publish([agent_state("Alice", AgentState.AVAILABLE, at=now), call[0]])  # queued in sales
        tile = page.locator('#kpi-tiles .tile[data-scope="queue"][data-subject="sales"]')
        await expect(tile).to_have_attribute("data-level", "breach")
        await expect(tile).to_have_class("tile breach")
        await expect(tile.locator(".tile-value")).to_have_text("1")
        await expect(page.locator('#kpi-tiles .tile[data-scope="center"]')).to_have_attribute(
            "data-level", "warn"
        )
        red = await tile.evaluate("t => getComputedStyle(t).backgroundColor")
        assert red == "rgb(198, 40, 40)"  # --bad
        await expect(page.locator("#kpi-alerts")).to_contain_text("sales waiting: ok → breach (1)")
        await expect(page.locator("#kpi-alerts")).to_contain_text("center waiting: ok → warn (1)")
        assert await page.locator("#kpi").get_attribute("data-beeps") is None  # sound not allowed: silent
        await page.screenshot(path=str(ARTIFACTS / "supervisor-kpi-breach.png"), full_page=True)
        daemon.publish(call[1:])  # answered: nobody waiting
        await expect(tile).to_have_attribute("data-level", "ok")
        await expect(page.locator("#kpi-alerts")).to_contain_text("sales waiting: breach → ok (0)")
        await page.check("#kpi-sound")
        second = inbound_call("8.8", agent="Alice", at=now + 1)
        daemon.publish(second[:1])
        await expect(tile).to_have_attribute("data-level", "breach")
        await expect(page.locator("#kpi")).to_have_attribute("data-beeps", "1")
        # a new login (a fresh snapshot) shows the breach in force
        await page.evaluate("sessionStorage.clear()")
        await login(page, f"http://127.0.0.1:{daemon.server.port}", "/supervisor", "super")
        await expect(tile).to_have_attribute("data-level", "breach")
        assert await page.locator("#kpi-tiles script").count() == 0
        assert dialogs == []
