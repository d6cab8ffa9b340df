"""Fulfilment: the catalogue and requests in the store (SQLite and PostgreSQL), the documents e-mailed as
attachments over a real socket, a failed delivery retried with a stored backoff that survives a restart,
given up after the last attempt with the reason in the customer's card; a reply is not held up by
another message's backoff."""

from __future__ import annotations

import asyncio
import email
import json
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from cti.config import EmailConfig
from cti.core.errors import UsageError
from cti.mail.fulfilment import FulfilmentError, FulfilmentSender, next_try
from cti.mail.inbound import Accepted, Quarantined
from cti.mail.outbound import reply
from cti.mail.smtp_client import send_once
from cti.mail.smtp_server import InboundSink, start_smtp_server, stop_smtp_server
from cti.store import NewCustomer, Store


class Relay(InboundSink):
    """A local SMTP server keeping each message's raw bytes; refuses (550) while ``refuse`` > 0."""

    raws: list[bytes]
    refuse: int


async def relay() -> tuple[Relay, object]:
    sink = Relay(lambda a: None, lambda q: None)
    sink.raws, sink.refuse = [], 0
    original = sink.handle

    def handle(raw: bytes) -> Accepted | Quarantined:
        sink.raws.append(raw)
        return original(raw)

    async def persist(verdict: Accepted | Quarantined) -> None:
        if sink.refuse > 0 and isinstance(verdict, Accepted) and verdict.subject == "Your documents":
            sink.refuse -= 1
            raise RuntimeError("mailbox unavailable")

    sink.handle = handle  # type: ignore[method-assign]
    sink.persist = persist
    return sink, await start_smtp_server(sink)


def test_the_retry_schedule() -> None:
    assert next_try(1, 3, 60.0, 1000.0) == 1060.0
    assert next_try(2, 3, 60.0, 1000.0) == 1240.0
    assert next_try(3, 3, 60.0, 1000.0) is None
    assert next_try(1, 1, 60.0, 1000.0) is None


async def test_catalogue_requests_and_the_customer_card(db_url: str, tmp_path: Path) -> None:
    store = await Store.open(db_url, default_country="US")
    try:
        f = store.fulfilment
        cid = await store.customers.add_customer(
            NewCustomer("Ann Lee", phones=["+1 212 555 0100"], email="ann@example.com")
        )
        nomail = await store.customers.add_customer(NewCustomer("Bo", phones=["+1 212 555 0101"]))
        pdf = await f.add_document("Price list", content=b"%PDF-1.4 prices", filename="prices.pdf")
        leaflet = tmp_path / "leaflet.txt"
        leaflet.write_text("hello")
        linked = await f.add_document("Leaflet", path=str(leaflet))
        assert (pdf.mime_type, linked.mime_type, linked.size) == ("application/pdf", "text/plain", None)
        with pytest.raises(UsageError):
            await f.add_document("Both", path="x", content=b"y")
        assert [d.name for d in await f.documents()] == ["Leaflet", "Price list"]
        with pytest.raises(UsageError, match="no e-mail address"):
            await f.request(nomail, [pdf.id], agent="Alice", at=10.0)
        with pytest.raises(UsageError, match="no such document"):
            await f.request(cid, [999], agent="Alice", at=10.0)
        r = await f.request(cid, [pdf.id, linked.id, pdf.id], agent="Alice", linkedid="1.1", at=100.0)
        assert (r.status, r.address, r.documents, r.names) == (
            "pending",
            "ann@example.com",
            [pdf.id, linked.id],
            "Price list, Leaflet",
        )
        assert await f.attempted(r.id, error="refused", next_attempt=160.0, at=100.5)
        again = await f.fulfilment(r.id)
        assert again is not None and (again.attempts, again.next_attempt, again.last_error) == (
            1,
            160.0,
            "refused",
        )
        assert await f.attempted(r.id, error="refused again", at=161.0)  # given up
        assert not await f.attempted(r.id, at=170.0)  # no longer pending
        sent = await f.request(cid, [pdf.id], agent="Bob", at=200.0)
        assert [p.id for p in await f.pending()] == [sent.id]
        assert await f.attempted(sent.id, message_id="<m@x>", at=201.0)
        task = await store.email.add_task(
            sender="ann@example.com", subject="Refund", body="?", message_id="", received=50.0, deadline=99.0
        )
        assert await store.email.offered(task.id, "Carol", at=55.0)
        assert await store.email.answered(task.id, "On its way", at=60.0)
        card = (await store.customers.lookup_caller("+12125550100")).customers[0]
        assert [(c.kind, c.at, c.status, c.agent) for c in card.contacts] == [
            ("documents", 201.0, "sent", "Bob"),
            ("documents", 100.0, "failed", "Alice"),
            ("reply", 60.0, "answered", "Carol"),
            ("email", 50.0, "answered", "Carol"),
        ]
        assert card.contacts[1].detail == "Price list, Leaflet: refused again"
        assert card.to_json()["contacts"][0]["detail"] == "Price list"
    finally:
        await store.close()


