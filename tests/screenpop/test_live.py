import dataclasses
import datetime as dt

from cti.core.events import AgentState, CallEnded, CallLeftQueue
from cti.core.ids import QueueName
from cti.core.journey import LegOutcome
from cti.reports.metrics import queue_stats
from cti.screenpop.live import LiveBoard
from tests.bus.events import agent_state, inbound_call

# local noon of a fixed day: a call of a test never crosses a local midnight, whenever the test runs
NOW = dt.datetime(2026, 3, 10, 12, 0, 0).timestamp()


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


def test_no_test_call_crosses_a_local_midnight() -> None:
    day = dt.datetime.fromtimestamp(NOW).date()
    assert dt.datetime.fromtimestamp(NOW + 3600).date() == day  # every call here ends within the hour


def test_pending_legs_count_until_their_call_ends_even_when_the_journey_no_longer_lists_them() -> None:
    board = LiveBoard(lambda q: 20.0)
    short = inbound_call("1.1", at=NOW)
    long = [
        dataclasses.replace(e, waited_seconds=50.0) if isinstance(e, CallLeftQueue) else e
        for e in inbound_call("2.2", at=NOW + 10)
    ]
    for e in short[:4] + long[:4]:
        board.apply(e)
    fig = board.queue_figures(QueueName("sales"))
    assert (fig["offered"], fig["answered"], fig["max_wait"]) == (2, 2, 50.0)
    merged = long[-1]
    assert isinstance(merged, CallEnded)
    # the call was merged into another: its journey no longer lists the leg, which must go all the same
    board.apply(dataclasses.replace(merged, journey=dataclasses.replace(merged.journey, queue_legs=[])))
    fig = board.queue_figures(QueueName("sales"))
    assert (fig["offered"], fig["answered"], fig["max_wait"]) == (1, 1, 5.0)
    for e in short[4:]:
        board.apply(e)
    fig = board.queue_figures(QueueName("sales"))
    assert (fig["offered"], fig["answered"], fig["max_wait"], fig["avg_talk"]) == (1, 1, 5.0, 30.0)
    assert board.queues[QueueName("sales")].pending == {}


def test_live_figures_with_many_pending_legs_equal_the_report_over_finished_and_pending_legs() -> None:
    board = LiveBoard(lambda q: 20.0)
    legs = []
    for i in range(60):
        events = inbound_call(f"{i}.1", at=NOW + i)
        left = events[2]
        assert isinstance(left, CallLeftQueue)
        events[2] = dataclasses.replace(left, waited_seconds=float(i % 25))
        upto = len(events) if i % 3 else 4  # every third call is still talking
        for e in events[:upto]:
            board.apply(e)
        ended = events[-1]
        assert isinstance(ended, CallEnded)
        leg = ended.journey.queue_legs[0]
        if upto < len(events):  # counted as it left the queue: its wait, no talk yet
            leg = dataclasses.replace(leg, wait_seconds=float(i % 25), talk_seconds=0.0)
        legs.append(leg)
    live = board.queue_figures(QueueName("sales"))
    report = queue_stats("sales", legs, 20.0).to_json()
    assert {k: live[k] for k in report} == report
    assert live["max_wait"] == 24.0 and live["service_level"] < 1.0
