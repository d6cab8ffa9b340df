"""Sending over SMTP with twisted.mail.smtp's client on the asyncio reactor, with bounded retries."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from email.message import EmailMessage

from cti.mail.outbound import retry_delays
from cti.mail.reactor import reactor_for

log = logging.getLogger(__name__)


async def send_once(msg: EmailMessage, host: str, port: int, connect_timeout: float = 30.0) -> None:
    """One delivery attempt to the relay; raises on failure."""
    loop = asyncio.get_running_loop()
    reactor = reactor_for(loop)
    from twisted.internet import defer
    from twisted.mail import smtp

    done: defer.Deferred[object] = defer.Deferred()
    factory = smtp.ESMTPSenderFactory(  # type: ignore[no-untyped-call]
        None,
        None,
        str(msg["From"]),
        [str(msg["To"])],
        io.BytesIO(msg.as_bytes()),
        done,
        retries=0,
        timeout=int(connect_timeout),
        requireAuthentication=False,
        requireTransportSecurity=False,
    )
    reactor.connectTCP(host, port, factory, timeout=connect_timeout)
    await done.asFuture(loop)


async def send_with_retry(
    msg: EmailMessage,
    host: str,
    port: int,
    *,
    attempts: int = 4,
    base: float = 30.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> int:
    """Deliver, retrying with backoff; returns the attempt that succeeded (1-based). Raises the
    last error when every attempt failed."""
    delays = retry_delays(attempts, base)
    for i in range(attempts):
        try:
            await send_once(msg, host, port)
            return i + 1
        except Exception as exc:
            if i == attempts - 1:
                raise
            log.warning("mail to %s failed (attempt %d): %s", msg["To"], i + 1, exc)
            await sleep(delays[i])
    raise AssertionError("unreachable")
