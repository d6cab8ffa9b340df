"""The 15-minute rollups equal the definitions computed from the raw legs, for any legs in any order."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from cti.cli import main as cti_main
from cti.core.ids import AgentId, LinkedId, QueueName, UniqueId
from cti.core.journey import CallJourney, Direction, JourneyOutcome, LegOutcome, QueueLeg
from cti.reports.metrics import agent_stats, queue_stats
from cti.store import Store
from cti.store.rollups_repo import BUCKET, bucket_of
from cti.store.schema import create_engine, upgrade
from tests.conftest import FUZZ, FUZZ_FACTOR

T0 = 1_800_000_000.0 - 1_800_000_000.0 % BUCKET  # an interval boundary
SPAN = 3 * 86400.0  # the legs enter within three days (most within three hours): every tier is read
BUSY = 3 * 3600.0
QUEUES = ("sales", "support")
AGENTS = ("alice", "bob", "chen")
EXAMPLES = 12 * (FUZZ_FACTOR if FUZZ else 1)
ROLLUP_TABLES = tuple(
    f"rollup_{kind}_{tier}" for kind in ("queue", "agent") for tier in ("intervals", "hours", "days")
)


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    s = await Store.open(db_url)
    s.rollups.use_thresholds(lambda q: 20.0 if q == "sales" else 30.0, lambda q: 5.0)
    try:
        yield s
    finally:
        await s.close()


legs_st = st.lists(
    st.tuples(
        st.sampled_from(QUEUES),
        st.one_of(st.floats(0, BUSY - 1, allow_nan=False), st.floats(0, SPAN - 1, allow_nan=False)),
        st.sampled_from([*LegOutcome, None]),
        # 20.0000005 and 2.5e-06 are ties in microseconds: us() rounds them half to even, so must the SQL
        st.sampled_from([0.0, 2.5e-06, 3.0, 5.0, 19.999999, 20.0, 20.0000005, 20.000001, 30.0, 61.5]),
        st.one_of(st.floats(0, 600, allow_nan=False), st.sampled_from([7.5e-06, 100.0000005])),
        st.sampled_from([*AGENTS, None]),
        st.lists(st.sampled_from(AGENTS), max_size=2),
    ),
    min_size=0,
    max_size=3,
)


def make_journey(i: int, legs: list[tuple[object, ...]]) -> CallJourney:
    out: list[QueueLeg] = []
    for k, (queue, offset, outcome, wait, talk, agent, rna) in enumerate(legs):
        entered = T0 + float(offset)  # type: ignore[arg-type]
        out.append(
            QueueLeg(
                queue=QueueName(str(queue)),
                uniqueid=UniqueId(f"u{i}.{k}"),
                entered_at=entered,
                position=k + 1,
                left_at=entered + float(wait),  # type: ignore[arg-type]
                outcome=outcome,  # type: ignore[arg-type]
                agent=AgentId(str(agent)) if agent is not None else None,
                ring_no_answer=[AgentId(str(a)) for a in rna],  # type: ignore[attr-defined]
                wait_seconds=float(wait),  # type: ignore[arg-type]
                talk_seconds=float(talk),  # type: ignore[arg-type]
            )
        )
    return CallJourney(
        linkedid=LinkedId(f"{T0 + i:.0f}.{i}"),
        direction=Direction.INBOUND,
        started_at=out[0].entered_at if out else T0 + i,
        ended_at=T0 + SPAN,
        outcome=JourneyOutcome.ANSWERED,
        queue_legs=out,
        server="pbx1" if i % 3 else "pbx2",
        caller_number=f"+1212555{i:04d}",
    )


async def check_equal_to_raw(store: Store, ranges: list[tuple[float, float]]) -> None:
    legs = await store.calls.queue_legs(T0 - BUCKET, T0 + SPAN + BUCKET)
    th, short = store.rollups.threshold, store.rollups.short_abandon
    for start, end in ranges:
        inside = [x for x in legs if start <= x.entered_at < end]
        totals = await store.rollups.queue_totals(start, end)
        for q in QUEUES:
            expected = queue_stats(q, inside, th(q), short(q))
            got = totals.get((q, None))
            if expected.offered == 0:
                assert got is None or got.stats().offered == 0
            else:
                assert got is not None and got.stats() == expected, (q, start, end)
        for by in (BUCKET, 3600, 7200, 86400):
            periods = await store.rollups.queue_totals(start, end, by=by)
            for (q, first), r in periods.items():
                assert first is not None and first % by == 0
                part = [x for x in inside if first <= x.entered_at < first + by]
                assert r.stats() == queue_stats(q, part, th(q), short(q)), (q, first, by)
            finished = sum(1 for x in inside if x.outcome is not None)
            assert sum(r.offered for r in periods.values()) == finished
        agents = await store.rollups.agent_totals(start, end)
        for a in AGENTS:
            assert agents.stats(a) == agent_stats(a, inside), (a, start, end)


@pytest.mark.postgres
@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    calls=st.lists(legs_st, min_size=1, max_size=14),
    rewrites=st.lists(st.tuples(st.integers(0, 13), legs_st), max_size=4),
    deletions=st.lists(st.integers(0, 13), max_size=2),
    seed=st.integers(0, 2**16),
    cuts=st.lists(st.floats(-BUCKET, SPAN + BUCKET, allow_nan=False), min_size=2, max_size=4),
)
async def test_rollups_equal_the_definitions_over_the_raw_legs_for_any_writes_in_any_order(
    store: Store,
    calls: list[list[tuple[object, ...]]],
    rewrites: list[tuple[int, list[tuple[object, ...]]]],
    deletions: list[int],
    seed: int,
    cuts: list[float],
) -> None:
    async with store.db.writing() as conn:
        for table in ("queue_legs", "interactions", *ROLLUP_TABLES):
            await conn.exec_driver_sql(f"DELETE FROM {table}")
    rng = random.Random(seed)
    journeys = [make_journey(i, legs) for i, legs in enumerate(calls)]
    rng.shuffle(journeys)
    while journeys:  # batches of random sizes, in random order
        n = rng.randint(1, 5)
        await store.calls.record_journeys(journeys[:n])
        journeys = journeys[n:]
    for i, legs in rewrites:  # a call written again with other legs (the repair), or a new one
        await store.calls.record_journeys([make_journey(i, legs)])
    for i in deletions:
        j = make_journey(i, [])
        await store.calls.delete_journeys([j.linkedid], j.server)
    ranges = [(T0 - BUCKET, T0 + SPAN + BUCKET)]
    ordered = sorted(T0 + c for c in cuts)
    ranges += list(itertools.pairwise(ordered))
    ranges.append((T0 + BUCKET, T0 + 4 * BUCKET))  # whole intervals only
    ranges.append((T0 - 86400, T0 + 2 * 86400))  # whole days and hours
    await check_equal_to_raw(store, ranges)
    # and the rebuild from the raw legs (in SQL) gives the same rows, in every tier
    before = await rollup_rows(store)
    await store.rollups.rebuild()
    assert await rollup_rows(store) == before
    # the thresholds change (a new configuration) and more calls come: rows counted at two thresholds
    # are never read, their periods come from the finer tiers and the raw legs
    store.rollups.use_thresholds(lambda q: 25.0, lambda q: 2.0)
    for i, legs in rewrites[:2]:
        await store.calls.record_journeys([make_journey(20 + i, legs)])
    await check_equal_to_raw(store, ranges)


async def rollup_rows(store: Store) -> dict[str, list[tuple[object, ...]]]:
    async with store.db.reader.connect() as conn:
        return {
            t: sorted(tuple(r) for r in await conn.exec_driver_sql(f"SELECT * FROM {t}"))
            for t in ROLLUP_TABLES
        }


@pytest.mark.postgres
async def test_a_leg_is_counted_in_the_interval_it_entered_in(store: Store) -> None:
    leg: tuple[object, ...] = (QUEUES[0], BUCKET - 1.0, LegOutcome.ANSWERED, 30.0, 100.0, "alice", [])
    await store.calls.record_journeys([make_journey(1, [leg])])
    totals = await store.rollups.queue_totals(T0, T0 + 2 * BUCKET, by=BUCKET)
    assert list(totals) == [(QUEUES[0], int(T0))]  # it left the queue in the next interval
    assert bucket_of(T0 + BUCKET - 1.0) == T0
    assert totals[(QUEUES[0], int(T0))].answered == 1 and totals[(QUEUES[0], int(T0))].answered_within == 0


@pytest.mark.postgres
async def test_intervals_counted_at_another_threshold_are_read_from_the_raw_legs(store: Store) -> None:
    leg: tuple[object, ...] = (QUEUES[0], 10.0, LegOutcome.ANSWERED, 25.0, 100.0, "alice", [])
    await store.calls.record_journeys([make_journey(1, [leg])])
    assert (await store.rollups.queue_totals(T0, T0 + BUCKET))[(QUEUES[0], None)].answered_within == 0
    store.rollups.use_thresholds(lambda q: 30.0, lambda q: 0.0)  # the configuration changed
    assert (await store.rollups.queue_totals(T0, T0 + BUCKET))[(QUEUES[0], None)].answered_within == 1
    await store.rollups.rebuild()
    async with store.db.reader.connect() as conn:
        (threshold,) = (await conn.exec_driver_sql("SELECT threshold_us FROM rollup_queue_intervals")).one()
    assert threshold == 30_000_000


@pytest.mark.postgres
async def test_a_later_batch_with_shorter_waits_keeps_the_intervals_longest_wait(store: Store) -> None:
    long: tuple[object, ...] = (QUEUES[0], 10.0, LegOutcome.ABANDONED, 61.5, 0.0, None, [])
    short: tuple[object, ...] = (QUEUES[0], 20.0, LegOutcome.ABANDONED, 3.0, 0.0, None, [])
    await store.calls.record_journeys([make_journey(1, [long])])
    await store.calls.record_journeys([make_journey(2, [short])])
    totals = await store.rollups.queue_totals(T0, T0 + BUCKET)
    assert totals[(QUEUES[0], None)].stats().max_wait == 61.5


@pytest.mark.postgres
async def test_the_rebuild_command_rebuilds_with_progress(
    store: Store, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    leg: tuple[object, ...] = (QUEUES[0], 10.0, LegOutcome.ANSWERED, 25.0, 100.0, "alice", [])
    await store.calls.record_journeys([make_journey(1, [leg])])
    async with store.db.writing() as conn:
        await conn.exec_driver_sql("DELETE FROM rollup_queue_intervals")
    assert await asyncio.to_thread(cti_main, ["store", "rollups-rebuild", "--url", db_url]) == 0
    out = capsys.readouterr()
    assert "rebuilt 1 intervals" in out.out and "1/1 intervals" in out.err
    assert (await store.rollups.queue_totals(T0, T0 + BUCKET))[(QUEUES[0], None)].offered == 1
    assert (
        await asyncio.to_thread(cti_main, ["store", "rollups-rebuild", "--url", db_url, "--from", "x"]) == 2
    )


@pytest.mark.postgres
async def test_0010_sums_the_15_minute_rows_of_a_0008_database_into_hours_and_days(db_url: str) -> None:
    engine = create_engine(db_url)
    cols = "bucket, queue, threshold_us, short_abandon_us, offered, max_wait_us"
    rest = (
        "answered, abandoned, timed_out, exited_empty, exited_with_key, transferred, answered_within,"
        " abandoned_within, wait_us, wait_answered_us, wait_abandoned_us, talk_us, ring_no_answer,"
        " short_abandoned, unanswered, unanswered_within"
    )
    zeros = ", ".join("0" for _ in rest.split(","))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade, "0008")
            for bucket, threshold, offered, wait in ((0, 20, 2, 5), (900, 20, 3, 9), (3600, 30, 1, 4)):
                await conn.execute(
                    text(
                        f"INSERT INTO rollup_queue_intervals ({cols}, {rest})"
                        f" VALUES ({bucket}, 'sales', {threshold}, 0, {offered}, {wait}, {zeros})"
                    )
                )
            await conn.run_sync(upgrade, "0010")
            hours = (await conn.execute(text(f"SELECT {cols} FROM rollup_queue_hours ORDER BY bucket"))).all()
            days = (await conn.execute(text(f"SELECT {cols} FROM rollup_queue_days"))).all()
        assert [tuple(r) for r in hours] == [(0, "sales", 20, 0, 5, 9), (3600, "sales", 30, 0, 1, 4)]
        assert [tuple(r) for r in days] == [(0, "sales", -1, 0, 6, 9)]  # two thresholds: mixed
    finally:
        await engine.dispose()
