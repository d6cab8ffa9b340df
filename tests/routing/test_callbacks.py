"""Callbacks keep their place (cti.routing.callbacks): the property, and each rule once."""

from __future__ import annotations

import heapq

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.core.events import AgentState
from cti.core.ids import AgentId
from cti.routing import callbacks as cbs
from cti.routing.callbacks import CALLBACK_TRANSITIONS, Callback, CallbackStatus, RetryPolicy, Source
from cti.routing.events import CallStatus, RoutingError
from cti.routing.policy import QueuePolicy, Requirements, SkillNeed
from cti.routing.router import Router
from tests.conftest import examples

S = AgentState
CS = CallbackStatus
POLICY = QueuePolicy("q", skills=(SkillNeed("s", 3),), wrapup_seconds=0.0)


def router(agents: int) -> Router:
    r = Router({"q": POLICY})
    for i in range(agents):
        r.set_agent(AgentId(f"A{i}"), {"s": 5})
        r.observe(AgentId(f"A{i}"), S.AVAILABLE, 0.0)
    return r


def callback(n: int = 1, **kw: object) -> Callback:
    values: dict[str, object] = {"number": "+12125550100", "queue": "q", "entered": 0.0, "due": 0.0}
    values.update(kw)
    return Callback(n, source=Source(values.pop("source", "key")), **values)  # type: ignore[arg-type]


def serve(
    arrivals: list[tuple[float, int]],
    talks: list[float],
    agents: int,
    press: tuple[int, float] | None,
) -> dict[str, tuple[str, float]]:
    """Every call's (agent, time offered), the agents answering at once and talking ``talks`` in turn.
    ``press``: caller k presses the callback key at that time and hangs up; its virtual entry is served
    (reported under the caller's name)."""
    r = router(agents)
    served: dict[str, tuple[str, float]] = {}
    events: list[tuple[float, int, str, str]] = []  # (at, order, what, who)
    t = 0.0
    for i, (gap, _prio) in enumerate(arrivals):
        t += gap
        heapq.heappush(events, (t, 1, "arrive", str(i)))
    if press is not None:
        k, after = press
        entered = sum(g for g, _ in arrivals[: k + 1])
        heapq.heappush(events, (entered + after, 2, "press", str(k)))
    virtual: dict[str, str] = {}
    n_talk = 0
    while events:
        at = events[0][0]
        while events and events[0][0] == at:
            _, _, what, who = heapq.heappop(events)
            if what == "arrive":
                r.enqueue(f"c{who}", "q", at, needs=Requirements(priority=arrivals[int(who)][1]))
            elif what == "press":
                cb = callback(int(who) + 1)
                if cbs.keep_place(r, f"c{who}", cb, at) is not None:
                    virtual[cb.virtual] = f"c{who}"
            else:
                r.observe(AgentId(who), S.AVAILABLE, at)
        for offer in r.decide(at):
            assert r.ringing(offer.call, offer.agent, at) and r.answered(offer.call, offer.agent, at)
            r.observe(offer.agent, S.ON_CALL, at)
            served[virtual.get(offer.call, offer.call)] = (offer.agent, at)
            heapq.heappush(events, (at + talks[n_talk % len(talks)], 0, "free", offer.agent))
            n_talk += 1
    return served


@settings(max_examples=examples(200), deadline=None)
@given(
    arrivals=st.lists(
        st.tuples(st.sampled_from([0.0, 1.0, 2.5, 7.0, 30.0]), st.integers(0, 2)), min_size=1, max_size=25
    ),
    talks=st.lists(st.sampled_from([5.0, 20.0, 45.0, 90.0, 200.0]), min_size=1, max_size=6),
    agents=st.integers(1, 3),
    data=st.data(),
)
def test_a_callback_is_served_where_its_caller_would_have_been(
    arrivals: list[tuple[float, int]], talks: list[float], agents: int, data: st.DataObject
) -> None:
    k = data.draw(st.integers(0, len(arrivals) - 1), label="the caller who presses the key")
    after = data.draw(st.sampled_from([0.5, 3.0, 10.0, 60.0]), label="seconds waited before the key press")
    stayed = serve(arrivals, talks, agents, None)
    called_back = serve(arrivals, talks, agents, (k, after))
    assert called_back == stayed


