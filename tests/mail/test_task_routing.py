from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cti.core.events import AgentState
from cti.routing.tasks import TaskAgent, TaskDecision, call_may_ring, decide, offer_task

Q = frozenset({"sales"})
E = frozenset({"email"})


def agent(**kw: object) -> TaskAgent:
    base: dict[str, object] = {
        "agent": "a1",
        "state": AgentState.AVAILABLE,
        "skills": E,
        "queues": Q,
    }
    base.update(kw)
    return TaskAgent(**base)  # type: ignore[arg-type]


def test_table() -> None:
    rows = [
        (agent(), {}, TaskDecision.OFFER),
        (agent(), {"sales": 1}, TaskDecision.CALL_WAITING),
        (agent(), {"other": 3}, TaskDecision.OFFER),
        (agent(skills=frozenset()), {}, TaskDecision.NO_SKILL),
        (agent(state=AgentState.ON_CALL), {}, TaskDecision.NOT_AVAILABLE),
        (agent(state=AgentState.PAUSED), {}, TaskDecision.NOT_AVAILABLE),
        (agent(task="t1"), {}, TaskDecision.BUSY_WITH_TASK),
    ]
    for a, waiting, expected in rows:
        assert decide(a, waiting) is expected, (a, waiting)


def test_interrupt_only_if_allowed() -> None:
    assert call_may_ring(agent())
    assert not call_may_ring(agent(task="t1"))
    assert call_may_ring(agent(task="t1", interruptible=True))


agents_st = st.builds(
    TaskAgent,
    agent=st.sampled_from(["a", "b", "c", "d"]),
    state=st.sampled_from(list(AgentState)),
    skills=st.frozensets(st.sampled_from(["email", "fr", "sales"])),
    queues=st.frozensets(st.sampled_from(["sales", "support"])),
    task=st.none() | st.just("t"),
    interruptible=st.booleans(),
)


@given(
    st.lists(agents_st, max_size=6),
    st.dictionaries(st.sampled_from(["sales", "support"]), st.integers(0, 3)),
)
def test_offered_agent_is_idle_skilled_and_no_call_needs_it(
    agents: list[TaskAgent], waiting: dict[str, int]
) -> None:
    chosen = offer_task(agents, waiting)
    if chosen is None:
        assert all(decide(a, waiting) is not TaskDecision.OFFER for a in agents)
        return
    a = next(x for x in agents if x.agent == chosen and decide(x, waiting) is TaskDecision.OFFER)
    assert a.state is AgentState.AVAILABLE and "email" in a.skills and a.task is None
    assert all(waiting.get(q, 0) == 0 for q in a.queues)


def test_the_router_rings_no_agent_working_a_task_unless_it_allows_it() -> None:
    from cti.core.ids import AgentId
    from cti.routing.policy import QueuePolicy
    from cti.routing.router import Router

    r = Router({"q": QueuePolicy("q")})
    a = AgentId("a")
    r.set_agent(a, {"email": 5})
    r.observe(a, AgentState.AVAILABLE, 0.0)
    r.working_task(a, "t1")
    assert r.task_of(a) == "t1"
    r.enqueue("c1", "q", 1.0)
    assert r.decide(2.0) == []  # the call waits: the task in progress is not interrupted
    r.working_task(a, "t1", interruptible=True)
    assert [(o.call, o.agent) for o in r.decide(3.0)] == [("c1", a)]
    r2 = Router({"q": QueuePolicy("q")})
    r2.set_agent(a, {})
    r2.observe(a, AgentState.AVAILABLE, 0.0)
    r2.working_task(a, "t2")
    r2.enqueue("c2", "q", 1.0)
    assert r2.decide(2.0) == []
    r2.working_task(a, None)  # the task is done: the call rings now
    assert [(o.call, o.agent) for o in r2.decide(3.0)] == [("c2", a)]
