"""Estimated wait time: the formula at a place, the router's view of who is ahead and who serves, and its
accuracy in `cti simulate` against app_queue's hold-time formula on the same traffic (cti/routing/ewt.py)."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.core.events import AgentState
from cti.core.ids import AgentId
from cti.routing.ewt import AppQueueHoldtime, Busy, WaitModel, drawn_wait, estimate, positional_wait
from cti.routing.policy import QueuePolicy, SkillNeed
from cti.routing.router import Router
from cti.routing.simulate.dispatchers import RouterDispatcher
from cti.routing.simulate.engine import simulate
from cti.routing.simulate.traffic import AgentGroup, CallType, Traffic
from cti.sim.scenario import Dist

S = AgentState


def median_of_gamma(mean: float, shape: float) -> float:
    return mean * (1 - 1 / (9 * shape)) ** 3


@pytest.mark.parametrize(
    ("ahead", "serving", "free", "handle", "patience", "expected"),
    [
        (0, 1, 1, 60.0, math.inf, 0.0),  # a free agent: no wait
        (2, 4, 3, 60.0, math.inf, 0.0),  # more free agents than calls ahead
        (0, 0, 0, 60.0, math.inf, math.inf),  # nobody serves the call
        (0, 1, 0, 60.0, math.inf, median_of_gamma(60.0, 1)),  # next: one departure of rate 1/60
        (3, 2, 0, 60.0, math.inf, median_of_gamma(4 * 30.0, 4)),  # four departures of rate 2/60
        (4, 2, 1, 60.0, math.inf, median_of_gamma(4 * 30.0, 4)),  # one free agent takes the first call
    ],
)
def test_the_wait_at_a_place(
    ahead: int, serving: int, free: int, handle: float, patience: float, expected: float
) -> None:
    assert positional_wait(ahead, serving, free, handle, patience) == pytest.approx(expected)


def test_callers_ahead_who_give_up_shorten_the_wait_and_shares_interpolate() -> None:
    patient = positional_wait(9, 2, 0, 60.0)
    impatient = positional_wait(9, 2, 0, 60.0, patience=120.0)
    assert impatient < patient
    assert positional_wait(2, 2, 0, 60.0) < positional_wait(2.5, 2, 0, 60.0) < positional_wait(3, 2, 0, 60.0)


def test_the_model_learns_handle_time_patience_and_delivery() -> None:
    m = WaitModel(default_handle=180.0, window=2)  # the last two calls
    assert (m.handle("q"), m.patience("q"), m.delivery("q")) == (180.0, math.inf, 0.0)
    for seconds in (100.0, 200.0, 300.0):
        m.handled("q", seconds)
    assert m.handle("q") == 250.0  # the last two
    m.left("q", 30.0, abandoned=False)
    m.left("q", 90.0, abandoned=True)
    assert m.patience("q") == 120.0  # waited 120 s in all, one abandon
    m.delivered_after("q", 4.0)
    assert m.delivery("q") == 4.0


def _router() -> Router:
    policies = {
        "sales": QueuePolicy("sales", skills=(SkillNeed("sales"),)),
        "billing": QueuePolicy("billing", skills=(SkillNeed("billing"),)),
    }
    r = Router(policies)
    for name, skills in (("s1", {"sales": 5}), ("s2", {"sales": 5}), ("b1", {"billing": 5, "sales": 5})):
        r.set_agent(AgentId(name), skills, 0.0)
        r.observe(AgentId(name), S.ON_CALL, 0.0, queues=["*"])
    return r


def test_estimate_counts_the_calls_ahead_by_the_share_of_agents_they_have_in_common() -> None:
    r = _router()
    r.enqueue("b", "billing", 1.0)
    r.enqueue("s", "sales", 2.0)
    model = WaitModel(default_handle=60.0)
    e = estimate(r.policies, r.agents(), r.waiting(3.0), model, call="s")
    # the billing call ahead can only be taken by b1, who serves sales too: it counts in full
    assert (e.ahead, e.serving, e.free) == (1.0, 3, 0)
    b = estimate(r.policies, r.agents(), r.waiting(3.0), model, call="b")
    assert (b.ahead, b.serving) == (0.0, 1)
    # a sales call that would join now: behind both; the billing call's agents are all in sales' pool
    new = estimate(r.policies, r.agents(), r.waiting(3.0), model, queue="sales")
    assert new.ahead == 2.0 and new.seconds > e.seconds
    # a billing call joining now: the sales call ahead shares 1 of its 3 agents with billing
    nb = estimate(r.policies, r.agents(), r.waiting(3.0), model, queue="billing")
    assert nb.ahead == pytest.approx(1 + 1 / 3)
    r.observe(AgentId("b1"), S.PAUSED, 4.0, reason="lunch")
    assert math.isinf(estimate(r.policies, r.agents(), r.waiting(4.0), model, queue="billing").seconds)


def test_app_queue_holdtime_is_its_exponential_average_in_whole_seconds() -> None:
    h = AppQueueHoldtime()
    assert h.announced("q") == 0.0
    h.connected("q", 100.9)  # (0 * 3 + 100) >> 2
    assert h.announced("q") == 25.0
    h.connected("q", 100.0)  # (25 * 3 + 100) >> 2 = 175 >> 2
    assert h.announced("q") == 43.0
    assert h.with_position("q", 3) == 129.0


def _traffic(agents: int, erlangs: float, patience: float, hours: float) -> Traffic:
    aht = 180.0
    talk, rate = Dist("exponential", aht), (erlangs * 3600 / aht,)
    kind = (
        CallType("t", "q", rate, talk=talk, patience=Dist("exponential", patience))
        if math.isfinite(patience)
        else CallType("t", "q", rate, talk=talk)
    )
    return Traffic(
        (kind,),
        (AgentGroup("g", agents, {"q": 5}),),
        hours=hours,
        drain_hours=0.5,
    )


@pytest.mark.parametrize(
    ("agents", "erlangs", "patience", "hours", "bound"),
    [
        (14, 13.0, math.inf, 4.0, 0.35),  # a small team at 93% occupancy: few departures per wait
        (50, 52.0, 600.0, 1.0, 0.25),  # a busy hour past the staffing: deep queue, abandons
    ],
    ids=["small-team", "overloaded-hour"],
)
def test_ewt_error_in_cti_simulate_is_below_app_queues(
    agents: int, erlangs: float, patience: float, hours: float, bound: float
) -> None:
    traffic = _traffic(agents, erlangs, patience, hours)
    policies = {"q": QueuePolicy("q", skills=(SkillNeed("q"),))}
    runs = [
        simulate(traffic, RouterDispatcher(policies, announce=True), seed).figures()["ewt"]
        for seed in (1, 2, 3)
    ]
    for f in runs:
        assert f["ewt_calls"] > 300
        assert f["ewt_mae_s"] < f["ewt_mae_app_queue_s"] < f["ewt_mae_app_queue_position_s"]
    pooled = sum(f["ewt_mae_s"] * f["ewt_calls"] for f in runs) / sum(
        f["mean_wait_s"] * f["ewt_calls"] for f in runs
    )
    assert pooled <= bound


def test_without_announcements_the_figures_say_so() -> None:
    traffic = _traffic(2, 1.0, math.inf, 0.2)
    policies = {"q": QueuePolicy("q", skills=(SkillNeed("q"),))}
    f = simulate(traffic, RouterDispatcher(policies), 1).figures()["ewt"]
    assert f == {"ewt_calls": 0, "ewt_mae_s": None, "ewt_mae_app_queue_s": None, "mean_wait_s": None}


# ---- rule 5: drawn from the recorded distributions and the elapsed times ----------------------------
def _erlang_median(k: int, rate: float) -> float:
    """The exact median of an Erlang-k of this rate (bisection on its CDF)."""

    def cdf(t: float) -> float:
        x, term, total = rate * t, 1.0, 1.0
        for i in range(1, k):
            term *= x / i
            total += term
        return 1.0 - math.exp(-x) * total

    lo, hi = 0.0, 100.0 * k / rate
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < 0.5 else (lo, mid)
    return lo


@pytest.mark.parametrize("k", [1, 2, 5, 20])
def test_the_closed_form_announces_the_median_of_the_erlang(k: int) -> None:
    # k - 1 callers ahead, 3 busy agents of mean handle 90 s: k departures of rate 3/90
    # Wilson-Hilferty: 1.3 % high at k = 1 (ln 2 exactly), closer from there
    assert positional_wait(k - 1, 3, 0, 90.0) == pytest.approx(_erlang_median(k, 3 / 90), rel=0.015)


def _model(talks: list[float], wrap: float = 0.0, delivery: float | None = None) -> WaitModel:
    m = WaitModel()
    for t in talks:
        m.handled("q", t + wrap, wrap)
        if delivery is not None:
            m.delivered_after("q", delivery)
    return m


def test_a_free_agent_means_the_delivery_only() -> None:
    m = _model([100.0] * 40, delivery=3.0)
    assert drawn_wait([(1.0, "q")], [], 2, "q", m.samples, math.inf) == 3.0
    assert drawn_wait([], [Busy("talk", 10.0, "q")], 1, "q", m.samples, math.inf) == 3.0


def test_the_elapsed_talk_of_the_busy_agents_counts() -> None:
    m = _model([100.0] * 40, wrap=20.0)  # every call talks 100 s, then 20 s of wrap-up
    busy = [Busy("talk", 90.0, "q"), Busy("talk", 30.0, "q"), Busy("wrap", 15.0, "q")]
    s = m.samples
    assert drawn_wait([], busy, 0, "q", s, math.inf) == pytest.approx(5.0)  # the wrap-up ends first
    assert drawn_wait([(1.0, "q")], busy, 0, "q", s, math.inf) == pytest.approx(30.0)  # 10 s + 20 s
    # the first in line takes the agent free at 5 s; this call the next one (the talk at 90 s)
    assert drawn_wait([(1.0, "q"), (1.0, "q")], busy, 0, "q", s, math.inf) == pytest.approx(90.0)
    assert not m.samples("q").memoryless


@given(st.lists(st.floats(1.0, 600.0), min_size=30, max_size=60), st.integers(0, 12))
def test_drawn_wait_grows_with_the_place(talks: list[float], ahead: int) -> None:
    m = _model(talks, wrap=5.0, delivery=2.0)
    busy = [Busy("talk", 10.0 * i, "q") for i in range(4)]
    line = [(1.0, "q")] * ahead
    here = drawn_wait(line, busy, 0, "q", m.samples, 300.0)
    behind = drawn_wait([*line, (1.0, "q")], busy, 0, "q", m.samples, 300.0)
    assert 2.0 <= here <= behind  # the same draws (seeded): one more caller ahead never shortens it


def test_exponential_talk_times_keep_the_closed_form() -> None:
    rng = random.Random(3)
    assert _model([rng.expovariate(1 / 180) for _ in range(400)]).samples("q").memoryless
    assert _model([100.0] * 10).samples("q").memoryless  # too few to tell
    assert {a.queue for a in _router().agents()} == {None}  # no ACD call delivered yet


def test_the_router_tells_the_queue_of_each_agents_call() -> None:
    r = Router({"q": QueuePolicy("q", skills=(SkillNeed("q"),))})
    r.set_agent(AgentId("a"), {"q": 5}, 0.0)
    r.observe(AgentId("a"), S.AVAILABLE, 0.0, queues=["q"])
    r.enqueue("c", "q", 1.0)
    (offer,) = r.decide(1.0)
    r.ringing(offer.call, offer.agent, 1.0)
    r.answered(offer.call, offer.agent, 2.0)
    r.observe(AgentId("a"), S.ON_CALL, 2.0)
    (view,) = r.agents()
    assert view.queue == "q"
    m = _model([100.0] * 40)
    e = estimate(r.policies, r.agents(), r.waiting(50.0), m, queue="q", at=50.0)
    assert e.seconds == pytest.approx(52.0)  # the agent 48 s into a 100 s call: free at 52 s
