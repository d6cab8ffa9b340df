"""Issue #12, the supervisor's features, in Debian's headless Chromium: listen, whisper and barge on an
agent's call through the simulated Asterisk (ChanSpy), the wallboard's tiles against what the simulator
did, the full-screen wallboard, and three small flaws (empty live calls, the agent's recent events, the
campaign page's spacing). Each failed on the code before it. Screenshots in test-artifacts/."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from cti.app import Daemon
from cti.core.events import AgentState
from cti.sim.scenario import load_scenario
from cti.sim.server import SimServer
from cti.store import Store
from tests.bus.events import agent_state, inbound_call
from tests.conftest import ROOT, timeout
from tests.e2e.consoles import ARTIFACTS, chromium, daemon_on, free_port, login, new_page
from tests.e2e.running import HOSTILE, running_daemon, seed_accounts
from tests.e2e.test_consoles import _axe
from tests.waiting import eventually

pytestmark = pytest.mark.browser


def _url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"


def _base(daemon: Daemon) -> str:
    assert daemon.server is not None
    return f"http://127.0.0.1:{daemon.server.port}"


async def _give_super_a_phone(url: str) -> None:
    store = await Store.open(url)
    try:
        await store.accounts.upsert_agent("super", "demo", "supervisor", None, "PJSIP/2001", "Sam")
    finally:
        await store.close()


@asynccontextmanager
async def sim_center(tmp_path: Path) -> AsyncIterator[tuple[SimServer, Daemon, Browser]]:
    """The demo centre in the simulator (no traffic: the test places the calls), a daemon on it, a browser;
    the supervisor's account has a phone (PJSIP/2001)."""
    url = _url(tmp_path)
    await seed_accounts(url)
    await _give_super_a_phone(url)
    sim = SimServer(load_scenario(ROOT / "config" / "sim" / "demo.toml"), speed=1.0, seed=3, traffic=False)
    port = await sim.start("127.0.0.1", 0)
    extra = (
        f'[[asterisk]]\nname = "sim"\nport = {port}\nusername = "cti"\nsecret = "ctisecret"\n'
        "ping_interval = 1.0\ndead_after = 5.0\n"
    )
    try:
        async with running_daemon(url, extra) as daemon, chromium() as browser:
            assert daemon.hub is not None
            hub = daemon.hub
            await eventually(lambda: "Frank" in hub.seats, 10, "the resync")
            yield sim, daemon, browser
    finally:
        await sim.stop()


def _talking_agent(daemon: Daemon) -> str | None:
    assert daemon.hub is not None
    return next((str(v.agent) for v in daemon.hub.calls.values() if v.agent and v.state == "answered"), None)


