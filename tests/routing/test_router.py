"""The router's rules (its theory of operation), one example each, and the regressions of issue #10."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from cti.core.events import AgentState
from cti.core.ids import AgentId
from cti.routing.policy import (
    Escalation,
    PolicyError,
    QueuePolicy,
    Requirements,
    Selection,
    SkillNeed,
    check_overflows,
)
from cti.routing.router import (
    AgentAutoPaused,
    CallStatus,
    Offer,
    ReservationExpired,
    RingMissed,
    Router,
)

S = AgentState


def router(*policies: QueuePolicy, agents: Mapping[str, Mapping[str, int]] = {}) -> Router:
    r = Router({p.name: p for p in policies})
    for name, skills in agents.items():
        r.set_agent(AgentId(name), skills)
        r.observe(AgentId(name), S.AVAILABLE, 0.0)
    return r


def offered(r: Router, at: float) -> dict[str, str]:
    return {o.call: o.agent for o in r.decide(at)}


def take(r: Router, o: Offer, at: float) -> None:
    """The offered agent's phone rings and it answers."""
    assert r.ringing(o.call, o.agent, at) and r.answered(o.call, o.agent, at)
    r.observe(o.agent, S.ON_CALL, at)


# ---- rule 1: the order ----------------------------------------------------------------------------------
def test_higher_priority_first_then_oldest_first() -> None:
    r = router(QueuePolicy("q"))
    r.enqueue("old", "q", 0.0)
    r.enqueue("young", "q", 1.0)
    r.enqueue("vip", "q", 2.0, needs=Requirements(priority=5))
    assert [v.call for v in r.waiting(3.0)] == ["vip", "old", "young"]
    r.set_agent(AgentId("a"), {})
    r.observe(AgentId("a"), S.AVAILABLE, 3.0)
    assert offered(r, 3.0) == {"vip": "a"}


def test_enqueueing_a_waiting_call_again_keeps_its_place() -> None:
    r = router(QueuePolicy("q"))
    first = r.enqueue("c1", "q", 0.0)
    r.enqueue("c2", "q", 1.0)
    assert r.enqueue("c1", "q", 5.0) is first
    assert [v.call for v in r.waiting(5.0)] == ["c1", "c2"]


# ---- rule 2: eligibility and escalation ------------------------------------------------------------------
def test_an_agent_without_the_skill_level_is_not_offered() -> None:
    r = router(QueuePolicy("q", skills=(SkillNeed("sales", 5),)), agents={"junior": {"sales": 4}})
    r.enqueue("c", "q", 0.0)
    assert offered(r, 0.0) == {}


def test_only_members_serve_a_queue_with_members() -> None:
    q = QueuePolicy("q", members=frozenset({"m"}))
    r = router(q, agents={"outsider": {}})
    r.enqueue("c", "q", 0.0)
    assert offered(r, 0.0) == {}
    r.set_agent(AgentId("m"), {})
    r.observe(AgentId("m"), S.AVAILABLE, 1.0)
    assert offered(r, 1.0) == {"c": "m"}


@pytest.mark.parametrize(
    ("step", "skills"),
    [
        (Escalation(10, min_level=2), {"sales": 2}),
        (Escalation(10, drop=("sales",)), {}),
        (Escalation(10, add_agents_with=("general",)), {"general": 1}),
        (Escalation(10, overflow_to="other"), {"other": 1}),
    ],
    ids=["min_level_lowers_the_level", "drop_drops_the_skill", "generalists_join", "overflow_agents_join"],
)
def test_an_escalation_step_admits_more_agents_after_its_wait(
    step: Escalation, skills: dict[str, int]
) -> None:
    q = QueuePolicy("q", skills=(SkillNeed("sales", 8),), escalation=(step,))
    r = router(q, QueuePolicy("other", skills=(SkillNeed("other", 1),)), agents={"a": skills})
    r.enqueue("c", "q", 0.0)
    assert offered(r, 9.9) == {}
    [o] = r.decide(10.0)
    assert (o.agent, o.step, o.waited) == ("a", 0, 10.0)


