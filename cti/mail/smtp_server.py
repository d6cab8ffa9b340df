"""The inbound ESMTP server (twisted.mail) on the asyncio reactor of the daemon's loop.

Each message is classified (cti.mail.inbound): accepted ones go to ``on_task``; quarantined ones go
to ``on_quarantine`` with their raw bytes and reason (nothing lost). Oversized (SIZE advertised,
enforced while DATA arrives: 552) and malformed messages are refused to the sender (550) as well as
quarantined; auto-replies and loops are accepted (250, so no bounce feeds the loop) and quarantined.
With ``persist`` (the daemon stores each verdict), the SMTP answer waits until it is stored: a store
failure refuses the message (Twisted answers 550 to any failure), so the sender keeps it: an accepted
message is never only in memory.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cti.mail.inbound import Accepted, LoopGuard, Quarantined, classify
from cti.mail.reactor import reactor_for

REFUSE_PREFIXES = ("too large", "malformed")


@dataclass(slots=True)
class InboundSink:
    on_task: Callable[[Accepted], None]
    on_quarantine: Callable[[Quarantined], None]
    size_limit: int = 10 * 1024 * 1024
    known: Callable[[str], bool] | None = None
    guard: LoopGuard = field(default_factory=LoopGuard)
    persist: Callable[[Accepted | Quarantined], Awaitable[None]] | None = None
    _storing: set[asyncio.Future[None]] = field(default_factory=set)

    def store(self, verdict: Accepted | Quarantined) -> asyncio.Future[None] | None:
        """Start storing ``verdict`` (kept referenced until done); None without ``persist``."""
        if self.persist is None:
            return None
        fut = asyncio.ensure_future(self.persist(verdict))
        self._storing.add(fut)
        fut.add_done_callback(self._storing.discard)
        return fut

    def handle(self, raw: bytes) -> Accepted | Quarantined:
        verdict = classify(
            raw, size_limit=self.size_limit, guard=self.guard, at=time.time(), known=self.known
        )
        if isinstance(verdict, Accepted):
            self.on_task(verdict)
        else:
            self.on_quarantine(verdict)
        return verdict


async def start_smtp_server(sink: InboundSink, host: str = "127.0.0.1", port: int = 0) -> Any:
    """Listen; returns the Twisted port (``.getHost().port``, ``await stop_smtp_server(p)``)."""
    reactor = reactor_for(asyncio.get_running_loop())
    from twisted.internet import defer, protocol
    from twisted.mail import smtp
    from zope.interface import implementer

    @implementer(smtp.IMessage)
    class Message:
        def __init__(self) -> None:
            self.lines: list[bytes] = []
            self.size = 0
            self.over = False

        def lineReceived(self, line: bytes) -> None:
            self.size += len(line) + 2
            if self.size > sink.size_limit and not self.over:
                self.over = True
                q = Quarantined(
                    f"too large: over {sink.size_limit} bytes (truncated)", b"\r\n".join(self.lines)
                )
                sink.on_quarantine(q)
                sink.store(q)
                self.lines = []
                raise smtp.SMTPServerError(  # type: ignore[no-untyped-call]
                    552, b"message exceeds fixed maximum message size"
                )
            self.lines.append(line)

        def eomReceived(self) -> Any:
            verdict = sink.handle(b"\r\n".join(self.lines) + b"\r\n")
            refuse = (
                verdict.reason
                if isinstance(verdict, Quarantined) and verdict.reason.startswith(REFUSE_PREFIXES)
                else None
            )
            stored = sink.store(verdict)
            if stored is None:
                return defer.fail(ValueError(refuse)) if refuse else defer.succeed(None)

            def answer(_: object) -> Any:
                if refuse:
                    raise ValueError(refuse)
                return None

            d: defer.Deferred[Any] = defer.Deferred.fromFuture(stored)
            return d.addCallback(answer)  # a store failure fails it too: 550

        def connectionLost(self) -> None:
            self.lines = []

    @implementer(smtp.IMessageDelivery)
    class Delivery:
        def receivedHeader(self, helo: Any, origin: Any, recipients: Any) -> None:
            return None

        def validateFrom(self, helo: Any, origin: Any) -> Any:
            return origin

        def validateTo(self, user: Any) -> Any:
            return Message

    class Server(smtp.ESMTP):
        timeOut = None  # the daemon's loop has no idle-timeout policy here

        def extensions(self) -> Any:
            ext = super().extensions()  # type: ignore[no-untyped-call]
            ext[b"SIZE"] = [str(sink.size_limit).encode()]
            return ext

    class Factory(protocol.ServerFactory):
        def buildProtocol(self, addr: Any) -> Any:
            p = Server()  # type: ignore[no-untyped-call]
            p.delivery = Delivery()
            p.factory = self
            return p

    return reactor.listenTCP(port, Factory(), interface=host)  # type: ignore[no-untyped-call]


async def stop_smtp_server(port: Any) -> None:
    from twisted.internet import defer

    d = port.stopListening()
    if isinstance(d, defer.Deferred):
        await d.asFuture(asyncio.get_running_loop())
