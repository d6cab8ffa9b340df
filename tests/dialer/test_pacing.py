"""The pacer's invariants (hypothesis) and the estimators' convergence."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from cti.dialer.daymodel import DayConfig, run_day
from cti.dialer.estimators import AnswerRates, DurationHistogram, uniform_pmf
from cti.dialer.pacing import DialerState, LineModel, Pacer, WindowBudget, poisson_excess, progressive_lines
from cti.dialer.strategies import Predictive, Progressive

BINS = 30
OTHER = tuple(
    0.10 / 0.8 if i == 2 else 0.15 / 0.8 / 12 if 3 <= i < 15 else 0.55 / 0.8 if i == 26 else 0.0
    for i in range(BINS)
)
LINES = LineModel(0.2, uniform_pmf(3, 15, BINS), OTHER)
TALK = DurationHistogram.exponential(120.0, 1200)
PACER = Pacer(LINES, TALK)

states = st.builds(
    DialerState,
    idle=st.integers(0, 30),
    wrap_remaining=st.lists(st.floats(0, 15), max_size=20).map(tuple),
    talk_elapsed=st.lists(st.floats(0, 600), max_size=40).map(tuple),
    ringing=st.lists(st.floats(0, 25), max_size=60).map(tuple),
    waiting_live=st.integers(0, 3),
    wrap_seconds=st.just(15.0),
)
budgets = st.builds(
    WindowBudget,
    live_answers=st.integers(0, 5000),
    abandons=st.floats(0, 200),
    limit=st.sampled_from([0.03, 0.05]),
)


@given(states, budgets, st.floats(0, 100))
def test_the_pacer_never_dials_more_when_the_budget_shrinks(
    state: DialerState, b: WindowBudget, more: float
) -> None:
    worse = WindowBudget(b.live_answers, b.abandons + more, b.limit)
    assert PACER.decide(state, [worse]).lines <= PACER.decide(state, [b]).lines


@given(states, budgets, budgets)
def test_a_second_window_only_restrains(state: DialerState, a: WindowBudget, b: WindowBudget) -> None:
    assert PACER.decide(state, [a, b]).lines <= min(
        PACER.decide(state, [a]).lines, PACER.decide(state, [b]).lines
    )


@given(st.lists(st.floats(0, 25), max_size=30).map(tuple), st.integers(0, 2000))
def test_no_headroom_and_no_agent_coming_free_means_no_dial(ringing: tuple[float, ...], live: int) -> None:
    state = DialerState(0, talk_elapsed=(5.0,) * 10, ringing=ringing, wrap_seconds=15.0)
    assert PACER.decide(state, [WindowBudget(live, 0.03 * live + 1, 0.03)]).lines == 0


def test_idle_agents_and_a_clean_window_are_dialled_for() -> None:
    d = PACER.decide(DialerState(10, wrap_seconds=15.0), [WindowBudget(1000, 0.0, 0.03)])
    assert d.lines > 10  # about one in five answers live: more lines than agents
    assert d.expected_abandons <= d.allowed


@given(st.integers(0, 50), st.integers(0, 50), st.integers(0, 5))
def test_progressive_dials_the_idle_agents_minus_the_lines_ringing(
    idle: int, ringing: int, waiting: int
) -> None:
    state = DialerState(idle, ringing=(1.0,) * ringing, waiting_live=waiting)
    assert progressive_lines(state) == max(0, idle - ringing - waiting)


@given(st.floats(0, 40), st.floats(0, 40))
def test_the_poisson_excess_is_exact_and_at_least_the_mean_gap(mu: float, s: float) -> None:
    rng = random.Random(1)
    assert poisson_excess(mu, s) >= max(0.0, mu - s) - 1e-9
    if mu < 5 and s < 8:
        # against a direct sum over the pmf
        import math

        direct = sum(max(0.0, j - s) * math.exp(-mu) * mu**j / math.factorial(j) for j in range(80))
        assert abs(poisson_excess(mu, s) - direct) < 1e-6
    del rng


def test_the_answer_rate_estimate_converges_per_list_and_hour() -> None:
    rates = AnswerRates(prior_rate=0.5, prior_weight=20)
    rng = random.Random(7)
    for _ in range(5000):
        rates.observe("a", 9, rng.random() < 0.2)
        rates.observe("a", 10, rng.random() < 0.35)
    assert abs(rates.rate("a", 9) - 0.2) < 0.02
    assert abs(rates.rate("a", 10) - 0.35) < 0.02
    assert abs(rates.rate("a", 11) - 0.275) < 0.03  # an unseen hour leans on the list's pooled rate
    lo, hi = rates.interval("a", 9)
    assert lo < 0.2 < hi


def test_the_duration_histogram_learns_the_ring_time() -> None:
    h = DurationHistogram.uniform(0, 30, 40)
    rng = random.Random(3)
    for _ in range(3000):
        h.observe(rng.uniform(3, 15))
    assert 8.5 < h.mean() < 9.5
    assert h.p_end_within(14, 2) > 0.9  # rung 14 s: nearly sure to end within 2 s more


def test_a_day_of_predictive_pacing_beats_progressive_within_the_limit() -> None:
    cfg = DayConfig(20, hours=1.0, tick=2.0)
    cti, prog = run_day(cfg, Predictive(0.03), 1), run_day(cfg, Progressive(), 1)
    assert cti.talk_utilisation > prog.talk_utilisation + 0.1
    assert prog.abandons == 0  # every line progressive dials has an idle agent kept for it
    assert cti.abandon_rate <= 0.05


def _brute_largest_fit(state: DialerState, budget: WindowBudget) -> int:
    """The same rule as Pacer.decide, by trying every n (the reference for its faster search)."""
    best = -1
    for n in range(60):
        e = PACER._decision(n, *_terms(state), (budget,), budget.limit)
        safe = e.expected_abandons - PACER.settings.floor * budget.limit * e.expected_live
        if e.expected_abandons <= e.allowed or safe <= 0:
            best = n
    return max(best, min(59, progressive_lines(state)))


def _terms(state: DialerState) -> tuple[list[tuple[float, float, float]], float, float]:
    lm, ks = LINES, PACER.checkpoints
    supply = [PACER.supply(state, k) for k in ks]
    ringing_mu = [sum(lm.p_live_before(e, k) for e in state.ringing) for k in ks]
    new_mu = [lm.p_live_before(0.0, k) for k in ks]
    ring_live = sum(lm.p_live_eventually(e) for e in state.ringing) + state.waiting_live
    return list(zip(ringing_mu, new_mu, supply, strict=True)), ring_live, lm.p_live_eventually(0.0)


@given(states, budgets)
def test_the_fast_search_finds_the_largest_fitting_number_of_lines(
    state: DialerState, b: WindowBudget
) -> None:
    fast = PACER.decide(state, (b,), capacity=59).lines
    assert fast == _brute_largest_fit(state, b)


@given(states)
def test_the_one_pass_supply_equals_the_supply_per_checkpoint(state: DialerState) -> None:
    fast = PACER.supplies(state)
    slow = [PACER.supply(state, k) for k in PACER.checkpoints]
    assert all(abs(a - b) < 1e-9 for a, b in zip(fast, slow, strict=True))


def test_never_fewer_lines_than_progressive_a_line_with_its_own_agent_cannot_be_dropped() -> None:
    exhausted = WindowBudget(100, 50.0, 0.03)  # far over the limit: no headroom at all
    assert PACER.decide(DialerState(3), (exhausted,)).lines == 3
    assert PACER.decide(DialerState(3, ringing=(1.0, 2.0)), (exhausted,)).lines == 1
