"""Router bugs the simulation found (regression tests)."""

from __future__ import annotations

from cti.core.events import AgentState
from cti.core.ids import AgentId
from cti.routing.policy import Escalation, QueuePolicy
from cti.routing.router import Router


def test_a_caller_hanging_up_while_the_agent_rings_frees_the_agent() -> None:
    r, a = Router({"q": QueuePolicy("q")}), AgentId("a")
    r.set_agent(a, {})
    r.observe(a, AgentState.AVAILABLE, 0.0, queues=["q"])
    r.enqueue("c1", "q", 1.0)
    assert [o.agent for o in r.decide(1.0)] == ["a"]
    assert r.ringing("c1", a, 1.0)
    assert r.state(a) is AgentState.RINGING
    r.cancel("c1", 2.0)  # the caller abandons while the phone rings
    assert r.state(a) is AgentState.AVAILABLE
    r.enqueue("c2", "q", 3.0)
    assert [o.agent for o in r.decide(3.0)] == ["a"]


def test_an_escalation_step_priority_raises_the_calls_priority() -> None:
    step = Escalation(10.0, priority=5)
    r, a = (
        Router({"slow": QueuePolicy("slow", escalation=(step,)), "fast": QueuePolicy("fast", priority=1)}),
        AgentId("a"),
    )
    r.enqueue("old", "slow", 0.0)  # priority 0, then 5 after 10 s of wait
    r.enqueue("new", "fast", 15.0)  # priority 1
    r.set_agent(a, {})
    r.observe(a, AgentState.AVAILABLE, 20.0, queues=["slow", "fast"])
    assert [o.call for o in r.decide(20.0)] == ["old"]
