import asyncio
import random
from collections.abc import Sequence

import pytest
import redis.asyncio as aioredis

from cti.bus.cancelling import shielded
from cti.bus.redis import RedisBus
from cti.core.events import DomainEvent
from tests.bus.events import inbound_call
from tests.conftest import timeout
from tests.waiting import eventually

pytestmark = pytest.mark.redis


async def test_an_instance_sees_the_events_another_instance_published(redis_url: str) -> None:
    a = RedisBus(redis_url, "t:events", "a", block_ms=100)
    b = RedisBus(redis_url, "t:events", "b", block_ms=100)
    got_a: list[tuple[str, DomainEvent]] = []
    got_b: list[tuple[str, DomainEvent]] = []
    writer_b: list[DomainEvent] = []
    a.subscribe("hub", lambda evs, o: got_a.extend((o, e) for e in evs))
    b.subscribe("hub", lambda evs, o: got_b.extend((o, e) for e in evs))
    b.subscribe("writer", lambda evs, o: writer_b.extend(evs), local_only=True)
    async with asyncio.TaskGroup() as tg:
        ta, tb = tg.create_task(a.run()), tg.create_task(b.run())
        await a.wait_ready()
        await b.wait_ready()
        events = inbound_call()
        a.publish(events)
        await eventually(lambda: len(got_b) == len(events))
        assert [e for _, e in got_b] == events
        assert {o for o, _ in got_b} == {"a"}
        assert [e for _, e in got_a] == events  # delivered locally once, not echoed back from Redis
        await asyncio.sleep(0.3)
        assert len(got_a) == len(events)
        assert writer_b == []  # b's store writer never writes a's journeys
        ta.cancel()
        tb.cancel()


async def test_garbage_in_the_stream_is_skipped_and_counted(redis_url: str) -> None:
    b = RedisBus(redis_url, "t:events", "b", block_ms=100)
    got: list[DomainEvent] = []
    b.subscribe("hub", lambda evs, o: got.extend(evs))
    client = aioredis.from_url(redis_url)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(b.run())
        await b.wait_ready()
        await client.xadd("t:events", {"origin": "x", "events": "{{{"})
        await client.xadd("t:events", {"origin": "x", "events": '[{"event": "Nope", "data": {}}]'})
        a = RedisBus(redis_url, "t:events", "a")
        a.publish(inbound_call()[:2])
        await a.flush()
        await eventually(lambda: len(got) == 2)
        assert b.bad_entries == 2
        task.cancel()
    await client.aclose()


async def test_publishing_never_waits_for_redis_and_the_outbox_is_bounded() -> None:
    bus = RedisBus("redis://127.0.0.1:1/0", "t:events", "a", outbox_size=3)
    got: list[Sequence[DomainEvent]] = []
    bus.subscribe("hub", lambda evs, o: got.append(evs))
    for _ in range(5):
        bus.publish(inbound_call()[:1])
    assert len(got) == 5  # local delivery is immediate
    assert bus.dropped == 2
    await bus.flush(within=timeout(1))  # unreachable: logged, does not raise


async def test_a_reader_cancelled_mid_read_stops_at_once(redis_url: str) -> None:
    """redis-py can swallow the cancellation of a blocking XREAD while entries arrive (often, here): the
    daemon then never shuts down. Cancelled at random points while another instance writes, the bus
    reader stops every time."""
    rng = random.Random(7)
    writer = aioredis.from_url(redis_url)

    async def write() -> None:
        while True:
            await writer.xadd("t:events", {"origin": "b", "events": "[]"}, maxlen=100)
            await asyncio.sleep(0.0005)

    feeding = asyncio.create_task(write())
    try:
        for _ in range(30):
            bus = RedisBus(redis_url, "t:events", "a", block_ms=2000)
            task = asyncio.create_task(bus.run())
            await bus.wait_ready()
            await asyncio.sleep(rng.random() * 0.01)
            task.cancel()
            done, _ = await asyncio.wait([task], timeout=timeout(1.5))
            assert done, "the bus reader hung in a cancelled XREAD"
    finally:
        feeding.cancel()
        await writer.aclose()


async def test_shielded_gives_what_a_cancelled_call_still_returned_to_leftover(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    got: list[object] = []
    try:
        task = asyncio.create_task(shielded(client.blpop(["t:q"], timeout=1.0), got.append))
        await asyncio.sleep(0.1)
        task.cancel()
        await client.rpush("t:q", b"late")
        with pytest.raises(asyncio.CancelledError):
            await task
        await eventually(lambda: got, 3, "the read's late result")
        assert got == [[b"t:q", b"late"]] or got == [(b"t:q", b"late")]
    finally:
        await client.aclose()
