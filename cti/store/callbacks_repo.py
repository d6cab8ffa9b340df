"""Callbacks (``store.callbacks``): promises to call a customer back, their place and their attempts.

The routing edge (cti.delivery.callbacks) adds them (a key press, the HTTP API, an agent's disposition),
claims the due ones for its router (one instance each: ``claim_due``), and records every attempt; the
agent console lists an agent's own; the caller's history shows a number's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, or_, select, update

from cti.core.errors import UsageError
from cti.store.database import Repository, callbacks_t, fit, phones_t

OPEN = ("scheduled", "queued", "dialing")
FINAL = ("done", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class CallbackRow:
    id: int
    e164: str
    queue: str
    source: str
    agent: str | None
    created_by: str
    note: str
    created_at: float
    due_at: float
    entered: float
    status: str
    attempts: int
    outcome: str | None
    attempts_log: list[dict[str, Any]] = field(default_factory=list)
    customer_id: int | None = None
    linkedid: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.e164,
            "queue": self.queue,
            "source": self.source,
            "agent": self.agent,
            "created_by": self.created_by,
            "note": self.note,
            "created_at": self.created_at,
            "due_at": self.due_at,
            "status": self.status,
            "attempts": self.attempts,
            "outcome": self.outcome,
            "attempts_log": list(self.attempts_log),
        }


def _row(r: Any) -> CallbackRow:
    return CallbackRow(
        r.id,
        r.e164,
        r.queue,
        r.source,
        r.agent,
        r.created_by,
        r.note,
        r.created_at,
        r.due_at,
        r.entered,
        r.status,
        r.attempts,
        r.outcome,
        list(r.attempts_log or []),
        r.customer_id,
        r.linkedid,
    )


class CallbackRepository(Repository):
    async def add(
        self,
        number: str,
        queue: str,
        source: str,
        *,
        due_at: float,
        entered: float | None = None,
        agent: str | None = None,
        created_by: str = "",
        note: str = "",
        origin: str | None = None,
        status: str = "scheduled",
        owner: str | None = None,
        at: float | None = None,
    ) -> CallbackRow | None:
        """A new callback; None when one with this ``origin`` (a key press) exists already (another
        instance watching the same Asterisk took it)."""
        e164 = self.normalize(number)
        if e164 is None:
            raise UsageError(f"not a phone number: {number!r}")
        now = time.time() if at is None else at
        async with self.db.writing() as conn:
            if origin is not None:
                found = await conn.execute(select(callbacks_t.c.id).where(callbacks_t.c.origin == origin))
                if found.first() is not None:
                    return None
            customer = (
                await conn.execute(select(phones_t.c.customer_id).where(phones_t.c.e164 == e164).limit(1))
            ).scalar()
            values = fit(
                callbacks_t,
                {
                    "origin": origin,
                    "e164": e164,
                    "customer_id": customer,
                    "queue": queue,
                    "source": source,
                    "agent": agent,
                    "created_by": created_by,
                    "note": note,
                    "created_at": now,
                    "due_at": due_at,
                    "entered": due_at if entered is None else entered,
                    "status": status,
                    "owner": owner,
                    "attempts": 0,
                    "attempts_log": [],
                },
            )
            result = await conn.execute(callbacks_t.insert().values(**values))
            key = result.inserted_primary_key
            assert key is not None
            new_id = int(key[0])
            row = (await conn.execute(select(callbacks_t).where(callbacks_t.c.id == new_id))).one()
        return _row(row)

    async def get(self, callback_id: int) -> CallbackRow | None:
        async with self.db.reader.connect() as conn:
            row = (await conn.execute(select(callbacks_t).where(callbacks_t.c.id == callback_id))).first()
        return None if row is None else _row(row)

    async def claim_due(self, owner: str, until: float, *, limit: int = 100) -> list[CallbackRow]:
        """The scheduled callbacks due by ``until``, now queued in ``owner``'s router (each claimed once)."""
        async with self.db.writing() as conn:
            rows = (
                await conn.execute(
                    select(callbacks_t)
                    .where(callbacks_t.c.status == "scheduled", callbacks_t.c.due_at <= until)
                    .order_by(callbacks_t.c.entered, callbacks_t.c.id)
                    .limit(limit)
                )
            ).all()
            claimed = []
            for row in rows:
                done = await conn.execute(
                    update(callbacks_t)
                    .where(callbacks_t.c.id == row.id, callbacks_t.c.status == "scheduled")
                    .values(status="queued", owner=owner)
                )
                if getattr(done, "rowcount", 0):
                    claimed.append(replace(_row(row), status="queued"))
        return claimed

    async def next_due(self) -> float | None:
        async with self.db.reader.connect() as conn:
            due = (
                await conn.execute(
                    select(func.min(callbacks_t.c.due_at)).where(callbacks_t.c.status == "scheduled")
                )
            ).scalar()
        return None if due is None else float(due)

    async def record_attempt(
        self,
        callback_id: int,
        *,
        at: float,
        agent: str,
        outcome: str,
        status: str,
        linkedid: str | None = None,
    ) -> None:
        """One attempt's outcome, and the callback's status after it (``done``, ``queued``, ``failed``)."""
        async with self.db.writing() as conn:
            row = (
                await conn.execute(
                    select(callbacks_t.c.attempts, callbacks_t.c.attempts_log).where(
                        callbacks_t.c.id == callback_id
                    )
                )
            ).first()
            if row is None:
                return
            log = [*list(row.attempts_log or []), {"at": at, "agent": agent, "outcome": outcome}]
            values: dict[str, Any] = {
                "attempts": row.attempts + 1,
                "attempts_log": log,
                "outcome": outcome,
                "status": status,
            }
            if linkedid is not None:
                values["linkedid"] = linkedid
            if status in FINAL:
                values["finished_at"] = at
            await conn.execute(update(callbacks_t).where(callbacks_t.c.id == callback_id).values(**values))

    async def set_status(self, callback_id: int, status: str, *, at: float | None = None) -> bool:
        values: dict[str, Any] = {"status": status}
        if status in FINAL:
            values["finished_at"] = time.time() if at is None else at
        if status == "scheduled":
            values["owner"] = None
        async with self.db.writing() as conn:
            done = await conn.execute(
                update(callbacks_t)
                .where(callbacks_t.c.id == callback_id, callbacks_t.c.status.in_(OPEN))
                .values(**values)
            )
        return bool(getattr(done, "rowcount", 0))

    async def release(self, owner: str) -> int:
        """The callbacks ``owner`` queued but did not finish go back to scheduled (at its start, or
        shutdown): another instance, or this one again, picks them up with their place."""
        async with self.db.writing() as conn:
            done = await conn.execute(
                update(callbacks_t)
                .where(callbacks_t.c.owner == owner, callbacks_t.c.status.in_(("queued", "dialing")))
                .values(status="scheduled", owner=None)
            )
        return int(getattr(done, "rowcount", 0) or 0)

    async def of_agent(self, agent: str, *, open_only: bool = True, limit: int = 100) -> list[CallbackRow]:
        """The callbacks an agent scheduled or that are theirs to make, soonest first."""
        q = select(callbacks_t).where(or_(callbacks_t.c.agent == agent, callbacks_t.c.created_by == agent))
        if open_only:
            q = q.where(callbacks_t.c.status.in_(OPEN))
        async with self.db.reader.connect() as conn:
            rows = (await conn.execute(q.order_by(callbacks_t.c.due_at, callbacks_t.c.id).limit(limit))).all()
        return [_row(r) for r in rows]

    async def of_number(self, number: str, *, limit: int = 20) -> list[CallbackRow]:
        """A number's callbacks, newest first: the callback part of the customer's contact history."""
        e164 = self.normalize(number)
        if e164 is None:
            return []
        async with self.db.reader.connect() as conn:
            rows = (
                await conn.execute(
                    select(callbacks_t)
                    .where(callbacks_t.c.e164 == e164)
                    .order_by(callbacks_t.c.created_at.desc(), callbacks_t.c.id.desc())
                    .limit(limit)
                )
            ).all()
        return [_row(r) for r in rows]
