"""The supervisor's routing panel in Debian's headless Chromium: waiting calls with their needs, the agents'
skills, and a live skill change that delivers the waiting call. Screenshots in test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.conftest import timeout
from tests.e2e.test_browser import ARTIFACTS, browser_page, login
from tests.e2e.test_cti_routing import ALICE, routed_center, seed

pytestmark = pytest.mark.browser


async def test_the_supervisor_sees_a_waiting_calls_needs_and_a_live_skill_change_delivers_it(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed(url)
    async with routed_center(url, tmp_path / "qlog") as (daemon, sim), browser_page() as (page, _):
        assert daemon.server is not None and daemon.routing is not None
        router = daemon.routing.router
        for member in ("Alice", "Carol", "Dave", "Erin"):
            router.pause(ALICE.__class__(member), daemon.routing.now(), "meeting")
        base = f"http://127.0.0.1:{daemon.server.port}"
        await login(page, base, "/supervisor", "super")
        sim.place_call("13800138002", "<b>x</b>", "hold", patience=120, talk=20)
        row = page.locator("#waiting tbody tr")
        # the sample dialplan's hold runs Read() (6 s without a key) before it raises CtiWaiting
        await expect(row).to_have_count(1, timeout=timeout(15) * 1000)
        await expect(row.locator("td").nth(5)).to_have_text("sales:5")
        await expect(page.locator('#skills tr[data-agent="Bob"] .skills')).to_have_text("sales:3")
        await page.select_option("#skill-agent", "Bob")
        text = page.locator("#skill-text")
        await expect(text).to_have_value("sales:3")
        await text.fill("sales:7, english:4")
        # the tables are updated in place (clock ticks, board pushes) while the user types: same row
        await row.evaluate("tr => { tr.dataset.seen = '1'; }")
        ticked = await row.locator(".wait").text_content()
        await expect(row.locator(".wait")).not_to_have_text(ticked or "", timeout=timeout(5) * 1000)
        await expect(page.locator("#waiting tbody tr[data-seen]")).to_have_count(1)
        assert await page.evaluate("document.activeElement.id") == "skill-text"  # focus stays
        await page.screenshot(path=str(ARTIFACTS / "supervisor-routing-waiting.png"), full_page=True)
        await page.click("#skill-form button[type=submit]")
        await expect(page.locator("#skill-result")).to_contain_text("saved: Bob")
        await expect(row).to_have_count(0, timeout=timeout(10) * 1000)  # delivered to Bob
        await expect(page.locator('#skills tr[data-agent="Bob"] .skills')).to_have_text("english:4, sales:7")
        await page.screenshot(path=str(ARTIFACTS / "supervisor-routing-delivered.png"), full_page=True)


async def test_an_agent_schedules_a_callback_from_the_disposition_and_sees_it_in_my_callbacks(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed(url)
    async with routed_center(url, tmp_path / "qlog") as (daemon, sim), browser_page() as (page, errors):
        assert daemon.server is not None
        base = f"http://127.0.0.1:{daemon.server.port}"
        await login(page, base, "/agent", "alice")
        await expect(page.locator("#no-callbacks")).to_be_visible()
        sim.place_call("12125550100", "<i>Ana</i>", "hold", patience=120, talk=20)
        pop = page.locator("article.pop")
        await expect(pop).to_have_count(1, timeout=timeout(20) * 1000)
        await pop.locator("input[name=callback_at]").fill("2031-01-02T09:30")
        await pop.locator("select[name=callback_for]").select_option("")
        await pop.locator("textarea[name=notes]").fill("wants a quote")
        await pop.locator("form.disposition button[type=submit]").click()
        # 2031 is past max_days_ahead: refused with the reason, nothing listed
        await expect(page.locator("#action-result")).to_contain_text("days ahead", timeout=timeout(10) * 1000)
        await expect(page.locator("#callbacks li")).to_have_count(0)
        when = await page.evaluate(
            "() => { const d = new Date(Date.now() + 86400000); d.setSeconds(0, 0);"
            " return new Date(d - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16); }"
        )
        await pop.locator("input[name=callback_at]").fill(when)
        await pop.locator("select[name=callback_for]").select_option("me")
        await pop.locator("form.disposition button[type=submit]").click()
        item = page.locator("#callbacks li")
        await expect(item).to_have_count(1, timeout=timeout(10) * 1000)
        await expect(item).to_contain_text("+12125550100")
        await expect(item).to_contain_text("for Alice")
        await expect(item).to_contain_text("scheduled")
        await expect(page.locator("#no-callbacks")).to_be_hidden()
        await expect(pop.locator(".call-state")).to_contain_text("callback scheduled")
        await page.screenshot(path=str(ARTIFACTS / "agent-callbacks.png"), full_page=True)
        assert not errors
