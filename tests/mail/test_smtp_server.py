from __future__ import annotations

import asyncio
import smtplib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from cti.mail.inbound import Accepted, Quarantined
from cti.mail.smtp_server import InboundSink, start_smtp_server, stop_smtp_server

MSG = "From: Ann <ann@example.com>\r\nSubject: call me\r\nMessage-ID: <{n}@x>\r\n\r\nbody {n}\r\n"


def send(port: int, data: str | bytes) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.ehlo()
        s.mail("ann@example.com")
        s.rcpt("tasks@cti.example")
        code, resp = s.data(data)
        return code, resp


def size_ad(port: int) -> str:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.ehlo()
        return s.esmtp_features.get("size", "")


async def test_smtp_on_the_one_loop_refuses_bad_and_keeps_serving() -> None:
    loop = asyncio.get_running_loop()
    tasks: list[Accepted] = []
    quarantine: list[Quarantined] = []
    threads: set[int] = set()

    def on_task(a: Accepted) -> None:
        threads.add(threading.get_ident())
        tasks.append(a)

    sink = InboundSink(on_task, quarantine.append, size_limit=2000)
    port = await start_smtp_server(sink)
    n = port.getHost().port
    before = threading.active_count()
    pool = ThreadPoolExecutor(max_workers=1)  # smtplib's one thread: the test's, not Twisted's
    try:
        from twisted.internet import reactor

        assert reactor._asyncioEventloop is loop  # type: ignore[attr-defined]
        assert await loop.run_in_executor(pool, size_ad, n) == "2000"
        code, _ = await loop.run_in_executor(pool, send, n, MSG.format(n=1))
        assert code == 250
        code, _ = await loop.run_in_executor(pool, send, n, MSG.format(n=2) + "x" * 3000)
        assert code == 552
        bad = "From: ann@example.com\r\nContent-Type: multipart/mixed\r\n\r\nno boundary\r\n"
        code, _ = await loop.run_in_executor(pool, send, n, bad)
        assert code == 550
        code, _ = await loop.run_in_executor(pool, send, n, MSG.format(n=3))
        assert code == 250
    finally:
        await stop_smtp_server(port)
    after = threading.active_count()
    pool.shutdown()
    assert [t.message_id for t in tasks] == ["<1@x>", "<3@x>"]
    assert [q.reason.split(":")[0] for q in quarantine] == ["too large", "malformed MIME"]
    assert threads == {threading.get_ident()}
    # the executor's smtplib thread is the test's own; Twisted started none
    assert after <= before + 1


@pytest.mark.parametrize("k", [1, 2])
async def test_new_loop_per_test_gets_its_reactor(k: int) -> None:
    sink = InboundSink(lambda a: None, lambda q: None)
    port = await start_smtp_server(sink)
    from twisted.internet import reactor

    assert reactor._asyncioEventloop is asyncio.get_running_loop()  # type: ignore[attr-defined]
    await stop_smtp_server(port)
