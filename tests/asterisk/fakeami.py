"""A small fake Asterisk manager over real TCP, speaking the protocol as Asterisk writes it.

Banner (one CRLF, no blank line), Challenge/MD5 and plain Login, "Authentication failed" after a delay
and then a close, Ping/Pong, list actions (``EventList: start`` ... ``EventList: Complete``,
``ListItems``), per-action handlers for scripted replies, scripted event emission (messages or raw bytes,
optionally split into chunks), dropping every client mid-stream, and a stall mode (half-open link: the
server keeps the socket but neither reads nor writes).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cti.asterisk.ami import AmiDecoder, Message, banner, encode

Headers = Mapping[str, str] | Iterable[tuple[str, str]]
Handler = Callable[["Client", Message], Sequence[Headers] | None]

LIST_MESSAGES = {
    "CoreShowChannels": ("Channels will follow", "CoreShowChannelsComplete"),
    "QueueStatus": ("Queue status will follow", "QueueStatusComplete"),
    "QueueSummary": ("Queue summary will follow", "QueueSummaryComplete"),
    "Status": ("Channel status will follow", "StatusComplete"),
}


def pairs(headers: Headers) -> list[tuple[str, str]]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(str(k), str(v)) for k, v in items]


@dataclass
class Client:
    server: FakeAmi
    number: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    username: str | None = None
    challenge: str | None = None
    stalled: bool = False  # half-open: this connection neither reads nor writes, the socket stays open
    actions: list[Message] = field(default_factory=list)

    @property
    def logged_in(self) -> bool:
        return self.username is not None

    def write(self, data: bytes) -> None:
        if not self.stalled and not self.writer.is_closing():
            self.writer.write(data)

    def send(self, headers: Headers) -> None:
        self.write(encode(pairs(headers)))

    def reply(self, action: Message, headers: Headers) -> None:
        out = pairs(headers)
        aid = action.get("ActionID")
        if aid is not None and not any(k.lower() == "actionid" for k, _ in out):
            out.insert(1, ("ActionID", aid))
        self.send(out)


class FakeAmi:
    """``async with FakeAmi(...) as ami``: listens on 127.0.0.1, a fresh port. See the module doc."""

    def __init__(
        self,
        *,
        username: str = "cti",
        secret: str = "s3cret",
        version: str = "13.0.0",
        auth_fail_delay: float = 1.0,
        md5: bool = True,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.tls = tls
        self.username = username
        self.secret = secret
        self.version = version
        self.auth_fail_delay = auth_fail_delay
        self.md5 = md5
        self.answer_pings = True
        self.fully_booted = True
        self.lists: dict[str, Sequence[Headers]] = {"CoreShowChannels": [], "QueueStatus": []}
        self.handlers: dict[str, Handler] = {}
        self.clients: list[Client] = []
        self.actions: list[tuple[int, Message]] = []  # (connection number, action), every connection
        self.connections = 0
        self.logins = 0
        self.failed_logins = 0
        self.failed_login_times: list[float] = []
        self._server: asyncio.Server | None = None
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def __aenter__(self) -> FakeAmi:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for c in self.clients:
            c.writer.transport.abort()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    # --- test controls ---------------------------------------------------------------------------
    @property
    def current(self) -> Client:
        live = [c for c in self.clients if c.logged_in and not c.writer.is_closing()]
        assert live, "no logged-in client"
        return live[-1]

    def emit(self, headers: Headers) -> None:
        """Send one event to every logged-in client."""
        for c in self.clients:
            if c.logged_in:
                c.send(headers)

    def emit_raw(self, data: bytes) -> None:
        for c in self.clients:
            if c.logged_in:
                c.write(data)

    async def emit_chunks(self, data: bytes, sizes: Iterable[int]) -> None:
        """Send raw bytes in separate TCP writes of the given sizes (the rest in one write)."""
        pos = 0
        for n in sizes:
            self.emit_raw(data[pos : pos + n])
            pos += n
            for c in self.clients:
                await c.writer.drain()
            await asyncio.sleep(0.005)
        if pos < len(data):
            self.emit_raw(data[pos:])

    def stall(self) -> None:
        """Half-open link: the current connections stop reading and writing but stay open."""
        for c in self.clients:
            c.stalled = True

    def drop(self) -> None:
        """Close every client connection at once (a crash or a network cut mid-stream)."""
        for c in self.clients:
            c.writer.transport.abort()

    async def wait_for(self, predicate: Callable[[], bool], within: float) -> None:
        async with asyncio.timeout(within):
            async with self._changed:
                await self._changed.wait_for(predicate)

    def actions_named(self, name: str) -> list[tuple[int, Message]]:
        return [(n, a) for n, a in self.actions if (a.get("Action") or "").lower() == name.lower()]

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- the protocol ----------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        client = Client(self, self.connections, reader, writer)
        self.clients.append(client)
        decoder = AmiDecoder(expect_banner=False)
        try:
            writer.write(banner(self.version))
            await self._notify()
            while True:
                if client.stalled:
                    await asyncio.sleep(0.01)
                    continue
                data = await reader.read(65536)
                if not data:
                    break
                for action in decoder.receive_data(data):
                    client.actions.append(action)
                    self.actions.append((client.number, action))
                    keep = await self._handle(client, action)
                    await self._notify()
                    if not keep:
                        return
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.transport.abort()
            self._tasks.discard(task)
            await self._notify()

    async def _handle(self, c: Client, a: Message) -> bool:
        name = (a.get("Action") or "").lower()
        if name == "challenge":
            if not self.md5 or (a.get("AuthType") or "").lower() != "md5":
                c.reply(a, {"Response": "Error", "Message": "Must specify AuthType"})
                return True
            c.challenge = str(secrets.randbelow(10**9))
            c.reply(a, {"Response": "Success", "Challenge": c.challenge})
            return True
        if name == "login":
            return await self._login(c, a)
        if not c.logged_in:
            c.reply(a, {"Response": "Error", "Message": "Permission denied"})
            return True
        if name in self.handlers:
            replies = self.handlers[name](c, a)
            for r in replies or ():
                c.reply(a, r)
            return True
        if name == "ping":
            if self.answer_pings:
                c.reply(a, {"Response": "Success", "Ping": "Pong", "Timestamp": "1795363091.199758"})
            return True
        if name == "logoff":
            c.reply(a, {"Response": "Goodbye", "Message": "Thanks for all the fish."})
            return False
        for list_name in LIST_MESSAGES:
            if name == list_name.lower():
                for reply in self.list_reply(list_name):
                    c.reply(a, reply)
                return True
        c.reply(
            a,
            {
                "Response": "Error",
                "Message": f"Invalid/unknown command: {a.get('Action')}. "
                "Use Action: ListCommands to show available commands.",
            },
        )
        return True

    def list_reply(self, list_name: str) -> list[Headers]:
        """A list action's reply as Asterisk writes it: start, the items, then ``...Complete``."""
        text, complete = LIST_MESSAGES[list_name]
        items = self.lists.get(list_name, [])
        return [
            {"Response": "Success", "EventList": "start", "Message": text},
            *items,
            {"Event": complete, "EventList": "Complete", "ListItems": str(len(items))},
        ]

    async def _login(self, c: Client, a: Message) -> bool:
        ok = a.get("Username") == self.username
        if ok and (a.get("AuthType") or "").lower() == "md5":
            expected = hashlib.md5(f"{c.challenge}{self.secret}".encode()).hexdigest()
            ok = c.challenge is not None and a.get("Key") == expected
        elif ok:
            ok = a.get("Secret") == self.secret
        if not ok:
            # manager.c: authentication failures are answered after a 1 s sleep, then the socket closes.
            self.failed_logins += 1
            self.failed_login_times.append(asyncio.get_running_loop().time())
            await asyncio.sleep(self.auth_fail_delay)
            c.reply(a, {"Response": "Error", "Message": "Authentication failed"})
            await c.writer.drain()
            return False
        c.username = a.get("Username")
        self.logins += 1
        c.reply(a, {"Response": "Success", "Message": "Authentication accepted"})
        if self.fully_booted:
            c.send(
                {
                    "Event": "FullyBooted",
                    "Privilege": "system,all",
                    "Uptime": "119",
                    "LastReload": "119",
                    "Status": "Fully Booted",
                }
            )
        return True
