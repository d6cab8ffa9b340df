"""Fixtures for the simulator's tests: a running simulated PBX and a raw AMI client over TCP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from cti.asterisk.ami import AmiDecoder, Message, encode
from cti.sim.scenario import Scenario, transcript_pbx
from cti.sim.server import SimServer
from tests.conftest import timeout

START = 1795400000.0


class RawClient:
    """A minimal AMI client: bytes out, decoded messages in (banner first)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = AmiDecoder(expect_banner=True)
        self.inbox: list[Message] = []
        self.raw = bytearray()

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        return cls(r, w)

    async def send(self, *pairs: tuple[str, str], **headers: str) -> None:
        self.writer.write(encode([*pairs, *headers.items()]))
        await self.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def _fill(self, wait: float) -> bool:
        data = await asyncio.wait_for(self.reader.read(65536), wait)
        if not data:
            return False
        self.raw.extend(data)
        self.inbox.extend(self.decoder.receive_data(data))
        return True

    async def expect(self, pred: Callable[[Message], bool], wait: float = 5.0) -> Message:
        deadline = asyncio.get_running_loop().time() + timeout(wait)
        while True:
            for i, m in enumerate(self.inbox):
                if pred(m):
                    del self.inbox[: i + 1]
                    return m
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0 or not await self._fill(left):
                raise AssertionError(f"no matching message; inbox: {self.inbox[-5:]}")

    async def response(self, action_id: str, wait: float = 5.0) -> Message:
        return await self.expect(lambda m: m.response is not None and m.action_id == action_id, wait)

    async def event(self, name: str, wait: float = 5.0, **match: str) -> Message:
        return await self.expect(
            lambda m: m.event == name and all(m.get(k) == v for k, v in match.items()), wait
        )

    async def closed(self, wait: float = 5.0) -> bool:
        try:
            while await self._fill(timeout(wait)):
                pass
        except TimeoutError:
            return False
        return True

    async def login(self, username: str = "cti", secret: str = "ctisecret", events: str = "on") -> Message:
        await self.send(Action="Login", Username=username, Secret=secret, Events=events, ActionID="login")
        return await self.response("login")

    def close(self) -> None:
        self.writer.close()


async def frozen(scenario: Scenario) -> AsyncIterator[SimServer]:
    """A running simulator of ``scenario``, no generated traffic, virtual time frozen: tests move it
    with ``sim.advance``. For a fixture: ``yield from``-style use with ``async for``."""
    server = SimServer(scenario, speed=1e-9, seed=1, start=START, traffic=False, auth_fail_delay=0.2)
    await server.start("127.0.0.1", 0)
    try:
        yield server
    finally:
        await server.stop()
    assert not server.problems, server.problems


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    """The transcripts' PBX, virtual time frozen."""
    async for server in frozen(transcript_pbx()):
        yield server


@pytest.fixture
async def client(sim: SimServer) -> AsyncIterator[RawClient]:
    c = await RawClient.connect(sim.port)
    try:
        yield c
    finally:
        c.close()