def test_the_offer_names_the_step_that_admitted_the_agent() -> None:
    q = QueuePolicy(
        "q",
        skills=(SkillNeed("sales", 8),),
        escalation=(Escalation(5, min_level=6), Escalation(10, min_level=3)),
    )
    r = router(q, agents={"a": {"sales": 4}})
    r.enqueue("c", "q", 0.0)
    assert offered(r, 5.0) == {}
    [o] = r.decide(10.0)
    assert o.step == 1


def test_an_agent_who_fits_as_is_needs_no_step() -> None:
    q = QueuePolicy("q", skills=(SkillNeed("sales", 5),), escalation=(Escalation(0, min_level=1),))
    r = router(q, agents={"a": {"sales": 5}})
    r.enqueue("c", "q", 0.0)
    assert r.decide(1.0)[0].step == -1


def test_a_blocked_agent_is_not_offered_before_its_lease_ends() -> None:
    r = router(QueuePolicy("q"), agents={"a": {}})
    r.block(AgentId("a"), until=10.0)
    r.enqueue("c", "q", 0.0)
    assert offered(r, 9.0) == {}
    assert offered(r, 10.0) == {"c": "a"}


# ---- language and tier -----------------------------------------------------------------------------------
def test_a_language_is_a_skill_the_call_needs() -> None:
    r = router(QueuePolicy("q"), agents={"en": {"lang_en": 5}, "fr": {"lang_fr": 1}})
    r.enqueue("c", "q", 0.0, needs=Requirements(language="FR"))
    assert offered(r, 0.0) == {"c": "fr"}


def test_a_tier_raises_the_priority_and_asks_for_a_skill() -> None:
    q = QueuePolicy("q", tier_priority={"gold": 3}, tier_skills={"gold": SkillNeed("vip", 2)})
    r = router(q)
    r.enqueue("plain", "q", 0.0)
    gold = r.enqueue("gold", "q", 1.0, needs=Requirements(tier="gold"))
    assert gold.priority == 3 and SkillNeed("vip", 2) in gold.needs
    r.set_agent(AgentId("a"), {"vip": 1})
    r.observe(AgentId("a"), S.AVAILABLE, 1.0)
    assert offered(r, 1.0) == {"plain": "a"}  # gold goes first but a's vip level is too low
    r.set_agent(AgentId("b"), {"vip": 2})
    r.observe(AgentId("b"), S.AVAILABLE, 1.0)
    assert offered(r, 1.0) == {"gold": "b"}


def test_requirements_merge_keeps_the_higher_level_and_priority() -> None:
    a = Requirements((SkillNeed("sales", 3),), "en", None, 1)
    b = Requirements((SkillNeed("sales", 6), SkillNeed("vip")), None, "gold", 0)
    assert a.merged(b) == Requirements((SkillNeed("sales", 6), SkillNeed("vip")), "en", "gold", 1)


# ---- rule 3: relationship routing ------------------------------------------------------------------------
def test_the_preferred_agent_first_for_relationship_seconds_then_anyone() -> None:
    r = router(QueuePolicy("q", relationship_seconds=30), agents={"other": {}, "owner": {}})
    r.pause(AgentId("owner"), 0.0, "lunch")  # logged in, not free
    r.enqueue("c", "q", 0.0, preferred=[AgentId("owner")])
    assert offered(r, 29.0) == {}
    assert offered(r, 30.0) == {"c": "other"}


def test_the_preferred_agent_takes_the_call_when_free() -> None:
    r = router(QueuePolicy("q", relationship_seconds=30), agents={"other": {}, "owner": {}})
    r.enqueue("c", "q", 0.0, preferred=[AgentId("owner")])
    assert offered(r, 0.0) == {"c": "owner"}


def test_a_logged_out_preferred_agent_does_not_hold_the_call() -> None:
    r = router(QueuePolicy("q", relationship_seconds=30), agents={"other": {}})
    r.set_agent(AgentId("owner"), {})
    r.enqueue("c", "q", 0.0, preferred=[AgentId("owner"), AgentId("unknown")])
    assert offered(r, 0.0) == {"c": "other"}


