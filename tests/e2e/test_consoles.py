"""Issue #12: consoles for a working day, in Debian's headless Chromium. Each test here failed on the code
before the fix it checks. Screenshots are kept in test-artifacts/ (gitignored)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from cti.app import Daemon
from cti.core.events import AgentState
from cti.store import Store
from tests.bus.events import agent_state, inbound_call
from tests.conftest import timeout
from tests.e2e.consoles import ARTIFACTS, chromium, daemon_on, free_port, login, new_page
from tests.e2e.running import HOSTILE, HOSTILE_NUMBER, running_daemon, seed_accounts

pytestmark = pytest.mark.browser


async def test_both_consoles_reconnect_within_10_s_after_a_daemon_restart_and_show_the_new_state(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with chromium() as browser:
        agent, supervisor = await new_page(browser), await new_page(browser)
        async with daemon_on(url, port, secret_file=tmp_path / "web-secret") as daemon:
            daemon.publish([agent_state("Alice", AgentState.AVAILABLE, at=time.time())])
            await login(agent, base, "/agent", "alice")
            await login(supervisor, base, "/supervisor", "super")
            await expect(agent.locator("#state")).to_have_text("available")
            await expect(supervisor.locator('#agents tr[data-agent="Alice"] .state')).to_have_text(
                "available"
            )
        # the daemon is gone: both pages say so, and grey what they show
        for page in (agent, supervisor):
            await expect(page.locator("#offline")).to_be_visible()
            await expect(page.locator("body")).to_have_class(
                "agent offline" if page is agent else "supervisor offline"
            )
        await asyncio.sleep(timeout(4))  # several attempts find nobody listening
        await agent.screenshot(path=str(ARTIFACTS / "agent-disconnected.png"), full_page=True)
        await supervisor.screenshot(path=str(ARTIFACTS / "supervisor-disconnected.png"), full_page=True)
        async with daemon_on(url, port, secret_file=tmp_path / "web-secret") as daemon:
            started = time.monotonic()
            daemon.publish([agent_state("Alice", AgentState.PAUSED, at=time.time(), reason="lunch")])
            for page in (agent, supervisor):
                await expect(page.locator("#status")).to_contain_text(
                    "reconnected", timeout=timeout(10) * 1000
                )
                await expect(page.locator("#offline")).to_be_hidden()
            took = time.monotonic() - started
            await expect(agent.locator("#state")).to_have_text("paused (lunch)")
            alice = supervisor.locator('#agents tr[data-agent="Alice"]')
            await expect(alice.locator(".state")).to_have_text("paused")
            await expect(alice).to_contain_text("lunch")
            assert took < 10, took
            # a reload keeps working (the token outlives the restart) and shows the present state
            await agent.reload()
            await expect(agent.locator("#app")).to_be_visible()
            await expect(agent.locator("#state")).to_have_text("paused (lunch)")
            await supervisor.reload()
            await expect(supervisor.locator('#agents tr[data-agent="Alice"] .state')).to_have_text("paused")
            await supervisor.screenshot(path=str(ARTIFACTS / "supervisor-after-restart.png"), full_page=True)


def _url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"


@asynccontextmanager
async def center(tmp_path: Path) -> AsyncIterator[tuple[Daemon, Browser]]:
    """The seeded accounts, a daemon without Asterisk (events published by the test), a browser."""
    await seed_accounts(_url(tmp_path))
    async with running_daemon(_url(tmp_path)) as daemon, chromium() as browser:
        yield daemon, browser


def _base(daemon: Daemon) -> str:
    assert daemon.server is not None
    return f"http://127.0.0.1:{daemon.server.port}"


async def test_a_call_up_at_login_shows_answered_with_a_talk_timer_and_a_reload_brings_it_back(
    tmp_path: Path,
) -> None:
    async with center(tmp_path) as (daemon, browser):
        now = time.time()
        call = inbound_call("1763900000.5", agent="Alice", name="Up Already", at=now - 60)
        daemon.publish([agent_state("Alice", AgentState.ON_CALL, at=now - 55), *call[:4]])  # answered
        agent, supervisor = await new_page(browser), await new_page(browser)
        await login(agent, _base(daemon), "/agent", "alice")
        await login(supervisor, _base(daemon), "/supervisor", "super")
        pop = agent.locator(".pop")
        await expect(pop.locator(".call-state")).to_have_text("answered")  # was "ringing" for ever
        await expect(pop.locator(".talk-timer")).to_contain_text("talk 0:5")  # answered 55 s ago
        row = supervisor.locator("#calls tbody tr")
        await expect(row).to_have_count(1)
        await expect(row.locator(".state")).to_have_text("talking")  # was "ringing"
        await expect(row).to_contain_text("Alice")
        # a reload shows the present state again: the tables and the live call (they were empty)
        await agent.reload()
        await expect(agent.locator(".pop .caller-name")).to_have_text("Up Already")
        await expect(agent.locator("#state")).to_have_text("on call")
        await supervisor.reload()
        await expect(supervisor.locator("#calls tbody tr .state")).to_have_text("talking")
        await expect(supervisor.locator('#agents tr[data-agent="Alice"] .state')).to_have_text("on call")
        await agent.screenshot(path=str(ARTIFACTS / "agent-call-up-at-login.png"), full_page=True)


async def test_close_waits_for_the_end_and_hang_up_transfer_are_disabled_once_the_call_ended(
    tmp_path: Path,
) -> None:
    async with center(tmp_path) as (daemon, browser):
        page = await new_page(browser)
        await login(page, _base(daemon), "/agent", "alice")
        call = inbound_call("1763900000.6", agent="Alice", at=time.time())
        daemon.publish([agent_state("Alice", AgentState.AVAILABLE, at=time.time()), *call[:4]])
        pop = page.locator(".pop")
        await expect(pop.locator(".call-state")).to_have_text("answered")
        close = pop.get_by_role("button", name="Close")
        await expect(close).to_be_disabled()  # closing a live call lost it
        await expect(pop.get_by_role("button", name="Hang up")).to_be_enabled()
        daemon.publish(call[4:])
        await expect(pop.locator(".call-state")).to_have_text("ended")
        await expect(pop.get_by_role("button", name="Hang up")).to_be_disabled()
        await expect(pop.get_by_role("button", name="Transfer", exact=True)).to_be_disabled()
        await expect(pop.get_by_role("button", name="Warm transfer")).to_be_disabled()
        await page.screenshot(path=str(ARTIFACTS / "agent-pop-ended-controls.png"), full_page=True)
        await close.click()
        await expect(page.locator(".pop")).to_have_count(0)


async def test_the_pop_header_names_the_customer_and_the_wait_ticks_while_it_rings(tmp_path: Path) -> None:
    async with center(tmp_path) as (daemon, browser):
        page = await new_page(browser)
        await login(page, _base(daemon), "/agent", "alice")
        call = inbound_call("1763900000.7", agent="Alice", number=HOSTILE_NUMBER, name="", at=time.time())
        daemon.publish([agent_state("Alice", AgentState.AVAILABLE, at=time.time()), *call[:2]])
        pop = page.locator(".pop")
        await expect(pop.locator(".caller-name")).to_have_text(HOSTILE)  # was "(no name)"
        await expect(pop.locator(".customer h4")).to_contain_text(HOSTILE)
        first = await pop.locator(".wait").text_content()
        await expect(pop.locator(".wait")).not_to_have_text(first or "", timeout=timeout(4) * 1000)
        assert await page.locator("#pops script").count() == 0


async def test_the_supervisor_table_updates_in_place_keeps_focus_and_pauses_with_a_reason(
    tmp_path: Path,
) -> None:
    async with center(tmp_path) as (daemon, browser):
        now = time.time()
        members = ("Alice", "Bob", "Carol")
        daemon.publish([agent_state(m, AgentState.AVAILABLE, at=now) for m in members])
        page = await new_page(browser)
        sent: list[str] = []
        page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(str(frame))))
        await login(page, _base(daemon), "/supervisor", "super")
        for m in members:  # every button says whom it acts on (six identical "ready" buttons)
            await expect(page.get_by_role("button", name=f"Ready {m}", exact=True)).to_have_count(1)
        pause_bob = page.get_by_role("button", name="Pause Bob", exact=True)
        await pause_bob.focus()
        row = page.locator('#agents tr[data-agent="Bob"]')
        await row.evaluate("tr => { tr.dataset.seen = '1'; }")
        daemon.publish([agent_state("Bob", AgentState.ON_CALL, at=time.time())])
        await expect(row.locator(".state")).to_have_text("on call")
        await asyncio.sleep(timeout(1.5))  # clock ticks re-rendered the table every second
        assert await row.get_attribute("data-seen") == "1"
        assert await page.evaluate("document.activeElement.getAttribute('aria-label')") == "Pause Bob"
        await page.select_option("#pause-reason", "coaching")
        await page.keyboard.press("Enter")  # on the focused "Pause Bob"
        await expect(page.locator("#action-result")).to_contain_text("pause Bob")
        assert any('"type":"pause"' in f and '"reason":"coaching"' in f and '"Bob"' in f for f in sent), sent


async def test_waiting_callers_are_listed_for_the_supervisor_until_they_leave_the_queue(
    tmp_path: Path,
) -> None:
    async with center(tmp_path) as (daemon, browser):
        page = await new_page(browser)
        await login(page, _base(daemon), "/supervisor", "super")
        await expect(page.locator("#no-callers")).to_be_visible()
        call = inbound_call("1763900000.8", agent="Alice", name=HOSTILE, at=time.time())
        daemon.publish(call[:1])
        row = page.locator("#callers tbody tr")
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text(HOSTILE)
        await expect(row).to_contain_text("sales")
        await page.reload()  # listed again from the snapshot
        await expect(page.locator("#callers tbody tr")).to_have_count(1)
        daemon.publish(call[1:3])  # rang Alice, left the queue answered
        await expect(page.locator("#callers tbody tr")).to_have_count(0)
        assert await page.locator("#callers script").count() == 0


async def test_an_agent_at_the_supervisor_page_is_told_why_it_is_empty(tmp_path: Path) -> None:
    async with center(tmp_path) as (daemon, browser):
        page = await new_page(browser)
        await login(page, _base(daemon), "/supervisor", "alice")
        await expect(page.locator("#not-supervisor")).to_be_visible()
        await expect(page.locator("#not-supervisor")).to_contain_text("for supervisors")
        await expect(page.locator("#queues")).to_be_hidden()


async def test_both_pages_fit_a_400_px_screen(tmp_path: Path) -> None:
    async with center(tmp_path) as (daemon, browser):
        now = time.time()
        daemon.publish([agent_state(m, AgentState.PAUSED, at=now, reason="lunch") for m in ("Alice", "Bob")])
        daemon.publish(inbound_call("1763900000.9", agent="Alice", name=HOSTILE, at=now)[:2])
        for path, user in (("/agent", "alice"), ("/supervisor", "super")):
            page = await new_page(browser, width=400, height=800)
            await login(page, _base(daemon), path, user)
            await page.wait_for_timeout(300)
            width = await page.evaluate("document.documentElement.scrollWidth")
            await page.screenshot(path=str(ARTIFACTS / f"{path[1:]}-400px.png"), full_page=True)
            assert width <= 400, (path, width)


async def test_click_to_call_takes_numbers_as_people_write_them_and_warns_before_a_do_not_call_customer(
    tmp_path: Path,
) -> None:
    async with center(tmp_path) as (daemon, browser):
        store = await Store.open(_url(tmp_path))
        try:
            (customer,) = (await store.customers.lookup_caller(HOSTILE_NUMBER)).customers
            await store.dnc.set_do_not_call(customer.id, True, source="customer")
        finally:
            await store.close()
        daemon.publish([agent_state("Alice", AgentState.AVAILABLE, at=time.time())])
        page = await new_page(browser)
        await login(page, _base(daemon), "/agent", "alice")
        out = page.locator("#action-result")
        await page.fill("#dial input[name=number]", "123")
        await page.click("#dial button[type=submit]")
        await expect(out).to_contain_text("not a phone number")  # 123 was dialled
        await page.fill("#dial input[name=number]", "+1 (212) 555-0100")
        await page.click("#dial button[type=submit]")
        await expect(out).not_to_contain_text("…")
        await expect(out).not_to_contain_text("phone number")  # refused before: past the check now
        await page.fill("#dial input[name=number]", HOSTILE_NUMBER)
        await page.click("#dial button[type=submit]")
        warning = page.get_by_role("alertdialog")
        await expect(warning).to_be_visible()
        await expect(warning).to_contain_text("do-not-call")
        await expect(warning).to_contain_text(HOSTILE)  # as text
        await page.screenshot(path=str(ARTIFACTS / "agent-do-not-call-warning.png"), full_page=True)
        await expect(page.locator("#dnc-cancel")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(warning).to_be_hidden()
        await expect(out).to_contain_text("cancelled")


async def _axe(page: Page) -> list[dict[str, Any]]:
    """axe-core (vendored, served by the daemon: the pages' CSP lets only same-origin scripts run)."""
    await page.add_script_tag(url="/static/vendor/axe.min.js")
    result = await page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))"
    )
    return list(result)


