"""Issue #12: the consoles in the browser's language. A Chinese browser (``locale="zh-CN"``) gets every
page in Simplified Chinese: the login form, the buttons, the table headers, the states the server sends,
the daemon's errors by their code; no English catalogue text is left visible. An English browser still
gets English. Screenshots are kept in test-artifacts/ (gitignored)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from cti.core.events import AgentState
from tests.bus.events import agent_state, inbound_call
from tests.e2e.consoles import ARTIFACTS, chromium, new_page
from tests.e2e.running import HOSTILE_NUMBER, running_daemon, seed_accounts
from tests.screenpop.test_i18n import catalogue

pytestmark = pytest.mark.browser

# every text a user sees: the visible text, and the text attributes of the elements that are shown
SHOWN = """() => {
  const out = [document.body.innerText];
  for (const el of document.querySelectorAll("[aria-label], [placeholder], [title]")) {
    if (!el.checkVisibility() || el.closest("[data-i18n-skip]")) continue; // a code example, a name
    for (const a of ["aria-label", "placeholder", "title"]) out.push(el.getAttribute(a) || "");
  }
  return out.join("\\n");
}"""
HOLE = re.compile(r"\{\w+\}")


def english_left(shown: str) -> list[str]:
    """The English catalogue texts (their fixed parts: a placeholder's value may be English data) found in
    ``shown``, where the Chinese text differs. Only parts with a word of three letters or more count."""
    en, zh = catalogue("en"), catalogue("zh-CN")
    found = set()
    for key, text in en.items():
        if text == zh.get(key):
            continue  # a name the Chinese text keeps (DID, p90, the placeholders' order)
        for part in HOLE.split(text):
            part = part.strip(" ·:()…,")
            if part in zh.get(key, ""):
                continue  # kept in the Chinese text too (DID)
            if re.search(r"[A-Za-z]{3,}", part) and re.search(rf"(?<!\w){re.escape(part)}(?!\w)", shown):
                found.add(f"{key}: {part!r}")
    return sorted(found)


async def no_english(page: Page) -> None:
    left = english_left(await page.evaluate(SHOWN))
    assert left == [], "English left on the page: " + "; ".join(left)


async def login(page: Page, base: str, path: str, user: str, connected: str) -> None:
    await page.goto(base + path)
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", "demo")
    await page.click("button[type=submit]")
    await expect(page.locator("#app")).to_be_visible()
    await expect(page.locator("#status")).to_contain_text(connected)


async def test_a_chinese_browser_gets_every_console_in_chinese(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    async with chromium() as browser:
        async with running_daemon(url) as daemon:
            assert daemon.server is not None
            base = f"http://127.0.0.1:{daemon.server.port}"
            now = time.time()
            daemon.publish([agent_state("Alice", AgentState.PAUSED, at=now, reason="lunch")])

            agent = await new_page(browser, locale="zh-CN")
            await agent.goto(base + "/agent")
            assert await agent.evaluate("document.documentElement.lang") == "zh-CN"
            assert await agent.title() == "cti · 坐席"
            await expect(agent.locator("#login h2")).to_have_text("坐席登录")
            await expect(agent.locator("#login label").first).to_have_text("用户名 ")
            await expect(agent.locator("#login button[type=submit]")).to_have_text("登录")
            await agent.fill("input[name=username]", "alice")
            await agent.fill("input[name=password]", "wrong")
            await agent.click("button[type=submit]")  # the daemon's auth_failed, by its code
            await expect(agent.locator("#login-error")).to_have_text("用户名或密码错误，或登录已失效")
            await no_english(agent)
            await login(agent, base, "/agent", "alice", "已连接")
            await expect(agent.locator("#state")).to_have_text(
                "示忙（午餐）"
            )  # the server's words, translated
            await expect(agent.locator("#ready")).to_have_text("就绪")
            await expect(agent.locator("#pause-reason option[value=lunch]")).to_have_text("午餐")
            call = inbound_call("1763900000.9", agent="Alice", number=HOSTILE_NUMBER, name="", at=time.time())
            daemon.publish([agent_state("Alice", AgentState.AVAILABLE, at=time.time()), *call[:2]])
            pop = agent.locator(".pop")
            await expect(pop.locator(".call-state")).to_have_text("振铃中")
            await expect(pop.get_by_role("button", name="挂断")).to_be_visible()
            await expect(pop.get_by_role("button", name="保存话后处理")).to_be_visible()
            await expect(pop.locator("select[name=disposition] option[value=complaint]")).to_have_text("投诉")
            await expect(agent.locator("#state")).to_have_text("空闲")
            await no_english(agent)
            await agent.screenshot(path=str(ARTIFACTS / "agent-zh-CN.png"), full_page=True)
            await agent.fill("#dial input[name=number]", "123")
            await agent.click("#dial button[type=submit]")  # refused: bad_number, then the server's own words
            await expect(agent.locator("#action-result")).to_contain_text("拨打：号码无法拨打：123 is not")
            await agent.click("#ready")  # no Asterisk here: refused by its code, all in Chinese
            refused = "就绪：没有可执行此操作的 Asterisk 服务器"  # error.no_server
            await expect(agent.locator("#action-result")).to_have_text(refused)

            supervisor = await new_page(browser, locale="zh-CN")
            await login(supervisor, base, "/supervisor", "super", "已连接")
            await expect(supervisor.locator("#queues thead th").first).to_have_text("队列")
            await expect(supervisor.locator("#queues thead")).to_contain_text("服务水平")
            alice = supervisor.locator('#agents tr[data-agent="Alice"]')
            await expect(alice.locator(".state")).to_have_text("空闲")
            await expect(alice.get_by_role("button", name="将 Alice 设为示忙")).to_have_text("示忙")
            await expect(supervisor.locator("#queues tbody tr").first).to_contain_text("秒内")
            await no_english(supervisor)
            await supervisor.screenshot(path=str(ARTIFACTS / "supervisor-zh-CN.png"), full_page=True)

            campaigns = await new_page(browser, locale="zh-CN")
            await login(campaigns, base, "/campaigns", "super", "已连接")
            await expect(campaigns.locator("#app h2").first).to_have_text("外呼活动")
            await expect(campaigns.locator("#save")).to_have_text("创建")
            await campaigns.fill("#settings [name=name]", "spring")
            await campaigns.fill("#settings [name=queue]", "sales")
            await campaigns.fill("#settings [name=max_lines]", "0")
            await campaigns.click("#save")  # refused: bad_request, the field and the server's reason
            await expect(campaigns.locator("#form-error")).to_contain_text("max_lines：设置有误：")
            await campaigns.fill("#settings [name=max_lines]", "4")
            await campaigns.click("#save")
            await expect(campaigns.locator("#campaigns tr[data-name=spring] .state")).to_have_text("草稿")
            await expect(campaigns.locator("#form-title")).to_have_text("spring 的设置")
            await no_english(campaigns)
            await campaigns.screenshot(path=str(ARTIFACTS / "campaigns-zh-CN.png"), full_page=True)

            reports = await new_page(browser, locale="zh-CN")
            await login(reports, base, "/reports", "super", "就绪")
            await expect(reports.locator("#title")).to_have_text("队列")
            await expect(reports.locator("#report thead th").first).to_have_text("队列")
            await expect(reports.locator("#filters button[type=submit]")).to_have_text("显示")
            await expect(reports.locator("#kind option[value=wait-duration]")).to_have_text("等待时长分布")
            await no_english(reports)
            await reports.screenshot(path=str(ARTIFACTS / "reports-zh-CN.png"), full_page=True)

            # an English browser still gets English
            english = await new_page(browser, locale="en-US")
            await english.goto(base + "/agent")
            assert await english.evaluate("document.documentElement.lang") == "en"
            await expect(english.locator("#login h2")).to_have_text("Agent login")
            await login(english, base, "/agent", "bob", "connected")
            await expect(english.locator("#ready")).to_have_text("Ready")
            await expect(english.locator("#events")).to_be_attached()
            english_shown = await english.evaluate(SHOWN)
            assert not re.search(r"[\u4e00-\u9fff]", english_shown), english_shown
            await english.screenshot(path=str(ARTIFACTS / "agent-en.png"), full_page=True)
        # the daemon is gone: the banner and the status say so in Chinese, the reason by its close code
        await expect(agent.locator("#offline")).to_be_visible()
        await expect(agent.locator("#offline")).to_contain_text("页面上的数据可能已过时")
        await expect(agent.locator("#status")).to_contain_text("正在重连")
        await no_english(agent)
        await agent.screenshot(path=str(ARTIFACTS / "agent-zh-CN-offline.png"), full_page=True)
