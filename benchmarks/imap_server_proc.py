"""The tests' IMAP server (tests/mail/imapserver.py) alone in a process, for benchmarks/bench_email.py.

``python -m benchmarks.imap_server_proc N``: N unseen messages in INBOX (user cti, password secret);
prints the port, serves until stdin closes, then prints the CPU seconds it used and exits. A process of
its own, so the server's cost is not charged to the client being measured (they would share one loop).
With ``--nodelay`` its sockets set TCP_NODELAY: Twisted leaves Nagle on, and the server's FETCH reply,
written in pieces, then waits for the client's delayed ACK (about 40 ms a message on Linux), which
makes every client look equally slow.
"""

from __future__ import annotations

import asyncio
import sys
import time

from benchmarks.bench_email import BODY


async def _serve(n: int, nodelay: bool) -> None:
    from twisted.mail import imap4

    from tests.mail.imapserver import ImapBox, start_imap_server, stop_imap_server

    if nodelay:
        made = imap4.IMAP4Server.connectionMade

        def connection_made(self: imap4.IMAP4Server) -> None:
            self.transport.setTcpNoDelay(True)  # type: ignore[union-attr]
            made(self)  # type: ignore[no-untyped-call]

        imap4.IMAP4Server.connectionMade = connection_made  # type: ignore[method-assign]

    box = ImapBox()
    for i in range(n):
        box.add(f"Message-ID: <bench-{i}@example.com>\r\n".encode() + BODY)
    port = await start_imap_server(box)
    print(port.getHost().port, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await stop_imap_server(port)
    print(f"{time.process_time():.4f} {len(box.seen())}", flush=True)


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1]), "--nodelay" in sys.argv[2:]))