# ---- rule 4: who among the eligible ----------------------------------------------------------------------
def test_best_fit_chooses_the_specialist_over_the_multi_skilled_agent() -> None:
    agents = {"versatile": {"sales": 5, "support": 5, "lang_de": 3}, "specialist": {"sales": 5}}
    r = router(QueuePolicy("q", skills=(SkillNeed("sales", 5),)), agents=agents)
    r.observe(AgentId("specialist"), S.AVAILABLE, 0.0)
    r.observe(AgentId("versatile"), S.PAUSED, 0.0)
    r.observe(AgentId("versatile"), S.AVAILABLE, 0.0)  # idle as long as the specialist
    r.enqueue("c", "q", 100.0)
    assert offered(r, 100.0) == {"c": "specialist"}


def test_without_best_fit_the_selection_order_decides() -> None:
    agents = {"versatile": {"sales": 5, "support": 5}, "specialist": {"sales": 5}}
    r = router(QueuePolicy("q", skills=(SkillNeed("sales", 5),), best_fit=False), agents=agents)
    r.observe(AgentId("specialist"), S.PAUSED, 1.0)
    r.observe(AgentId("specialist"), S.AVAILABLE, 1.0)  # idle a second less
    r.enqueue("c", "q", 10.0)
    assert offered(r, 10.0) == {"c": "versatile"}


def test_among_equal_fits_the_higher_level_first() -> None:
    r = router(QueuePolicy("q", skills=(SkillNeed("sales", 5),)), agents={"ok": {"sales": 5}})
    r.set_agent(AgentId("expert"), {"sales": 9})
    r.observe(AgentId("expert"), S.AVAILABLE, 50.0)
    r.enqueue("c", "q", 60.0)
    assert offered(r, 60.0) == {"c": "expert"}


def _served(r: Router, agent: str, calls: int, talk: float, at: float) -> float:
    """``agent`` takes ``calls`` calls of ``talk`` seconds each, from ``at``; returns when it is done."""
    for i in range(calls):
        call = f"{agent}-{i}"
        r.enqueue(call, "q", at, preferred=[AgentId(agent)])
        [o] = r.decide(at)
        take(r, o, at)
        at += talk
        r.observe(AgentId(agent), S.AVAILABLE, at)
    return at


@pytest.mark.parametrize(
    ("selection", "chosen"),
    [(Selection.LONGEST_IDLE, "busy"), (Selection.FEWEST_CALLS, "long"), (Selection.LEAST_TALK, "busy")],
)
def test_selection_orders(selection: Selection, chosen: str) -> None:
    """busy: 3 short calls, idle longest; long: one long call, idle since just now."""
    q = QueuePolicy("q", selection=selection, relationship_seconds=1)
    r = router(q)
    for a in ("busy", "long"):
        r.set_agent(AgentId(a), {})
    r.observe(AgentId("busy"), S.AVAILABLE, 0.0)
    _served(r, "busy", 3, 5.0, 0.0)  # done at 15, 15 s of talk
    r.observe(AgentId("long"), S.AVAILABLE, 0.0)
    _served(r, "long", 1, 50.0, 15.0)  # done at 65, 50 s of talk
    r.enqueue("c", "q", 70.0)
    assert offered(r, 70.0) == {"c": chosen}


def test_weighted_prefers_the_longest_idle_agent() -> None:
    r = router(QueuePolicy("q", selection=Selection.WEIGHTED, idle_weight=2.0), agents={"early": {}})
    r.set_agent(AgentId("late"), {})
    r.observe(AgentId("late"), S.AVAILABLE, 5.0)
    r.enqueue("c", "q", 6.0)
    assert offered(r, 6.0) == {"c": "early"}


