"""End to end, the e-mail channel over real sockets: smtplib sends a customer's mail to the daemon's ESMTP
server while a call waits in the queue of the only e-mail agent (the task waits: calls pre-empt); the
caller gives up, the task reaches the idle agent's console over the websocket with the customer card;
the agent's reply arrives at a local SMTP sink and the task is stored as answered.

The simulated Asterisk (cti sim) in-process; the router in CTI mode feeds the e-mail component.
"""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path
from typing import Any

import pytest

from cti.core.events import AgentState
from cti.mail.inbound import Accepted
from cti.mail.smtp_server import InboundSink, start_smtp_server, stop_smtp_server
from cti.routing.tasks import TaskAgent
from cti.sim.scenario import load_scenario
from cti.sim.server import SimServer
from cti.store import NewCustomer, Store
from tests.conftest import ROOT
from tests.e2e.running import running_daemon
from tests.e2e.test_call_flow import command, login
from tests.e2e.test_cti_routing import ALICE, routing_config
from tests.screenpop.console import recv_until
from tests.waiting import eventually

MAIL = (
    "From: Ann Lee <ann@example.com>\r\nTo: service@cti.example\r\nSubject: my refund\r\n"
    "Message-ID: <refund-1@example.com>\r\n\r\nI asked a month ago. <b>Nobody</b> answered.\r\n"
)


async def seed(url: str) -> int:
    """Alice is the only agent with the e-mail skill, and nobody has the level a sales call needs."""
    store = await Store.open(url)
    try:
        for n, member in enumerate(("Alice", "Bob", "Carol"), start=1):
            skills = {"email": 5} if member == "Alice" else {"support": 2}
            await store.accounts.upsert_agent(
                member.lower(),
                "demo",
                "agent",
                member,
                f"Local/100{n}@agents/n",
                member,
                extension=f"100{n}",
                skills=skills,
            )
        return await store.customers.add_customer(NewCustomer("Ann Lee", email="ann@example.com"))
    finally:
        await store.close()


def send(port: int) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        return s.sendmail("ann@example.com", ["service@cti.example"], MAIL)


