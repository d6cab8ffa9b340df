import dataclasses
import time

from cti.core.events import AgentState, CallEnded, CallLeftQueue
from cti.core.ids import QueueName
from cti.core.journey import LegOutcome
from cti.reports.metrics import queue_stats
from cti.screenpop.live import LiveBoard
from tests.bus.events import agent_state, inbound_call

NOW = time.time()


def test_live_queue_figures_equal_the_report_definitions_over_the_same_legs() -> None:
    board = LiveBoard(lambda q: 20.0)
    legs = []
    for i in range(5):
        events = inbound_call(f"{i}.1", at=NOW + i * 100)
        for e in events:
            board.apply(e)
        ended = events[-1]
        assert isinstance(ended, CallEnded)
        legs.extend(ended.journey.queue_legs)
    live = board.queue_figures(QueueName("sales"))
    report = queue_stats("sales", legs, 20.0).to_json()
    assert {k: live[k] for k in report} == report
    assert live["offered"] == 5 and live["answered"] == 5 and live["waiting"] == 0


def test_a_caller_counts_as_answered_as_soon_as_they_leave_the_queue_and_once_only() -> None:
    board = LiveBoard(lambda q: 20.0)
    events = inbound_call("1.1", at=NOW)
    for e in events[:2]:
        board.apply(e)
    fig = board.queue_figures(QueueName("sales"))
    assert fig["waiting"] == 1 and fig["oldest_waiting_since"] == NOW and fig["offered"] == 0
    for e in events[2:4]:  # left the queue answered, agent talking
        board.apply(e)
    fig = board.queue_figures(QueueName("sales"))
    assert fig["waiting"] == 0 and fig["answered"] == 1 and fig["avg_wait_answered"] == 5.0
    for e in events[4:]:
        board.apply(e)
    fig = board.queue_figures(QueueName("sales"))
    assert fig["answered"] == 1 and fig["offered"] == 1 and fig["avg_talk"] == 30.0


def test_agents_by_state_with_time_in_state() -> None:
    board = LiveBoard(lambda q: 20.0)
    board.apply(agent_state("Alice", AgentState.AVAILABLE, at=NOW))
    changes = board.apply(agent_state("Alice", AgentState.PAUSED, at=NOW + 60, reason="lunch"))
    assert changes.agents == {"Alice"}
    fig = board.agent_figures("Alice")  # type: ignore[arg-type]
    assert fig["state"] == "paused" and fig["reason"] == "lunch" and fig["since"] == NOW + 60
    assert board.queue_figures(QueueName("sales"))["agents"] == {"paused": 1}


def test_the_counters_start_again_on_a_new_day() -> None:
    board = LiveBoard(lambda q: 20.0)
    for e in inbound_call("1.1", at=NOW - 2 * 86400):
        board.apply(e)
    for e in inbound_call("2.2", at=NOW):
        board.apply(e)
    fig = board.queue_figures(QueueName("sales"))
    assert fig["offered"] == 1


def test_abandoned_calls_count_as_abandoned() -> None:
    board = LiveBoard(lambda q: 20.0)
    events = inbound_call("1.1", at=NOW)
    board.apply(events[0])
    left = events[2]
    assert isinstance(left, CallLeftQueue)
    board.apply(dataclasses.replace(left, outcome=LegOutcome.ABANDONED, waited_seconds=5.0))
    assert board.queue_figures(QueueName("sales"))["abandoned"] == 1
