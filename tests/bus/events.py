"""Hand-built domain events for the daemon's tests (what the tracker emits for one inbound call)."""

from __future__ import annotations

from cti.core.events import (
    AgentRinging,
    AgentState,
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallerInfo,
    CallHoldChanged,
    CallLeftQueue,
    CallQueued,
    CallTransferred,
    DomainEvent,
)
from cti.core.ids import AgentId, LinkedId, QueueName, UniqueId
from cti.core.journey import CallJourney, Direction, JourneyOutcome, LegOutcome, QueueLeg


def inbound_call(
    linkedid: str = "1700000000.1",
    agent: str = "Alice",
    number: str = "+14155550101",
    name: str = "Jane Roe",
    queue: str = "sales",
    at: float = 1_700_000_000.0,
    server: str = "pbx1",
) -> list[DomainEvent]:
    """Queued, rings ``agent``, answered after 5 s, held, talks 30 s, ended."""
    lid, uid, q, a = LinkedId(linkedid), UniqueId(linkedid), QueueName(queue), AgentId(agent)
    caller = CallerInfo(number, name)
    leg = QueueLeg(q, uid, at, 1, at + 5, LegOutcome.ANSWERED, a, [], 5.0, 30.0, at + 5, at + 35)
    journey = CallJourney(
        lid, Direction.INBOUND, at, number, name, "5551000", at + 35, JourneyOutcome.ANSWERED, [leg], [a]
    )
    journey.server = server
    return [
        CallQueued(at, server, lid, uid, q, 1, caller),
        AgentRinging(
            at + 2,
            server,
            lid,
            uid,
            a,
            f"Local/{agent}@agents/n",
            q,
            caller,
            "5551000",
            Direction.INBOUND,
            2.0,
        ),
        CallLeftQueue(at + 5, server, lid, uid, q, LegOutcome.ANSWERED, 5.0),
        CallAnswered(at + 5, server, lid, uid, a, q, 5.0),
        CallHoldChanged(at + 10, server, lid, uid, True),
        CallHoldChanged(at + 12, server, lid, uid, False),
        CallEnded(at + 35, server, journey),
    ]


def agent_state(
    agent: str, state: AgentState, at: float = 1_700_000_000.0, reason: str = ""
) -> AgentStateChanged:
    return AgentStateChanged(
        at, "pbx1", AgentId(agent), f"Local/{agent}@agents/n", state, reason, (QueueName("sales"),)
    )


def transferred(linkedid: str, agent: str, at: float = 1_700_000_020.0) -> CallTransferred:
    return CallTransferred(at, "pbx1", LinkedId(linkedid), AgentId(agent), "1002", "blind")