async def test_both_pages_pass_an_automated_accessibility_check_with_a_call_on_screen(tmp_path: Path) -> None:
    async with center(tmp_path) as (daemon, browser):
        now = time.time()
        daemon.publish([agent_state(m, AgentState.AVAILABLE, at=now) for m in ("Alice", "Bob")])
        daemon.publish(inbound_call("1763900001.1", agent="Alice", number=HOSTILE_NUMBER, at=now)[:4])
        daemon.publish(inbound_call("1763900001.2", agent="Bob", at=now)[:1])  # one waiting
        for path, user in (("/agent", "alice"), ("/supervisor", "super")):
            page = await new_page(browser)
            await login(page, _base(daemon), path, user)
            await expect(page.locator(".pop, #calls tbody tr").first).to_be_visible()
            violations = await _axe(page)
            assert violations == [], (path, violations)
            # the login form too
            login_page = await new_page(browser)
            await login_page.goto(_base(daemon) + path)
            login_violations = await _axe(login_page)
            assert login_violations == [], (path, login_violations)


async def test_the_agents_call_flow_by_keyboard_alone(tmp_path: Path) -> None:
    async with center(tmp_path) as (daemon, browser):
        page = await new_page(browser)
        await page.goto(_base(daemon) + "/agent")
        await page.keyboard.press("Tab")  # the user name field comes first
        await page.keyboard.type("alice")
        await page.keyboard.press("Tab")
        await page.keyboard.type("demo")
        await page.keyboard.press("Enter")
        await expect(page.locator("#status")).to_contain_text("connected")
        await page.focus("#ready")  # where a keyboard user lands after the header
        daemon.publish([agent_state("Alice", AgentState.AVAILABLE, at=time.time())])
        call = inbound_call("1763900001.3", agent="Alice", name="Keyboard Caller", at=time.time())
        daemon.publish(call[:4])
        pop = page.locator(".pop")
        await expect(pop.locator(".call-state")).to_have_text("answered")

        async def tab_to(name: str, limit: int = 40) -> None:
            for _ in range(limit):
                await page.keyboard.press("Tab")
                label = await page.evaluate(
                    "(() => { const e = document.activeElement;"
                    " return e.getAttribute('aria-label') || e.textContent.trim(); })()"
                )
                if label == name:
                    return
            raise AssertionError(f"{name!r} not reachable by Tab")

        await tab_to("disposition")
        await page.keyboard.press("End")  # the last disposition, chosen by keyboard
        chosen = await pop.locator("select[name=disposition]").input_value()
        await tab_to("notes")
        await page.keyboard.type("asked by keyboard")
        await tab_to("Save disposition")
        await page.keyboard.press("Enter")
        await expect(page.locator("#action-result")).to_have_text("disposition: done")
        daemon.publish(call[4:])
        await expect(pop.locator(".call-state")).to_contain_text("ended")
        await page.focus("#ready")
        await tab_to("Close")
        await page.keyboard.press("Enter")
        await expect(page.locator(".pop")).to_have_count(0)
        await page.screenshot(path=str(ARTIFACTS / "agent-keyboard-flow.png"), full_page=True)
    store = await Store.open(_url(tmp_path))
    try:
        rows = await store.calls.journeys(time.time() - 3600, time.time() + 3600)
    finally:
        await store.close()
    assert chosen == "no answer"
    assert rows  # the call was stored; its disposition is checked by the hub's tests


async def test_transfer_targets_are_offered_to_pick_from(tmp_path: Path) -> None:
    async with center(tmp_path) as (daemon, browser):
        now = time.time()
        daemon.publish([agent_state(m, AgentState.AVAILABLE, at=now) for m in ("Alice", "Bob")])
        daemon.publish(inbound_call("1763900001.4", agent="Alice", at=now)[:4])
        page = await new_page(browser)
        await login(page, _base(daemon), "/agent", "alice")
        target = page.locator(".pop input[name=target]")
        await expect(target).to_have_attribute("list", "transfer-targets")
        options = page.locator("#transfer-targets option")
        await expect(options).to_have_count(2)  # Bob and the queue; never Alice herself
        assert [await o.get_attribute("value") for o in await options.all()] == ["Bob", "sales"]
