import asyncio
from collections.abc import Mapping, Sequence

from cti.core.events import CallEnded
from cti.core.journey import CallJourney
from cti.records import JourneyWriter
from cti.store import phones
from cti.store.callrecords import CallKey
from tests.bus.events import inbound_call
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
