"""The daemon's e-mail component: the inbound ESMTP server, the task queue, its store and its console.

Every accepted message is stored as a task (``store.email``) before the SMTP answer, every quarantined
one with its raw bytes and reason; at start the tasks not yet handled are reloaded (one offered before a
restart waits again: its console is gone). ``dispatch`` runs when a task arrives and on every batch of
events (the router has seen them first: it is subscribed before): the feed gives the router's agents
(longest in their state first) and the calls waiting per queue, and the pure decision
(cti.routing.tasks) picks the agent. The offer goes to the agent's console (``push``: the hub); the
agent's reply is sent over SMTP (cti.mail.smtp_client, with retries) and closes the task.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Protocol

from cti.config import EmailConfig
from cti.core.events import AgentState, DomainEvent
from cti.mail import outbound
from cti.mail.imap import ImapFetcher, ImapTarget
from cti.mail.inbound import Accepted, LoopGuard, Quarantined, classify, sender_of
from cti.mail.service import EmailTask, EmailTasks, TaskError
from cti.mail.smtp_client import send_with_retry
from cti.mail.smtp_server import InboundSink, start_smtp_server, stop_smtp_server
from cti.routing.tasks import TaskAgent

if TYPE_CHECKING:
    from cti.delivery.service import RoutingService
    from cti.store.email_repo import EmailTaskRow

log = logging.getLogger("cti.mail")

Feed = Callable[[], tuple[Sequence[TaskAgent], Mapping[str, int]]]
Push = Callable[[str, dict[str, Any]], None]
# the agent works an e-mail task (None: no longer), and whether a call may ring it meanwhile: the router
# (cti.routing.router.Router.working_task) rings no agent working a task unless it allows it
Working = Callable[[str, "str | None", bool], None]
Sender = Callable[[EmailMessage], Awaitable[int]]


class EmailStore(Protocol):
    """``store.email`` (cti.store.email_repo.EmailRepository) as the component uses it."""

    async def add_task(
        self, *, sender: str, subject: str, body: str, message_id: str, received: float, deadline: float
    ) -> EmailTaskRow: ...

    async def open_tasks(self) -> list[EmailTaskRow]: ...

    async def offered(self, task_id: int, agent: str, *, at: float | None = None) -> bool: ...

    async def requeued(self, task_id: int) -> bool: ...

    async def answered(
        self, task_id: int, reply: str, disposition: str = "answered", *, at: float | None = None
    ) -> bool: ...

    async def closed(self, task_id: int, disposition: str, *, at: float | None = None) -> bool: ...

    async def customer_card(self, customer_id: int) -> dict[str, Any] | None: ...

    async def customer_history(self, customer_id: int, *, limit: int = 20) -> list[EmailTaskRow]: ...

    async def quarantine(self, sender: str, reason: str, raw: bytes, *, at: float | None = None) -> int: ...

    async def has_message(self, message_id: str) -> bool: ...

    async def customer_by_email(self, address: str) -> int | None: ...


def router_feed(routing: RoutingService) -> Feed:
    """The router's agents (longest in their state first) and its waiting calls per queue."""

    def feed() -> tuple[Sequence[TaskAgent], Mapping[str, int]]:
        r = routing.router
        waiting = Counter(w.queue for w in r.waiting(routing.now()))
        agents = [
            TaskAgent(a.agent, a.state, frozenset(a.skills), frozenset(r.queues_of(a.agent)))
            for a in sorted(r.agents(), key=lambda a: a.since)
        ]
        return agents, waiting

    return feed


