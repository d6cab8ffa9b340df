"""Metrics are defined once: the batch definitions and the running rollups agree on any legs, any order."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.asterisk.calls import CallTracker
from cti.asterisk.replay import replay
from cti.core.events import CallEnded
from cti.core.ids import AgentId, QueueName, UniqueId
from cti.core.journey import LegOutcome, QueueLeg
from cti.reports.metrics import (
    AgentRollup,
    QueueRollup,
    agent_outcomes,
    agent_stats,
    aht,
    campaign_results,
    histogram,
    occupancy,
    percentile,
    queue_stats,
    queue_stats_json,
    repeat_flags,
    service_levels,
    us,
    utilisation,
)
from tests.conftest import TRANSCRIPTS, examples

AGENTS = ["Alice", "Bob", "Carol"]


def leg(
    outcome: LegOutcome | None,
    wait: float,
    talk: float = 0.0,
    agent: str | None = None,
    rna: tuple[str, ...] = (),
    queue: str = "sales",
) -> QueueLeg:
    answered = outcome in (LegOutcome.ANSWERED, LegOutcome.TRANSFERRED)
    return QueueLeg(
        QueueName(queue),
        UniqueId("1.1"),
        0.0,
        1,
        left_at=wait,
        outcome=outcome,
        agent=AgentId(agent) if agent and answered else None,
        ring_no_answer=[AgentId(a) for a in rna],
        wait_seconds=wait,
        talk_seconds=talk if answered else 0.0,
    )


legs_strategy = st.lists(
    st.builds(
        leg,
        st.sampled_from([*LegOutcome, None]),
        st.floats(0, 600, allow_nan=False),
        st.floats(0, 3600, allow_nan=False),
        st.sampled_from(AGENTS),
        st.lists(st.sampled_from(AGENTS), max_size=3).map(tuple),
        st.sampled_from(["sales", "support"]),
    ),
    max_size=40,
)


@settings(max_examples=examples(200))
@given(legs_strategy, st.randoms(use_true_random=False), st.sampled_from([0.0, 5.0, 20.0, 30.5]))
def test_rollups_fed_one_leg_at_a_time_in_any_order_equal_the_definitions(
    legs: list[QueueLeg], rnd: random.Random, threshold: float
) -> None:
    shuffled = list(legs)
    rnd.shuffle(shuffled)
    short = min(threshold, 3.0)  # short abandons too: every service-level variant agrees
    for queue in ("sales", "support"):
        rollup = QueueRollup(queue, threshold, short_abandon=short)
        for g in shuffled:
            rollup.add(g)
        assert rollup.stats() == queue_stats(queue, legs, threshold, short)
    agents = AgentRollup()
    for g in shuffled:
        agents.add(g)
    for a in AGENTS:
        assert agents.stats(a) == agent_stats(a, legs)


def test_a_small_day_by_hand() -> None:
    legs = [
        leg(LegOutcome.ANSWERED, 10, 100, "Alice"),
        leg(LegOutcome.ANSWERED, 30, 200, "Bob", rna=("Alice",)),
        leg(LegOutcome.TRANSFERRED, 20, 60, "Alice"),
        leg(LegOutcome.ABANDONED, 4),
        leg(LegOutcome.TIMEOUT, 300),
        leg(None, 50),  # still waiting: not offered yet
        leg(LegOutcome.ANSWERED, 1, 10, "Carol", queue="support"),  # another queue
    ]
    s = queue_stats("sales", legs, 20.0)
    assert (s.offered, s.answered, s.abandoned, s.timed_out, s.transferred) == (5, 3, 1, 1, 1)
    assert s.answered_within == 2  # 10 s and exactly 20 s; 30 s is late
    assert s.service_level == 2 / 5
    assert s.avg_wait_answered == 20.0 and s.max_wait == 300.0
    assert s.avg_talk == 120.0 and s.aht == 120.0
    assert s.abandon_rate == 1 / 5 and s.transfer_rate == 1 / 3
    assert s.abandoned_within == 1 and s.ring_no_answer == 1
    alice = agent_stats("Alice", legs)
    assert (alice.answered, alice.transfers, alice.ring_no_answer, alice.talk_seconds) == (2, 1, 1, 160.0)
    assert alice.aht == 80.0
    assert (alice.offered, alice.answer_rate, alice.max_wait_answered) == (3, 2 / 3, 20.0)


def test_agent_outcomes_count_only_successes_over_every_answered_call() -> None:
    o = agent_outcomes("Alice", 4, ["sale", "complaint", "sale"], {"sale", "resolved"})
    assert (o.dispositioned, o.successes, o.disposition_rate, o.success_rate) == (3, 2, 0.75, 0.5)
    assert o.by_disposition == {"complaint": 1, "sale": 2}
    none = agent_outcomes("Bob", 0, [], {"sale"})
    assert (none.success_rate, none.disposition_rate, none.by_disposition) == (None, None, {})


def test_undefined_means_are_none_not_zero() -> None:
    s = queue_stats("sales", [], 20.0)
    assert s.offered == 0 and s.service_level is None and s.avg_wait_answered is None and s.max_wait == 0.0
    only_abandons = queue_stats("sales", [leg(LegOutcome.ABANDONED, 3)], 20.0)
    assert only_abandons.service_level == 0.0 and only_abandons.avg_talk is None


def test_durations_are_summed_in_microseconds_so_order_never_matters() -> None:
    assert us(0.1) + us(0.2) == us(0.3)
    # summed as floats, (0.1 + 0.2) + 0.3 and 0.1 + (0.2 + 0.3) differ in the last bit: the rollup's
    # figures must be the same whatever order the legs arrive in
    waits = [0.1, 0.2, 0.3, 0.7, 1e-6, 12345.678901]
    seen = set()
    for order in (waits, waits[::-1], waits[2:] + waits[:2], sorted(waits, key=str)):
        rollup = QueueRollup("sales", 20.0)
        for w in order:
            rollup.add(leg(LegOutcome.ANSWERED, w, talk=w))
        stats = rollup.stats()
        seen.add((stats.avg_wait, stats.avg_wait_answered, stats.avg_talk))
    assert len(seen) == 1


@pytest.mark.parametrize("threshold", [20.0, 2.0])
def test_live_rollup_of_a_replayed_day_equals_the_report_over_its_journeys(threshold: float) -> None:
    """What the supervisor sees live (a rollup fed as calls end) is what a report computes afterwards."""
    data = (TRANSCRIPTS / "mixed-seed1.ami").read_bytes()
    live = {q: QueueRollup(q, threshold) for q in ("sales", "support")}
    journeys = []
    for ev in replay([data], CallTracker()):
        if isinstance(ev, CallEnded):
            journeys.append(ev.journey)
            for g in ev.journey.queue_legs:
                live[g.queue].add(g)
    history = [g for j in journeys for g in j.queue_legs]
    for q, r in live.items():
        assert r.stats() == queue_stats(q, history, threshold)
        assert r.stats().offered > 30
    assert set(queue_stats_json(live)) == {"sales", "support"}


def test_service_level_variants_by_hand() -> None:
    # 10 offered: 6 answered (4 within T), 3 abandoned (2 within T, 1 of them short), 1 timeout within T
    sl = service_levels(
        offered=10,
        answered=6,
        answered_within=4,
        abandoned=3,
        abandoned_within=2,
        short_abandoned=1,
        unanswered=4,
        unanswered_within=3,
    )
    assert sl.service_level == 4 / 9  # against: short ones out
    assert sl.sl_abandons_ignored == 4 / 7
    assert sl.sl_abandons_for == 5 / 9
    assert sl.sl_asterisk == 4 / 6  # ServicelevelPerf
    assert sl.sl_asterisk2 == 7 / 10  # ServicelevelPerf2: (4 + 3) / (6 + 4)
    assert (sl.abandon_rate, sl.abandon_rate_long) == (0.3, 2 / 9)
    with pytest.raises(ValueError, match="short-abandon threshold"):
        QueueRollup("q", 20.0, short_abandon=21.0)


def test_handle_time_occupancy_and_utilisation() -> None:
    assert aht(talk_seconds=500, hold_seconds=100, wrap_seconds=200, handled=4) == 200.0
    assert aht(1, 1, 1, 0) is None
    # 6 h logged in, 1 h of it paused, 3 h handling: occupancy over the 5 ready hours, utilisation over 6
    assert occupancy(3 * 3600, 2 * 3600) == 0.6
    assert utilisation(3 * 3600, 6 * 3600) == 0.5
    assert occupancy(0, 0) is None and utilisation(10, 0) is None


def test_histogram_percentile_and_repeats() -> None:
    buckets = histogram([0, 9.99, 10, 25, 400], (10, 20, 300))
    assert [(b.label, b.count) for b in buckets] == [
        ("0-10 s", 2),
        ("10-20 s", 1),
        ("20-300 s", 1),
        ("300+ s", 1),
    ]
    assert [b.cumulative for b in buckets] == [0.4, 0.6, 0.8, 1.0]
    assert (percentile([5, 1, 3, 2, 4], 50), percentile([5, 1, 3, 2, 4], 90), percentile([], 50)) == (
        3,
        5,
        None,
    )
    day = 86400.0
    calls = [("a", 0.0), ("b", 0.0), ("a", 7 * day), ("a", 14 * day + 1), ("", 1.0), ("", 2.0)]
    assert repeat_flags(calls) == [True, False, False, False, False, False]


def test_campaign_results_by_hand() -> None:
    r = campaign_results(
        "spring", dials=200, contacts=50, abandoned=1, conversions=4, budget=1000.0, revenue=3000.0
    )
    assert (r.contact_rate, r.abandon_rate, r.conversion_rate) == (0.25, 0.02, 0.08)
    assert (r.cost_per_conversion, r.return_on_spend) == (250.0, 3.0)
    none = campaign_results("x", dials=0, contacts=0, abandoned=0, conversions=0)
    assert (none.contact_rate, none.cost_per_conversion, none.return_on_spend) == (None, None, None)
