"""The router's vocabulary: a waiting call and its state table, offers, routing events, views. Pure.

``cti.routing.router`` decides; this module only names what it decides about. The rules are in the
router's docstring.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from cti.core.events import AgentState
from cti.core.ids import AgentId
from cti.routing.agents import Transition
from cti.routing.policy import Requirements, SkillNeed


class CallStatus(Enum):
    WAITING = "waiting"
    OFFERED = "offered"  # an agent is reserved for it
    RINGING = "ringing"  # the reserved agent's phone rings
    ANSWERED = "answered"
    GONE = "gone"  # the caller hung up, or the call left routing otherwise


# The legal moves of a call in the router, from -> to.
CALL_TRANSITIONS: dict[CallStatus, frozenset[CallStatus]] = {
    CallStatus.WAITING: frozenset({CallStatus.OFFERED, CallStatus.GONE, CallStatus.ANSWERED}),
    CallStatus.OFFERED: frozenset(
        {CallStatus.RINGING, CallStatus.WAITING, CallStatus.ANSWERED, CallStatus.GONE}
    ),
    CallStatus.RINGING: frozenset({CallStatus.ANSWERED, CallStatus.WAITING, CallStatus.GONE}),
    CallStatus.ANSWERED: frozenset(),
    CallStatus.GONE: frozenset(),
}


class RoutingError(RuntimeError):
    """The router was told something impossible (an unknown call, a move the table forbids)."""


@dataclass(slots=True)
class WaitingCall:
    call: str
    queue: str
    needs: tuple[SkillNeed, ...]
    priority: int
    entered: float
    seq: int
    preferred: tuple[AgentId, ...] = ()
    prefer_until: float = 0.0
    tier: str | None = None
    status: CallStatus = CallStatus.WAITING
    agent: AgentId | None = None  # reserved or ringing
    token: int = 0
    deadline: float = math.inf  # reservation or ring deadline
    misses: dict[AgentId, float] = field(default_factory=dict)  # agent -> until when not offered again
    offers: int = 0
    held_until: float = 0.0  # not offered before this (another instance is delivering it)
    kind: int = 0  # calls of one queue with the same needs and priority share it (rule 4's buckets)
    needed: frozenset[str] = frozenset()  # the skills of ``needs``
    asked: Requirements | None = None  # what the call itself asked (its rule, the CRM), queue apart

    def key(self) -> tuple[int, float, int]:
        return (-self.priority, self.entered, self.seq)

    def move(self, to: CallStatus) -> None:
        if to not in CALL_TRANSITIONS[self.status]:
            raise RoutingError(f"call {self.call}: {self.status.value} -> {to.value} is not allowed")
        self.status = to


@dataclass(frozen=True, slots=True)
class Offer:
    """Reserve ``agent`` for ``call``: deliver it (Redirect) now. ``token`` fences stale deliveries."""

    call: str
    agent: AgentId
    queue: str
    token: int
    at: float
    expires: float
    step: int  # the escalation step that made the agent eligible; -1: none was needed
    waited: float


@dataclass(frozen=True, slots=True)
class RoutingEvent:
    at: float


@dataclass(frozen=True, slots=True)
class AgentMoved(RoutingEvent):
    transition: Transition


@dataclass(frozen=True, slots=True)
class ReservationExpired(RoutingEvent):
    call: str
    agent: AgentId


@dataclass(frozen=True, slots=True)
class RingMissed(RoutingEvent):
    call: str
    agent: AgentId
    in_a_row: int


@dataclass(frozen=True, slots=True)
class AgentAutoPaused(RoutingEvent):
    """The daemon must pause the agent in Asterisk too (QueuePause with this reason)."""

    agent: AgentId
    reason: str
    misses: int


@dataclass(frozen=True, slots=True)
class CallServed(RoutingEvent):
    call: str
    agent: AgentId
    queue: str
    waited: float


@dataclass(frozen=True, slots=True)
class CallLeft(RoutingEvent):
    call: str
    queue: str
    waited: float
    status: CallStatus  # where it was when it left


@dataclass(frozen=True, slots=True)
class WaitingView:
    call: str
    queue: str
    position: int  # 1 = next, across every queue's order
    waited: float
    priority: int
    needs: tuple[SkillNeed, ...]
    status: CallStatus
    agent: AgentId | None
    step: int  # escalation steps in force


@dataclass(frozen=True, slots=True)
class AgentRouteView:
    agent: AgentId
    state: AgentState
    reason: str
    since: float
    skills: Mapping[str, int]
    reserved_for: str | None
    calls: int
    talk_seconds: float
    misses_in_a_row: int
    queue: str | None = None  # the queue of the ACD call it rings for, talks on or wraps up after
