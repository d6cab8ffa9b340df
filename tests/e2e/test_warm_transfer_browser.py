"""Warm transfer and three-way conference from the agent console, end to end: the simulated Asterisk
(Atxfer, ConfBridge), the daemon and two agents' consoles in Debian's headless Chromium.

A customer calls sales; only Frank is ready, he answers, consults Alice (her console pops the customer's
card while the customer hears music) and then completes, cancels or makes it a conference. Screenshots
are kept in test-artifacts/ (gitignored)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect
from websockets.asyncio.client import connect

from cti.app import Daemon
from cti.core.ids import AgentId, LinkedId
from cti.sim.scenario import load_scenario
from cti.sim.server import SimServer
from tests.conftest import ROOT
from tests.e2e.consoles import ARTIFACTS, chromium, login, new_page
from tests.e2e.running import HOSTILE, HOSTILE_NUMBER, running_daemon, seed_accounts
from tests.screenpop.console import recv, recv_until
from tests.waiting import eventually

pytestmark = pytest.mark.browser


async def _supervise(port: int, *cmds: dict[str, Any]) -> None:
    async with connect(f"ws://127.0.0.1:{port}/ws", max_queue=None) as ws:
        await ws.send(json.dumps({"type": "login", "username": "super", "password": "demo"}))
        assert (await recv(ws))["type"] == "welcome"
        for i, cmd in enumerate(cmds):
            await ws.send(json.dumps({"ref": f"c{i}", **cmd}))
            reply = await recv_until(ws, lambda m, r=f"c{i}": m.get("ref") == r, 10)
            assert reply["type"] == "result", reply


@asynccontextmanager
async def _answered(tmp_path: Path) -> AsyncIterator[tuple[Daemon, SimServer, Page, Page, str]]:
    """Frank talking to the customer: (daemon, sim, Frank's page, Alice's page, the call's Linkedid)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    sim = SimServer(load_scenario(ROOT / "config" / "sim" / "demo.toml"), speed=1.0, seed=3, traffic=False)
    port = await sim.start("127.0.0.1", 0)
    extra = (
        f'[[asterisk]]\nname = "sim"\nport = {port}\nusername = "cti"\nsecret = "ctisecret"\n'
        "ping_interval = 1.0\ndead_after = 5.0\n"
    )
    try:
        async with running_daemon(url, extra) as daemon, chromium() as browser:
            assert daemon.server is not None and daemon.hub is not None
            hub = daemon.hub
            await eventually(lambda: "Frank" in hub.seats and "Alice" in hub.seats, 10, "the resync")
            await _supervise(
                daemon.server.port,
                *({"type": "pause", "agent": a, "reason": "meeting"} for a in ("Alice", "Bob", "Carol")),
                {"type": "ready", "agent": "Frank"},
            )
            await eventually(
                lambda: hub.seats[AgentId("Frank")].state.value == "available", 10, "Frank ready"
            )
            base = f"http://127.0.0.1:{daemon.server.port}"
            frank, alice = await new_page(browser), await new_page(browser)
            await login(frank, base, "/agent", "frank")
            await login(alice, base, "/agent", "alice")
            # every phone of the call answers after 1 s and talks for two minutes
            sim.place_call(
                HOSTILE_NUMBER.lstrip("+"),
                HOSTILE,
                "sales",
                patience=300,
                talk=120,
                variables={"__RINGDELAY": "1"},
            )
            pop = frank.locator(".pop")
            await expect(pop.locator(".call-state")).to_have_text("answered", timeout=15_000)
            lid = await pop.get_attribute("data-linkedid")
            assert lid
            yield daemon, sim, frank, alice, lid
    finally:
        await sim.stop()


@asynccontextmanager
async def _consulting(tmp_path: Path) -> AsyncIterator[tuple[Daemon, SimServer, Page, Page, str]]:
    """Frank talking to the customer and consulting Alice, who answered."""
    async with _answered(tmp_path) as (daemon, sim, frank, alice, lid):
        assert daemon.hub is not None
        hub = daemon.hub
        pop = frank.locator(".pop")
        await pop.locator("input[name=target]").fill("alice")  # as people type it
        warm = pop.get_by_role("button", name="Warm transfer")
        await expect(warm).to_have_attribute("data-shortcut", "Alt+W")
        await expect(warm).to_have_attribute("aria-keyshortcuts", "Alt+W")
        await warm.click()
        await expect(pop.locator(".consult-state")).to_contain_text("consulting Alice")
        await expect(pop.get_by_role("button", name="Hang up")).to_be_disabled()  # one thing at a time
        # Alice's console pops the customer's card; her phone answers after 1 s
        other = alice.locator(".pop")
        await expect(other.locator(".caller-name")).to_have_text(HOSTILE)
        await expect(other.locator(".call-state")).to_have_text("answered", timeout=10_000)
        await expect(pop.locator(".consult-state")).to_contain_text("talk, then complete")
        # the call stays Frank's while he consults: never "answered by Alice" on his card
        await expect(pop.locator(".call-state")).not_to_contain_text("Alice")
        assert hub.calls[LinkedId(lid)].agent == "Frank"
        await frank.screenshot(path=str(ARTIFACTS / "agent-warm-transfer-consulting.png"), full_page=True)
        yield daemon, sim, frank, alice, lid


async def test_a_completed_warm_transfer_hands_the_customer_to_the_colleague(tmp_path: Path) -> None:
    async with _consulting(tmp_path) as (daemon, sim, frank, alice, lid):
        pop, other = frank.locator(".pop"), alice.locator(".pop")
        complete = pop.get_by_role("button", name="Complete")
        await expect(complete).to_have_attribute("aria-keyshortcuts", "Alt+Y")
        await complete.click()
        await expect(pop.locator(".call-state")).to_have_text("transferred to Alice")
        await expect(pop.locator(".consult")).to_be_hidden()
        await expect(pop.get_by_role("button", name="Close")).to_be_enabled()  # his part is over
        await expect(frank.locator("#state")).to_have_text(re.compile("^(available|wrap up)$"))  # free
        # Alice has the call with the customer's card, and its controls
        await expect(other.locator(".call-state")).to_have_text("answered")
        await expect(other.get_by_role("button", name="Hang up")).to_be_enabled()
        assert daemon.hub is not None and daemon.hub.calls[LinkedId(lid)].agent == "Alice"
        assert sim.pbx.queue_log.lines and "ATTENDEDTRANSFER" in sim.pbx.queue_log.lines[-1]
        await frank.screenshot(path=str(ARTIFACTS / "agent-warm-transfer-completed.png"), full_page=True)
        await alice.screenshot(path=str(ARTIFACTS / "agent-warm-transfer-received.png"), full_page=True)
        await other.get_by_role("button", name="Hang up").click()
        await expect(other.locator(".call-state")).to_have_text("ended")


async def test_a_cancelled_warm_transfer_brings_the_agent_back_to_the_customer(tmp_path: Path) -> None:
    async with _consulting(tmp_path) as (daemon, _, frank, alice, lid):
        pop, other = frank.locator(".pop"), alice.locator(".pop")
        cancel = pop.get_by_role("button", name="Cancel")
        await expect(cancel).to_have_attribute("data-shortcut", "Alt+Q")
        await cancel.click()
        await expect(pop.locator(".consult")).to_be_hidden()
        await expect(pop.locator(".call-state")).to_have_text("talking")  # off hold, with the customer
        await expect(pop.get_by_role("button", name="Hang up")).to_be_enabled()
        await expect(other.locator(".call-state")).to_have_text("you left the call")
        await expect(other.get_by_role("button", name="Hang up")).to_be_disabled()
        assert daemon.hub is not None and daemon.hub.calls[LinkedId(lid)].agent == "Frank"
        await frank.screenshot(path=str(ARTIFACTS / "agent-warm-transfer-cancelled.png"), full_page=True)
        await pop.get_by_role("button", name="Hang up").click()
        await expect(pop.locator(".call-state")).to_have_text("ended")


async def test_a_conference_shows_its_parties_and_the_agent_can_leave_it(tmp_path: Path) -> None:
    async with _consulting(tmp_path) as (_, sim, frank, alice, _lid):
        pop, other = frank.locator(".pop"), alice.locator(".pop")
        conference = pop.get_by_role("button", name="Conference")
        await expect(conference).to_have_attribute("aria-keyshortcuts", "Alt+3")
        await conference.click()
        await expect(pop.locator(".consult-state")).to_have_text("Three-way conference")
        parties = pop.locator(".conference-parties li")
        await expect(parties).to_have_text(["Frank", re.compile(HOSTILE_NUMBER.lstrip("+")), "Alice"])
        await eventually(lambda: len(sim.pbx.conferences) == 1, 5, "the ConfBridge")
        (room,) = sim.pbx.conferences.values()
        await eventually(lambda: len(room.members) == 3, 5, "three in the conference")
        await frank.screenshot(path=str(ARTIFACTS / "agent-conference.png"), full_page=True)
        await pop.get_by_role("button", name="Leave").click()
        await expect(pop.locator(".call-state")).to_have_text("you left the call")
        await eventually(lambda: len(room.members) == 2, 5, "the customer and Alice stay")
        await expect(other.locator(".call-state")).to_have_text("answered")  # Alice still talks
        await expect(frank.locator("#state")).to_have_text(re.compile("^(available|wrap up)$"))


async def test_a_busy_number_gives_the_customer_back_and_the_card_says_so(tmp_path: Path) -> None:
    async with _answered(tmp_path) as (_, sim, frank, _alice, _lid):
        pop = frank.locator(".pop")
        await pop.locator("select[name=to]").select_option("number")
        await pop.locator("input[name=target]").fill("4155550101")  # the sim's pstn: last digit 1 is busy
        await pop.get_by_role("button", name="Warm transfer").click()
        await expect(frank.locator("#events")).to_contain_text("warm transfer over")  # Asterisk's Unhold
        await expect(pop.locator(".consult")).to_be_hidden()
        await expect(pop.locator(".call-state")).to_have_text("talking")
        await expect(pop.get_by_role("button", name="Warm transfer")).to_be_enabled()  # try another
        assert not sim.pbx.consultations


async def test_a_reload_mid_consultation_brings_the_panel_back_and_complete_still_works(
    tmp_path: Path,
) -> None:
    async with _consulting(tmp_path) as (daemon, sim, frank, alice, lid):
        await frank.reload()
        pop, other = frank.locator(".pop"), alice.locator(".pop")
        await expect(pop.locator(".consult-state")).to_contain_text("talk, then complete")
        await expect(pop.get_by_role("button", name="Hang up")).to_be_disabled()
        complete = pop.get_by_role("button", name="Complete")
        await expect(complete).to_be_visible()
        await complete.click()
        await expect(pop.locator(".call-state")).to_have_text("transferred to Alice")
        await expect(pop.locator(".consult")).to_be_hidden()
        await expect(other.locator(".call-state")).to_have_text("answered")
        assert daemon.hub is not None and daemon.hub.calls[LinkedId(lid)].agent == "Alice"
        assert "ATTENDEDTRANSFER" in sim.pbx.queue_log.lines[-1]


async def _card_shortcuts(page: Page) -> list[str]:
    """The shortcuts of the visible controls of the call card (each control's, split)."""
    keys: list[str] = await page.locator(".pop").first.evaluate(
        """(card) => [...card.querySelectorAll('[data-shortcut]')]
             .filter((n) => n.offsetParent !== null)
             .flatMap((n) => n.dataset.shortcut.split(/\\s+/))"""
    )
    return keys


async def _assert_no_shared_shortcut(page: Page) -> None:
    keys = await _card_shortcuts(page)
    assert keys and len(keys) == len(set(keys)), keys


async def test_a_conference_call_without_consultation_pops_the_colleague_and_keys_stay_unique(
    tmp_path: Path,
) -> None:
    async with _answered(tmp_path) as (daemon, sim, frank, alice, lid):
        pop, other = frank.locator(".pop"), alice.locator(".pop")
        await _assert_no_shared_shortcut(frank)
        start = pop.get_by_role("button", name="Conference call")
        await expect(start).to_have_attribute("data-shortcut", "Alt+3")
        await pop.locator("input[name=target]").fill("alice")
        await start.click()
        await expect(pop.locator(".consult-state")).to_have_text("Three-way conference")
        await expect(pop.locator(".conference-parties li")).to_have_text(
            ["Frank", re.compile(HOSTILE_NUMBER.lstrip("+")), "Alice"]
        )
        await expect(start).to_be_hidden()
        await _assert_no_shared_shortcut(frank)
        # Alice's console pops the customer's card, not a call of its own; her phone answers after 1 s
        await expect(other.locator(".caller-name")).to_have_text(HOSTILE)
        assert await other.get_attribute("data-linkedid") == lid
        await expect(other.locator(".call-state")).to_have_text("answered", timeout=10_000)
        await eventually(lambda: len(sim.pbx.conferences) == 1, 5, "the ConfBridge")
        (room,) = sim.pbx.conferences.values()
        await eventually(lambda: len(room.members) == 3, 10, "three in the conference")
        assert daemon.hub is not None and "Alice" in daemon.hub.calls[LinkedId(lid)].agents
        await pop.get_by_role("button", name="Leave").click()
        await expect(pop.locator(".call-state")).to_have_text("you left the call")
        await eventually(lambda: len(room.members) == 2, 5, "the customer and Alice stay")


async def test_no_two_visible_controls_of_a_consulting_card_share_a_shortcut(tmp_path: Path) -> None:
    async with _consulting(tmp_path) as (_, _sim, frank, _alice, _lid):
        keys = await _card_shortcuts(frank)
        assert {"Alt+Y", "Alt+Q", "Alt+3", "Alt+C", "Alt+X"} <= set(keys)
        await _assert_no_shared_shortcut(frank)


async def test_the_customer_hanging_up_mid_consultation_leaves_frank_and_alice_talking(
    tmp_path: Path,
) -> None:
    async with _consulting(tmp_path) as (daemon, sim, frank, alice, lid):
        pop, other = frank.locator(".pop"), alice.locator(".pop")
        (c,) = sim.pbx.consultations
        sim.pbx.hangup_channel(c.leg.ch, 16)  # the customer hangs up; Asterisk keeps the two talking
        left = "the customer hung up: you are still connected"
        await expect(pop.locator(".call-state")).to_have_text(left)
        await expect(other.locator(".call-state")).to_have_text(left)
        await expect(pop.locator(".consult")).to_be_hidden()
        await expect(frank.locator("#events")).to_contain_text(
            "the customer hung up during the warm transfer"
        )
        assert not c.al.one.hungup and not c.one.hungup
        hangup = pop.get_by_role("button", name="Hang up")
        await expect(hangup).to_be_enabled()
        await hangup.click()  # Frank is done: the bridge dissolves, Alice is hung up too
        await expect(pop.locator(".call-state")).to_have_text("ended")
        await expect(other.locator(".call-state")).to_have_text("ended")
        assert daemon.hub is not None and LinkedId(lid) not in daemon.hub.calls
        assert not sim.pbx.consultations


async def test_a_warm_transfer_to_a_queue_waits_for_a_colleague_then_completes(tmp_path: Path) -> None:
    async with _answered(tmp_path) as (daemon, sim, frank, alice, lid):
        assert daemon.server is not None and daemon.hub is not None
        await _supervise(daemon.server.port, {"type": "ready", "agent": "Alice"})  # a colleague in sales
        await eventually(
            lambda: daemon.hub is not None and daemon.hub.seats[AgentId("Alice")].state.value == "available",
            10,
            "Alice ready",
        )
        pop, other = frank.locator(".pop"), alice.locator(".pop")
        await pop.locator("select[name=to]").select_option("queue")
        await pop.locator("input[name=target]").fill("Sales")  # as people type it
        await pop.get_by_role("button", name="Warm transfer").click()
        await expect(pop.locator(".consult-state")).to_contain_text("consulting sales")
        # the queue rings Alice: her console pops the customer's card; she answers after 1 s
        await expect(other.locator(".caller-name")).to_have_text(HOSTILE)
        await expect(other.locator(".call-state")).to_have_text("answered", timeout=10_000)
        await expect(pop.locator(".consult-state")).to_contain_text("talk, then complete")
        await pop.get_by_role("button", name="Complete").click()
        await expect(pop.locator(".call-state")).to_have_text("transferred to sales")
        await expect(other.get_by_role("button", name="Hang up")).to_be_enabled()
        assert daemon.hub.calls[LinkedId(lid)].agent == "Alice"
        assert "ATTENDEDTRANSFER" in sim.pbx.queue_log.lines[-1]