# ---- rule 5: reservations, rings, misses -----------------------------------------------------------------
def test_an_offer_reserves_the_agent_with_a_growing_token() -> None:
    r = router(QueuePolicy("q", reservation_timeout=5), agents={"a": {}, "b": {}})
    r.enqueue("c1", "q", 0.0)
    r.enqueue("c2", "q", 0.0)
    o1, o2 = r.decide(0.0)
    assert o2.token > o1.token and o1.expires == 5.0
    assert r.state(o1.agent) is S.RESERVED and r.state(o2.agent) is S.RESERVED


def test_a_reservation_expires_and_the_call_goes_back() -> None:
    r = router(QueuePolicy("q", reservation_timeout=5), agents={"a": {}})
    r.enqueue("c", "q", 0.0)
    [o] = r.decide(0.0)
    r.advance(4.9)
    assert r.state(AgentId("a")) is S.RESERVED
    r.advance(5.0)
    assert r.state(AgentId("a")) is S.AVAILABLE
    assert [v.status for v in r.waiting(5.0)] == [CallStatus.WAITING]
    assert any(isinstance(e, ReservationExpired) and e.call == "c" for e in r.drain())
    assert not r.ringing("c", o.agent, 5.0)  # a late ring of the expired offer is not ours


def test_a_call_that_rang_unanswered_keeps_its_place_and_goes_to_another_agent() -> None:
    r = router(QueuePolicy("q", ring_timeout=20, miss_retry=30), agents={"a": {}})
    r.enqueue("c1", "q", 0.0)
    r.enqueue("c2", "q", 1.0)
    [o] = r.decide(1.0)
    assert o.call == "c1" and r.ringing("c1", o.agent, 1.0)
    r.set_agent(AgentId("b"), {})
    r.observe(AgentId("b"), S.AVAILABLE, 5.0)
    [o2] = r.decide(5.0)
    assert (o2.call, o2.agent) == ("c2", "b")
    take(r, o2, 5.0)
    r.set_agent(AgentId("x"), {})
    r.observe(AgentId("x"), S.AVAILABLE, 10.0)
    assert offered(r, 21.0) == {"c1": "x"}  # the ring timed out at 21: c1 is first again, not to a
    assert [e.in_a_row for e in r.drain() if isinstance(e, RingMissed)] == [1]


def test_the_agent_who_missed_is_not_offered_the_call_again_within_miss_retry() -> None:
    r = router(QueuePolicy("q", miss_retry=30, max_misses=0), agents={"a": {}})
    r.enqueue("c", "q", 0.0)
    [o] = r.decide(0.0)
    assert r.missed("c", o.agent, 1.0)
    assert offered(r, 30.9) == {}
    assert offered(r, 31.0) == {"c": "a"}


def test_n_misses_in_a_row_pause_the_agent_with_the_reason() -> None:
    r = router(QueuePolicy("q", max_misses=2, miss_pause_reason="rna", miss_retry=0), agents={"a": {}})
    for i in range(2):
        r.enqueue(f"c{i}", "q", 0.0)
        [o] = r.decide(float(i))
        assert r.ringing(o.call, o.agent, float(i)) and r.missed(o.call, o.agent, float(i))
    assert r.state(AgentId("a")) is S.PAUSED and r.agents()[0].reason == "rna"
    paused = [e for e in r.drain() if isinstance(e, AgentAutoPaused)]
    assert [(e.agent, e.reason, e.misses) for e in paused] == [("a", "rna", 2)]


def test_an_answer_resets_the_misses_in_a_row() -> None:
    r = router(QueuePolicy("q", max_misses=2, miss_retry=0), agents={"a": {}})
    r.enqueue("c0", "q", 0.0)
    [o] = r.decide(0.0)
    r.missed("c0", o.agent, 0.0)
    [o] = r.decide(0.0)
    take(r, o, 0.0)
    assert r.agents()[0].misses_in_a_row == 0
    r.observe(AgentId("a"), S.AVAILABLE, 1.0)
    r.enqueue("c1", "q", 1.0)
    [o] = r.decide(1.0)
    r.missed("c1", o.agent, 1.0)
    assert r.state(AgentId("a")) is S.AVAILABLE  # one miss in a row, not two