async def test_listen_whisper_barge_and_stop_from_the_agents_table_the_agent_is_not_told(
    tmp_path: Path,
) -> None:
    async with sim_center(tmp_path) as (sim, daemon, browser):
        sim.place_call("4155550123", "Wall Caller", "sales", patience=600, talk=120)
        await eventually(lambda: _talking_agent(daemon) is not None, 15, "an agent answers")
        agent = _talking_agent(daemon)
        assert agent is not None
        page = await new_page(browser)
        await login(page, _base(daemon), "/supervisor", "super")
        agent_page = await new_page(browser)
        seen: list[str] = []
        agent_page.on("websocket", lambda ws: ws.on("framereceived", lambda f: seen.append(str(f))))
        await login(agent_page, _base(daemon), "/agent", agent.lower())
        row = page.locator(f'#agents tr[data-agent="{agent}"]')
        await expect(row.locator(".state")).to_have_text("on call")
        await expect(row.locator(".call-time")).to_contain_text("0:")  # the call's duration ticks
        listen = page.get_by_role("button", name=f"Listen to {agent}", exact=True)
        whisper = page.get_by_role("button", name=f"Whisper to {agent}", exact=True)
        barge = page.get_by_role("button", name=f"Barge into the call of {agent}", exact=True)
        stop = page.get_by_role("button", name=f"Stop listening to {agent}", exact=True)
        await expect(stop).to_be_hidden()
        await listen.click()
        spies = page.locator("#spies li")
        await expect(spies).to_have_text(f"super: phone ringing ({agent})")
        await expect(spies).to_have_text(
            re.compile(rf"^super listening to {agent} \(0:0\d\)$"), timeout=timeout(10) * 1000
        )
        await expect(listen).to_have_attribute("aria-pressed", "true")
        await expect(stop).to_be_visible()
        (spy,) = sim.pbx.spies
        assert spy.mode == "spy" and spy.spyee is not None and spy.spyer.name.startswith("PJSIP/2001-")
        assert spy.spyee.name.startswith("Local/") and "@agents-" in spy.spyee.name  # the agent's leg
        await whisper.click()
        await expect(whisper).to_have_attribute("aria-pressed", "true")
        await expect(listen).to_have_attribute("aria-pressed", "false")
        await eventually(lambda: spy.mode == "whisper", 5, "DTMF 5 on the spyer")
        await barge.click()
        await expect(barge).to_have_attribute("aria-pressed", "true")
        await eventually(lambda: spy.mode == "barge", 5, "DTMF 6 on the spyer")
        assert len(sim.pbx.spies) == 1  # a mode change is not a second call
        await expect(page.locator("#calls tbody tr")).to_have_count(1)  # the spyer's phone is no live call
        await page.screenshot(path=str(ARTIFACTS / "supervisor-barge.png"), full_page=True)
        await stop.click()
        await expect(page.locator("#no-spies")).to_be_visible()
        await expect(stop).to_be_hidden()
        await eventually(lambda: not sim.pbx.spies, 5, "the spyer hung up")
        # listening again; the call ends: ChanSpy (E) ends with it, the page says so
        await listen.click()
        await expect(spies).to_have_count(1, timeout=timeout(10) * 1000)
        await expect(spies).to_contain_text("listening to")
        (again,) = sim.pbx.spies
        assert again.spyee is not None
        sim.hangup(again.spyee.name)
        await expect(page.locator("#no-spies")).to_be_visible()
        await eventually(lambda: not sim.pbx.spies, 5, "the spyer ended with the spyee")
        assert not [f for f in seen if '"type":"spy"' in f or "PJSIP/2001" in f], "the agent was told"
        writer = daemon.writer
        assert writer is not None
        await eventually(lambda: writer.rows >= 1 and writer.pending == 0, 15, "the call written")
        await asyncio.sleep(timeout(1))
        store = await Store.open(_url(tmp_path))
        try:
            journeys = await store.calls.journeys(time.time() - 3600, time.time() + 3600)
        finally:
            await store.close()
        assert [j.caller_number for j in journeys] == ["4155550123"], [j.to_json() for j in journeys]


async def test_the_supervisor_pauses_with_a_reason_logs_out_and_readies_an_agent_on_the_simulator(
    tmp_path: Path,
) -> None:
    async with sim_center(tmp_path) as (sim, daemon, browser):
        page = await new_page(browser)
        await login(page, _base(daemon), "/supervisor", "super")
        row = page.locator('#agents tr[data-agent="Dave"]')
        await expect(row.locator(".state")).to_have_text("available")
        member = sim.pbx.queues["support"].members["Local/1004@agents/n"]
        await page.select_option("#pause-reason", "lunch")
        await page.get_by_role("button", name="Pause Dave", exact=True).click()
        await expect(row.locator(".state")).to_have_text("paused")
        await expect(row.locator(".reason")).to_have_text("lunch")
        assert member.paused and member.paused_reason == "lunch"
        # Dave is a member of queues.conf: Asterisk refuses QueueRemove ("Member not dynamic"), so a
        # log-out pauses him "logged out" (Desk.run Logout)
        await page.get_by_role("button", name="Log out Dave", exact=True).click()
        await expect(row.locator(".reason")).to_have_text("logged out")
        await expect(page.locator("#action-result")).to_have_text("Log out Dave: done")
        assert member.paused and member.paused_reason == "logged out"
        await page.get_by_role("button", name="Ready Dave", exact=True).click()
        await expect(row.locator(".state")).to_have_text("available")
        assert not member.paused


def _log_counts(sim: SimServer, queue: str) -> dict[str, int]:
    verbs = [line.split("|") for line in sim.queue_log_lines()]
    return {v: sum(1 for x in verbs if x[2] == queue and x[4] == v) for v in ("CONNECT", "ABANDON")}


async def _fig(page: Page, queue: str, fig: str) -> str:
    value = page.locator(f'#wallboard-tiles [data-queue="{queue}"] [data-fig="{fig}"] .wb-value')
    return str(await value.text_content())


