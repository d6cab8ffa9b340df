"""The e-mail component with the store (SQLite and PostgreSQL) over real SMTP sockets: every accepted
message stored before the answer and offered to an idle agent with the e-mail skill only when no call
waits; quarantined ones stored with their bytes; the reply reaches a local SMTP sink; tasks reloaded."""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import pytest

from cti.config import EmailConfig
from cti.core.events import AgentState
from cti.mail.component import EmailComponent
from cti.mail.inbound import Accepted, Quarantined
from cti.mail.service import TaskError
from cti.mail.smtp_server import InboundSink, start_smtp_server, stop_smtp_server
from cti.routing.tasks import TaskAgent
from cti.store import NewCustomer, Store

MSG = "From: Ann <ann@example.com>\r\nSubject: refund\r\nMessage-ID: <m1@example.com>\r\n\r\nwhere is it?\r\n"


def send(port: int, msg: str) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        return s.sendmail("ann@example.com", ["tasks@cti.example"], msg)


class Floor:
    """The router's view the component is fed: agents' states and waiting calls per queue."""

    def __init__(self) -> None:
        self.agents: list[TaskAgent] = []
        self.waiting: dict[str, int] = {}

    def __call__(self) -> tuple[Sequence[TaskAgent], Mapping[str, int]]:
        return self.agents, self.waiting


@contextlib.asynccontextmanager
async def running(comp: EmailComponent) -> AsyncIterator[Callable[[str], Awaitable[dict[str, Any]]]]:
    """The component's server up; yields ``send(message)`` (smtplib in an executor)."""
    run = asyncio.create_task(comp.run())
    loop = asyncio.get_running_loop()
    try:
        await comp.started.wait()
        assert comp.port
        port = comp.port
        yield lambda msg: loop.run_in_executor(None, send, port, msg)
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(db_url)
    try:
        yield opened
    finally:
        await opened.close()


class Pushed:
    """The console side: what was pushed to whom, with an event to wait on (no polling)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []
        self.arrived = asyncio.Event()

    def __call__(self, agent: str, message: dict[str, Any]) -> None:
        self.items.append((agent, message))
        self.arrived.set()


async def test_a_task_waits_for_a_call_then_reaches_the_idle_agent_and_the_reply_reaches_the_sink(
    store: Store,
) -> None:
    cid = await store.customers.add_customer(NewCustomer("Ann Lee", email="ann@example.com"))
    got: list[Accepted] = []
    delivered = asyncio.Event()

    def relayed(a: Accepted) -> None:
        got.append(a)
        delivered.set()

    sink_port = await start_smtp_server(InboundSink(relayed, lambda q: None))
    relay = sink_port.getHost().port
    floor = Floor()
    floor.agents = [TaskAgent("Alice", AgentState.AVAILABLE, frozenset({"email"}), frozenset({"sales"}))]
    floor.waiting = {"sales": 1}  # a call waits in Alice's queue: the task must wait
    pushed = Pushed()
    cfg = EmailConfig(enabled=True, port=0, relay_port=relay, send_attempts=1)
    comp = EmailComponent(cfg, store.email, push=pushed, feed=floor)
    try:
        async with running(comp) as mail:
            assert await mail(MSG) == {}
            [row] = await store.email.open_tasks()  # stored before the 250
            assert (row.state, row.customer_id, row.subject) == ("waiting", cid, "refund")
            comp.on_events([])
            assert [t.id for t in comp.tasks.waiting] == [str(row.id)] and comp.tasks.offered == {}
            floor.waiting = {"sales": 0}  # the call was answered elsewhere
            comp.on_events([])
            await pushed.arrived.wait()
            [(agent, offer)] = pushed.items
            assert agent == "Alice" and offer["type"] == "email_task" and offer["task"] == str(row.id)
            assert (offer["from"], offer["subject"], offer["customer"]["name"]) == (
                "ann@example.com",
                "refund",
                "Ann Lee",
            )
            with pytest.raises(TaskError):
                await comp.reply("Bob", str(row.id), "not yours")
            assert await comp.reply("Alice", str(row.id), "On its way.") == {
                "task": str(row.id),
                "state": "answered",
            }
            await delivered.wait()
            assert got[0].sender == "cti@localhost" and got[0].subject == "Re: refund"
            assert got[0].body.strip() == "On its way."
    finally:
        await stop_smtp_server(sink_port)
    done = await store.email.task(row.id)
    assert done is not None and (done.state, done.agent, done.reply) == ("answered", "Alice", "On its way.")
    assert [h.reply for h in await store.email.customer_history(cid)] == ["On its way."]


async def test_quarantine_is_stored_and_open_tasks_are_reloaded_after_a_restart(store: Store) -> None:
    cfg = EmailConfig(enabled=True, port=0)
    comp = EmailComponent(cfg, store.email)
    async with running(comp) as mail:
        assert await mail(MSG) == {}
        assert await mail("Auto-Submitted: auto-replied\r\n" + MSG) == {}
    [q] = await store.email.quarantined()
    assert q.reason == "auto-reply: Auto-Submitted auto-replied" and q.raw.startswith(b"Auto-Submitted")
    floor = Floor()
    floor.agents = [TaskAgent("Alice", AgentState.AVAILABLE, frozenset({"email"}), frozenset())]
    pushed = Pushed()
    again = EmailComponent(cfg, store.email, push=pushed, feed=floor)
    assert await again.reload() == 1
    assert again.dispatch() == ["Alice"]
    await pushed.arrived.wait()
    assert [m["subject"] for _, m in pushed.items] == ["refund"]
    assert isinstance(comp.quarantined[0], Quarantined)


async def test_a_task_offered_to_an_agent_who_logs_out_is_offered_to_the_next(store: Store) -> None:
    floor = Floor()
    floor.agents = [
        TaskAgent("Alice", AgentState.AVAILABLE, frozenset({"email"}), frozenset()),
        TaskAgent("Bob", AgentState.ON_CALL, frozenset({"email"}), frozenset()),
    ]
    pushed = Pushed()
    done: list[str] = []
    comp = EmailComponent(
        EmailConfig(enabled=True, port=0), store.email, push=pushed, feed=floor, done=done.append
    )
    async with running(comp) as mail:
        assert await mail(MSG) == {}
        assert list(comp.tasks.offered) == ["Alice"]
        floor.agents = [
            TaskAgent("Alice", AgentState.LOGGED_OUT, frozenset({"email"}), frozenset()),
            TaskAgent("Bob", AgentState.AVAILABLE, frozenset({"email"}), frozenset()),
        ]
        comp.on_events([])
        assert list(comp.tasks.offered) == ["Bob"] and not comp.tasks.waiting
        tid = comp.tasks.offered["Bob"].id
        await pushed.arrived.wait()
        with pytest.raises(TaskError):
            await comp.close("Alice", tid, "spam")
        assert await comp.close("Bob", tid, "spam") == {"task": tid, "state": "closed"}
    assert [a for a, _ in pushed.items] == ["Alice", "Bob"] and done == ["Alice", "Bob"]
    row = await store.email.task(int(tid))
    assert row is not None and (row.state, row.agent, row.disposition) == ("closed", "Bob", "spam")
