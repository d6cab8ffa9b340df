"""Which agent gets an e-mail task, and whether a ringing phone may interrupt one (pure).

Rules (issue #13): calls pre-empt tasks. An e-mail task is offered only to an AVAILABLE agent with
the e-mail skill, only when no call is waiting that the agent could take (a call waits in one of the
agent's queues), and only when the agent is not already working a task. A task in progress is not
interrupted by a call unless the agent allows it (``interruptible``). The daemon's service calls
``offer_task`` with the agents' states and the waiting calls per queue; the decision is a table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from cti.core.events import AgentState

EMAIL_SKILL = "email"


class TaskDecision(Enum):
    OFFER = "offer"
    CALL_WAITING = "call_waiting"  # a call needs this agent: calls pre-empt
    NOT_AVAILABLE = "not_available"
    NO_SKILL = "no_skill"
    BUSY_WITH_TASK = "busy_with_task"


@dataclass(frozen=True, slots=True)
class TaskAgent:
    """What the decision needs of one agent."""

    agent: str
    state: AgentState
    skills: frozenset[str]
    queues: frozenset[str]
    task: str | None = None  # the e-mail task it is working, if any
    interruptible: bool = False  # the agent allows a call to interrupt its task


def decide(agent: TaskAgent, waiting: Mapping[str, int]) -> TaskDecision:
    """The first rule that holds, top to bottom."""
    if EMAIL_SKILL not in agent.skills:
        return TaskDecision.NO_SKILL
    if agent.task is not None:
        return TaskDecision.BUSY_WITH_TASK
    if agent.state is not AgentState.AVAILABLE:
        return TaskDecision.NOT_AVAILABLE
    if any(waiting.get(q, 0) > 0 for q in agent.queues):
        return TaskDecision.CALL_WAITING
    return TaskDecision.OFFER


def offer_task(agents: Iterable[TaskAgent], waiting: Mapping[str, int]) -> str | None:
    """The agent to offer the oldest waiting task to: the first (in the given order, e.g. longest
    idle first) whose decision is OFFER; None if a task must wait."""
    for a in agents:
        if decide(a, waiting) is TaskDecision.OFFER:
            return a.agent
    return None


def may_ring(task: str | None, interruptible: bool) -> bool:
    """A call may be delivered to an agent working a task (``task``) only if the agent allows it."""
    return task is None or interruptible


def call_may_ring(agent: TaskAgent) -> bool:
    """A call may be delivered to an agent working a task only if the agent allows it."""
    return may_ring(agent.task, agent.interruptible)
