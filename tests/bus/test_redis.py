import asyncio
from collections.abc import Sequence

import pytest
import redis.asyncio as aioredis

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
