"""A small IMAP4 server for the tests: Twisted's imap4 server side over one in-memory mailbox, on the
asyncio reactor of the running loop. ``drop_on`` makes it close the connection when a client sends
that command (once each), as a server that goes away mid-session. Like a real server (RFC 3501) and
unlike Twisted's server side, a FETCH of ``RFC822`` or ``BODY[...]`` (not ``BODY.PEEK[...]``) flags the
messages \\Seen."""

from __future__ import annotations

import asyncio
import email.parser
import io
import re
from dataclasses import dataclass, field
from typing import Any

from cti.mail.reactor import reactor_for


@dataclass
class Stored:
    uid: int
    raw: bytes
    flags: list[str] = field(default_factory=list)


@dataclass
class ImapBox:
    """The mailbox's messages and what the test asks of the server."""

    messages: list[Stored] = field(default_factory=list)
    drop_on: list[bytes] = field(default_factory=list)  # e.g. [b"STORE"]: drop the connection once
    logins: int = 0
    uid_validity: int = 7
    _next: int = 1

    def add(self, raw: bytes) -> int:
        uid = self._next
        self._next += 1
        self.messages.append(Stored(uid, raw))
        return uid

    def seen(self) -> list[int]:
        return [m.uid for m in self.messages if "\\Seen" in m.flags]

    def fetched(self, line: bytes) -> None:
        """``tag [UID] FETCH set items``: a fetch that is not a peek sets \\Seen (RFC 3501 6.4.5)."""
        words = line.split(b" ")
        uid = len(words) > 3 and words[1].upper() == b"UID"
        words = words[1:] if uid else words
        if len(words) < 4 or words[1].upper() != b"FETCH":
            return
        if not re.search(rb"RFC822(?![.])|RFC822\.TEXT|BODY\[", b" ".join(words[3:]).upper()):
            return
        wanted: set[int] = set()
        for piece in words[2].split(b","):
            lo, _, hi = piece.partition(b":")
            if lo.isdigit() and (not hi or hi.isdigit()):
                wanted.update(range(int(lo), int(hi or lo) + 1))
        for n, m in enumerate(self.messages, 1):
            if (m.uid if uid else n) in wanted and "\\Seen" not in m.flags:
                m.flags.append("\\Seen")


