"""store.callbacks on SQLite and PostgreSQL: a key press stored once, due ones claimed once, attempts."""

from __future__ import annotations

import pytest

from cti.core.errors import UsageError
from cti.store import NewCustomer, Store


async def test_a_key_press_is_stored_once_whichever_instance_sees_it(store: Store) -> None:
    first = await store.callbacks.add(
        "+1 (212) 555-0100", "sales", "key", due_at=100.0, entered=40.0, origin="sim/1.1", status="queued"
    )
    again = await store.callbacks.add("2125550100", "sales", "key", due_at=101.0, origin="sim/1.1")
    assert first is not None and again is None
    assert (first.e164, first.entered, first.due_at, first.status) == ("+12125550100", 40.0, 100.0, "queued")
    with pytest.raises(UsageError):
        await store.callbacks.add("not a number", "sales", "web", due_at=1.0)


async def test_due_callbacks_are_claimed_once_in_place_order_and_released_at_shutdown(store: Store) -> None:
    late = await store.callbacks.add("+12125550101", "sales", "web", due_at=50.0, entered=50.0)
    early = await store.callbacks.add(
        "+12125550102", "sales", "agent", due_at=60.0, entered=10.0, agent="Alice"
    )
    future = await store.callbacks.add("+12125550103", "sales", "web", due_at=500.0)
    assert late and early and future
    claimed = await store.callbacks.claim_due("t1", 100.0)
    assert [c.id for c in claimed] == [early.id, late.id] and {c.status for c in claimed} == {"queued"}
    assert await store.callbacks.claim_due("t2", 100.0) == []  # each one by one instance
    assert await store.callbacks.next_due() == 500.0
    assert await store.callbacks.release("t1") == 2
    assert [c.id for c in await store.callbacks.claim_due("t2", 100.0)] == [early.id, late.id]


async def test_attempts_are_kept_with_the_outcome_and_the_number_history(store: Store) -> None:
    await store.customers.add_customer(NewCustomer("Ana Lima", phones=["+12125550100"]))
    cb = await store.callbacks.add("+12125550100", "sales", "web", due_at=10.0, created_by="Alice", at=5.0)
    assert cb is not None and cb.customer_id is not None  # linked to the customer who has the number
    await store.callbacks.record_attempt(cb.id, at=20.0, agent="Bob", outcome="busy", status="queued")
    await store.callbacks.record_attempt(
        cb.id, at=200.0, agent="Carol", outcome="answered", status="done", linkedid="lid-1"
    )
    row = await store.callbacks.get(cb.id)
    assert row is not None and (row.status, row.attempts, row.outcome, row.linkedid) == (
        "done",
        2,
        "answered",
        "lid-1",
    )
    assert [(a["agent"], a["outcome"]) for a in row.attempts_log] == [("Bob", "busy"), ("Carol", "answered")]
    assert [c.id for c in await store.callbacks.of_number("212 555 0100")] == [cb.id]
    assert await store.callbacks.of_agent("Alice") == []  # done: not open any more
    assert [c.id for c in await store.callbacks.of_agent("Alice", open_only=False)] == [cb.id]
    assert not await store.callbacks.set_status(cb.id, "cancelled")  # a finished one stays finished
