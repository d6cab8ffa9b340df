"""The bus across daemon instances: Redis Streams.

Every batch this instance publishes is delivered locally at once (no Redis round trip on the pop path) and
appended to the stream ``[redis] stream`` (``XADD ... MAXLEN ~``) by a writer task. A reader task follows
the stream (``XREAD BLOCK`` from the entry current at start-up) and delivers the batches other instances
wrote; its own entries are skipped by their ``origin`` field. So an agent or supervisor connected to
instance B sees what instance A's Asterisk did.

Failure model: Redis going away never blocks the AMI pump. The outbox is bounded (``outbox_size``
batches); when Redis is down longer than that, the oldest batches are dropped and counted, and both tasks
reconnect with capped exponential backoff. Remote consumers see the gap; local ones lose nothing.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cti.bus import codec
from cti.bus.cancelling import shielded
from cti.bus.local import LocalBus
from cti.core.errors import ProtocolError
from cti.core.events import DomainEvent

log = logging.getLogger("cti.bus.redis")


class RedisBus(LocalBus):
    def __init__(
        self,
        url: str,
        stream: str = "cti:events",
        instance: str = "cti-1",
        *,
        maxlen: int = 100_000,
        outbox_size: int = 10_000,
        block_ms: int = 1000,
    ) -> None:
        super().__init__(instance)
        self.url = url
        self.stream = stream
        self.maxlen = maxlen
        self.block_ms = block_ms
        self._outbox: collections.deque[str] = collections.deque()
        self._outbox_size = outbox_size
        self._wake = asyncio.Event()
        self._client: aioredis.Redis | None = None
        self._reader_client: aioredis.Redis | None = None
        self._ready = asyncio.Event()
        self._connected = False
        self.dropped = 0  # batches dropped because Redis was unreachable too long
        self.written = 0  # batches written to the stream
        self.bad_entries = 0  # stream entries that did not decode
        self.reconnects = 0

    @property
    def connected(self) -> bool:
        return self._connected

    async def wait_ready(self) -> None:
        """Until the reader has taken its position in the stream (tests and start-up ordering)."""
        await self._ready.wait()

    def publish(self, events: Sequence[DomainEvent]) -> None:
        if not events:
            return
        super().publish(events)
        if len(self._outbox) >= self._outbox_size:
            self._outbox.popleft()
            self.dropped += 1
        self._outbox.append(codec.dumps(events))
        self._wake.set()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._write_loop())
            tg.create_task(self._read_loop())

    async def flush(self, within: float = 5.0) -> None:
        """Write what is left in the outbox (clean shutdown)."""
        if not self._outbox:
            return
        client = aioredis.from_url(self.url)
        try:
            async with asyncio.timeout(within):
                await self._write_batch(client)
        except (TimeoutError, RedisError, OSError) as e:
            log.warning("redis bus: %d batches not written at shutdown: %s", len(self._outbox), e)
        finally:
            await client.aclose()

    async def _write_batch(self, client: aioredis.Redis) -> None:
        while self._outbox:
            chunk = list(self._outbox)[:200]
            pipe = client.pipeline(transaction=False)
            for payload in chunk:
                pipe.xadd(
                    self.stream,
                    {"origin": self.instance, "events": payload},
                    maxlen=self.maxlen,
                    approximate=True,
                )
            await shielded(pipe.execute())
            for _ in chunk:
                self._outbox.popleft()
            self.written += len(chunk)

    async def _write_loop(self) -> None:
        delay = 0.2
        while True:
            client = aioredis.from_url(self.url)
            try:
                while True:
                    await self._wake.wait()
                    self._wake.clear()
                    await self._write_batch(client)
                    delay = 0.2
            except (RedisError, OSError) as e:
                log.warning("redis bus writer: %s; retrying in %.1fs", e, delay)
                self._wake.set()  # what is in the outbox is still to be written
            finally:
                await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _read_loop(self) -> None:
        delay = 0.2
        last_id = "$"
        while True:
            client = aioredis.from_url(self.url)
            try:
                if last_id == "$":
                    # Take a concrete position, so entries written while we reconnect are not skipped.
                    info: Any = (
                        await shielded(client.xinfo_stream(self.stream))
                        if await shielded(client.exists(self.stream))
                        else None
                    )
                    last_id = info["last-generated-id"] if info else "0-0"
                    if isinstance(last_id, bytes):
                        last_id = last_id.decode()
                self._connected = True
                self._ready.set()
                delay = 0.2
                while True:
                    reply: Any = await shielded(
                        client.xread({self.stream: last_id}, block=self.block_ms, count=500)
                    )
                    for _stream, entries in reply or ():
                        for entry_id, fields in entries:
                            last_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                            self._accept(fields)
            except (RedisError, OSError) as e:
                if self._connected:
                    self.reconnects += 1
                self._connected = False
                log.warning("redis bus reader: %s; retrying in %.1fs", e, delay)
            finally:
                await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _stream_end(self, client: aioredis.Redis) -> str:
        if not await client.exists(self.stream):
            return "0-0"
        info: Any = await client.xinfo_stream(self.stream)
        last = info["last-generated-id"]
        return last.decode() if isinstance(last, bytes) else str(last)

    def _accept(self, fields: dict[Any, Any]) -> None:
        origin = fields.get(b"origin", fields.get("origin", b""))
        origin = origin.decode() if isinstance(origin, bytes) else str(origin)
        if origin == self.instance:
            return
        payload = fields.get(b"events", fields.get("events", b""))
        try:
            events = codec.loads(payload)
        except ProtocolError as e:
            self.bad_entries += 1
            log.warning("redis bus: skipped an entry from %r: %s", origin, e)
            return
        self.deliver_remote(events, origin)
