"""Inbound SMTP: Twisted's ESMTP (cti's server, on the asyncio reactor) against aiosmtpd, same loop, same run.

Each server runs in this process's one asyncio loop; clients are asyncio connections sending messages
(MAIL, RCPT, DATA) back to back. Reports messages/s accepted by each, their ratio, the traced memory
peak per server while accepting, and the feature coverage that decided the choice.

IMAP (the ``imap`` entry): the same N unseen messages fetched from the tests' IMAP server
(tests/mail/imapserver.py, run in a process of its own: benchmarks/imap_server_proc.py) by cti's
fetcher (cti.mail.imap.ImapFetcher.poll, Twisted's IMAP4 client) and by aioimaplib, each doing the same
work (UID SEARCH UNSEEN; RFC822.SIZE of them all in one FETCH; then for each message BODY.PEEK[] and
STORE +FLAGS \\Seen), plus an empty
poll (connect, login, select, search, logout) for each. Last line: JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

from cti.mail.inbound import Accepted, Quarantined
from cti.mail.smtp_server import InboundSink, start_smtp_server, stop_smtp_server

BODY = b"From: Ann <ann@example.com>\r\nSubject: call me\r\n\r\n" + b"Please call me back.\r\n" * 20


async def _reply(r: asyncio.StreamReader) -> int:
    while True:
        line = await r.readline()
        if not line:
            raise ConnectionError("closed")
        if line[3:4] != b"-":
            return int(line[:3])


async def _client(port: int, n: int) -> None:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    await _reply(r)
    w.write(b"EHLO bench\r\n")
    await _reply(r)
    for _ in range(n):
        w.write(b"MAIL FROM:<ann@example.com>\r\nRCPT TO:<tasks@cti.example>\r\nDATA\r\n")
        codes = [await _reply(r), await _reply(r), await _reply(r)]
        assert codes == [250, 250, 354], codes
        w.write(BODY + b".\r\n")
        assert await _reply(r) == 250
    w.write(b"QUIT\r\n")
    await _reply(r)
    w.close()


async def _run(port: int, n: int, clients: int) -> float:
    t = time.perf_counter()
    await asyncio.gather(*(_client(port, n // clients) for _ in range(clients)))
    return time.perf_counter() - t


async def _twisted(n: int, clients: int) -> tuple[float, int]:
    got: list[Accepted] = []
    q: list[Quarantined] = []
    port = await start_smtp_server(InboundSink(got.append, q.append, guard=_no_loop_guard()))
    try:
        s = await _run(port.getHost().port, n, clients)
    finally:
        await stop_smtp_server(port)
    assert len(got) == (n // clients) * clients and not q, (len(got), q[:1])
    return s, len(got)


def _no_loop_guard() -> Any:
    from cti.mail.inbound import LoopGuard

    return LoopGuard(max_repeats=10**9)


async def _aiosmtpd(n: int, clients: int) -> tuple[float, int]:
    from aiosmtpd.smtp import SMTP

    got: list[Accepted] = []
    q: list[Quarantined] = []
    sink = InboundSink(got.append, q.append, guard=_no_loop_guard())

    class Handler:  # the same classification as cti's server, so both do the same work
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            sink.handle(envelope.original_content)
            return "250 OK"

    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Handler(), hostname="bench"), "127.0.0.1", 0)
    try:
        s = await _run(server.sockets[0].getsockname()[1], n, clients)
    finally:
        server.close()
        await server.wait_closed()
    assert len(got) == (n // clients) * clients and not q
    return s, len(got)


async def _measure(
    fn: Callable[[int, int], Awaitable[tuple[float, int]]], n: int, clients: int
) -> dict[str, float]:
    secs, count = await fn(n, clients)
    tracemalloc.start()
    await fn(max(clients, n // 4), clients)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "messages": count,
        "seconds": round(secs, 4),
        "msgs_per_s": round(count / secs, 1),
        "traced_peak_kib": round(peak / 1024, 1),
    }


class _ImapServer:
    """benchmarks/imap_server_proc.py with ``n`` unseen messages, in a process of its own."""

    def __init__(self, n: int, nodelay: bool) -> None:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.imap_server_proc", str(n), *(["--nodelay"] * nodelay)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=root, env=env, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def close(self) -> tuple[float, int]:
        """Stops the server; returns its CPU seconds and how many messages are \\Seen."""
        out, _ = self.proc.communicate("", timeout=60)
        cpu, seen = out.split()
        return float(cpu), int(seen)


async def _imap_cti(port: int) -> int:
    from cti.mail.imap import ImapFetcher, ImapTarget

    got: list[bytes] = []

    async def intake(raw: bytes, fallback: str, reason: str) -> None:
        got.append(raw)

    fetcher = ImapFetcher(ImapTarget.parse(f"imap://cti:secret@127.0.0.1:{port}/INBOX"), intake)
    n = await fetcher.poll()
    assert n == len(got) and all(b"Please call me back." in r for r in got), (n, len(got))
    return n


async def _imap_aioimaplib(port: int) -> int:
    import aioimaplib  # type: ignore[import-untyped]

    got: list[bytes] = []
    client = aioimaplib.IMAP4(host="127.0.0.1", port=port)
    await client.wait_hello_from_server()
    await client.login("cti", "secret")
    await client.select("INBOX")
    found = await client.uid_search("UNSEEN")
    uids = sorted(int(u) for u in found.lines[0].split() if u.isdigit())
    if uids:  # what cti's fetcher does: every size in one FETCH, then BODY.PEEK[] and STORE a message
        r = await client.uid("fetch", ",".join(map(str, uids)), "(RFC822.SIZE)")
        assert r.result == "OK", r
    for uid in uids:
        r = await client.uid("fetch", str(uid), "(BODY.PEEK[])")
        assert r.result == "OK", r
        got.append(bytes(next(x for x in r.lines if isinstance(x, bytearray))))
        r = await client.uid("store", str(uid), "+FLAGS", "(\\Seen)")
        assert r.result == "OK", r
    await client.logout()
    assert all(b"Please call me back." in r for r in got)
    return len(got)


async def _imap_measure(
    fn: Callable[[int], Awaitable[int]], n: int, nodelay: bool = True
) -> dict[str, float]:
    srv = _ImapServer(n, nodelay)
    try:
        cpu, t = time.process_time(), time.perf_counter()
        count = await fn(srv.port)
        secs, cpu = time.perf_counter() - t, time.process_time() - cpu
        t = time.perf_counter()
        assert await fn(srv.port) == 0
        empty = time.perf_counter() - t
    finally:
        server_cpu, seen = srv.close()
    assert count == n and seen == n, (count, seen, n)
    return {
        "messages": count,
        "seconds": round(secs, 4),
        "msgs_per_s": round(count / secs, 1),
        "client_cpu_s": round(cpu, 4),
        "server_cpu_s": round(server_cpu, 4),
        "empty_poll_ms": round(empty * 1000, 2),
    }


async def _imap(n: int) -> dict[str, Any]:
    await _imap_measure(_imap_cti, 2)  # warm-up (imports)
    await _imap_measure(_imap_aioimaplib, 2)
    cti = await _imap_measure(_imap_cti, n)
    aio = await _imap_measure(_imap_aioimaplib, n)
    nagle = await _imap_measure(_imap_cti, max(2, n // 10), nodelay=False)
    return {
        "server": "tests/mail/imapserver.py (Twisted), own process, TCP_NODELAY",
        "cti_fetcher": cti,
        "aioimaplib": aio,
        "cti_vs_aioimaplib_msgs_per_s": round(cti["msgs_per_s"] / aio["msgs_per_s"], 3),
        "cti_fetcher_server_with_nagle": nagle,
    }


async def _main(n: int, clients: int, imap_n: int) -> dict[str, Any]:
    await _twisted(clients, clients)  # warm-up (imports, reactor)
    await _aiosmtpd(clients, clients)
    tw = await _measure(_twisted, n, clients)
    ai = await _measure(_aiosmtpd, n, clients)
    return {
        "messages": n,
        "clients": clients,
        "twisted": tw,
        "aiosmtpd": ai,
        "twisted_vs_aiosmtpd_msgs_per_s": round(tw["msgs_per_s"] / ai["msgs_per_s"], 3),
        "features": {
            "twisted": ["smtp_server", "esmtp_size", "smtp_client", "imap4_client", "pop3"],
            "aiosmtpd": ["smtp_server"],
        },
        "imap": await _imap(imap_n),
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="bench_email")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--messages", type=int, default=2000)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--imap-messages", type=int, default=300)
    a = p.parse_args(argv)
    n = 40 if a.quick else a.messages
    print(json.dumps(asyncio.run(_main(n, a.clients, 10 if a.quick else a.imap_messages))))
    return 0
