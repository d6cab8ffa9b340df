"""EWT while a call waits: rule 6 (later callers of a higher priority jump ahead: learnt arrival rates in
the closed form and the drawn futures), the repeated callback offer (``callback_due``), ``reannounce``
(the overflow while waiting, one step), ``Router.requeue``, and ``cti simulate``'s overflow at entry and
while waiting through the daemon's functions (cti/routing/ewt.py, cti/routing/simulate/dispatchers.py)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.core.events import AgentState
from cti.core.ids import AgentId
from cti.routing.events import CallStatus
from cti.routing.ewt import (
    Announcing,
    Arrivals,
    Busy,
    WaitModel,
    callback_due,
    drawn_wait,
    estimate,
    positional_wait,
    reannounce,
)
from cti.routing.policy import QueuePolicy, Requirements, SkillNeed
from cti.routing.router import Router
from cti.routing.simulate.dispatchers import RouterDispatcher
from cti.routing.simulate.engine import SimCall, simulate
from cti.routing.simulate.traffic import AgentGroup, CallType, Fixed, Traffic

S = AgentState


# ---- rule 6 ---------------------------------------------------------------------------------------------
@given(
    st.floats(0.0, 20.0), st.integers(1, 20), st.integers(0, 5), st.floats(10.0, 600.0), st.floats(0.0, 0.89)
)
def test_jumpers_slow_each_departure_by_their_share_of_the_capacity(
    ahead: float, serving: int, free: int, handle: float, load: float
) -> None:
    """Without abandons every step waits ``1 / (c / H - jumping)`` instead of ``H / c``: the wait is
    the jumper-free one times ``1 / (1 - load)`` (same shape, so the same median ratio)."""
    jumping = load * serving / handle
    plain = positional_wait(ahead, serving, free, handle)
    jumped = positional_wait(ahead, serving, free, handle, jumping=jumping)
    assert jumped >= plain
    assert jumped == pytest.approx(plain / (1.0 - load), rel=1e-9, abs=1e-9)


def test_a_jumping_rate_above_the_capacity_is_capped() -> None:
    capped = positional_wait(3, 2, 0, 60.0, jumping=1.0)  # 1/s against a capacity of 1/30 per s
    assert math.isfinite(capped)
    assert capped == pytest.approx(positional_wait(3, 2, 0, 60.0) / (1.0 - 0.9))


def test_arrival_rates_per_kind_over_the_window() -> None:
    a = Arrivals(window=600.0)
    vip = ("q", (SkillNeed("q"),), 5)
    plain = ("q", (SkillNeed("q"),), 0)
    for i in range(120):
        a.arrived(vip, 5.0 * i)  # every 5 s for 600 s
        if i % 2 == 0:
            a.arrived(plain, 5.0 * i)
    assert a.rates(30.0) == {}  # under a minute of history: nothing learnt yet
    rates = a.rates(600.0)
    assert rates[vip] == pytest.approx(0.2, rel=0.02) and rates[plain] == pytest.approx(0.1, rel=0.02)
    assert a.rates(5000.0) == {}  # nothing in the last window


def test_a_kind_with_more_entries_than_kept_is_measured_over_its_own_span() -> None:
    a = Arrivals(window=3600.0, keep=100)
    kind = ("q", (), 1)
    for i in range(500):
        a.arrived(kind, float(i))  # one a second
    assert a.rates(500.0)[kind] == pytest.approx(1.0, rel=0.05)


def _model(talks: list[float]) -> WaitModel:
    m = WaitModel()
    for t in talks:
        m.handled("q", t, 0.0)
        m.delivered_after("q", 0.0)
    return m


@given(
    st.lists(st.floats(10.0, 600.0), min_size=30, max_size=50),
    st.integers(0, 8),
    st.floats(0.0, 0.05),
    st.floats(0.0, 0.05),
)
def test_drawn_wait_grows_with_the_jumpers(talks: list[float], ahead: int, rate: float, more: float) -> None:
    m = _model(talks)
    busy = [Busy("talk", 20.0 * i, "q") for i in range(3)]
    line = [(1.0, "q")] * ahead
    none = drawn_wait(line, busy, 0, "q", m.samples, math.inf)
    some = drawn_wait(line, busy, 0, "q", m.samples, math.inf, jumpers=[(rate, "q")])
    most = drawn_wait(line, busy, 0, "q", m.samples, math.inf, jumpers=[(rate + more, "q")])
    assert none <= some * (1 + 1e-12) and some <= most * (1 + 1e-12)
    assert drawn_wait(line, busy, 0, "q", m.samples, math.inf, jumpers=[(rate, "q")]) == some  # seeded


@given(st.lists(st.floats(10.0, 600.0), min_size=30, max_size=50), st.integers(0, 8), st.floats(0.0, 0.05))
def test_with_jumpers_the_drawn_wait_still_grows_with_the_place(
    talks: list[float], ahead: int, rate: float
) -> None:
    m = _model(talks)
    busy = [Busy("talk", 20.0 * i, "q") for i in range(3)]
    line = [(1.0, "q")] * ahead
    jumpers = [(rate, "q")]
    here = drawn_wait(line, busy, 0, "q", m.samples, 300.0, jumpers=jumpers)
    behind = drawn_wait([*line, (1.0, "q")], busy, 0, "q", m.samples, 300.0, jumpers=jumpers)
    assert here <= behind * (1 + 1e-12)


def _vip_router() -> tuple[Router, WaitModel]:
    r = Router(
        {"q": QueuePolicy("q", skills=(SkillNeed("q"),)), "o": QueuePolicy("o", skills=(SkillNeed("o"),))}
    )
    for name in ("a1", "a2"):
        r.set_agent(AgentId(name), {"q": 5}, 0.0)
        r.observe(AgentId(name), S.ON_CALL, 0.0, queues=["*"])
    m = WaitModel(default_handle=120.0)
    q = (SkillNeed("q"),)
    for i in range(60):  # learnt: priority 5 calls of q every 120 s, and calls of o nobody here serves
        if i % 12 == 6:
            m.entered("q", q, 5, 10.0 * i)
        m.entered("o", (SkillNeed("o"),), 9, 10.0 * i)
        m.entered("q", q, 0, 10.0 * i)
    return r, m


def test_the_estimate_counts_only_the_later_callers_of_a_higher_priority_on_its_agents() -> None:
    r, m = _vip_router()
    r.enqueue("c", "q", 600.0)
    e = estimate(r.policies, r.agents(), r.waiting(600.0), m, call="c", at=600.0)
    assert e.jumping == pytest.approx(1 / 120)  # the priority-5 calls of q; o's share 0, equal behind
    without = estimate(r.policies, r.agents(), r.waiting(600.0), m, call="c")  # no clock: no rates
    assert without.jumping == 0.0
    assert e.seconds == pytest.approx(2 * without.seconds)  # c/H = 1/60: half of it taken by the jumpers
    vip = estimate(r.policies, r.agents(), r.waiting(600.0), m, queue="q", priority=5, at=600.0)
    assert vip.jumping == 0.0  # nobody jumps a priority-5 caller (equal priority queues behind)


# ---- the repeated offer -----------------------------------------------------------------------------------
POLICY = QueuePolicy("q", offer_callback_above=60.0, offer_callback_every=120.0)


def test_the_offer_comes_at_each_rise_past_the_threshold_and_every_offer_callback_every() -> None:
    s = Announcing()
    seen = [
        callback_due(POLICY, sec, t, s)
        for t, sec in ((0, 30), (30, 90), (60, 95), (120, 100), (150, 100), (180, 40), (210, 70), (240, 80))
    ]
    # below; rose: offered; 30 s later: no; 90 s: no; 120 s after the offer: again; below; rose: again; no
    assert seen == [False, True, False, False, True, False, True, False]
    once = Announcing()
    p = QueuePolicy("q", offer_callback_above=60.0)  # offer_callback_every 0: once per rise
    assert [callback_due(p, 100.0, t, once) for t in (0.0, 500.0, 5000.0)] == [True, False, False]
    assert not callback_due(QueuePolicy("q"), math.inf, 0.0, Announcing())  # off


@given(st.lists(st.tuples(st.floats(0.0, 300.0), st.floats(0.0, 200.0)), max_size=40))
def test_offers_are_above_the_threshold_and_spaced_unless_the_wait_rose_again(
    steps: list[tuple[float, float]],
) -> None:
    s, now, last, above = Announcing(), 0.0, -math.inf, False
    for seconds, dt in steps:
        now += dt
        offered = callback_due(POLICY, seconds, now, s)
        if offered:
            assert seconds > POLICY.offer_callback_above
            assert not above or now - last >= POLICY.offer_callback_every
            last = now
        above = seconds > POLICY.offer_callback_above


def test_reannounce_overflows_once_and_not_when_the_move_fails() -> None:
    policies = {
        "q": QueuePolicy("q", overflow_if_ewt_above=100.0, overflow_to="o", offer_callback_above=60.0),
        "o": QueuePolicy("o", overflow_if_ewt_above=10.0, overflow_to="q"),
    }
    waits = {"q": 300.0, "o": 50.0}
    where = ["q"]

    def move(q: str) -> bool:
        where[0] = q
        return True

    s = Announcing()
    a = reannounce(policies, "q", 0.0, s, here=lambda: waits[where[0]], there=waits.__getitem__, move=move)
    assert (a.queue, a.overflowed, a.seconds, a.offer) == ("o", True, 50.0, False)  # o: no offer set
    b = reannounce(policies, "o", 30.0, s, here=lambda: waits[where[0]], there=waits.__getitem__, move=move)
    assert (b.queue, b.overflowed) == ("o", False)  # one step: o's own overflow is not followed
    c = reannounce(
        policies, "q", 0.0, Announcing(), here=lambda: 300.0, there=waits.__getitem__, move=lambda q: False
    )
    assert (c.queue, c.overflowed, c.offer) == ("q", False, True)  # offered meanwhile: it stays
    d = reannounce(
        policies, "q", 0.0, Announcing(), here=lambda: 300.0, there=waits.__getitem__, move=move, offers=False
    )
    assert not d.offer  # a withheld number: never offered


# ---- Router.requeue ----------------------------------------------------------------------------------------
def _two_queues() -> Router:
    return Router(
        {
            "q": QueuePolicy("q", skills=(SkillNeed("q"),), priority=1),
            "o": QueuePolicy("o", skills=(SkillNeed("o"),), priority=0),
        }
    )


@given(st.lists(st.tuples(st.sampled_from("qo"), st.integers(0, 3), st.booleans()), min_size=1, max_size=25))
def test_a_requeued_call_keeps_its_entry_and_the_order_stays_the_routers(
    calls: list[tuple[str, int, bool]],
) -> None:
    r = _two_queues()
    for i, (queue, prio, _) in enumerate(calls):
        r.enqueue(f"c{i}", queue, float(i), needs=Requirements((SkillNeed("lang_fr"),), priority=prio))
    for i, (queue, prio, move) in enumerate(calls):
        if move:
            target = "o" if queue == "q" else "q"
            wc = r.requeue(f"c{i}", target)
            assert wc is not None and wc.queue == target and wc.entered == float(i)
            assert {n.skill for n in wc.needs} == {target, "lang_fr"}  # the new queue's skills, its own kept
            assert wc.priority == max(prio, r.policies[target].priority)
    views = r.waiting(100.0)
    keys = [(-v.priority, 100.0 - v.waited) for v in views]
    assert keys == sorted(keys) and len(views) == len(calls)  # priority, then entry (rule 1)
    assert [r.position(v.call) for v in views if v.queue == "o"] == list(
        range(1, 1 + sum(1 for v in views if v.queue == "o"))
    )


def test_only_a_waiting_call_is_requeued() -> None:
    r = _two_queues()
    r.set_agent(AgentId("a"), {"q": 5}, 0.0)
    r.observe(AgentId("a"), S.AVAILABLE, 0.0, queues=["*"])
    r.enqueue("c", "q", 1.0)
    (offer,) = r.decide(1.0)
    assert r.requeue("c", "o") is None and r.call("c") is not None and r.call("c").queue == "q"  # type: ignore[union-attr]
    assert r.requeue("nobody", "o") is None
    r.cancel("c", 2.0)
    r.enqueue("d", "q", 3.0)
    assert r.requeue("d", "nowhere") is None
    assert offer.call == "c" and r.call("d") is not None and r.call("d").status is CallStatus.WAITING  # type: ignore[union-attr]


# ---- cti simulate: the overflow while waiting ------------------------------------------------------
def test_a_call_whose_ewt_grows_while_it_waits_overflows_at_an_announcement() -> None:
    """One agent in q on a long call; a call waits (EWT ~ a handle, under the threshold); three callers of
    a higher priority jump ahead: at its next announcement its EWT is above the threshold and o (a free
    agent) is shorter: it moves there, keeps its entry, and is answered there."""
    policies = {
        "q": QueuePolicy(
            "q", skills=(SkillNeed("q"),), overflow_if_ewt_above=300.0, overflow_to="o", announce_every=5.0
        ),
        "o": QueuePolicy("o", skills=(SkillNeed("o"),)),
        "p": QueuePolicy("p", skills=(SkillNeed("q"),), priority=5),  # q's agents, first
    }
    ct = CallType("t", "q", (0.0,), Fixed(100.0))
    traffic = Traffic((ct,), (AgentGroup("q", 1, {"q": 5}), AgentGroup("o", 1, {"o": 5})), hours=1.0)
    calls = [
        SimCall("c1", "t", "q", Requirements(), 0.0, 1000.0, 0.0, math.inf),
        SimCall("c2", "t", "q", Requirements(), 1.0, 50.0, 0.0, math.inf),
        *(SimCall(f"v{i}", "t", "p", Requirements(), 1.0 + i, 50.0, 0.0, math.inf) for i in (1, 2, 3)),
    ]
    d = RouterDispatcher(policies, announce=True)
    result = simulate(traffic, d, 1, calls)
    by = {c.id: c for c in result.calls}
    c2 = by["c2"]
    assert c2.entry_queue == "q" and c2.queue == "o" and c2.overflowed_at == pytest.approx(6.0)
    assert c2.announced < 300.0  # at entry: under the threshold, no overflow then
    assert c2.answered_at == pytest.approx(6.0) and c2.agent == "o-1"
    assert d.overflows == {"at_entry": 0, "while_waiting": 1}
    assert all(by[v].queue == "p" for v in ("v1", "v2", "v3"))  # p does not overflow
    f = result.figures()["overflow"]
    assert (f["overflowed"], f["overflowed_at_entry"], f["overflowed_while_waiting"]) == (1, 0, 1)
    assert [round(t) for t, _, _ in c2.announcements] == [6]


def test_without_the_overflow_settings_nobody_moves() -> None:
    policies = {
        "q": QueuePolicy("q", skills=(SkillNeed("q"),), announce_every=5.0),
        "o": QueuePolicy("o", skills=(SkillNeed("o"),)),
    }
    ct = CallType("t", "q", (0.0,), Fixed(100.0))
    traffic = Traffic((ct,), (AgentGroup("q", 1, {"q": 5}), AgentGroup("o", 1, {"o": 5})), hours=1.0)
    calls = [SimCall(f"c{i}", "t", "q", Requirements(), float(i), 100.0, 0.0, math.inf) for i in range(4)]
    result = simulate(traffic, RouterDispatcher(policies, announce=True), 1, calls)
    assert {c.queue for c in result.calls} == {"q"} and all(c.done for c in result.calls)
    assert result.figures()["ewt"]["announcements"] > 0
