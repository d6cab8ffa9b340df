"""A console server on a real socket with fake store and AMI link, and a websocket client helper."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from cti.core.clock import Clock
from cti.screenpop.actions import Desk
from cti.screenpop.directory import CallerDirectory
from cti.screenpop.hub import Hub
from cti.screenpop.live import LiveBoard
from cti.screenpop.server import ConsoleServer, Limits
from cti.screenpop.tokens import TokenSigner
from tests.conftest import timeout
from tests.screenpop.fakes import FakeChannels, FakeLink, FakeStore

SECRET = b"test-secret-0123456789abcdef"


@dataclass
class Console:
    hub: Hub
    server: ConsoleServer
    store: FakeStore
    link: FakeLink
    channels: FakeChannels
    signer: TokenSigner

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/ws"


@asynccontextmanager
async def running_console(
    limits: Limits | None = None,
    store: FakeStore | None = None,
    ttl: float = 3600,
    clock: Clock | None = None,
) -> AsyncIterator[Console]:
    store = store or FakeStore.demo()
    directory = CallerDirectory(store)
    hub = Hub(board=LiveBoard(lambda q: 20.0), directory=directory)
    link, channels = FakeLink(), FakeChannels()
    desk = Desk(hub, lambda server: link if server == "pbx1" else None, channels, store)
    signer = TokenSigner(SECRET, ttl=ttl)
    server = ConsoleServer(
        hub, desk, store, signer, port=0, limits=limits or Limits(failed_login_delay=0.01), clock=clock
    )
    await server.start()
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(directory.run())
        try:
            yield Console(hub, server, store, link, channels, signer)
        finally:
            await server.close()
            task.cancel()


async def recv(ws: ClientConnection, seconds: float = 5.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout(seconds)):
        return json.loads(await ws.recv())  # type: ignore[no-any-return]


async def recv_until(ws: ClientConnection, pred: Any, seconds: float = 5.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout(seconds)):
        while True:
            msg = json.loads(await ws.recv())
            if pred(msg):
                return msg  # type: ignore[no-any-return]


async def login(
    console: Console, user: str, password: str = "demo", max_queue: int | None = 16
) -> tuple[ClientConnection, dict[str, Any]]:
    ws = await connect(console.ws_url, max_queue=max_queue)
    await ws.send(json.dumps({"type": "login", "username": user, "password": password}))
    welcome = await recv(ws)
    assert welcome["type"] == "welcome", welcome
    snapshot = await recv(ws)
    assert snapshot["type"] == "snapshot"
    return ws, welcome
