"""The campaign page in Debian's headless Chromium: a supervisor creates a campaign, uploads a CSV with
one bad row (the rejected row is shown with its line and reason), starts and pauses it, and sees each
compliance window's abandon rate against its limit from the store's dial records. An agent is refused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.async_api import expect

from cti.store import Store
from cti.store.dial_attempts_repo import AttemptRecord
from tests.e2e.running import HOSTILE, running_daemon, seed_accounts
from tests.e2e.test_browser import ARTIFACTS, browser_page, login

pytestmark = pytest.mark.browser

CSV = f"name,phone,timezone\n{HOSTILE},+12125550101,America/New_York\nBob,not a number,\nCora,+12125550103,\n"


async def test_the_campaign_page_creates_uploads_starts_pauses_and_shows_the_windows(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    leads = tmp_path / "leads.csv"
    leads.write_text(CSV, encoding="utf-8")
    async with running_daemon(url) as daemon, browser_page() as (page, dialogs):
        assert daemon.server is not None
        base = f"http://127.0.0.1:{daemon.server.port}"
        await login(page, base, "/campaigns", "super")
        await page.fill("#settings [name=name]", "spring")
        await page.fill("#settings [name=queue]", "sales")
        await page.fill("#settings [name=max_lines]", "0")  # bad input: the field and the reason
        await page.click("#save")
        await expect(page.locator("#form-error")).to_have_text(
            "max_lines: must be a whole number from 1 to 1000"
        )
        await page.fill("#settings [name=max_lines]", "4")
        await page.fill("#settings [name=caller_id]", "+12125550000")
        await page.fill("#settings [name=budget]", "250")
        await page.click("#save")
        row = page.locator("#campaigns tr[data-name=spring]")
        await expect(row.locator(".state")).to_have_text("draft")
        await expect(page.locator("#detail-title")).to_have_text("spring")
        await expect(row.locator(".lines")).to_have_text("0 / 4")
        await page.set_input_files("#u-file", str(leads))
        await page.click("#upload button[type=submit]")
        await expect(page.locator("#upload-summary")).to_have_text(
            "3 rows: 2 imported, 0 duplicates skipped, 1 rejected"
        )
        await expect(page.locator("#rejected tbody tr")).to_have_count(1)
        await expect(page.locator("#rejected tbody td").first).to_have_text("3")
        await expect(page.locator("#rejected tbody td").nth(1)).to_contain_text("not a usable phone number")
        await expect(page.locator("#figures [data-key=leads] .tile-value")).to_have_text("2")
        await page.click("#start")
        await expect(row.locator(".state")).to_have_text("running")
        await expect(page.locator("#d-state")).to_have_text("running")
        await expect(page.locator("#pause")).to_be_enabled()
        await page.click("#pause")
        await expect(row.locator(".state")).to_have_text("paused")
        store = await Store.open(url)
        try:
            assert (
                s := await store.campaign_settings.get("spring")
            ) is not None and s.state.value == "paused"
            now = time.time() - 60
            for i in range(10):  # 10 live answers, 1 abandoned: 10 % in every window (limits 3 % and 5 %)
                await store.dial_attempts.record_attempt(
                    AttemptRecord(
                        "spring",
                        "+12125550101",
                        now,
                        "answered",
                        None,
                        now,
                        "HUMAN",
                        live_answer=True,
                        abandoned=i == 0,
                    )
                )
        finally:
            await store.close()
        await expect(page.locator("#figures [data-key=dials] .tile-value")).to_have_text("10")
        await expect(row.locator(".contacts")).to_have_text("10")
        windows = page.locator("#windows tbody tr")
        await expect(windows).to_have_count(4)
        await expect(page.locator("#windows tr[data-window=ftc_30d] .rate")).to_have_text("10.00%")
        await expect(page.locator("#windows tr[data-window=ftc_30d] .limit")).to_have_text("3.00%")
        await expect(page.locator("#windows tr[data-window=crtc_month] .limit")).to_have_text("5.00%")
        await expect(page.locator("#windows tr[data-over=yes]")).to_have_count(4)
        await expect(page.locator("#windows tr[data-regime=yes]")).to_have_count(2)  # FTC's two
        assert await page.locator("#rejected script, #campaigns script").count() == 0
        assert dialogs == []
        await page.screenshot(path=str(ARTIFACTS / "campaigns-page.png"), full_page=True)
    async with running_daemon(url) as daemon, browser_page() as (page, _):
        assert daemon.server is not None
        await login(page, f"http://127.0.0.1:{daemon.server.port}", "/campaigns", "alice")
        await expect(page.locator("#list-error")).to_have_text("campaigns are managed by supervisors")
        await expect(page.locator("#campaigns tbody tr")).to_have_count(0)
