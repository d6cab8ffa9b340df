import asyncio
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import select

from cti.core.events import CallEnded
from cti.core.ids import AgentId
from cti.core.journey import CallJourney
from cti.records import JourneyWriter, dump_item, load_item
from cti.store import Store, phones
from cti.store.callrecords import CallKey
from cti.store.database import interactions_t
from tests.bus.events import inbound_call
from tests.conftest import PG_URL, need_server
from tests.waiting import eventually


class FlakyStore:
    """Records batches; fails the first ``failures`` writes like a database that went away."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.batches: list[list[str]] = []
        self.normalized: dict[CallKey, str | None] = {}

    def normalize(self, number: str | None) -> str | None:
        return phones.normalize(number, "CN")

    async def record_journeys(
        self, journeys: Sequence[CallJourney], *, normalized: Mapping[CallKey, str | None] | None = None
    ) -> int:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database is down")
        self.batches.append([j.linkedid for j in journeys])
        self.normalized.update(normalized or {})
        return len(journeys)


def ended(n: int) -> list[CallEnded]:
    out: list[CallEnded] = []
    for i in range(n):
        last = inbound_call(f"{i}.1")[-1]
        assert isinstance(last, CallEnded)
        out.append(last)
    return out


async def test_journeys_are_written_in_batches_of_batch_size() -> None:
    store = FlakyStore()
    writer = JourneyWriter(store, batch_size=3, flush_interval=60)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(writer.run())
        writer.on_events(inbound_call("x.1")[:-1])  # no CallEnded: nothing to write
        writer.on_events(ended(7))
        await eventually(lambda: len(store.batches) == 2)
        assert writer.pending == 1  # the 7th waits for the interval or a full batch
        task.cancel()
    assert store.batches == [["0.1", "1.1", "2.1"], ["3.1", "4.1", "5.1"]]


async def test_a_partial_batch_is_written_after_flush_interval() -> None:
    store = FlakyStore()
    writer = JourneyWriter(store, batch_size=100, flush_interval=0.05)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(writer.run())
        writer.on_events(ended(2))
        await eventually(lambda: store.batches == [["0.1", "1.1"]])
        task.cancel()
    assert writer.rows == 2 and writer.batches == 1


async def test_a_failed_write_is_retried_and_nothing_is_lost() -> None:
    store = FlakyStore(failures=2)
    writer = JourneyWriter(store, batch_size=2, flush_interval=0.01)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(writer.run())
        writer.on_events(ended(2))
        await eventually(lambda: store.batches == [["0.1", "1.1"]], 10)
        task.cancel()
    assert writer.errors == 2 and "database is down" in writer.last_error


async def test_flush_writes_everything_left_at_shutdown() -> None:
    store = FlakyStore()
    writer = JourneyWriter(store, batch_size=2, flush_interval=3600)
    writer.on_events(ended(5))
    await writer.flush()
    assert [lid for b in store.batches for lid in b] == [f"{i}.1" for i in range(5)]
    assert writer.pending == 0


async def test_each_journey_goes_to_the_store_with_its_number_normalized_when_the_call_ended() -> None:
    store = FlakyStore()
    writer = JourneyWriter(store, batch_size=10, flush_interval=3600)
    calls = ended(2)
    calls[0].journey.caller_number = "138 1234 5678"
    calls[1].journey.caller_number = "anonymous"
    writer.on_events(calls)
    await writer.flush()
    assert store.normalized == {("pbx1", "0.1"): "+8613812345678", ("pbx1", "1.1"): None}


async def test_the_writer_is_failing_from_the_first_failed_write_until_one_succeeds() -> None:
    """Health tells the truth: one failed write of one record, not 500 pending records (issue 14)."""
    store = FlakyStore(failures=1)
    writer = JourneyWriter(store, batch_size=500, flush_interval=0.01)
    assert not writer.failing
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(writer.run())
        writer.on_events(ended(1))
        await eventually(lambda: writer.errors == 1)
        assert writer.failing and writer.pending == 1
        await eventually(lambda: store.batches == [["0.1"]], 10)
        assert not writer.failing
        task.cancel()


class OutageStore(FlakyStore):
    """Refuses every write while ``down``; records each linkedid written, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True

    async def record_journeys(
        self, journeys: Sequence[CallJourney], *, normalized: Mapping[CallKey, str | None] | None = None
    ) -> int:
        if self.down:
            raise ConnectionError("database is down")
        return await super().record_journeys(journeys, normalized=normalized)

    def written(self) -> list[str]:
        return [lid for b in self.batches for lid in b]