def test_a_failed_delivery_is_not_the_agents_miss() -> None:
    r = router(QueuePolicy("q", max_misses=1), agents={"a": {}})
    r.enqueue("c", "q", 0.0)
    [o] = r.decide(0.0)
    assert r.failed("c", o.agent, 0.0)
    assert r.state(AgentId("a")) is S.AVAILABLE
    assert offered(r, 0.0) == {"c": "a"}


def test_a_caller_who_hangs_up_releases_the_reserved_agent() -> None:
    r = router(QueuePolicy("q"), agents={"a": {}})
    r.enqueue("c", "q", 0.0)
    r.decide(0.0)
    left = r.cancel("c", 1.0)
    assert left is not None and left.status is CallStatus.GONE
    assert r.state(AgentId("a")) is S.AVAILABLE and r.waiting_count == 0


# ---- rule 6: wrap-up -------------------------------------------------------------------------------------
def test_wrapup_holds_the_agent_after_an_acd_call() -> None:
    r = router(QueuePolicy("q", wrapup_seconds=10), agents={"a": {}})
    r.enqueue("c", "q", 0.0)
    take(r, r.decide(0.0)[0], 0.0)
    r.observe(AgentId("a"), S.AVAILABLE, 30.0)  # the call ends
    assert r.state(AgentId("a")) is S.WRAP_UP
    r.advance(39.9)
    assert r.state(AgentId("a")) is S.WRAP_UP
    r.advance(40.0)
    assert r.state(AgentId("a")) is S.AVAILABLE


def test_no_wrapup_after_a_direct_call() -> None:
    r = router(QueuePolicy("q", wrapup_seconds=10), agents={"a": {}})
    r.observe(AgentId("a"), S.ON_CALL, 0.0)
    r.observe(AgentId("a"), S.AVAILABLE, 5.0)
    assert r.state(AgentId("a")) is S.AVAILABLE


def test_need_disposition_holds_the_agent_until_it_is_filed() -> None:
    r = router(QueuePolicy("q", wrapup_seconds=5, need_disposition=True), agents={"a": {}})
    r.enqueue("c", "q", 0.0)
    take(r, r.decide(0.0)[0], 0.0)
    r.observe(AgentId("a"), S.AVAILABLE, 10.0)
    r.advance(100.0)
    assert r.state(AgentId("a")) is S.WRAP_UP
    assert not r.end_wrapup(AgentId("a"), 100.0)
    r.disposition_filed(AgentId("a"), 101.0)
    assert r.state(AgentId("a")) is S.AVAILABLE


def test_end_wrapup_early_only_when_the_queue_allows_it() -> None:
    for allowed in (True, False):
        r = router(QueuePolicy("q", wrapup_seconds=60, wrapup_early_end=allowed), agents={"a": {}})
        r.enqueue("c", "q", 0.0)
        take(r, r.decide(0.0)[0], 0.0)
        r.observe(AgentId("a"), S.AVAILABLE, 1.0)
        assert r.end_wrapup(AgentId("a"), 2.0) is allowed
        assert r.state(AgentId("a")) is (S.AVAILABLE if allowed else S.WRAP_UP)


# ---- bad policies -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: QueuePolicy("q", escalation=(Escalation(20), Escalation(10))),
        lambda: QueuePolicy("q", escalation=(Escalation(-1),)),
        lambda: QueuePolicy("q", escalation=(Escalation(5, min_level=0),)),
        lambda: QueuePolicy("q", escalation=(Escalation(5, min_level=11),)),
        lambda: QueuePolicy("q", escalation=(Escalation(5, overflow_to="q"),)),
        lambda: QueuePolicy("q", reservation_timeout=0),
        lambda: QueuePolicy("q", ring_timeout=-1),
        lambda: QueuePolicy("q", wrapup_seconds=-1),
        lambda: QueuePolicy("q", max_misses=-1),
        lambda: SkillNeed("Sales", 1),
        lambda: SkillNeed("sales", 11),
        lambda: SkillNeed.parse("sales:x"),
        lambda: check_overflows({"q": QueuePolicy("q", escalation=(Escalation(5, overflow_to="nope"),))}),
    ],
    ids=[
        "unordered_steps",
        "negative_after",
        "min_level_0",
        "min_level_11",
        "overflow_to_self",
        "zero_reservation_timeout",
        "negative_ring_timeout",
        "negative_wrapup",
        "negative_max_misses",
        "upper_case_skill",
        "level_11",
        "level_not_a_number",
        "overflow_to_unknown_queue",
    ],
)
def test_a_bad_policy_is_a_policy_error(make: object) -> None:
    assert callable(make)
    with pytest.raises(PolicyError):
        make()


