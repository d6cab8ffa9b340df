"""IMAP fetch over a real socket: Twisted's IMAP4 client against a small IMAP server run in the test
(Twisted's server side, an in-memory mailbox), both on the test's one asyncio loop. Each new message
becomes a task or a quarantine row through the same rules as SMTP, and is flagged \\Seen only once
stored; a connection dropped before the flag loses nothing and stores nothing twice."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from cti.config import EmailConfig
from cti.mail.component import EmailComponent
from cti.mail.imap import ImapFetcher, ImapTarget
from cti.mail.reactor import reactor_for
from cti.store import NewCustomer, Store
from tests.mail.imapserver import ImapBox, start_imap_server, stop_imap_server
from tests.waiting import eventually

GOOD = (
    b"From: Ann Lee <ann@example.com>\r\nTo: service@cti.example\r\nSubject: my refund\r\n"
    b"Message-ID: <imap-1@example.com>\r\n\r\nStill waiting.\r\n"
)
NO_ID = b"From: bo@example.org\r\nTo: service@cti.example\r\nSubject: hello\r\n\r\nHi.\r\n"
MALFORMED = (
    b"From: eve@example.net\r\nSubject: broken\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="zz"\r\n\r\nno parts at all\r\n'
)
AUTO = b"From: robot@example.com\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\naway\r\n"


def test_the_url() -> None:
    t = ImapTarget.parse("imap://svc%40cti:p%20w@mail.local:1143/Support")
    assert (t.user, t.password, t.host, t.port, t.mailbox) == (
        "svc@cti",
        "p w",
        "mail.local",
        1143,
        "Support",
    )
    assert ImapTarget.parse("imap://u:p@h").mailbox == "INBOX"
    with pytest.raises(ValueError):
        ImapTarget.parse("imaps://u:p@h/INBOX")


async def test_messages_become_tasks_or_quarantine_and_are_seen_only_once_stored(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}")
    box = ImapBox()
    port = await start_imap_server(box)
    try:
        cid = await store.customers.add_customer(NewCustomer("Ann Lee", email="ann@example.com"))
        url = f"imap://cti:secret@127.0.0.1:{port.getHost().port}/INBOX"
        comp = EmailComponent(EmailConfig(imap_url=url, size_limit_bytes=2048), store.email)
        fetcher = ImapFetcher(ImapTarget.parse(url), comp.imap_intake, size_limit=2048)
        good, no_id, bad, auto = (box.add(m) for m in (GOOD, NO_ID, MALFORMED, AUTO))
        huge = box.add(b"From: big@example.com\r\nSubject: scan\r\n\r\n" + b"x" * 5000 + b"\r\n")
        assert await fetcher.poll() == 5
        assert box.seen() == [good, no_id, bad, auto, huge]
        tasks = await store.email.open_tasks()
        assert [(t.sender, t.subject, t.customer_id) for t in tasks] == [
            ("ann@example.com", "my refund", cid),
            ("bo@example.org", "hello", None),
        ]
        assert tasks[0].body.strip() == "Still waiting."
        assert tasks[1].message_id == f"<imap-7-{no_id}@127.0.0.1>"  # no Message-ID: the mailbox's UID
        q = {r.sender: r for r in await store.email.quarantined()}
        assert q["eve@example.net"].reason.startswith("malformed") and q["eve@example.net"].raw == MALFORMED
        assert q["robot@example.com"].reason.startswith("auto-reply")
        assert q["big@example.com"].reason.startswith("too large: ")
        assert b"Subject: scan" in q["big@example.com"].raw
        assert await fetcher.poll() == 0  # nothing new
        # the server drops the connection when the client flags the next message: it was stored, not
        # seen; the next session fetches it again and it is not stored twice
        again = box.add(GOOD.replace(b"imap-1", b"imap-2"))
        box.drop_on.append(b"STORE")
        from twisted.internet.error import ConnectionLost

        with pytest.raises(ConnectionLost):
            await fetcher.poll()
        assert box.seen() == [good, no_id, bad, auto, huge]
        assert len(await store.email.open_tasks()) == 3
        assert await fetcher.poll() == 1
        assert box.seen()[-1] == again and len(await store.email.open_tasks()) == 3
        assert box.logins == 4
    finally:
        await stop_imap_server(port)
        await store.close()


async def test_the_daemon_component_polls_reconnects_after_a_drop_and_stays_on_one_loop() -> None:
    loop = asyncio.get_running_loop()
    threads = {t.ident for t in threading.enumerate()}
    box = ImapBox()
    port = await start_imap_server(box)
    try:
        url = f"imap://cti:secret@127.0.0.1:{port.getHost().port}/INBOX"
        comp = EmailComponent(EmailConfig(port=0, imap_url=url, imap_poll_seconds=0.05))  # in memory
        running = asyncio.ensure_future(comp.run())
        await asyncio.wait_for(comp.started.wait(), 10)
        assert comp.imap is not None
        box.drop_on.append(b"FETCH")  # the first session dies mid-fetch
        box.add(GOOD)
        await eventually(lambda: len(comp.tasks.waiting) == 1 and box.seen() == [1], 10)  # stored, then seen
        assert comp.imap.failures >= 1
        assert [t.message.subject for t in comp.tasks.waiting] == ["my refund"]
        number = port.getHost().port
        await stop_imap_server(port)  # the server goes away entirely: polls fail, the daemon carries on
        failed = comp.imap.failures
        await eventually(lambda: comp.imap is not None and comp.imap.failures > failed, 10)
        box.add(NO_ID)
        port = await start_imap_server(box, port=number)  # back: the next poll fetches the new message
        await eventually(lambda: len(comp.tasks.waiting) == 2 and box.seen() == [1, 2], 10)
        assert reactor_for(loop)._asyncioEventloop is loop  # Twisted runs on this loop
        assert {t.ident for t in threading.enumerate()} <= threads  # no thread was started for IMAP
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    finally:
        await stop_imap_server(port)


async def test_unknown_senders_are_quarantined_when_configured(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}")
    try:
        await store.customers.add_customer(NewCustomer("Ann Lee", email="ann@example.com"))
        comp = EmailComponent(EmailConfig(unknown_senders="quarantine"), store.email)
        await comp.imap_intake(GOOD, "<fallback-1@x>")
        await comp.imap_intake(NO_ID, "<fallback-2@x>")
        assert [t.sender for t in await store.email.open_tasks()] == ["ann@example.com"]
        [q] = await store.email.quarantined()
        assert (q.sender, q.reason, q.raw) == ("bo@example.org", "unknown sender", NO_ID)
    finally:
        await store.close()