def calls(first: int, n: int) -> list[CallEnded]:
    out: list[CallEnded] = []
    for i in range(first, first + n):
        last = inbound_call(f"{i}.1")[-1]
        assert isinstance(last, CallEnded)
        out.append(last)
    return out


def first_seen(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


async def test_during_an_outage_memory_is_bounded_the_rest_spills_to_disk_and_all_is_written_in_order(
    tmp_path: Path,
) -> None:
    store = OutageStore()
    spill = tmp_path / "spill.jsonl"
    writer = JourneyWriter(store, batch_size=3, flush_interval=0.01, max_pending=5, spill_path=spill)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(writer.run())
        for i in range(0, 40, 4):
            writer.on_events(calls(i, 4))
            assert writer.in_memory <= 5
        await eventually(lambda: writer.errors >= 2, what="writes refused by the store")
        assert writer.pending == 40 and writer.in_memory == 5 and writer.spilled == 35
        assert len(spill.read_text().splitlines()) == 35
        store.down = False
        writer.on_events(calls(40, 2))  # arriving while the backlog is written back: behind it
        await eventually(lambda: len(store.written()) >= 30, what="the backlog being written")
        writer.on_events(calls(42, 3))
        await eventually(lambda: writer.pending == 0, 10, what="the whole backlog written")
        task.cancel()
    assert store.written() == [f"{i}.1" for i in range(45)]  # nothing lost, nothing twice, in order
    assert spill.read_text() == ""  # emptied once all it held was written


async def test_a_shutdown_during_an_outage_keeps_everything_on_disk_for_the_next_start(
    tmp_path: Path,
) -> None:
    store = OutageStore()
    spill = tmp_path / "spill.jsonl"
    writer = JourneyWriter(store, batch_size=2, flush_interval=3600, max_pending=4, spill_path=spill)
    writer.on_events(calls(0, 10))
    store.down = False
    await writer._write_one_batch()  # part of the backlog made it before the store went away again
    store.down = True
    writer.on_events(calls(10, 3))
    await writer.flush()  # does not raise: kept on disk
    assert writer.pending == 13 - 2 and writer.in_memory == 0
    store.down = False
    again = JourneyWriter(store, batch_size=2, flush_interval=0.01, max_pending=4, spill_path=spill)
    assert again.pending == 11
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(again.run())
        await eventually(lambda: again.pending == 0, 10, what="the replay of the spill file")
        task.cancel()
    assert first_seen(store.written()) == [f"{i}.1" for i in range(13)]


def test_a_spilled_journey_reads_back_equal_with_every_field() -> None:
    (call,) = calls(7, 1)
    journey = call.journey
    journey.lead_id, journey.campaign = "42", "renewals"
    journey.queue_legs[0].ring_no_answer.append(AgentId("Bob"))
    item = (journey, "+14155550101")
    assert load_item(dump_item(item)) == item


@pytest.mark.postgres
async def test_a_real_store_outage_spills_to_disk_and_every_journey_reaches_the_database(
    tmp_path: Path,
) -> None:
    """PostgreSQL refuses every connection (ALLOW_CONNECTIONS false, sessions terminated) while calls end."""
    need_server("PostgreSQL", "127.0.0.1", 5432)
    name = f"cti_test_{uuid.uuid4().hex[:12]}"
    admin = PG_URL.replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        store = await Store.open(PG_URL.rsplit("/", 1)[0] + "/" + name)
        writer = JourneyWriter(
            store.calls, batch_size=5, flush_interval=0.01, max_pending=10, spill_path=tmp_path / "spill"
        )
        try:
            async with asyncio.TaskGroup() as tg:
                task = tg.create_task(writer.run())
                writer.on_events(calls(0, 3))
                await eventually(lambda: writer.rows == 3, what="written while the store is up")
                await conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                await conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
                )
                writer.on_events(calls(3, 40))
                await eventually(lambda: writer.errors >= 2, 10, what="writes refused by the dead store")
                assert writer.in_memory == 10 and writer.spilled == 30 and writer.pending == 40
                await conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
                await eventually(lambda: writer.pending == 0, 30, what="the backlog written")
                task.cancel()
            async with store.db.reader.connect() as db:
                rows = await db.execute(select(interactions_t.c.linkedid))
                assert sorted(r[0] for r in rows) == sorted(f"{i}.1" for i in range(43))
        finally:
            await store.close()
    finally:
        await conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
