"""Issue #12 in Debian's headless Chromium, with the simulated Asterisk behind the daemon: the agent's card
offers the store's disposition codes for the call's queue and follows a supervisor's edits while it is
open; a code that requires a callback is refused without a time; the supervisor sees a held and a parked
call in words (docs/design/dispositions.md). Screenshots are kept in test-artifacts/ (gitignored)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from cti.app import Daemon
from tests.e2e.consoles import ARTIFACTS, login, new_page
from tests.e2e.test_hold_park_browser import NUMBER, center, keyboard_login, ready_and_answered

pytestmark = pytest.mark.browser

CODES = """
[[disposition]]
code = "fixed"
label = "Fixed on the call"
outcome = "resolution"
[[disposition]]
code = "sales only"
outcome = "sale"
queues = ["sales"]
[[disposition]]
code = "support only"
queues = ["support"]
[[disposition]]
code = "call back"
label = "Call back later"
callback = true
"""


async def supervisor(daemon: Daemon, page: Page) -> None:
    assert daemon.server is not None
    await login(page, f"http://127.0.0.1:{daemon.server.port}", "/supervisor", "super")


async def offered(page: Page) -> list[str]:
    return [t.strip() for t in await page.locator(".pop select[name=disposition] option").all_text_contents()]


async def test_the_card_offers_the_stores_codes_and_follows_a_supervisors_edits(tmp_path: Path) -> None:
    async with center(tmp_path, CODES) as (daemon, sim, browser):
        frank, sam = await new_page(browser), await new_page(browser)
        await keyboard_login(frank, daemon, "frank")
        await supervisor(daemon, sam)
        await ready_and_answered(frank, daemon, sim)  # a call of the sales queue
        codes = frank.locator(".pop select[name=disposition] option")
        await expect(codes).to_have_text(["Fixed on the call", "sales only", "Call back later"])
        # the supervisor adds a code and removes one: Frank's open card follows
        await sam.locator("#codes-card summary").click()  # the list is folded away by default
        await expect(sam.locator("#codes tbody tr")).to_have_count(4)
        form = sam.locator("#code-form")
        await form.locator("input[name=code]").fill("upsell")
        await form.locator("input[name=label]").fill("Upsell")
        await form.locator("select[name=outcome]").select_option("sale")
        await form.locator("input[name=queues]").fill("sales")
        await form.locator("button[type=submit]").click()
        await expect(sam.locator("#codes-result")).to_have_text("save disposition code upsell: done")
        await expect(codes).to_have_text(["Fixed on the call", "sales only", "Call back later", "Upsell"])
        await sam.locator('#codes tr[data-code="fixed"] button').click()
        await expect(codes).to_have_text(["sales only", "Call back later", "Upsell"])
        await sam.screenshot(path=str(ARTIFACTS / "supervisor-disposition-codes.png"), full_page=True)
        # a code that requires a callback: refused without a time, with the catalogue's words
        pop = frank.locator(".pop")
        await pop.locator("select[name=disposition]").select_option("call back")
        await expect(pop.locator(".callback-required")).to_be_visible()
        await pop.locator("form.disposition button[type=submit]").click()
        await expect(frank.locator("#action-result")).to_have_text(
            "disposition: this disposition needs a callback time: say when to call back"
        )
        await expect(frank.locator("#action-result")).to_have_class("error")
        await frank.screenshot(path=str(ARTIFACTS / "agent-callback-required.png"), full_page=True)
        await pop.locator("input[name=callback_at]").fill("2031-05-06T10:30")
        await pop.locator("form.disposition button[type=submit]").click()
        await expect(pop).to_have_attribute("data-saved", "yes")  # saved (the callback itself needs routing)
        await expect(pop.locator(".call-state")).to_contain_text("disposition saved")


async def test_the_supervisor_sees_a_held_and_a_parked_call_in_words(tmp_path: Path) -> None:
    async with center(tmp_path) as (daemon, sim, browser):
        frank, sam = await new_page(browser), await new_page(browser)
        await keyboard_login(frank, daemon, "frank")
        await supervisor(daemon, sam)
        await ready_and_answered(frank, daemon, sim)
        row = sam.locator("#calls tbody tr")
        await expect(row.locator("td").nth(4)).to_have_text("talking")
        await frank.keyboard.press("Alt+h")
        await expect(frank.locator(".pop .call-state")).to_have_text("on hold")
        await expect(row.locator("td").nth(4)).to_contain_text("on hold 0:0")
        await expect(row).to_have_attribute("data-state", "held")
        agent_call = sam.locator('#agents tr[data-agent="Frank"] td.call-time')
        await expect(agent_call).to_contain_text("on hold")
        await sam.screenshot(path=str(ARTIFACTS / "supervisor-call-on-hold.png"), full_page=True)
        await frank.keyboard.press("Alt+h")
        await expect(row.locator("td").nth(4)).to_have_text("talking")
        await frank.keyboard.press("Alt+k")  # park
        await expect(frank.locator(".pop .call-state")).to_have_text("parked at 701")
        await expect(row.locator("td").nth(4)).to_have_text("parked at 701")
        await expect(agent_call).to_have_text("parked at 701")
        parked = sam.locator("#parked tbody tr")
        await expect(parked).to_have_count(1)
        await expect(parked.locator("th")).to_have_text("701")
        await expect(parked.locator("td").first).to_contain_text(NUMBER)
        await expect(parked.locator("td.since")).to_contain_text("0:0")
        await expect(sam.locator("#no-parked")).to_be_hidden()
        await sam.screenshot(path=str(ARTIFACTS / "supervisor-parked-call.png"), full_page=True)
        # a supervisor page opened now gets it from the snapshot
        late = await new_page(browser)
        await supervisor(daemon, late)
        await expect(late.locator("#calls tbody tr td").nth(4)).to_have_text("parked at 701")
        await expect(late.locator("#parked tbody tr th")).to_have_text("701")