class EmailComponent:
    def __init__(
        self,
        cfg: EmailConfig,
        store: EmailStore | None = None,
        *,
        push: Push | None = None,
        feed: Feed | None = None,
        send: Sender | None = None,
        done: Callable[[str], None] | None = None,
        working: Working | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.push = push
        self.feed = feed
        self.done = done  # the agent's task is no longer offered (the hub's snapshot forgets it)
        self.send: Sender = send or self._send
        self.working = working
        self.allowed: dict[str, bool] = {}  # agent -> may a call ring it during a task (default: config)
        self.clock = clock
        self.tasks = EmailTasks(self._offer, deadline_seconds=cfg.deadline_hours * 3600, clock=clock)
        self.quarantined: list[Quarantined] = []
        self.customers: dict[str, int | None] = {}  # task id -> customer id
        self.port: int | None = None
        self.guard = LoopGuard(cfg.loop_max_repeats, cfg.loop_window_seconds)
        self.imap: ImapFetcher | None = None
        self._imap_ids: set[str] = set()  # in memory only (no store): the IMAP messages taken already
        self.started = asyncio.Event()
        self._pending: set[asyncio.Task[None]] = set()
        self._tail: asyncio.Task[None] | None = None

    async def _send(self, msg: EmailMessage) -> int:
        c = self.cfg
        return await send_with_retry(msg, c.relay_host, c.relay_port, attempts=c.send_attempts)

    # ---- inbound -----------------------------------------------------------------------------------
    def _task(self, message: Accepted) -> None:
        if self.store is None:  # in memory only (tests of the server alone)
            self.tasks.add(message)
            self.dispatch()

    def _quarantine(self, q: Quarantined) -> None:
        self.quarantined.append(q)
        log.warning("e-mail quarantined from %r: %s (%d bytes)", q.sender, q.reason, len(q.raw))

    async def _persist(self, verdict: Accepted | Quarantined) -> None:
        assert self.store is not None
        if (
            isinstance(verdict, Accepted)
            and self.cfg.unknown_senders == "quarantine"
            and await self.store.customer_by_email(verdict.sender) is None
        ):
            log.warning("e-mail quarantined from %r: unknown sender", verdict.sender)
            await self.store.quarantine(verdict.sender, "unknown sender", verdict.raw, at=self.clock())
            return
        if isinstance(verdict, Quarantined):
            await self.store.quarantine(verdict.sender, verdict.reason, verdict.raw, at=self.clock())
            return
        now = self.clock()
        row = await self.store.add_task(
            sender=verdict.sender,
            subject=verdict.subject,
            body=verdict.body,
            message_id=verdict.message_id,
            received=now,
            deadline=self.tasks.deadline_of(now),
        )
        self._add(row)
        self.dispatch()

    async def imap_intake(self, raw: bytes, fallback_id: str, oversized: str = "") -> None:
        """A message fetched from the IMAP mailbox: the same rules as over SMTP; returns once stored
        (then the fetcher flags it \\Seen). One already stored (fetched again after a crash or a dropped
        connection: the same Message-ID, else the same mailbox UID) is not stored twice."""
        if oversized:
            verdict: Accepted | Quarantined = Quarantined(oversized, raw, sender_of(raw))
        else:
            verdict = classify(raw, size_limit=self.cfg.size_limit_bytes, guard=self.guard, at=self.clock())
        if isinstance(verdict, Quarantined):
            self._quarantine(verdict)
            if self.store is not None:
                await self._persist(verdict)
            return
        if not verdict.message_id:
            verdict = dataclasses.replace(verdict, message_id=fallback_id)
        if self.store is None:
            if verdict.message_id not in self._imap_ids:
                self._imap_ids.add(verdict.message_id)
                self._task(verdict)
            return
        if await self.store.has_message(verdict.message_id):
            log.info("e-mail %s from IMAP is stored already", verdict.message_id[:80])
            return
        await self._persist(verdict)

    def _add(self, row: EmailTaskRow) -> None:
        message = Accepted(row.sender, row.subject, row.body, row.message_id)
        task = self.tasks.add(message, task_id=str(row.id), received=row.received, deadline=row.deadline)
        self.customers[task.id] = row.customer_id

    async def reload(self) -> int:
        """The stored tasks not yet handled wait again; returns how many."""
        if self.store is None:
            return 0
        rows = await self.store.open_tasks()
        for row in rows:
            if row.state == "offered":
                await self.store.requeued(row.id)
            self._add(row)
        return len(rows)

    # ---- offers ------------------------------------------------------------------------------------
    def on_events(self, events: Sequence[DomainEvent], origin: str = "") -> None:
        """Bus handler: agents' states or waiting calls may have changed."""
        if self.tasks.waiting or self.tasks.offered:
            self.dispatch()

    def dispatch(self) -> list[str]:
        """Take back the tasks of agents who logged out, then offer the waiting ones."""
        if self.feed is None or not (self.tasks.waiting or self.tasks.offered):
            return []
        agents, waiting = self.feed()
        gone = {a.agent for a in agents if a.state is AgentState.LOGGED_OUT}
        known = {a.agent for a in agents}
        for agent in [a for a in self.tasks.offered if a in gone or a not in known]:
            task = self.tasks.take_back(agent)
            self._working(agent, None)
            if self.done is not None:
                self.done(agent)
            if task is not None and self.store is not None:
                log.info("e-mail task %s taken back from %s (logged out)", task.id, agent)
                self._spawn(self._requeued(int(task.id)))
        return self.tasks.dispatch(agents, waiting)

    async def _requeued(self, task_id: int) -> None:
        assert self.store is not None
        await self.store.requeued(task_id)

    def allow_calls(self, agent: str, allow: bool) -> None:
        """The agent allows (or not) a call to ring while it works an e-mail task."""
        self.allowed[agent] = allow
        task = self.tasks.offered_to(agent)
        if task is not None:
            self._working(agent, task.id)

    def _working(self, agent: str, task: str | None) -> None:
        if self.working is not None:
            self.working(agent, task, self.allowed.get(agent, self.cfg.calls_interrupt_tasks))

    def _offer(self, agent: str, task: EmailTask) -> None:
        log.info("e-mail task %s offered to %s", task.id, agent)
        self._working(agent, task.id)
        self._spawn(self._offered(agent, task))

    def _spawn(self, coro: Awaitable[None]) -> None:
        """Store transitions run one after another, in the order they happened (a take-back before the
        next offer of the same task)."""
        prev = self._tail

        async def in_turn() -> None:
            if prev is not None:
                await asyncio.gather(prev, return_exceptions=True)
            await coro

        t: asyncio.Task[None] = asyncio.ensure_future(in_turn())
        self._tail = t
        self._pending.add(t)
        t.add_done_callback(self._done)

    def _done(self, t: asyncio.Task[None]) -> None:
        self._pending.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.error("e-mail: storing a transition failed", exc_info=t.exception())

    async def _settled(self) -> None:
        if self._tail is not None:
            await asyncio.gather(self._tail, return_exceptions=True)

    async def _offered(self, agent: str, task: EmailTask) -> None:
        customer: dict[str, Any] | None = None
        history: list[dict[str, Any]] = []
        if self.store is not None:
            await self.store.offered(int(task.id), agent, at=self.clock())
            cid = self.customers.get(task.id)
            if cid is not None:
                customer = await self.store.customer_card(cid)
                history = [
                    h.to_json() for h in await self.store.customer_history(cid) if str(h.id) != task.id
                ]
        if self.push is not None:
            self.push(
                agent,
                {"type": "email_task", **self.task_json(task), "customer": customer, "history": history},
            )

    @staticmethod
    def task_json(task: EmailTask) -> dict[str, Any]:
        m = task.message
        return {
            "task": task.id,
            "from": m.sender,
            "subject": m.subject,
            "body": m.body,
            "received": task.received,
            "deadline": task.deadline,
        }

    # ---- the agent's answer ------------------------------------------------------------------------
    def _offered_task(self, agent: str, task_id: str) -> EmailTask:
        task = self.tasks.offered_to(agent)
        if task is None or task.id != task_id:
            raise TaskError("unknown_task", f"e-mail task {task_id[:40]!r} is not offered to {agent}")
        return task

    async def reply(
        self, agent: str, task_id: str, body: str, disposition: str = "answered"
    ) -> dict[str, Any]:
        """Send the agent's reply to the customer (the relay, with retries), then close the task."""
        task = self._offered_task(agent, task_id)
        await self._settled()
        m = task.message
        msg = outbound.reply(self.cfg.from_address, m.sender, m.subject, body, in_reply_to=m.message_id)
        try:
            await self.send(msg)
        except Exception as exc:  # the task stays offered: the agent may try again
            raise TaskError("send_failed", f"the reply could not be sent: {exc}") from None
        if self.store is not None:
            await self.store.answered(int(task.id), body, disposition or "answered", at=self.clock())
        self._closed(agent)
        return {"task": task.id, "state": "answered"}

    async def close(self, agent: str, task_id: str, disposition: str) -> dict[str, Any]:
        """A disposition without a reply (spam, answered by phone...)."""
        task = self._offered_task(agent, task_id)
        await self._settled()
        if self.store is not None:
            await self.store.closed(int(task.id), disposition, at=self.clock())
        self._closed(agent)
        return {"task": task.id, "state": "closed"}

    def _closed(self, agent: str) -> None:
        self.tasks.close(agent)
        self._working(agent, None)
        if self.done is not None:
            self.done(agent)
        self.dispatch()

    # ---- the component -----------------------------------------------------------------------------
    async def run(self) -> None:
        c = self.cfg
        reloaded = await self.reload()
        sink = InboundSink(
            self._task,
            self._quarantine,
            size_limit=c.size_limit_bytes,
            guard=self.guard,
            persist=self._persist if self.store is not None else None,
        )
        listening: Any = await start_smtp_server(sink, c.host, c.port)
        self.port = listening.getHost().port
        log.info("e-mail: ESMTP server on %s:%d (%d stored tasks waiting)", c.host, self.port, reloaded)
        imap: asyncio.Task[None] | None = None
        if c.imap_url:
            target = ImapTarget.parse(c.imap_url)
            self.imap = ImapFetcher(
                target, self.imap_intake, poll_seconds=c.imap_poll_seconds, size_limit=c.size_limit_bytes
            )
            imap = asyncio.ensure_future(self.imap.run())
        self.started.set()
        self.dispatch()
        try:
            await asyncio.Event().wait()
        finally:
            if imap is not None:
                imap.cancel()
                await asyncio.gather(imap, return_exceptions=True)
            await stop_smtp_server(listening)
            for t in list(self._pending):
                t.cancel()
