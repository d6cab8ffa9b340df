"""Hold, resume and park from the agent's console, by keyboard alone, in Debian's headless Chromium, with
the simulated Asterisk behind the daemon (docs/design/hold-and-park.md). Screenshots are kept in
test-artifacts/ (gitignored)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from cti.app import Daemon
from cti.core.ids import AgentId
from cti.sim.scenario import parse_scenario
from cti.sim.server import SimServer
from cti.store import Store
from tests.e2e.consoles import ARTIFACTS, chromium, new_page
from tests.e2e.running import running_daemon, seed_accounts
from tests.sim.test_holding import SCENARIO as FRANK_IN_SALES
from tests.waiting import eventually

pytestmark = pytest.mark.browser

# the simulator tests' centre (Frank in sales), Frank paused at login, and Bob alone in support
SCENARIO = (
    FRANK_IN_SALES.replace("max_talk = 1800\n", 'max_talk = 1800\npaused = true\npause_reason = "login"\n', 1)
    + """
[[agents]]
extension = "1002"
name = "Bob"
ring_delay = 2
manual = true
max_talk = 1800
[[queues]]
name = "support"
strategy = "ringall"
timeout = 15
members = [{ agent = "1002" }]
"""
)
NUMBER = "4155550123"


@asynccontextmanager
async def center(tmp_path: Path, config: str = "") -> AsyncIterator[tuple[Daemon, SimServer, Browser]]:
    import tomllib

    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    sim = SimServer(parse_scenario(tomllib.loads(SCENARIO)), speed=1.0, seed=3, traffic=False)
    port = await sim.start("127.0.0.1", 0)
    extra = (
        f'[[asterisk]]\nname = "sim"\nport = {port}\nusername = "cti"\nsecret = "ctisecret"\n'
        "ping_interval = 1.0\ndead_after = 5.0\n" + config
    )
    try:
        async with running_daemon(url, extra) as daemon, chromium() as browser:
            hub = daemon.hub
            assert hub is not None
            await eventually(lambda: {"Frank", "Bob"} <= set(hub.seats), 10, "the resync")
            yield daemon, sim, browser
    finally:
        await sim.stop()


async def keyboard_login(page: Page, daemon: Daemon, user: str) -> None:
    assert daemon.server is not None
    await page.goto(f"http://127.0.0.1:{daemon.server.port}/agent")
    await page.keyboard.press("Tab")  # the user name field comes first
    await page.keyboard.type(user)
    await page.keyboard.press("Tab")
    await page.keyboard.type("demo")
    await page.keyboard.press("Enter")
    await expect(page.locator("#status")).to_contain_text("connected")


async def ready_and_answered(page: Page, daemon: Daemon, sim: SimServer) -> None:
    """Frank gets ready (Alt+R), a call rings and pops, his phone answers it."""
    await page.keyboard.press("Alt+r")
    await expect(page.locator("#state")).to_have_text("available")
    sim.place_call(NUMBER, "Keyboard Caller", "sales", patience=600, talk=None)
    pop = page.locator(".pop")
    await expect(pop.locator(".caller-name")).to_have_text("Keyboard Caller")
    await expect(pop.locator(".call-state")).to_have_text("answered")


async def test_hold_and_resume_by_keyboard_alone_in_the_agents_call_flow(tmp_path: Path) -> None:
    async with center(tmp_path) as (daemon, sim, browser):
        page = await new_page(browser)
        await keyboard_login(page, daemon, "frank")
        await ready_and_answered(page, daemon, sim)
        pop = page.locator(".pop")
        hold = pop.locator("button.hold")
        await expect(hold).to_have_attribute("aria-keyshortcuts", "Alt+H")
        await page.keyboard.press("Alt+h")
        await expect(pop.locator(".call-state")).to_have_text("on hold")
        await expect(pop).to_have_attribute("data-state", "held")
        await expect(hold).to_have_text("Resume")
        await expect(pop.locator(".hold-timer")).to_contain_text("on hold 0:0")
        await page.screenshot(path=str(ARTIFACTS / "agent-call-on-hold.png"), full_page=True)
        held_channels = sim.pbx.channels.all()
        assert any(c.context == "cti-hold" for c in held_channels)  # the caller hears the music
        assert any(c.context == "cti-hold-agent" for c in held_channels)
        await page.keyboard.press("Alt+h")
        await expect(pop.locator(".call-state")).to_have_text("talking")
        await expect(hold).to_have_text("Hold")
        await expect(pop.locator(".hold-timer")).to_have_text("")
        await page.keyboard.press("?")  # the list of shortcuts
        help_box = page.locator("#shortcut-help")
        await expect(help_box).to_be_visible()
        for combo in ("Alt+H", "Alt+K", "Alt+X", "Alt+T", "Alt+S", "Alt+R", "Alt+P", "?"):
            await expect(help_box.locator("kbd", has_text=combo).first).to_be_visible()
        await page.screenshot(path=str(ARTIFACTS / "agent-shortcuts-help.png"), full_page=True)
        await page.keyboard.press("Escape")
        await expect(help_box).to_be_hidden()
        await page.keyboard.press("Alt+x")  # hang up
        await expect(pop.locator(".call-state")).to_contain_text("ended")
        await page.keyboard.press("Alt+s")  # save the disposition
        await expect(page.locator("#action-result")).to_have_text("disposition: done")
        await page.keyboard.press("Alt+c")  # close the card
        await expect(page.locator(".pop")).to_have_count(0)
        await page.screenshot(path=str(ARTIFACTS / "agent-keyboard-hold-flow.png"), full_page=True)
        writer = daemon.writer
        assert writer is not None
        await eventually(lambda: writer.rows >= 1 and writer.pending == 0, 15, "the call written")
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}")
    try:
        (journey,) = await store.calls.journeys(time.time() - 3600, time.time() + 3600)
    finally:
        await store.close()
    assert journey.agents == [AgentId("Frank")]  # one journey, his, through the hold
    assert journey.hold_seconds > 0
    (leg,) = journey.queue_legs
    assert leg.talk_seconds >= journey.hold_seconds


async def test_a_call_parked_by_keyboard_is_listed_for_every_agent_and_picked_up_by_another(
    tmp_path: Path,
) -> None:
    async with center(tmp_path) as (daemon, sim, browser):
        frank, bob = await new_page(browser), await new_page(browser)
        await keyboard_login(bob, daemon, "bob")
        await keyboard_login(frank, daemon, "frank")
        await ready_and_answered(frank, daemon, sim)
        await frank.keyboard.press("Alt+k")  # park
        pop = frank.locator(".pop")
        await expect(pop.locator(".call-state")).to_have_text("parked at 701")
        for page in (frank, bob):
            item = page.locator("#parked li")
            await expect(item).to_have_count(1)
            await expect(item.locator(".space")).to_have_text("701")
            await expect(item.locator(".parked-caller")).to_contain_text(NUMBER)
            await expect(page.locator("#no-parked")).to_be_hidden()
        await bob.screenshot(path=str(ARTIFACTS / "agent-parked-calls.png"), full_page=True)
        await bob.keyboard.press("Alt+u")  # pick it up: Bob's phone rings, he answers
        bob_pop = bob.locator(".pop")
        await expect(bob_pop.locator(".call-state")).to_have_text("answered", timeout=15_000)
        await expect(bob_pop.locator(".caller-number")).to_have_text(NUMBER)
        for page in (frank, bob):
            await expect(page.locator("#parked li")).to_have_count(0)
            await expect(page.locator("#no-parked")).to_be_visible()
        await bob.screenshot(path=str(ARTIFACTS / "agent-picked-up-parked-call.png"), full_page=True)
        await bob.keyboard.press("Alt+x")
        await expect(bob_pop.locator(".call-state")).to_contain_text("ended")
