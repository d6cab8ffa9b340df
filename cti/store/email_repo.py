"""E-mail tasks and quarantined messages (``store.email``): the e-mail channel's durable state (issue #13).

The daemon's e-mail component (cti/mail/component.py) stores every accepted message as a task before
it is offered, every quarantined message with its raw bytes and reason, and each transition (offered,
answered with its reply, closed); at start it reloads the tasks not yet handled. A customer's e-mails
(the original and the reply) are their e-mail contact history (``customer_history``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from cti.core.errors import UsageError
from cti.reports.email_metrics import EmailTask as EmailMetricTask
from cti.store.database import Repository, customers_t, email_quarantine_t, email_tasks_t, fit

OPEN_STATES = ("waiting", "offered")


@dataclass(frozen=True, slots=True)
class EmailTaskRow:
    id: int
    message_id: str
    sender: str
    subject: str
    body: str
    customer_id: int | None
    received: float
    deadline: float
    state: str
    agent: str | None
    offered_at: float | None
    answered_at: float | None
    handled_at: float | None
    disposition: str
    reply: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "message_id": self.message_id,
            "from": self.sender,
            "subject": self.subject,
            "body": self.body,
            "customer_id": self.customer_id,
            "received": self.received,
            "deadline": self.deadline,
            "state": self.state,
            "agent": self.agent,
            "offered_at": self.offered_at,
            "answered_at": self.answered_at,
            "handled_at": self.handled_at,
            "disposition": self.disposition,
            "reply": self.reply,
        }


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    id: int
    sender: str
    reason: str
    raw: bytes
    received: float


def _task(r: Any) -> EmailTaskRow:
    return EmailTaskRow(
        r.id,
        r.message_id,
        r.sender,
        r.subject,
        r.body,
        r.customer_id,
        r.received,
        r.deadline,
        r.state,
        r.agent,
        r.offered_at,
        r.answered_at,
        r.handled_at,
        r.disposition,
        r.reply,
    )


class EmailRepository(Repository):
    async def customer_by_email(self, address: str) -> int | None:
        """The customer whose ``email`` is this address (case-insensitive); the lowest id if several."""
        a = address.strip().lower()
        if not a:
            return None
        async with self.db.reader.connect() as conn:
            found = await conn.execute(
                select(customers_t.c.id)
                .where(func.lower(customers_t.c.email) == a)
                .order_by(customers_t.c.id)
                .limit(1)
            )
            return found.scalar()

    async def add_task(
        self,
        *,
        sender: str,
        subject: str,
        body: str,
        message_id: str,
        received: float,
        deadline: float,
    ) -> EmailTaskRow:
        """A new waiting task, linked to the customer found by the sender's address."""
        if "@" not in sender:
            raise UsageError(f"not an e-mail address: {sender!r}")
        customer = await self.customer_by_email(sender)
        values = fit(
            email_tasks_t,
            {
                "message_id": message_id,
                "sender": sender,
                "subject": subject,
                "body": body,
                "customer_id": customer,
                "received": received,
                "deadline": deadline,
                "state": "waiting",
                "disposition": "",
            },
        )
        async with self.db.writing() as conn:
            res = await conn.execute(email_tasks_t.insert().values(values).returning(email_tasks_t.c.id))
            new_id = int(res.scalar_one())
        task = await self.task(new_id)
        assert task is not None
        return task

    async def has_message(self, message_id: str) -> bool:
        """A task with this Message-ID is stored (an IMAP message fetched again is not stored twice)."""
        if not message_id:
            return False
        async with self.db.reader.connect() as conn:
            found = await conn.execute(
                select(email_tasks_t.c.id).where(email_tasks_t.c.message_id == message_id[:998]).limit(1)
            )
            return found.first() is not None

    async def task(self, task_id: int) -> EmailTaskRow | None:
        async with self.db.reader.connect() as conn:
            r = (await conn.execute(select(email_tasks_t).where(email_tasks_t.c.id == task_id))).first()
        return None if r is None else _task(r)

    async def open_tasks(self) -> list[EmailTaskRow]:
        """Tasks not yet handled (waiting or offered), oldest first: what the daemon reloads at start."""
        async with self.db.reader.connect() as conn:
            rows = await conn.execute(
                select(email_tasks_t)
                .where(email_tasks_t.c.state.in_(OPEN_STATES))
                .order_by(email_tasks_t.c.received, email_tasks_t.c.id)
            )
            return [_task(r) for r in rows]

    async def _set(self, task_id: int, states: tuple[str, ...], **values: Any) -> bool:
        async with self.db.writing() as conn:
            res = await conn.execute(
                update(email_tasks_t)
                .where(email_tasks_t.c.id == task_id, email_tasks_t.c.state.in_(states))
                .values(**values)
            )
            return bool(res.rowcount)

    async def offered(self, task_id: int, agent: str, *, at: float | None = None) -> bool:
        now = time.time() if at is None else at
        return await self._set(task_id, ("waiting",), state="offered", agent=agent, offered_at=now)

    async def requeued(self, task_id: int) -> bool:
        """Back to waiting (the agent went away before handling it)."""
        return await self._set(task_id, ("offered",), state="waiting", agent=None, offered_at=None)

    async def answered(
        self, task_id: int, reply: str, disposition: str = "answered", *, at: float | None = None
    ) -> bool:
        """A reply was sent: the task is handled (``answered_at`` = ``handled_at``)."""
        now = time.time() if at is None else at
        return await self._set(
            task_id,
            OPEN_STATES,
            state="answered",
            reply=reply,
            disposition=disposition[:64],
            answered_at=now,
            handled_at=now,
        )

    async def closed(self, task_id: int, disposition: str, *, at: float | None = None) -> bool:
        """Handled without a reply (spam, duplicate, answered by phone...)."""
        now = time.time() if at is None else at
        return await self._set(
            task_id, OPEN_STATES, state="closed", disposition=disposition[:64], handled_at=now
        )

    async def customer_history(self, customer_id: int, *, limit: int = 20) -> list[EmailTaskRow]:
        """The customer's e-mails, newest first: each row is the original and, once answered, the reply."""
        async with self.db.reader.connect() as conn:
            rows = await conn.execute(
                select(email_tasks_t)
                .where(email_tasks_t.c.customer_id == customer_id)
                .order_by(email_tasks_t.c.received.desc(), email_tasks_t.c.id.desc())
                .limit(max(0, limit))
            )
            return [_task(r) for r in rows]

    async def customer_card(self, customer_id: int) -> dict[str, Any] | None:
        """What the e-mail task card shows of the customer: name, company, address, tier, language."""
        async with self.db.reader.connect() as conn:
            r = (await conn.execute(select(customers_t).where(customers_t.c.id == customer_id))).first()
        if r is None:
            return None
        return {
            "id": r.id,
            "name": r.name,
            "company": r.company,
            "email": r.email,
            "tier": r.tier,
            "language": r.language,
        }

    async def metric_rows(self, start: float, end: float) -> list[EmailMetricTask]:
        """The tasks received in [start, end) as cti.reports.email_metrics counts them (the agent is the
        last one offered the task: an offer taken back is not counted)."""
        async with self.db.reader.connect() as conn:
            rows = await conn.execute(
                select(email_tasks_t)
                .where(email_tasks_t.c.received >= start, email_tasks_t.c.received < end)
                .order_by(email_tasks_t.c.id)
            )
            return [
                EmailMetricTask(
                    r.agent or "", r.received, r.deadline, r.offered_at, r.answered_at, r.handled_at
                )
                for r in rows
            ]

    async def quarantine(self, sender: str, reason: str, raw: bytes, *, at: float | None = None) -> int:
        now = time.time() if at is None else at
        values = fit(email_quarantine_t, {"sender": sender, "reason": reason, "received": now})
        values["raw"] = raw
        async with self.db.writing() as conn:
            res = await conn.execute(
                email_quarantine_t.insert().values(values).returning(email_quarantine_t.c.id)
            )
            return int(res.scalar_one())

    async def quarantined(self, *, limit: int = 100) -> list[QuarantineRow]:
        async with self.db.reader.connect() as conn:
            rows = await conn.execute(
                select(email_quarantine_t).order_by(email_quarantine_t.c.id.desc()).limit(max(0, limit))
            )
            return [QuarantineRow(r.id, r.sender, r.reason, bytes(r.raw), r.received) for r in rows]
