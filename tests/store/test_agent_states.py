"""The agents' state history in the store: intervals, time in state clipped to a range, restarts, writer."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.agentstates import AgentStateWriter
from cti.core.events import AgentState, AgentStateChanged
from cti.core.ids import AgentId, QueueName
from cti.reports.states import Interval, StateChange, time_in_state
from cti.store.repository import Store

T0 = 1_800_000_000.0
EXAMPLES = itertools.count()


def ch(agent: str, state: str, at: float, reason: str = "", server: str = "pbx1") -> StateChange:
    return StateChange(server, agent, state, T0 + at, reason, ("sales",))


def shape(ivs: Sequence[Interval]) -> list[tuple[str, str, str, float, float | None]]:
    return [
        (i.agent, i.state, i.reason, i.started_at - T0, None if i.ended_at is None else i.ended_at - T0)
        for i in ivs
    ]


async def test_changes_become_intervals_and_a_repeat_adds_nothing(store: Store) -> None:
    a = store.agent_states
    await a.record([ch("Alice", "available", 0), ch("Bob", "available", 5), ch("Alice", "ringing", 60)])
    # a repeated identical state, a retried batch and a change older than the open interval add nothing
    await a.record([ch("Alice", "ringing", 61), ch("Alice", "available", 0)])
    await a.record(
        [ch("Alice", "on_call", 70), ch("Alice", "paused", 200, "lunch"), ch("Bob", "available", 9)]
    )
    await a.record([ch("Alice", "paused", 210, "lunch"), ch("Alice", "paused", 300, "training")])
    assert shape(await a.intervals(T0 - 100, T0 + 1000)) == [
        ("Alice", "available", "", 0.0, 60.0),
        ("Alice", "ringing", "", 60.0, 70.0),
        ("Alice", "on_call", "", 70.0, 200.0),
        ("Alice", "paused", "lunch", 200.0, 300.0),
        ("Alice", "paused", "training", 300.0, None),
        ("Bob", "available", "", 5.0, None),
    ]


async def test_time_in_state_is_clipped_to_the_range(store: Store) -> None:
    a = store.agent_states
    await a.record(
        [
            ch("Alice", "available", 0),
            ch("Alice", "on_call", 100),
            ch("Alice", "paused", 400, "lunch"),
            ch("Alice", "paused", 700, ""),
            ch("Alice", "available", 1000),
            ch("Alice", "logged_out", 1200),
        ]
    )
    times = await a.time_in_state(T0 + 50, T0 + 800)
    assert times["Alice"].states == {"available": 50.0, "on_call": 300.0, "paused": 400.0}
    assert times["Alice"].pauses == {"": 100.0, "lunch": 300.0}
    assert (times["Alice"].staffed, times["Alice"].available) == (750.0, 50.0)
    # the open logged-out interval counts up to ``now``, never past it
    late = await a.time_in_state(T0 + 1100, T0 + 5000, now=T0 + 1500)
    assert late["Alice"].states == {"available": 100.0, "logged_out": 300.0}
    assert await a.time_in_state(T0 + 2000, T0 + 3000, now=T0 + 1500) == {}


async def test_a_restart_closes_the_open_intervals(store: Store) -> None:
    a = store.agent_states
    await a.record(
        [
            ch("Alice", "available", 0),
            ch("Bob", "paused", 10, "break"),
            ch("Eve", "available", 0, server="pbx2"),
        ]
    )
    # shutdown at 100: pbx1's open intervals end there, pbx2's stay open
    assert await a.close_open("pbx1", T0 + 100) == 2
    await a.record([ch("Zed", "available", 500, server="pbx3")])
    assert await a.close_open("pbx3", T0 + 400) == 1  # never before the interval's start
    zed = [i for i in await a.intervals(T0 + 450, T0 + 600) if i.server == "pbx3"]
    assert shape(zed) == [("Zed", "available", "", 500.0, 500.0)]
    # after the restart the first changes open new intervals; a crashed pbx2 interval ends at the next event
    await a.record([ch("Alice", "available", 130), ch("Eve", "on_call", 150, server="pbx2")])
    assert shape([i for i in await a.intervals(T0, T0 + 1000) if i.server != "pbx3"]) == [
        ("Alice", "available", "", 0.0, 100.0),
        ("Alice", "available", "", 130.0, None),
        ("Bob", "paused", "break", 10.0, 100.0),
        ("Eve", "available", "", 0.0, 150.0),
        ("Eve", "on_call", "", 150.0, None),
    ]
    times = await a.time_in_state(T0, T0 + 200)
    assert times["Alice"].states == {"available": 170.0}  # the gap 100..130 is unknown, not counted
    assert times["Bob"].pauses == {"break": 90.0}


class FlakyStates:
    """The real repository behind a switch: ``down`` makes every write fail (a store outage)."""

    def __init__(self, store: Store) -> None:
        self.repo = store.agent_states
        self.down = False
        self.failed = asyncio.Event()
        self.written = asyncio.Event()

    async def record(self, changes: Sequence[StateChange]) -> int:
        if self.down:
            self.failed.set()
            raise ConnectionError("store down")
        n = await self.repo.record(changes)
        self.written.set()
        return n

    async def close_open(self, server: str, at: float) -> int:
        return await self.repo.close_open(server, at)


def event(agent: str, state: AgentState, at: float, reason: str = "") -> AgentStateChanged:
    return AgentStateChanged(T0 + at, "pbx1", AgentId(agent), "PJSIP/x", state, reason, (QueueName("sales"),))


async def test_the_writer_keeps_changes_through_an_outage_and_closes_at_shutdown(store: Store) -> None:
    flaky = FlakyStates(store)
    writer = AgentStateWriter(flaky, batch_size=2, flush_interval=5.0)
    flaky.down = True
    task = asyncio.create_task(writer.run())
    try:
        writer.on_events([event("Alice", AgentState.AVAILABLE, 0), event("Alice", AgentState.ON_CALL, 30)])
        writer.on_events([event("Alice", AgentState.PAUSED, 90, "lunch")])
        await flaky.failed.wait()
        assert writer.pending == 3 and writer.failing and writer.errors == 1
        flaky.down = False
        await flaky.written.wait()  # the retry wrote the first batch of 2
        assert writer.pending == 1 and not writer.failing
    finally:
        task.cancel()
    await writer.flush(T0 + 150)
    assert shape(await store.agent_states.intervals(T0, T0 + 1000)) == [
        ("Alice", "available", "", 0.0, 30.0),
        ("Alice", "on_call", "", 30.0, 90.0),
        ("Alice", "paused", "lunch", 90.0, 150.0),
    ]
    assert (writer.rows, writer.dropped) == (3, 0)


async def test_the_writer_bounds_memory_and_counts_what_it_drops(store: Store) -> None:
    writer = AgentStateWriter(store.agent_states, max_pending=2)
    writer.on_events(
        [event("Bob", AgentState.AVAILABLE, t) for t in (0, 1, 2)] + [event("Bob", AgentState.PAUSED, 5)]
    )
    assert (writer.pending, writer.dropped) == (2, 2)
    await writer.flush(T0 + 10)
    assert shape(await store.agent_states.intervals(T0, T0 + 100)) == [
        ("Bob", "available", "", 2.0, 5.0),
        ("Bob", "paused", "", 5.0, 10.0),
    ]


STATES = ["available", "ringing", "on_call", "wrap_up", "paused", "logged_out"]


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),
            st.integers(min_value=0, max_value=50),
            st.sampled_from(STATES),
            st.sampled_from(["", "lunch"]),
        ),
        min_size=1,
        max_size=30,
    ),
    st.integers(min_value=1, max_value=5),
)
async def test_time_in_state_sums_to_the_span_and_equals_a_plain_fold(
    store: Store, steps: list[tuple[str, int, str, str]], batch: int
) -> None:
    n = next(EXAMPLES)
    server, t = f"s{n}", T0 + n * 100_000
    changes = []
    for agent, gap, state, reason in steps:
        t += gap
        changes.append(StateChange(server, f"{agent}{n}", state, t, reason if state == "paused" else ""))
    for i in range(0, len(changes), batch):
        await store.agent_states.record(changes[i : i + batch])
    lo, hi = changes[0].at, changes[-1].at
    got = await store.agent_states.time_in_state(lo, hi + 1)
    # the plain fold: each change lasts until the same agent's next change (the last one until hi + 1)
    want: dict[str, dict[str, float]] = {}
    pauses: dict[str, dict[str, float]] = {}
    for i, c in enumerate(changes):
        nxt = next((d.at for d in changes[i + 1 :] if d.agent == c.agent), hi + 1)
        if nxt > c.at:
            want.setdefault(c.agent, {}).setdefault(c.state, 0.0)
            want[c.agent][c.state] += nxt - c.at
            if c.state == "paused":
                pauses.setdefault(c.agent, {}).setdefault(c.reason, 0.0)
                pauses[c.agent][c.reason] += nxt - c.at
    mine = {a: v for a, v in got.items() if a.endswith(str(n)) and a[: -len(str(n))] in ("a", "b")}
    assert {a: v.states for a, v in mine.items()} == want
    assert {a: v.pauses for a, v in mine.items() if v.pauses} == pauses
    for a, v in mine.items():
        first = next(c.at for c in changes if c.agent == a)
        assert sum(v.states.values()) == hi + 1 - first
    # the store's intervals give the same figures as the pure module over them
    ivs = [iv for iv in await store.agent_states.intervals(lo, hi + 1) if iv.server == server]
    assert {a: v.states for a, v in time_in_state(ivs, lo, hi + 1).items()} == want
