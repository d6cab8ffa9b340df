"""The console's reports page in Debian's headless Chromium, against a daemon over a seeded store.

The calls are the hand-computed set of tests/reports/test_kinds.py; the figures checked are worked out
there. The chart must have drawn (non-blank canvas pixels), and the figures must follow the filters.
"""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from cti.core.journey import LegOutcome
from cti.store import Store
from tests.e2e.running import HOSTILE, running_daemon, seed_accounts
from tests.e2e.test_browser import ARTIFACTS, browser_page, login
from tests.reports.test_kinds import CALLS, inbound

INKED = """() => {
  const c = document.getElementById('chart');
  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) n++;
  return n;
}"""
BARS = """() => window.Chart.getChart('chart').data.datasets.map((d) => [d.label, d.data])"""


def cells(column: str) -> str:
    return f"#report tbody td[data-key={column}]"


async def test_the_reports_page_follows_range_and_filters_and_draws_its_chart(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    store = await Store.open(url)
    try:
        hostile = inbound(
            10, "sales", HOSTILE, 24 * 60, 1, LegOutcome.ANSWERED, 5, "Alice", 60
        )  # the next day
        await store.calls.record_journeys([*CALLS, hostile])
    finally:
        await store.close()
    async with running_daemon(url) as daemon, browser_page() as (page, dialogs):
        assert daemon.server is not None
        base = f"http://127.0.0.1:{daemon.server.port}"
        assert (await page.request.get(base + "/api/reports?kind=queue")).status == 401  # no token
        await login(page, base, "/reports", "super")
        # today has no calls: an empty report
        await expect(page.locator("#title")).to_have_text("queue")
        await expect(page.locator("#report tbody tr")).to_have_count(0)
        await page.fill("#from", "2026-03-02")
        await page.fill("#to", "2026-03-02")
        await page.click("#filters button[type=submit]")
        await expect(page.locator(cells("queue"))).to_have_text(["sales", "support"])
        await expect(page.locator(cells("offered"))).to_have_text(["4", "2"])
        await expect(page.locator(cells("answered"))).to_have_text(["2", "1"])
        await expect(page.locator(cells("service_level"))).to_have_text(["25.0%", "50.0%"])
        await expect(page.locator(cells("sl_asterisk2"))).to_have_text(["75.0%", "50.0%"])
        assert await page.evaluate(INKED) > 500  # the bars and axes were drawn
        assert await page.evaluate(BARS) == [["Offered", [4, 2]], ["Answered", [2, 1]], ["Abandoned", [2, 0]]]
        await page.select_option("#queue", "support")
        await expect(page.locator(cells("queue"))).to_have_text(["support"])
        await expect(page.locator(cells("offered"))).to_have_text(["2"])
        assert await page.evaluate(BARS) == [["Offered", [2]], ["Answered", [1]], ["Abandoned", [0]]]
        await page.select_option("#queue", "")
        await page.select_option("#kind", "wait-duration")
        await expect(page.locator(cells("calls"))).to_have_text(["1", "3", "0", "1", "1", "0", "0"])
        await page.select_option("#agent", "Alice")
        await expect(page.locator(cells("calls"))).to_have_text(["0", "2", "0", "0", "0", "0", "0"])
        assert await page.evaluate(INKED) > 500
        await page.fill("#from", "2026-03-05")  # after --to: a clear error, the last figures kept
        await page.click("#filters button[type=submit]")
        await expect(page.locator("#report-error")).to_contain_text("is empty")
        # a DID is text from the network: shown as text, never markup
        await page.fill("#from", "2026-03-03")
        await page.fill("#to", "2026-03-03")
        await page.select_option("#agent", "")
        await page.select_option("#kind", "inbound")
        await expect(page.locator(cells("did"))).to_have_text([HOSTILE])
        assert await page.locator("#report img, #report script").count() == 0
        assert (
            await page.evaluate("document.querySelectorAll('script').length") == 5
        )  # i18n.js, en.js, zh-CN.js, chart.umd.js, reports.js
        assert dialogs == []
        await page.screenshot(path=str(ARTIFACTS / "reports-page.png"), full_page=True)