async def test_the_wallboard_tiles_show_what_the_simulator_did_updated_in_place(tmp_path: Path) -> None:
    async with sim_center(tmp_path) as (sim, daemon, browser):
        for ext in ("1003", "1004", "1005"):  # support has nobody: its caller waits, then hangs up
            sim._catch_up()
            sim.pbx.queue_pause(f"Local/{ext}@agents/n", True, None, "meeting")
            sim.after_action()
        page = await new_page(browser)
        await login(page, _base(daemon), "/supervisor", "super")
        support = page.locator('#wallboard-tiles [data-queue="support"]')
        await expect(support.locator('[data-fig="paused"] .wb-value')).to_have_text("4")  # and Frank
        await expect(support.locator('[data-fig="available"] .wb-value')).to_have_text("0")
        await support.evaluate("n => { n.dataset.seen = '1'; }")
        button = page.locator("#wallboard-fullscreen")
        await button.focus()
        sim.place_call("4155550124", "Patient Sales", "sales", patience=600, talk=3)
        sim.place_call("4155550125", "Gives Up", "support", patience=4)
        await expect(support.locator('[data-fig="waiting"] .wb-value')).to_have_text("1")
        first = await _fig(page, "support", "longest")
        await expect(support.locator('[data-fig="longest"] .wb-value')).not_to_have_text(first)  # it ticks
        await page.screenshot(path=str(ARTIFACTS / "wallboard-waiting.png"), full_page=True)
        await expect(support.locator('[data-fig="abandoned"] .wb-value')).to_have_text(
            "1", timeout=timeout(15) * 1000
        )
        sales = page.locator('#wallboard-tiles [data-queue="sales"]')
        await expect(sales.locator('[data-fig="answered"] .wb-value')).to_have_text(
            "1", timeout=timeout(15) * 1000
        )
        await expect(support.locator('[data-fig="waiting"] .wb-value')).to_have_text("0")
        # the figures are the simulator's own: its queue_log, its members
        s_log, p_log = _log_counts(sim, "sales"), _log_counts(sim, "support")
        assert (s_log["CONNECT"], s_log["ABANDON"], p_log["CONNECT"], p_log["ABANDON"]) == (1, 0, 0, 1)
        assert await _fig(page, "support", "abandon_rate") == "100.0%"
        assert await _fig(page, "support", "sl") == "0.0%"  # abandons count against
        assert (
            await _fig(page, "sales", "sl") == "100.0%"
            and await _fig(page, "sales", "abandon_rate") == "0.0%"
        )
        paused = sum(1 for m in sim.pbx.queues["support"].members.values() if m.paused)
        assert await _fig(page, "support", "paused") == str(paused)
        totals = page.locator('#wallboard-tiles [data-queue=""]')
        await expect(totals.locator('[data-fig="answered"] .wb-value')).to_have_text("1")
        await expect(totals.locator('[data-fig="abandoned"] .wb-value')).to_have_text("1")
        assert await _fig(page, "", "abandon_rate") == "50.0%"
        assert await _fig(page, "", "paused") == "4"  # each agent once (Carol is in both queues)
        assert await support.get_attribute("data-seen") == "1"  # the same node, updated in place
        assert await page.evaluate("document.activeElement.id") == "wallboard-fullscreen"


async def test_the_wallboard_mode_is_large_with_no_controls_greys_when_offline_and_passes_axe(
    tmp_path: Path,
) -> None:
    url = _url(tmp_path)
    await seed_accounts(url)
    port = free_port()
    async with chromium() as browser:
        async with daemon_on(url, port) as daemon:
            now = time.time()
            daemon.publish([agent_state(m, AgentState.AVAILABLE, at=now) for m in ("Alice", "Bob")])
            daemon.publish(inbound_call("1763900002.1", agent="Alice", at=now)[:1])  # one waiting in sales
            page = await new_page(browser, 1920, 1080)
            await login(page, _base(daemon), "/supervisor?wallboard", "super")
            tile = page.locator('#wallboard-tiles [data-queue="sales"]')
            await expect(tile.locator('[data-fig="waiting"] .wb-value')).to_have_text("1")
            assert await page.locator("#queues").is_hidden() and await page.locator("#agents").is_hidden()
            visible_buttons = await page.locator("button:visible").count()
            assert visible_buttons == 0, "the wallboard has controls"
            size = await tile.locator(".wb-value").first.evaluate(
                "n => parseFloat(getComputedStyle(n).fontSize)"
            )
            assert size >= 48, size  # readable across the room
            assert await _axe(page) == []
            await page.screenshot(path=str(ARTIFACTS / "wallboard-mode.png"))
            # the normal page: a Full screen button puts the tiles alone on the screen
            normal = await new_page(browser)
            await login(normal, _base(daemon), "/supervisor", "super")
            await expect(normal.locator("#queues")).to_be_visible()
            await normal.get_by_role("button", name="Full screen").click()
            await expect(normal.locator("#queues")).to_be_hidden()
            await expect(normal.locator("#wallboard-tiles .wb-tile").first).to_be_visible()
            assert await normal.evaluate("document.body.classList.contains('wallboard-mode')")
        # the daemon is gone: the figures are greyed, not shown as if live
        await expect(page.locator("body.offline")).to_have_count(1, timeout=timeout(10) * 1000)
        grey = await page.evaluate("getComputedStyle(document.getElementById('app')).filter")
        assert "grayscale" in grey, grey
        await page.screenshot(path=str(ARTIFACTS / "wallboard-offline.png"))


