from __future__ import annotations

import socket

import pytest
from twisted.internet.error import ConnectionRefusedError as Refused

from cti.mail.inbound import Accepted, Quarantined
from cti.mail.outbound import Document, fulfilment, reply, retry_delays
from cti.mail.smtp_client import send_with_retry
from cti.mail.smtp_server import InboundSink, start_smtp_server, stop_smtp_server


def test_retry_delays_bounded() -> None:
    assert retry_delays(4, base=1, factor=2, cap=3) == [1, 2, 3]
    assert retry_delays(1) == []


async def test_reply_arrives_at_a_local_smtp_server() -> None:
    got: list[Accepted] = []
    quarantine: list[Quarantined] = []
    port = await start_smtp_server(InboundSink(got.append, quarantine.append))
    try:
        msg = reply("cti@example.com", "ann@example.com", "call me", "We called.", "<1@x>")
        assert await send_with_retry(msg, "127.0.0.1", port.getHost().port) == 1
        doc = Document("prices.pdf", "application/pdf", b"%PDF-1.4 x")
        f = fulfilment("cti@example.com", "ann@example.com", "Your documents", "Attached.", [doc])
        assert await send_with_retry(f, "127.0.0.1", port.getHost().port) == 1
    finally:
        await stop_smtp_server(port)
    assert quarantine == []
    assert [a.subject for a in got] == ["Re: call me", "Your documents"]
    assert got[0].body.strip() == "We called."


async def test_failed_delivery_is_retried_then_raised() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    waits: list[float] = []

    async def sleep(d: float) -> None:
        waits.append(d)

    msg = reply("cti@example.com", "ann@example.com", "x", "y")
    with pytest.raises(Refused):
        await send_with_retry(msg, "127.0.0.1", dead, attempts=3, base=1, sleep=sleep)
    assert waits == [1, 4]