def test_skill_need_parse() -> None:
    assert SkillNeed.parse(" sales:5 ") == SkillNeed("sales", 5)
    assert SkillNeed.parse("vip") == SkillNeed("vip", 1)


# ---- regressions found by the property tests (issue #10) ---------------------------------------------------
def test_a_pause_during_a_reservation_sends_the_call_back_at_once() -> None:
    """Was: the call stayed OFFERED to the paused agent until the reservation timed out; the agent, back
    within the timeout, was reserved for a second call: two calls to one agent."""
    r = router(QueuePolicy("q", reservation_timeout=5), agents={"a": {}})
    r.enqueue("c1", "q", 0.0)
    assert offered(r, 0.0) == {"c1": "a"}
    r.observe(AgentId("a"), S.PAUSED, 1.0, "lunch")
    assert [v.status for v in r.waiting(1.0)] == [CallStatus.WAITING]
    r.observe(AgentId("a"), S.AVAILABLE, 2.0)
    r.enqueue("c2", "q", 2.0)
    assert offered(r, 2.0) == {"c1": "a"}  # c1 first, with its place
    assert [(v.call, v.agent) for v in r.waiting(2.0)] == [("c1", "a"), ("c2", None)]


def test_a_logout_during_a_reservation_sends_the_call_back() -> None:
    r = router(QueuePolicy("q"), agents={"a": {}, "b": {}})
    r.observe(AgentId("b"), S.LOGGED_OUT, 0.0)
    r.enqueue("c", "q", 0.0)
    assert offered(r, 0.0) == {"c": "a"}
    r.observe(AgentId("a"), S.LOGGED_OUT, 1.0)
    r.observe(AgentId("b"), S.AVAILABLE, 1.0)
    assert offered(r, 1.0) == {"c": "b"}


def test_a_wrapup_that_outlasts_the_filed_disposition_still_ends() -> None:
    """Was: an ``advance`` while the disposition was awaited forgot the wrap-up's end; filed before the
    wrap-up seconds were over, the agent stayed in WRAP_UP for ever."""
    q = QueuePolicy("q", wrapup_seconds=10, need_disposition=True, reservation_timeout=2)
    r = router(q, agents={"a": {}})
    r.enqueue("c1", "q", 0.0)
    take(r, r.decide(0.0)[0], 0.0)
    r.observe(AgentId("a"), S.AVAILABLE, 1.0)  # wrap-up until 11 and the disposition
    r.set_agent(AgentId("b"), {})
    r.observe(AgentId("b"), S.AVAILABLE, 1.0)
    r.enqueue("c2", "q", 1.0)
    r.decide(1.0)  # b reserved until 3
    r.cancel("c2", 1.5)
    r.advance(3.0)  # nothing timed but the awaited disposition
    r.disposition_filed(AgentId("a"), 5.0)
    assert r.state(AgentId("a")) is S.WRAP_UP
    r.advance(11.0)
    assert r.state(AgentId("a")) is S.AVAILABLE


def test_a_caller_who_hangs_up_while_the_agent_rings_frees_the_agent() -> None:
    """Was: the ring cti had recorded stayed: the agent was RINGING for a call that no longer existed."""
    r = router(QueuePolicy("q"), agents={"a": {}})
    r.enqueue("c", "q", 0.0)
    [o] = r.decide(0.0)
    assert r.ringing("c", o.agent, 0.0)
    r.cancel("c", 1.0)
    assert r.state(AgentId("a")) is S.AVAILABLE