@asynccontextmanager
async def center(tmp_path: Path) -> AsyncIterator[tuple[Daemon, Browser]]:
    await seed_accounts(_url(tmp_path))
    async with running_daemon(_url(tmp_path)) as daemon, chromium() as browser:
        yield daemon, browser


async def test_an_empty_live_calls_table_says_so_instead_of_a_bare_header(tmp_path: Path) -> None:
    async with center(tmp_path) as (daemon, browser):
        page = await new_page(browser)
        await login(page, _base(daemon), "/supervisor", "super")
        await expect(page.locator("#no-calls")).to_have_text("No live calls.")
        await expect(page.locator("#calls")).to_be_hidden()
        await expect(page.locator("#no-callers")).to_be_visible()
        await expect(page.locator("#callers")).to_be_hidden()  # nor the waiting callers' bare header
        call = inbound_call("1763900002.2", agent="Alice", at=time.time())
        daemon.publish([agent_state("Alice", AgentState.AVAILABLE, at=time.time()), *call[:4]])
        await expect(page.locator("#calls tbody tr")).to_have_count(1)
        await expect(page.locator("#no-calls")).to_be_hidden()
        daemon.publish(call[4:])
        await expect(page.locator("#calls")).to_be_hidden()
        await expect(page.locator("#no-calls")).to_be_visible()


async def test_the_agents_recent_events_name_the_caller_and_what_happened_not_the_linkedid(
    tmp_path: Path,
) -> None:
    async with center(tmp_path) as (daemon, browser):
        page = await new_page(browser)
        await login(page, _base(daemon), "/agent", "alice")
        lid = "1763900002.3"
        call = inbound_call(lid, agent="Alice", number="+14155550199", name=HOSTILE, at=time.time())
        daemon.publish([agent_state("Alice", AgentState.AVAILABLE, at=time.time()), *call])
        events = page.locator("#events li")
        await expect(events.first).to_contain_text("ended")
        texts: list[Any] = await events.all_text_contents()
        assert all(lid not in t for t in texts), texts
        assert any(f"{HOSTILE} (+14155550199) is calling" in t for t in texts), texts
        assert any(f"{HOSTILE} (+14155550199): answered" in t for t in texts), texts
        assert await page.locator("#events script").count() == 0
        await page.screenshot(path=str(ARTIFACTS / "agent-recent-events.png"), full_page=True)


async def test_the_campaign_upload_heading_has_room_above_it(tmp_path: Path) -> None:
    async with center(tmp_path) as (daemon, browser):
        page = await new_page(browser)
        await login(page, _base(daemon), "/campaigns", "super")
        await page.fill("#settings [name=name]", "spacing")
        await page.fill("#settings [name=queue]", "sales")
        await page.fill("#settings [name=caller_id]", "+12125550000")
        await page.click("#save")
        await expect(page.locator("#detail-title")).to_have_text("spacing")
        gap = await page.evaluate(
            "document.querySelector('#upload h2').getBoundingClientRect().top"
            " - document.querySelector('#windows').getBoundingClientRect().bottom"
        )
        assert gap >= 16, gap
        await asyncio.sleep(0)
        await page.screenshot(path=str(ARTIFACTS / "campaign-upload-spacing.png"), full_page=True)
