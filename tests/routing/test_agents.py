"""THE agent state machine: every rule of its theory of operation, and a property test of the table."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cti.core.events import AgentState
from cti.core.ids import AgentId
from cti.routing.agents import (
    RULES,
    TRANSITIONS,
    Agent,
    AgentFacts,
    CallKind,
    IllegalTransition,
    NotAvailable,
    Transition,
    derive,
)

S = AgentState
A = AgentId("a")


def facts(**kw: object) -> AgentFacts:
    f = AgentFacts(queues={"q": False})
    for k, v in kw.items():
        setattr(f, k, v)
    return f


# ---- rule 2: the state is the first rule that holds ------------------------------------------------------
@pytest.mark.parametrize(
    ("f", "state"),
    [
        (facts(calls={"k": CallKind.ACD_INBOUND}), S.ON_CALL),
        (facts(device_busy=True), S.ON_CALL),
        (facts(rings={"k"}), S.RINGING),
        (facts(device_ringing=True), S.RINGING),
        (facts(reservation="c"), S.RESERVED),
        (facts(wrapup_until=10.0), S.WRAP_UP),
        (facts(awaiting_disposition=True), S.WRAP_UP),
        (facts(queues={}), S.LOGGED_OUT),
        (facts(device_gone=True), S.LOGGED_OUT),
        (facts(queues={"q": True, "r": True}), S.PAUSED),
        (facts(queues={"q": True, "r": False}), S.AVAILABLE),
        (facts(), S.AVAILABLE),
        # the order: the first rule that holds wins
        (facts(calls={"k": CallKind.INTERNAL}, rings={"r"}, reservation="c"), S.ON_CALL),
        (facts(rings={"r"}, reservation="c", wrapup_until=10.0), S.RINGING),
        (facts(reservation="c", wrapup_until=10.0), S.RESERVED),
        (facts(wrapup_until=10.0, queues={}), S.WRAP_UP),
        (facts(queues={}, device_gone=True), S.LOGGED_OUT),
        (facts(device_gone=True, queues={"q": True}), S.LOGGED_OUT),
        (facts(wrapup_until=5.0), S.AVAILABLE),  # a wrap-up over at 5 (at is 5)
    ],
    ids=lambda x: x.value if isinstance(x, S) else "",
)
def test_derive_the_first_rule_that_holds(f: AgentFacts, state: AgentState) -> None:
    assert derive(f, 5.0)[0] is state


def test_every_state_has_its_rule_and_the_last_always_holds() -> None:
    assert {s for s, _ in RULES} == set(S)
    assert RULES[-1][1](AgentFacts(), 0.0)


def test_the_reason_is_shown_only_when_paused() -> None:
    assert derive(facts(queues={"q": True}, reason="lunch"), 0.0) == (S.PAUSED, "lunch")
    assert derive(facts(reason="lunch"), 0.0) == (S.AVAILABLE, "")


# ---- rule 3: the table ---------------------------------------------------------------------------------
def test_a_forbidden_move_raises_illegal_transition() -> None:
    a = Agent(A)
    a.joined("q", False, 0.0)
    a.facts.wrapup_until = 10.0  # wrap-up without a call: AVAILABLE -> WRAP_UP is not allowed
    with pytest.raises(IllegalTransition) as e:
        a.update(1.0)
    assert (e.value.old, e.value.new) == (S.AVAILABLE, S.WRAP_UP)
    assert a.state is S.AVAILABLE


def test_a_forced_move_is_made_and_marked() -> None:
    a = Agent(A)
    a.joined("q", False, 0.0)
    a.facts.wrapup_until = 10.0
    t = a.update(1.0, force=True)
    assert t is not None and t.forced and a.state is S.WRAP_UP


def test_the_table_only_reserves_an_available_agent_and_wraps_up_after_a_call_or_ring() -> None:
    assert {s for s in S if S.RESERVED in TRANSITIONS[s]} == {S.AVAILABLE, S.RINGING}
    assert {s for s in S if S.WRAP_UP in TRANSITIONS[s]} == {S.ON_CALL, S.RINGING}
    assert all(s not in TRANSITIONS[s] for s in S)


# ---- reservations (rule 4) -------------------------------------------------------------------------------
def available(at: float = 0.0) -> Agent:
    a = Agent(A, at=at)
    a.joined("q", False, at)
    return a


@pytest.mark.parametrize("state", [S.LOGGED_OUT, S.PAUSED, S.RINGING, S.ON_CALL, S.RESERVED])
def test_reserve_of_an_agent_that_is_not_available_raises_not_available(state: AgentState) -> None:
    a = available()
    if state is S.LOGGED_OUT:
        a.left("q", 1.0)
    elif state is S.PAUSED:
        a.paused(True, 1.0, "lunch")
    elif state is S.RINGING:
        a.ring_started("r", 1.0)
    elif state is S.ON_CALL:
        a.call_started("k", CallKind.DIRECT_INBOUND, 1.0)
    else:
        a.reserve("c0", 1.0)
    assert a.state is state
    with pytest.raises(NotAvailable):
        a.reserve("c", 2.0)


@pytest.mark.parametrize(
    ("end", "state"),
    [
        (lambda a: a.paused(True, 2.0, "lunch"), S.PAUSED),
        (lambda a: a.left("q", 2.0), S.LOGGED_OUT),
        (lambda a: a.device(2.0, gone=True), S.LOGGED_OUT),
        (lambda a: a.ring_started("c", 2.0), S.RINGING),
        (lambda a: a.call_started("c", CallKind.ACD_INBOUND, 2.0), S.ON_CALL),
        (lambda a: a.release(2.0), S.AVAILABLE),
        (lambda a: a.release(2.0, "c"), S.AVAILABLE),
    ],
    ids=["pause", "logout", "device_gone", "ring", "call", "release", "release_of_the_call"],
)
def test_what_ends_a_reservation(end: object, state: AgentState) -> None:
    a = available()
    t = a.reserve("c", 1.0)
    assert t is not None and t.new is S.RESERVED and a.reserved_for == "c"
    assert callable(end)
    t = end(a)
    assert isinstance(t, Transition) and (t.old, t.new) == (S.RESERVED, state)
    assert a.reserved_for is None


def test_a_release_of_another_call_keeps_the_reservation() -> None:
    a = available()
    a.reserve("c", 1.0)
    assert a.release(2.0, "other") is None and a.state is S.RESERVED


# ---- wrap-up (rule 5) ------------------------------------------------------------------------------------
def on_acd_call(at: float = 0.0) -> Agent:
    a = available(at)
    a.reserve("c", at)
    a.ring_started("c", at)
    a.ring_ended("c", at)
    a.call_started("c", CallKind.ACD_INBOUND, at)
    return a


def test_an_acd_call_ends_in_wrapup_that_ends_by_time() -> None:
    a = on_acd_call()
    t = a.call_ended("c", 10.0, wrapup=5.0)
    assert t is not None and (t.old, t.new, t.spent) == (S.ON_CALL, S.WRAP_UP, 10.0)
    assert a.wrapup_ends == 15.0
    assert a.advance(14.9) is None
    t = a.advance(15.0)
    assert t is not None and t.new is S.AVAILABLE


@pytest.mark.parametrize("kind", [CallKind.DIRECT_INBOUND, CallKind.DIRECT_OUTBOUND, CallKind.INTERNAL])
def test_a_call_that_is_not_acd_has_no_wrapup(kind: CallKind) -> None:
    a = available()
    a.call_started("k", kind, 0.0)
    t = a.call_ended("k", 10.0, wrapup=5.0, need_disposition=True)
    assert t is not None and t.new is S.AVAILABLE


def test_need_disposition_holds_wrapup_until_it_is_filed_and_at_least_the_seconds() -> None:
    a = on_acd_call()
    a.call_ended("c", 10.0, wrapup=5.0, need_disposition=True)
    assert a.wrapup_ends == math.inf
    assert a.advance(1000.0) is None and a.state is S.WRAP_UP
    t = a.disposition_filed(1001.0)
    assert t is not None and t.new is S.AVAILABLE
    b = on_acd_call()
    b.call_ended("c", 10.0, wrapup=5.0, need_disposition=True)
    assert b.disposition_filed(11.0) is None and b.state is S.WRAP_UP  # the seconds are not over
    t = b.advance(15.0)
    assert t is not None and t.new is S.AVAILABLE


def test_end_wrapup_ends_it_early_and_the_disposition_wait() -> None:
    a = on_acd_call()
    a.call_ended("c", 10.0, wrapup=60.0, need_disposition=True)
    t = a.end_wrapup(11.0)
    assert t is not None and t.new is S.AVAILABLE


def test_a_ring_during_wrapup_returns_to_wrapup() -> None:
    a = on_acd_call()
    a.call_ended("c", 0.0, wrapup=30.0)
    a.ring_started("r", 5.0)
    t = a.ring_ended("r", 6.0)
    assert t is not None and (t.old, t.new) == (S.RINGING, S.WRAP_UP)


def test_wrapup_measured_by_app_queue_starts_before_the_call_ends() -> None:
    a = on_acd_call()
    a.start_wrapup(25.0, 20.0)  # still ON_CALL: the wrap-up is a fact for when the call ends
    assert a.state is S.ON_CALL
    t = a.call_ended("c", 20.0)
    assert t is not None and t.new is S.WRAP_UP and a.wrapup_ends == 25.0


def test_wrapup_measured_by_app_queue_after_the_call_ended_is_illegal() -> None:
    """AVAILABLE -> WRAP_UP is not in the table: the observer must say it while the call is on."""
    a = on_acd_call()
    a.call_ended("c", 20.0)
    with pytest.raises(IllegalTransition):
        a.start_wrapup(25.0, 20.0)


# ---- pause, reason, time in state (rule 6) ---------------------------------------------------------------
def test_paused_in_every_queue_is_paused_with_the_reason_and_a_new_reason_is_shown() -> None:
    a = available()
    a.joined("r", False, 0.0)
    assert a.paused(True, 1.0, "lunch", queue="q") is None and a.state is S.AVAILABLE
    t = a.paused(True, 2.0, "lunch", queue="r")
    assert t is not None and (t.new, t.reason) == (S.PAUSED, "lunch")
    t = a.paused(True, 3.0, "training")
    assert t is not None and (t.old, t.new, t.reason, t.spent) == (S.PAUSED, S.PAUSED, "training", 0.0)
    t = a.paused(False, 4.0)
    assert t is not None and (t.new, a.reason) == (S.AVAILABLE, "")


def test_since_is_when_the_state_began() -> None:
    a = available(0.0)
    a.paused(True, 7.0, "x")
    assert a.since == 7.0 and a.time_in_state(10.0) == 3.0 and a.time_in_state(1.0) == 0.0


# ---- the property: any sequence of facts moves the agent only as the table allows ------------------------
class AgentMachine(RuleBasedStateMachine):
    """Random facts; every move is allowed by the table, or raises IllegalTransition without moving,
    or (Asterisk's word after a gap) is forced and marked."""

    def __init__(self) -> None:
        super().__init__()
        self.agent = Agent(A)
        self.now = 0.0

    def apply(self, change: Transition | None, old: AgentState, force: bool) -> None:
        if change is None:
            assert self.agent.state is old
            return
        assert change.old is old and change.new is self.agent.state and change.at == self.now
        if change.old is not change.new:
            assert change.forced is (change.new not in TRANSITIONS[old])
            assert force or not change.forced
            assert self.agent.since == self.now

    def do(self, mutate: object, force: bool = False) -> None:
        old = self.agent.state
        assert callable(mutate)
        try:
            change = mutate()
        except IllegalTransition as e:
            assert not force and e.old is old and e.new not in TRANSITIONS[old]
            assert self.agent.state is old  # the state did not move
            change = self.agent.update(self.now, force=True)  # resync: Asterisk's word
            self.apply(change, old, True)
            return
        self.apply(change, old, force)

    @rule(dt=st.sampled_from([0.0, 1.0, 5.0, 30.0]))
    def tick(self, dt: float) -> None:
        self.now += dt
        self.do(lambda: self.agent.advance(self.now))

    @rule(queue=st.sampled_from(["q", "r"]), paused=st.booleans())
    def join(self, queue: str, paused: bool) -> None:
        self.do(lambda: self.agent.joined(queue, paused, self.now, "p" if paused else ""))

    @rule(queue=st.sampled_from(["q", "r"]))
    def leave(self, queue: str) -> None:
        self.do(lambda: self.agent.left(queue, self.now))

    @rule(paused=st.booleans(), queue=st.sampled_from([None, "q"]))
    def pause(self, paused: bool, queue: str | None) -> None:
        self.do(lambda: self.agent.paused(paused, self.now, "lunch", queue))

    @rule(call=st.sampled_from(["c1", "c2"]))
    def reserve(self, call: str) -> None:
        if self.agent.state is S.AVAILABLE:
            self.do(lambda: self.agent.reserve(call, self.now))
            assert self.agent.reserved_for == call
        else:
            with pytest.raises(NotAvailable):
                self.agent.reserve(call, self.now)

    @rule(call=st.sampled_from([None, "c1"]))
    def release(self, call: str | None) -> None:
        self.do(lambda: self.agent.release(self.now, call))

    @rule(key=st.sampled_from(["c1", "r"]), start=st.booleans())
    def ring(self, key: str, start: bool) -> None:
        if start:
            self.do(lambda: self.agent.ring_started(key, self.now))
        else:
            self.do(lambda: self.agent.ring_ended(key, self.now))

    @rule(key=st.sampled_from(["c1", "k"]), kind=st.sampled_from(list(CallKind)))
    def call(self, key: str, kind: CallKind) -> None:
        self.do(lambda: self.agent.call_started(key, kind, self.now))

    @rule(key=st.sampled_from(["c1", "k"]), wrapup=st.sampled_from([0.0, 10.0]), disp=st.booleans())
    def hang_up(self, key: str, wrapup: float, disp: bool) -> None:
        self.do(lambda: self.agent.call_ended(key, self.now, wrapup, disp))

    @rule()
    def file_disposition(self) -> None:
        self.do(lambda: self.agent.disposition_filed(self.now))

    @rule()
    def end_wrapup(self) -> None:
        self.do(lambda: self.agent.end_wrapup(self.now))

    @rule(busy=st.sampled_from([None, True, False]), gone=st.sampled_from([None, True, False]))
    def device(self, busy: bool | None, gone: bool | None) -> None:
        self.do(lambda: self.agent.device(self.now, busy=busy, gone=gone))

    @rule(wrapup=st.booleans(), gone=st.booleans())
    def resync(self, wrapup: bool, gone: bool) -> None:
        """Asterisk's word after a gap: any facts, applied with force."""

        def observed() -> Transition | None:
            self.agent.facts.device_gone = gone
            if wrapup:
                self.agent.facts.wrapup_until = math.inf
            return self.agent.update(self.now, force=True)

        self.do(observed, force=True)

    @invariant()
    def the_state_is_what_the_facts_say(self) -> None:
        assert (self.agent.state, self.agent.reason) == derive(self.agent.facts, self.now)

    @invariant()
    def a_pause_or_logout_leaves_no_reservation(self) -> None:
        f = self.agent.facts
        if not f.queues or f.device_gone or all(f.queues.values()):
            assert f.reservation is None


TestAgentMachine = AgentMachine.TestCase
TestAgentMachine.settings = settings(
    derandomize=True,
    max_examples=150,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