def test_a_delivery_that_fails_while_ringing_frees_the_agent() -> None:
    r = router(QueuePolicy("q", max_misses=1), agents={"a": {}})
    r.enqueue("c", "q", 0.0)
    [o] = r.decide(0.0)
    assert r.ringing("c", o.agent, 0.0) and r.failed("c", o.agent, 1.0)
    assert r.state(AgentId("a")) is S.AVAILABLE  # not a miss, not paused
    assert offered(r, 1.0) == {"c": "a"}


@pytest.mark.parametrize("shown", [S.WRAP_UP, S.ON_CALL])
def test_a_reserved_agent_shown_busy_by_asterisk_ends_the_reservation(shown: AgentState) -> None:
    """Was: the reservation outlived app_queue's wrap-up (or a call cti did not deliver): its expiry then
    made RESERVED -> WRAP_UP, a move the table forbids, and ``decide`` raised IllegalTransition."""
    r = router(QueuePolicy("q", reservation_timeout=5), agents={"a": {}})
    r.enqueue("c", "q", 0.0)
    assert offered(r, 0.0) == {"c": "a"}
    r.observe(AgentId("a"), shown, 1.0)
    if shown is S.ON_CALL:
        r.observe(AgentId("a"), S.WRAP_UP, 2.0)
    assert r.state(AgentId("a")) is S.WRAP_UP
    assert offered(r, 6.0) == {}  # no IllegalTransition; the call waits with its place
    assert [v.status for v in r.waiting(6.0)] == [CallStatus.WAITING]
    r.observe(AgentId("a"), S.AVAILABLE, 7.0)
    assert offered(r, 7.0) == {"c": "a"}


def test_an_answer_seen_by_asterisk_before_the_router_is_still_ours() -> None:
    r = router(QueuePolicy("q"), agents={"a": {}})
    r.enqueue("c", "q", 0.0)
    [o] = r.decide(0.0)
    r.observe(AgentId("a"), S.ON_CALL, 1.0)
    assert r.answered("c", o.agent, 1.0) and r.waiting_count == 0


def test_an_escalation_step_raises_the_priority_from_its_wait_on() -> None:
    """Was: ``Escalation.priority`` was documented but never applied."""
    q = QueuePolicy("q", escalation=(Escalation(30, priority=5),))
    r = router(q, QueuePolicy("p", priority=2))
    r.enqueue("old", "q", 0.0)
    r.enqueue("urgent", "p", 20.0)
    r.set_agent(AgentId("a"), {})
    r.observe(AgentId("a"), S.AVAILABLE, 40.0)
    assert [v.call for v in r.waiting(29.0)] == ["urgent", "old"]
    assert [(v.call, v.priority) for v in r.waiting(30.0)] == [("old", 0), ("urgent", 2)]
    assert offered(r, 40.0) == {"old": "a"}  # 0 + 5 after 30 s beats 2


def test_a_direct_call_that_ends_while_the_delivered_call_rings_keeps_that_ring() -> None:
    """Was: the end of the agent's direct call forgot the call cti was ringing it for (call waiting);
    when the ring then stopped, the call stayed RINGING for that agent, which was offered a second call.
    Found by the property test (never two calls to one agent)."""
    r = router(QueuePolicy("q", max_misses=0), agents={"a": {}})
    r.enqueue("c1", "q", 0.0)
    [o] = r.decide(0.0)
    r.observe(AgentId("a"), S.ON_CALL, 1.0)  # a direct call
    assert r.ringing("c1", o.agent, 1.0)  # and ours rings too
    r.observe(AgentId("a"), S.PAUSED, 2.0, "coffee")  # the direct call ends, the ring stops
    r.observe(AgentId("a"), S.AVAILABLE, 2.0)
    r.enqueue("c2", "q", 2.0)
    views = {v.call: (v.status, v.agent) for v in r.waiting(2.0)}
    assert views["c1"] == (CallStatus.WAITING, None)  # a ring-no-answer: back, with its place
    assert {o.call for o in r.decide(2.0)} == {"c2"}  # c1 is not offered to the agent who let it ring
