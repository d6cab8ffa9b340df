"""store.email on SQLite and PostgreSQL: tasks linked to the customer by address, transitions, reload,
a customer's e-mails, quarantine keeps the raw bytes."""

from __future__ import annotations

import pytest

from cti.core.errors import UsageError
from cti.store import NewCustomer, Store


async def test_a_task_is_linked_to_the_customer_by_address_and_moves_through_its_states(store: Store) -> None:
    cid = await store.customers.add_customer(NewCustomer("Ann Lee", email="Ann.Lee@Example.com"))
    t = await store.email.add_task(
        sender="ann.lee@example.com",
        subject="Refund",
        body="Where is it?",
        message_id="<m1@x>",
        received=100.0,
        deadline=200.0,
    )
    stranger = await store.email.add_task(
        sender="who@nowhere.org", subject="Hi", body="", message_id="", received=101.0, deadline=201.0
    )
    assert t.customer_id == cid and t.state == "waiting" and stranger.customer_id is None
    assert [x.id for x in await store.email.open_tasks()] == [t.id, stranger.id]
    assert await store.email.offered(t.id, "Alice", at=110.0)
    assert not await store.email.offered(t.id, "Bob", at=111.0)  # offered once
    assert await store.email.answered(t.id, "It is on its way.", at=150.0)
    assert not await store.email.closed(t.id, "spam")  # handled already
    done = await store.email.task(t.id)
    assert done is not None
    assert (done.state, done.agent, done.offered_at, done.answered_at, done.reply) == (
        "answered",
        "Alice",
        110.0,
        150.0,
        "It is on its way.",
    )
    assert [x.id for x in await store.email.open_tasks()] == [stranger.id]
    history = await store.email.customer_history(cid)
    assert [(h.subject, h.body, h.reply) for h in history] == [
        ("Refund", "Where is it?", "It is on its way.")
    ]
    assert done.to_json()["from"] == "ann.lee@example.com"
    with pytest.raises(UsageError):
        await store.email.add_task(
            sender="nobody", subject="", body="", message_id="", received=1, deadline=2
        )


async def test_an_offered_task_goes_back_to_waiting_and_a_closed_one_keeps_its_disposition(
    store: Store,
) -> None:
    t = await store.email.add_task(
        sender="a@b.c", subject="s", body="b", message_id="", received=1.0, deadline=2.0
    )
    assert await store.email.offered(t.id, "Alice", at=1.5)
    assert await store.email.requeued(t.id)
    assert [x.state for x in await store.email.open_tasks()] == ["waiting"]
    assert await store.email.closed(t.id, "spam", at=3.0)
    closed = await store.email.task(t.id)
    assert closed is not None and (closed.state, closed.disposition, closed.handled_at) == (
        "closed",
        "spam",
        3.0,
    )
    assert await store.email.open_tasks() == []


async def test_quarantine_keeps_the_raw_bytes_and_the_reason(store: Store) -> None:
    raw = b"From: x@y\r\nContent-Type: multipart/mixed\r\n\r\n\x00\xff binary"
    qid = await store.email.quarantine("x@y", "malformed MIME: NoBoundary", raw, at=5.0)
    [q] = await store.email.quarantined()
    assert (q.id, q.sender, q.reason, q.raw, q.received) == (
        qid,
        "x@y",
        "malformed MIME: NoBoundary",
        raw,
        5.0,
    )


async def test_metric_rows_feed_the_email_metrics_per_agent(store: Store) -> None:
    from cti.reports.email_metrics import email_metrics

    late = await store.email.add_task(
        sender="a@b.c", subject="1", body="", message_id="", received=10.0, deadline=20.0
    )
    ontime = await store.email.add_task(
        sender="a@b.c", subject="2", body="", message_id="", received=11.0, deadline=100.0
    )
    await store.email.add_task(
        sender="a@b.c", subject="3", body="", message_id="", received=12.0, deadline=50.0
    )
    await store.email.offered(late.id, "Alice", at=15.0)
    await store.email.answered(late.id, "sorry", at=30.0)
    await store.email.offered(ontime.id, "Alice", at=12.0)
    await store.email.answered(ontime.id, "yes", at=22.0)
    [alice] = email_metrics(await store.email.metric_rows(0.0, 100.0))
    assert (alice.agent, alice.offered, alice.answered, alice.answered_in_deadline, alice.handle_time) == (
        "Alice",
        2,
        2,
        1,
        12.5,
    )
    assert await store.email.metric_rows(11.5, 100.0) != [] and len(await store.email.metric_rows(0, 11)) == 1