def test_the_virtual_entry_keeps_the_callers_entry_time_priority_and_needs() -> None:
    r = router(0)
    r.enqueue("held", "q", 10.0, needs=Requirements(priority=2))
    cb = callback(entered=99.0)
    moved = cbs.keep_place(r, "held", cb, 50.0)
    assert moved is not None and r.call("held") is None
    wc = r.call(cb.virtual)
    assert wc is not None and (wc.entered, wc.priority, wc.needs) == (10.0, 2, (SkillNeed("s", 3),))
    assert cb.entered == 10.0 and cb.status is CS.QUEUED
    assert not r.drain()  # no CallLeft: the caller's place did not end


def test_a_key_press_while_an_agent_is_reserved_releases_the_agent() -> None:
    r = router(1)
    r.enqueue("held", "q", 0.0)
    (offer,) = r.decide(1.0)
    cbs.keep_place(r, "held", callback(), 2.0)
    assert r.state(offer.agent) is S.AVAILABLE
    wc = r.call(cbs.virtual_id(1))
    assert wc is not None and wc.status is CallStatus.WAITING


def test_a_failed_attempt_keeps_the_place_and_waits_for_the_spacing_then_fails_after_the_last() -> None:
    r = router(1)
    policy = RetryPolicy(attempts=2, spacing=60.0)
    cb = callback(entered=5.0)
    cbs.enter(r, cb, 100.0)
    (offer,) = r.decide(100.0)
    cbs.dialing(cb)
    cbs.attempt_failed(r, cb, offer.agent, "busy", 110.0, policy)
    assert cb.status is CS.QUEUED and r.state(offer.agent) is S.AVAILABLE
    r.enqueue("later", "q", 111.0)  # a newer caller takes the agent meanwhile
    assert [o.call for o in r.decide(112.0)] == ["later"]
    r.cancel("later", 113.0)
    r.observe(offer.agent, S.AVAILABLE, 113.0)
    assert r.decide(169.0) == []  # not before the spacing
    (again,) = r.decide(170.0)
    assert again.call == cb.virtual and again.waited == pytest.approx(165.0)  # entered 5.0: its place
    cbs.dialing(cb)
    cbs.attempt_failed(r, cb, again.agent, "no-answer", 200.0, policy)
    assert cb.status.value == "failed" and r.call(cb.virtual) is None
    assert [a.outcome for a in cb.attempts] == ["busy", "no-answer"]


def test_an_answered_attempt_is_the_held_call_with_the_reserved_agent() -> None:
    r = router(1)
    cb = callback(entered=5.0)
    cbs.enter(r, cb, 100.0)
    (offer,) = r.decide(100.0)
    cbs.dialing(cb)
    assert r.extend(cb.virtual, 140.0)
    r.advance(120.0)  # past the reservation_timeout (5 s): extended while the customer's phone rings
    wc = cbs.reached(r, cb, offer.agent, "srv/1.1", 125.0)
    assert wc is not None and cb.status is CS.DONE and r.call(cb.virtual) is None
    assert r.ringing("srv/1.1", offer.agent, 126.0) and r.answered("srv/1.1", offer.agent, 128.0)


def test_a_scheduled_callback_for_an_agent_waits_for_that_agent() -> None:
    r = router(2)
    cb = callback(entered=50.0, due=50.0, agent=AgentId("A1"), source="agent")
    cbs.enter(r, cb, 50.0)
    r.observe(AgentId("A1"), S.PAUSED, 50.0, "lunch")
    assert r.decide(51.0) == []  # A0 is free, but the callback is A1's
    r.observe(AgentId("A1"), S.AVAILABLE, 52.0)
    (offer,) = r.decide(52.0)
    assert offer.agent == AgentId("A1") and offer.call == cb.virtual


def test_only_the_moves_of_the_table_are_allowed() -> None:
    for start, allowed in CALLBACK_TRANSITIONS.items():
        for to in CallbackStatus:
            cb = callback(status=start)
            if to in allowed:
                cb.move(to)
                assert cb.status is to
            else:
                with pytest.raises(RoutingError):
                    cb.move(to)


def test_virtual_names() -> None:
    assert cbs.callback_of(cbs.virtual_id(42)) == 42
    assert cbs.callback_of("srv/1.1") is None and cbs.callback_of("cb:x") is None
    with pytest.raises(RoutingError):
        RetryPolicy(attempts=0)