async def test_documents_are_sent_retried_after_a_restart_and_given_up(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}")
    sink, port = await relay()
    now = [1000.0]
    try:
        cid = await store.customers.add_customer(NewCustomer("Ann Lee", email="ann@example.com"))
        doc = await store.fulfilment.add_document("Price list", content=b"%PDF-1.4 prices", filename="p.pdf")
        cfg = EmailConfig(
            relay_port=port.getHost().port,  # type: ignore[attr-defined]
            from_address="service@cti.example",
            fulfilment_attempts=3,
            fulfilment_retry_seconds=60.0,
        )
        sender = FulfilmentSender(cfg, store.fulfilment, clock=lambda: now[0])
        with pytest.raises(FulfilmentError):
            await sender.request("Alice", cid, [12345])
        sink.refuse = 1
        out = await sender.request("Alice", cid, [doc.id], "1700.1")
        assert await sender.tick() is None  # the attempt runs
        await asyncio.gather(*sender._tasks)
        row = await store.fulfilment.fulfilment(out["fulfilment"])
        assert row is not None and (row.status, row.attempts, row.next_attempt) == ("pending", 1, 1060.0)
        assert "550" in row.last_error or "mailbox" in row.last_error
        # the daemon restarts: a new sender finds the stored retry, not due yet, then due
        sender = FulfilmentSender(cfg, store.fulfilment, clock=lambda: now[0])
        assert await sender.tick() == 1060.0 and not sender._tasks
        now[0] = 1061.0
        await sender.tick()
        await asyncio.gather(*sender._tasks)
        row = await store.fulfilment.fulfilment(out["fulfilment"])
        assert row is not None and (row.status, row.attempts, row.sent_at) == ("sent", 2, 1061.0)
        msg = email.message_from_bytes(sink.raws[-1], policy=policy.default)
        assert isinstance(msg, EmailMessage)
        assert msg["To"] == "ann@example.com" and msg["Subject"] == "Your documents"
        [attachment] = list(msg.iter_attachments())
        assert attachment.get_filename() == "p.pdf" and attachment.get_content() == b"%PDF-1.4 prices"
        # every attempt fails: given up after the third, the reason kept
        sink.refuse = 10
        gone = await sender.request("Alice", cid, [doc.id])
        for t in (1100.0, 1200.0, 1500.0):
            now[0] = t
            await sender.tick()
            await asyncio.gather(*sender._tasks)
        row = await store.fulfilment.fulfilment(gone["fulfilment"])
        assert row is not None and (row.status, row.attempts, row.next_attempt) == ("failed", 3, None)
        assert row.last_error and sender.failed == 1 and sender.sent == 1
    finally:
        await stop_smtp_server(port)
        await store.close()


async def test_a_reply_is_not_held_up_by_a_fulfilment_waiting_for_its_retry(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}")
    sink, port = await relay()
    relay_port = port.getHost().port  # type: ignore[attr-defined]
    try:
        cid = await store.customers.add_customer(NewCustomer("Ann Lee", email="ann@example.com"))
        doc = await store.fulfilment.add_document("Price list", content=b"x", filename="p.pdf")
        cfg = EmailConfig(relay_port=relay_port, fulfilment_retry_seconds=600.0)
        sender = FulfilmentSender(cfg, store.fulfilment)
        running = asyncio.ensure_future(sender.run())
        sink.refuse = 1
        out = await sender.request("Alice", cid, [doc.id])

        async def in_backoff() -> None:
            while True:
                row = await store.fulfilment.fulfilment(out["fulfilment"])
                if row is not None and row.attempts == 1:
                    return
                await asyncio.sleep(0.02)

        await asyncio.wait_for(in_backoff(), 10)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.wait_for(
            send_once(reply("cti@x.example", "ann@example.com", "q", "a"), "127.0.0.1", relay_port), 5
        )
        assert loop.time() - started < 5
        assert b"Subject: Re: q" in sink.raws[-1]
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    finally:
        await stop_smtp_server(port)
        await store.close()


def test_cti_store_documents_loads_the_catalogue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cti.cli import main

    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    pdf = tmp_path / "prices.pdf"
    pdf.write_bytes(b"%PDF-1.4 prices")
    assert main(["store", "documents", "add", "Price list", "--file", str(pdf), "--url", url]) == 0
    assert main(["store", "documents", "add", "Terms", "--file", str(pdf), "--link", "--url", url]) == 0
    assert (
        main(["store", "documents", "add", "Missing", "--file", str(tmp_path / "no.pdf"), "--url", url]) == 1
    )
    assert main(["store", "documents", "add", "NoFile", "--url", url]) == 2
    capsys.readouterr()
    assert main(["store", "documents", "list", "--json", "--url", url]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(d["name"], d["mime_type"], d["size"]) for d in listed] == [
        ("Price list", "application/pdf", 15),
        ("Terms", "application/pdf", None),
    ]
    assert main(["store", "documents", "remove", "Terms", "--url", url]) == 0
    assert main(["store", "documents", "remove", "Terms", "--url", url]) == 2
