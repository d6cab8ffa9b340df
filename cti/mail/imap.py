"""Fetching customer e-mail from an IMAP mailbox with Twisted's IMAP4 client, on the daemon's loop.

``[email] imap_url = "imap://user:password@host:143/INBOX"``: every ``imap_poll_seconds`` the fetcher
connects, logs in, selects the mailbox and asks for the messages not yet ``\\Seen`` (UID SEARCH UNSEEN).
Each one goes through ``intake`` (the same classification, quarantine and task as a message received
over SMTP); only once ``intake`` has returned (the task or the quarantine row is stored) is the message
flagged ``\\Seen``. A crash or a dropped connection between the two leaves the message unseen: it is
fetched again on the next poll and ``intake`` recognises it (by its Message-ID, or by the mailbox's
UIDVALIDITY and UID when it has none), so nothing is lost and nothing is stored twice. A message over
the size limit is not downloaded: its headers are, and it is quarantined with the reason (it stays in
the mailbox, flagged \\Seen). A failed poll (server down, dropped connection, refused login) is logged
and the next poll connects again.

Twisted's client runs on the asyncio reactor bound to the running loop (cti.mail.reactor): no thread and
no second loop. Polling rather than IDLE: Twisted's client has no IDLE command, and a poll reconnects
by construction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from cti.mail.reactor import reactor_for

log = logging.getLogger("cti.mail.imap")

# intake(raw bytes, fallback id, oversized reason or ""): stores the verdict; raises if it could not
Intake = Callable[[bytes, str, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ImapTarget:
    host: str
    port: int
    user: str
    password: str
    mailbox: str

    @classmethod
    def parse(cls, url: str) -> ImapTarget:
        u = urlsplit(url)
        if u.scheme != "imap":
            raise ValueError("only imap:// is supported (the relay is on the local network)")
        if not u.hostname or u.username is None:
            raise ValueError("imap_url must be imap://user:password@host:port/MAILBOX")
        mailbox = unquote(u.path.lstrip("/")) or "INBOX"
        return cls(u.hostname, u.port or 143, unquote(u.username), unquote(u.password or ""), mailbox)


def _text(value: Any) -> bytes:
    """A literal from Twisted's client (``str``, its bytes decoded as latin-1) back to bytes."""
    if isinstance(value, bytes):
        return value
    return str(value).encode("latin-1")


def _header_literal(response: Any) -> bytes:
    """The text of ``BODY[HEADER]`` (or ``BODY[]``) in a FETCH response as Twisted's client parses it:
    ``[['BODY', ['HEADER'], 'From: ...', 'UID', '5']]``."""
    for item in response:
        if isinstance(item, list):
            for i, word in enumerate(item[:-2]):
                if word == "BODY" and isinstance(item[i + 1], list) and isinstance(item[i + 2], str | bytes):
                    return _text(item[i + 2])
    return b""


class ImapFetcher:
    def __init__(
        self,
        target: ImapTarget,
        intake: Intake,
        *,
        poll_seconds: float = 60.0,
        size_limit: int = 10 * 1024 * 1024,
        connect_timeout: float = 10.0,
    ) -> None:
        self.target = target
        self.intake = intake
        self.poll_seconds = poll_seconds
        self.size_limit = size_limit
        self.connect_timeout = connect_timeout
        self.polls = 0
        self.failures = 0
        self.fetched = 0
        self.polled = asyncio.Event()  # set after each poll, good or failed (tests wait on it)

    async def _connect(self) -> Any:
        loop = asyncio.get_running_loop()
        reactor = reactor_for(loop)
        from twisted.internet import defer, protocol
        from twisted.mail import imap4

        greeted: defer.Deferred[Any] = defer.Deferred()

        class Client(imap4.IMAP4Client):
            def serverGreeting(self, caps: Any) -> None:
                if not greeted.called:
                    greeted.callback(self)

            def connectionLost(self, reason: Any = None) -> None:
                if not greeted.called:
                    greeted.errback(reason)
                super().connectionLost(reason)  # type: ignore[no-untyped-call]

        class Factory(protocol.ClientFactory):
            def buildProtocol(self, addr: Any) -> Any:
                p = Client()  # type: ignore[no-untyped-call]
                p.factory = self
                return p

            def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
                if not greeted.called:
                    greeted.errback(reason)

        t = self.target
        reactor.connectTCP(t.host, t.port, Factory(), timeout=self.connect_timeout)
        return await asyncio.wait_for(greeted.asFuture(loop), self.connect_timeout)

    async def poll(self) -> int:
        """One session: every unseen message through ``intake``, then flagged \\Seen; returns how many."""
        from twisted.mail import imap4

        loop = asyncio.get_running_loop()

        async def wait(d: Any) -> Any:
            return await d.asFuture(loop)

        client = await self._connect()
        done = 0
        try:
            await wait(client.login(self.target.user.encode(), self.target.password.encode()))
            selected = await wait(client.select(self.target.mailbox))
            validity = int(selected.get("UIDVALIDITY", 0))
            unseen = imap4.Query(unseen=True)  # type: ignore[no-untyped-call]
            uids = await wait(client.search(unseen, uid=True))
            wanted = sorted(int(u) for u in uids)
            sizes: dict[int, int] = {}
            if wanted:  # every size in one FETCH (one round trip for the poll, not one a message)
                got = await wait(client.fetchSize(",".join(map(str, wanted)), uid=True))
                sizes = {int(v["UID"]): int(v.get("RFC822.SIZE", 0)) for v in got.values() if "UID" in v}
            for uid in wanted:
                fallback = f"<imap-{validity}-{uid}@{self.target.host}>"
                size = sizes.get(uid, 0)
                # BODY.PEEK: a plain FETCH of RFC822 or BODY[] sets \Seen on the server (RFC 3501) before
                # intake has stored anything; a crash there would lose the message
                if size > self.size_limit:
                    part = await wait(
                        client.fetchSpecific(str(uid), uid=True, headerType="HEADER", peek=True)
                    )
                    raw = b"".join(_header_literal(v) for v in part.values())
                    reason = f"too large: {size} bytes > {self.size_limit} (left in the mailbox)"
                else:
                    part = await wait(client.fetchSpecific(str(uid), uid=True, peek=True))
                    raw = b"".join(_header_literal(v) for v in part.values())
                    reason = ""
                await self.intake(raw, fallback, reason)  # stored: only now is it \Seen
                await wait(client.addFlags(str(uid), ["\\Seen"], uid=True))
                done += 1
                self.fetched += 1
            try:
                await asyncio.wait_for(wait(client.logout()), 5)
            except Exception:  # the server went away after the last message: nothing is lost
                pass
        finally:
            client.transport.loseConnection()
        return done

    async def run(self) -> None:
        t = self.target
        log.info("e-mail: polling imap://%s@%s:%d/%s every %.0f s", t.user, t.host, t.port, t.mailbox,
                 self.poll_seconds)  # fmt: skip
        while True:
            try:
                n = await self.poll()
                if n:
                    log.info("e-mail: %d message(s) fetched from IMAP", n)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                log.warning("e-mail: IMAP poll of %s:%d failed: %s", t.host, t.port, exc)
            finally:
                self.polls += 1
                self.polled.set()
            await asyncio.sleep(self.poll_seconds)
