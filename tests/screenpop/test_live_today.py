"""The supervisor's "today" is rebuilt from the store's rollups at start: it survives a restart and equals
`cti report` for today."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from cti.app import seed_today
from cti.config import Config
from cti.core.events import CallEnded
from cti.core.ids import AgentId, LinkedId, QueueName, UniqueId
from cti.core.journey import CallJourney, Direction, JourneyOutcome, LegOutcome, QueueLeg
from cti.reports.cli import read_input
from cti.reports.kinds import agent_report, queue_report
from cti.screenpop.live import LiveBoard
from cti.store import Store

NOW = dt.datetime(2026, 12, 2, 15, 7, 30).timestamp()  # local time, mid-afternoon
MIDNIGHT = dt.datetime(2026, 12, 2).timestamp()


def call(
    i: int, at: float, outcome: LegOutcome, wait: float, agent: str | None, talk: float = 0.0
) -> CallJourney:
    leg = QueueLeg(
        queue=QueueName("sales" if i % 2 else "support"),
        uniqueid=UniqueId(f"u{i}"),
        entered_at=at,
        position=1,
        left_at=at + wait,
        outcome=outcome,
        agent=AgentId(agent) if agent else None,
        ring_no_answer=[AgentId("bob")] if i % 3 == 0 else [],
        wait_seconds=wait,
        talk_seconds=talk,
    )
    return CallJourney(
        linkedid=LinkedId(f"{at:.0f}.{i}"),
        direction=Direction.INBOUND,
        started_at=at,
        ended_at=at + wait + talk,
        outcome=JourneyOutcome.ANSWERED,
        queue_legs=[leg],
        server="pbx1",
        agents=[AgentId(agent)] if agent else [],
        caller_number=f"+1212555{i:04d}",
    )


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    s = await Store.open(db_url)
    try:
        yield s
    finally:
        await s.close()


def config() -> Config:
    cfg = Config()
    cfg.reports.service_level_seconds = 15.0
    cfg.reports.short_abandon_seconds = 4.0
    return cfg


async def seeded(store: Store, cfg: Config) -> LiveBoard:
    board = LiveBoard(cfg.reports.threshold, cfg.reports.short_abandon)
    await seed_today(board, store, cfg, NOW)
    return board


@pytest.mark.postgres
async def test_today_is_rebuilt_from_the_store_at_start_and_equals_the_report(store: Store) -> None:
    cfg = config()
    store.rollups.use_thresholds(cfg.reports.threshold, cfg.reports.short_abandon)
    yesterday = MIDNIGHT - 3600
    calls = [
        call(1, yesterday, LegOutcome.ANSWERED, 5, "alice", 100),  # yesterday: not today's
        call(2, MIDNIGHT + 60, LegOutcome.ANSWERED, 12, "alice", 200),
        call(3, MIDNIGHT + 3 * 3600 + 7, LegOutcome.ABANDONED, 3, None),  # a short abandon
        call(4, MIDNIGHT + 9 * 3600, LegOutcome.ANSWERED, 40, "chen", 90),
        call(5, NOW - 300, LegOutcome.ABANDONED, 30, None),
        call(6, NOW - 120, LegOutcome.TRANSFERRED, 8, "alice", 60),
    ]
    await store.calls.record_journeys(calls)
    board = await seeded(store, cfg)
    report = await read_input(store.calls, cfg, MIDNIGHT, NOW + 1)
    rows = {r["queue"]: r for r in queue_report(report).rows}
    assert set(rows) == {"sales", "support"}
    for name, row in rows.items():
        live = board.queue_figures(QueueName(name))
        for key in ("offered", "answered", "abandoned", "transferred", "service_level", "avg_wait_answered"):
            assert live[key] == row[key], (name, key)
        for key in ("max_wait", "avg_talk", "sl_asterisk", "sl_asterisk2"):
            if key in live:
                assert live[key] == row[key], (name, key)
    assert board.queue_figures(QueueName("sales"))["offered"] == 2  # calls 3 and 5; call 1 was yesterday
    agents = {r["agent"]: r for r in agent_report(report).rows}
    for name in ("alice", "chen"):
        stats = board.agent_rollup.stats(name)
        assert (
            stats.answered == agents[name]["answered"] and stats.talk_seconds == agents[name]["talk_seconds"]
        )
    # a restart: a new board seeded from the same store shows the same day
    again = await seeded(store, cfg)
    for name in rows:
        assert again.queue_figures(QueueName(name)) == board.queue_figures(QueueName(name))


@pytest.mark.postgres
async def test_a_new_call_after_the_restart_adds_to_the_seeded_day(store: Store) -> None:
    cfg = config()
    store.rollups.use_thresholds(cfg.reports.threshold, cfg.reports.short_abandon)
    await store.calls.record_journeys([call(2, MIDNIGHT + 60, LegOutcome.ANSWERED, 12, "alice", 200)])
    board = await seeded(store, cfg)
    assert board.queue_figures(QueueName("support"))["offered"] == 1
    later = call(4, NOW + 10, LegOutcome.ANSWERED, 2, "chen", 30)
    board.apply(CallEnded(at=NOW + 50, server="pbx1", journey=later))
    figures = board.queue_figures(QueueName("support"))
    assert figures["offered"] == 2 and figures["answered"] == 2