async def start_imap_server(box: ImapBox, user: str = "cti", password: str = "secret", port: int = 0) -> Any:
    """Listen on ``port`` (0: a free one) of 127.0.0.1; returns the Twisted port (``.getHost().port``)."""
    reactor = reactor_for(asyncio.get_running_loop())
    from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
    from twisted.cred.portal import IRealm, Portal
    from twisted.internet import protocol
    from twisted.mail import imap4
    from zope.interface import implementer

    @implementer(imap4.IMessage, imap4.IMessageFile)
    class Message:
        def __init__(self, m: Stored) -> None:
            self.m = m

        def open(self) -> io.BytesIO:
            return io.BytesIO(self.m.raw)

        def getUID(self) -> int:
            return self.m.uid

        def getFlags(self) -> list[str]:
            return list(self.m.flags)

        def getInternalDate(self) -> str:
            return "02-Dec-2026 12:00:00 +0000"

        def getHeaders(self, negate: bool, *names: str) -> dict[str, str]:
            head = email.parser.BytesHeaderParser().parsebytes(self.m.raw)
            wanted = {n.lower() for n in names}
            return {
                k.lower(): str(v) for k, v in head.items() if not names or ((k.lower() in wanted) != negate)
            }

        def getBodyFile(self) -> io.BytesIO:
            return io.BytesIO(self.m.raw)

        def getSize(self) -> int:
            return len(self.m.raw)

        def isMultipart(self) -> bool:
            return False

        def getSubPart(self, part: int) -> Any:
            raise IndexError(part)

    @implementer(imap4.IMailbox)
    class Mailbox:
        def __init__(self) -> None:
            self.listeners: list[Any] = []

        def addListener(self, listener: Any) -> None:
            self.listeners.append(listener)

        def removeListener(self, listener: Any) -> None:
            if listener in self.listeners:
                self.listeners.remove(listener)

        def getFlags(self) -> tuple[str, ...]:
            return ("\\Seen", "\\Deleted")

        def getUIDValidity(self) -> int:
            return box.uid_validity

        def getUIDNext(self) -> int:
            return box._next

        def getUID(self, seq: int) -> int:
            return box.messages[seq - 1].uid

        def getMessageCount(self) -> int:
            return len(box.messages)

        def getRecentCount(self) -> int:
            return 0

        def getUnseenCount(self) -> int:
            return sum(1 for m in box.messages if "\\Seen" not in m.flags)

        def isWriteable(self) -> bool:
            return True

        def destroy(self) -> None:
            pass

        def getHierarchicalDelimiter(self) -> str:
            return "/"

        def requestStatus(self, names: Any) -> dict[str, int]:
            return {}

        def addMessage(self, message: Any, flags: Any, date: Any = None) -> Any:
            raise NotImplementedError

        def expunge(self) -> list[int]:
            return []

        def _pick(self, messages: Any, uid: bool) -> list[tuple[int, Stored]]:
            try:
                messages.last = (box.messages[-1].uid if uid else len(box.messages)) if box.messages else 1
            except ValueError:
                pass
            return [(n, m) for n, m in enumerate(box.messages, 1) if (m.uid if uid else n) in messages]

        def fetch(self, messages: Any, uid: bool) -> list[tuple[int, Message]]:
            return [(n, Message(m)) for n, m in self._pick(messages, uid)]

        def store(self, messages: Any, flags: list[str], mode: int, uid: bool) -> dict[int, list[str]]:
            out = {}
            for n, m in self._pick(messages, uid):
                if mode == 0:
                    m.flags = list(flags)
                elif mode > 0:
                    m.flags = list(dict.fromkeys([*m.flags, *flags]))
                else:
                    m.flags = [f for f in m.flags if f not in flags]
                out[n] = list(m.flags)
            return out

    mailbox = Mailbox()

    @implementer(imap4.IAccount)
    class Account:
        def listMailboxes(self, ref: str, wildcard: str) -> list[tuple[str, Mailbox]]:
            return [("INBOX", mailbox)]

        def select(self, name: str, rw: bool = True) -> Mailbox | None:
            return mailbox if name.upper() == "INBOX" else None

        def create(self, path: str) -> bool:
            return False

        def delete(self, path: str) -> bool:
            return False

        def rename(self, old: str, new: str) -> bool:
            return False

        def isSubscribed(self, name: str) -> bool:
            return True

        def subscribe(self, name: str) -> bool:
            return True

        def unsubscribe(self, name: str) -> bool:
            return True

    @implementer(IRealm)
    class Realm:
        def requestAvatar(self, avatar_id: Any, mind: Any, *interfaces: Any) -> Any:
            box.logins += 1
            return imap4.IAccount, Account(), lambda: None

    checker = InMemoryUsernamePasswordDatabaseDontUse()
    checker.addUser(user.encode(), password.encode())
    portal = Portal(Realm(), [checker])  # type: ignore[arg-type, list-item]

    class Server(imap4.IMAP4Server):
        def lineReceived(self, line: bytes) -> None:
            words = line.split(b" ")
            command = b" ".join(words[1:3]).upper() if len(words) > 2 else b""
            for c in list(box.drop_on):
                if command.startswith(c) or command.startswith(b"UID " + c):
                    box.drop_on.remove(c)
                    self.transport.abortConnection()  # type: ignore[union-attr]
                    return
            super().lineReceived(line)  # type: ignore[no-untyped-call]
            box.fetched(line)

    class Factory(protocol.ServerFactory):
        def buildProtocol(self, addr: Any) -> Any:
            p = Server()  # type: ignore[no-untyped-call]
            p.portal = portal  # type: ignore[assignment]
            p.factory = self
            return p

    return reactor.listenTCP(port, Factory(), interface="127.0.0.1")  # type: ignore[no-untyped-call]


async def stop_imap_server(port: Any) -> None:
    from twisted.internet import defer

    d = port.stopListening()
    if isinstance(d, defer.Deferred):
        await d.asFuture(asyncio.get_running_loop())
