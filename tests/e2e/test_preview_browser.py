"""The agent console's preview card (preview dialling) in Debian's headless Chromium.

The card shows the lead and the campaign's script as text (a hostile lead name, an ``<img onerror>``,
stays inert), its buttons have accessible names, and Dial sends ``preview_dial`` with the card's id.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from cti.core.events import AgentState, UserEventRaised
from cti.core.ids import AgentId, LinkedId, UniqueId
from cti.delivery.dialer import LEAD_EVENT
from cti.screenpop.protocol import preview_card, preview_over
from tests.bus.events import agent_state, inbound_call
from tests.e2e.running import running_daemon, seed_accounts
from tests.e2e.test_browser import ARTIFACTS, browser_page, login
from tests.waiting import eventually

pytestmark = pytest.mark.browser
NAME = "<img src=x onerror=\"document.title='owned'\">"
SCRIPT = "Hello <b>{name}</b>, this is ACME. <img src=y onerror=alert(2)>"


class Dialer:
    """The console's preview port (cti.screenpop.actions.PreviewControl): what the desk handed on."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str]] = []

    async def preview_dial(self, agent: AgentId, preview: str) -> dict[str, Any]:
        self.asked.append(("dial", agent, preview))
        return {"preview": preview, "channel_id": "c1", "number": "+12125550110"}

    async def preview_skip(self, agent: AgentId, preview: str) -> dict[str, Any]:
        self.asked.append(("skip", agent, preview))
        return {"preview": preview, "lead": 7}


async def test_the_preview_card_shows_the_lead_and_script_as_text_and_dial_sends_the_command(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    async with running_daemon(url) as daemon, browser_page() as (page, dialogs):
        assert daemon.server is not None and daemon.desk is not None and daemon.hub is not None
        dialer = Dialer()
        daemon.desk.preview = dialer
        await login(page, f"http://127.0.0.1:{daemon.server.port}", "/agent", "alice")
        card = preview_card("pv1", "Alice", "renewals", 7, NAME, "+12125550110", SCRIPT, time.time() + 30)
        daemon.hub.push(card, AgentId("Alice"))
        preview = page.locator(".preview")
        await expect(preview.locator(".lead-name")).to_have_text(NAME)
        await expect(preview.locator(".script")).to_have_text(SCRIPT)
        await expect(preview.locator(".lead-number")).to_have_text("+12125550110")
        assert await page.locator("#previews img, #previews b").count() == 0
        assert dialogs == [] and await page.title() != "owned"
        await page.screenshot(path=str(ARTIFACTS / "agent-preview-card.png"), full_page=True)
        await expect(page.get_by_role("button", name="Skip this lead")).to_be_enabled()
        await page.get_by_role("button", name="Dial this lead").click()
        await eventually(lambda: dialer.asked == [("dial", "Alice", "pv1")], 10, "preview_dial sent")
        await expect(page.locator("#action-result")).to_have_text("dial lead: done")
        daemon.hub.push(preview_over("pv1", "Alice", "dialled"), AgentId("Alice"))
        await expect(preview).to_have_count(0)
        assert dialer.asked == [("dial", "Alice", "pv1")]  # Skip was never sent


class Callbacks:
    """The console's callback port (cti.screenpop.actions.CallbackControl): what the desk handed on."""

    def __init__(self) -> None:
        self.scheduled: list[tuple[str, float, AgentId | None]] = []

    async def schedule(
        self, number: str, at: float, agent: AgentId | None, queue: str | None, created_by: str, note: str
    ) -> dict[str, Any]:
        self.scheduled.append((number, at, agent))
        return {"callback": {"id": 1, "number": number, "agent": agent, "status": "scheduled"}}

    async def of_agent(self, agent: AgentId) -> list[dict[str, Any]]:
        return []


async def test_a_campaign_calls_disposition_books_the_callback_to_the_leads_number(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    async with running_daemon(url) as daemon, browser_page() as (page, dialogs):
        assert daemon.server is not None and daemon.desk is not None
        callbacks = Callbacks()
        daemon.desk.callbacks = callbacks
        await login(page, f"http://127.0.0.1:{daemon.server.port}", "/agent", "alice")
        now = time.time()
        lid = "1763900000.7"
        lead = {"Campaign": "renewals", "LeadId": "7", "LeadName": NAME, "LeadNumber": "+12125550110"}
        events = inbound_call(lid, agent="Alice", number="+12125550000", name="ACME", at=now)  # our caller ID
        daemon.publish(
            [
                agent_state("Alice", AgentState.AVAILABLE, at=now),
                UserEventRaised(now, "pbx1", LEAD_EVENT, LinkedId(lid), UniqueId(lid), lead),
                *events[:4],
            ]
        )
        await expect(page.locator(".pop .call-state")).to_have_text("answered")
        await page.fill(".pop input[name=callback_at]", "2031-05-04T10:30")
        await page.click(".pop form.disposition button[type=submit]")
        await expect(page.locator("#action-result")).to_have_text("callback: done")
        ((number, at, agent),) = callbacks.scheduled
        assert (number, agent) == ("+12125550110", "Alice")  # the lead's number, for the same agent
        assert at > now and dialogs == []