async def test_an_email_waits_while_a_call_waits_then_reaches_the_idle_agent_whose_reply_is_delivered(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    customer = await seed(url)
    relayed: list[Accepted] = []
    delivered = asyncio.Event()

    def on_relay(a: Accepted) -> None:
        relayed.append(a)
        delivered.set()

    sink = await start_smtp_server(InboundSink(on_relay, lambda q: None))
    sim = SimServer(load_scenario(ROOT / "config" / "sim" / "demo.toml"), speed=1.0, seed=5, traffic=False)
    port = await sim.start("127.0.0.1", 0)
    email = (
        f"[email]\nenabled = true\nport = 0\nrelay_port = {sink.getHost().port}\nsend_attempts = 1\n"
        'from_address = "service@cti.example"\n'
    )
    loop = asyncio.get_running_loop()
    try:
        async with running_daemon(url, routing_config(port, tmp_path / "qlog") + email) as daemon:
            assert daemon.server is not None and daemon.routing is not None and daemon.email is not None
            routing, mail = daemon.routing, daemon.email
            router = routing.router
            await eventually(lambda: router.has_agent(ALICE) and router.state(ALICE).value == "available", 10)
            await eventually(lambda: "sales" in router.queues_of(ALICE), 10, "Alice in sales")
            await mail.started.wait()
            assert mail.port is not None
            alice = await login(daemon.server.port, "alice")
            # the caller hears the IVR prompt (5 s) then waits for cti's routing, and gives up at 12 s
            sim.place_call("13800138000", "Caller", "hold", patience=12, talk=20)
            await eventually(lambda: len(router.waiting(routing.now(), "sales")) == 1, 15, "the call waiting")
            assert await loop.run_in_executor(None, send, mail.port) == {}
            # stored and dispatched before the 250: the task waits because a call waits in Alice's queue
            assert [t.message.subject for t in mail.tasks.waiting] == ["my refund"]
            assert mail.tasks.offered == {} and router.state(ALICE).value == "available"
            seen: list[dict[str, Any]] = []
            offer = await recv_until(alice, lambda m: m["type"] == "email_task", 20)  # the caller gave up
            assert router.waiting(routing.now(), "sales") == []
            assert (offer["from"], offer["subject"]) == ("ann@example.com", "my refund")
            assert offer["body"].strip() == "I asked a month ago. <b>Nobody</b> answered."
            assert offer["customer"]["name"] == "Ann Lee" and offer["customer"]["id"] == customer
            task = offer["task"]
            await alice.send('{"type": "email_reply", "ref": "x", "task": "999", "body": "hi"}')
            refused = await recv_until(alice, lambda m: m.get("ref") == "x", 10)
            assert refused["type"] == "error" and refused["code"] == "unknown_task"
            reply = await command(
                alice, "r1", seen, type="email_reply", task=task, body="Sorry! It is on its way.\nAnn"
            )
            assert (reply["action"], reply["task"], reply["state"]) == ("emailreply", task, "answered")
            await asyncio.wait_for(delivered.wait(), 10)
            await alice.close()
    finally:
        await sim.stop()
        await stop_smtp_server(sink)
    [got] = relayed
    assert (got.sender, got.subject, got.message_id != "") == ("service@cti.example", "Re: my refund", True)
    assert got.body.replace("\r\n", "\n").strip() == "Sorry! It is on its way.\nAnn"
    store = await Store.open(url)
    try:
        [row] = await store.email.customer_history(customer)
        assert (row.state, row.agent, row.reply, row.subject) == (
            "answered",
            "Alice",
            "Sorry! It is on its way.\nAnn",
            "my refund",
        )
        assert row.answered_at is not None and row.offered_at is not None and row.answered_at <= row.deadline
        assert await store.email.open_tasks() == []
    finally:
        await store.close()


HOSTILE_MAIL = (
    'From: "<script>alert(1)</script>" <ann@example.com>\r\nSubject: <img src=x onerror=alert(2)>\r\n'
    "\r\n<script>alert(3)</script> please call me\r\n"
)


@pytest.mark.browser
async def test_the_agent_console_shows_a_hostile_email_as_text_and_sends_the_reply(tmp_path: Path) -> None:
    from playwright.async_api import expect

    from tests.e2e.test_browser import ARTIFACTS, browser_page
    from tests.e2e.test_browser import login as browser_login

    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed(url)
    relayed: list[Accepted] = []
    sink = await start_smtp_server(InboundSink(relayed.append, lambda q: None))
    email = f"[email]\nenabled = true\nport = 0\nrelay_port = {sink.getHost().port}\nsend_attempts = 1\n"
    loop = asyncio.get_running_loop()
    try:
        async with running_daemon(url, email) as daemon, browser_page() as (page, dialogs):
            assert daemon.server is not None and daemon.email is not None
            mail = daemon.email
            # no router here ([routing] off): the floor the router would report, Alice idle with the skill
            alice = TaskAgent("Alice", AgentState.AVAILABLE, frozenset({"email"}), frozenset({"sales"}))
            mail.feed = lambda: ([alice], {})
            await browser_login(page, f"http://127.0.0.1:{daemon.server.port}", "/agent", "alice")
            await mail.started.wait()
            assert mail.port is not None
            port = mail.port

            def hostile() -> dict[str, tuple[int, bytes]]:
                with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
                    return s.sendmail("ann@example.com", ["service@cti.example"], HOSTILE_MAIL)

            assert await loop.run_in_executor(None, hostile) == {}
            card = page.locator("#email-tasks .email-task")
            await expect(card.locator(".email-subject")).to_have_text("<img src=x onerror=alert(2)>")
            await expect(card.locator(".email-body")).to_contain_text(
                "<script>alert(3)</script> please call me"
            )
            await expect(card.locator(".customer h4")).to_have_text("Ann Lee")
            assert await page.locator("#email-tasks script, #email-tasks img").count() == 0
            await page.screenshot(path=str(ARTIFACTS / "agent-email-task.png"), full_page=True)
            await page.fill("#email-tasks textarea[name=reply]", "Dear Ann, <b>we will call</b>.")
            await page.click("#email-tasks form.email-answer button[type=submit]")
            await expect(page.locator("#action-result")).to_have_text("e-mail reply: done")
            await expect(card).to_have_count(0)
            assert dialogs == []
    finally:
        await stop_smtp_server(sink)
    assert [a.body.strip() for a in relayed] == ["Dear Ann, <b>we will call</b>."]
