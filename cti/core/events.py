"""Domain events: what the call tracker tells the rest of the daemon. Frozen, past tense, no AMI names.

The tracker (cti/asterisk/calls.py) turns AMI messages into these. The screen-pop server, supervisor
statistics, the store writer and the Redis bus consume them. Every event carries `at` (epoch seconds,
from the AMI Timestamp header when Asterisk sends one) and `server` (which Asterisk).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from cti.core.ids import AgentId, LinkedId, QueueName, UniqueId
from cti.core.journey import CallJourney, Direction, LegOutcome


class AgentState(Enum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RESERVED = "reserved"  # cti holds the agent for a call it is about to deliver
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class CallerInfo:
    number: str
    name: str


@dataclass(frozen=True, slots=True)
class DomainEvent:
    at: float
    server: str


@dataclass(frozen=True, slots=True)
class CallStarted(DomainEvent):
    linkedid: LinkedId
    uniqueid: UniqueId
    direction: Direction
    caller: CallerInfo
    did: str


@dataclass(frozen=True, slots=True)
class CallQueued(DomainEvent):
    linkedid: LinkedId
    uniqueid: UniqueId
    queue: QueueName
    position: int
    caller: CallerInfo


@dataclass(frozen=True, slots=True)
class CallWaiting(DomainEvent):
    """A call reached the holding extension (UserEvent CtiWaiting): the CTI must route it by Redirect."""

    linkedid: LinkedId
    uniqueid: UniqueId
    channel: str
    caller: CallerInfo
    did: str
    choice: str  # IVR choice, if the dialplan collected one


@dataclass(frozen=True, slots=True)
class AgentRinging(DomainEvent):
    """An agent's phone rings for a call. The screen pop is sent on this, before the answer."""

    linkedid: LinkedId
    uniqueid: UniqueId  # the caller's channel
    agent: AgentId
    interface: str
    queue: QueueName | None
    caller: CallerInfo
    did: str
    direction: Direction
    waited_seconds: float


@dataclass(frozen=True, slots=True)
class AgentRingNoAnswer(DomainEvent):
    linkedid: LinkedId
    uniqueid: UniqueId
    agent: AgentId
    queue: QueueName | None
    ring_seconds: float


@dataclass(frozen=True, slots=True)
class CallAnswered(DomainEvent):
    linkedid: LinkedId
    uniqueid: UniqueId
    agent: AgentId | None
    queue: QueueName | None
    waited_seconds: float


@dataclass(frozen=True, slots=True)
class CallHoldChanged(DomainEvent):
    linkedid: LinkedId
    uniqueid: UniqueId
    on_hold: bool


@dataclass(frozen=True, slots=True)
class CallerLeft(DomainEvent):
    """The caller hung up while the call goes on without them: a warm transfer's consultation, whose
    agent and colleague Asterisk keeps talking (main/bridge_basic.c, consulting + transferee hangup)."""

    linkedid: LinkedId
    uniqueid: UniqueId


@dataclass(frozen=True, slots=True)
class CallParked(DomainEvent):
    """The caller's channel was parked (res_parking ``ParkedCall``): it waits in ``lot`` at ``space``
    until an agent picks it up, it gives up, or ``timeout`` seconds pass (the parker is rung back)."""

    linkedid: LinkedId
    uniqueid: UniqueId
    channel: str
    lot: str
    space: str
    timeout: float
    parker: str  # the dial string rung back at the timeout (ParkerDialString)
    caller: CallerInfo


@dataclass(frozen=True, slots=True)
class CallUnparked(DomainEvent):
    """A parked call left its space: ``retrieved`` (by ``agent``, when the retriever is an agent's
    device), ``timeout`` (the parker is rung back) or ``gave_up`` (the caller hung up)."""

    linkedid: LinkedId
    uniqueid: UniqueId
    lot: str
    space: str
    outcome: str
    agent: AgentId | None


@dataclass(frozen=True, slots=True)
class CallTransferred(DomainEvent):
    linkedid: LinkedId
    agent: AgentId | None
    target: str
    kind: str  # "blind", "attended" or "redirect"


@dataclass(frozen=True, slots=True)
class CallLeftQueue(DomainEvent):
    linkedid: LinkedId
    uniqueid: UniqueId
    queue: QueueName
    outcome: LegOutcome
    waited_seconds: float


@dataclass(frozen=True, slots=True)
class CallEnded(DomainEvent):
    """The last channel of a journey hung up; the finished record is attached."""

    journey: CallJourney


@dataclass(frozen=True, slots=True)
class AgentStateChanged(DomainEvent):
    agent: AgentId
    interface: str
    state: AgentState
    reason: str = ""  # pause reason
    queues: tuple[QueueName, ...] = ()


@dataclass(frozen=True, slots=True)
class RoutedAgentState(AgentStateChanged):
    """The router's view of an agent (CTI mode): what the tracker saw, plus what only cti knows
    (RESERVED for a call it is delivering, its own wrap-up, a pause Asterisk has not confirmed yet).
    Consumers of AgentStateChanged see it as the newest state; the router itself ignores it."""


@dataclass(frozen=True, slots=True)
class AgentSkillsChanged(DomainEvent):
    """A supervisor changed an agent's skills (already saved in the store): every router takes them."""

    agent: AgentId
    skills: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OriginateFinished(DomainEvent):
    """OriginateResponse, classified (Reason 4 answered, 5 busy, 3 no answer, 8 congestion, 0/1 failure)."""

    action_id: str
    channel_id: str
    linkedid: LinkedId | None
    reason_code: int
    outcome: str  # "answered", "busy", "no-answer", "congestion", "failed"


# the ChannelId (so the Uniqueid and Linkedid) a console gives the supervisor's phone when it originates it
# into ChanSpy: the call tracker knows that channel is a listening session, not a call (never recorded)
SPY_CHANNEL_PREFIX = "spy-"


@dataclass(frozen=True, slots=True)
class SpyStarted(DomainEvent):
    """ChanSpyStart: ``spyer_channel`` (a supervisor's phone running ChanSpy) listens to ``spyee_channel``
    (an agent's channel in call ``spyee_linkedid``)."""

    spyer_channel: str
    spyer_uniqueid: str
    spyee_channel: str
    spyee_linkedid: str


@dataclass(frozen=True, slots=True)
class SpyStopped(DomainEvent):
    """ChanSpyStop: the spyer stopped spying (the spied-on channel hung up, or the spyer did)."""

    spyer_channel: str
    spyer_uniqueid: str


@dataclass(frozen=True, slots=True)
class UserEventRaised(DomainEvent):
    name: str
    linkedid: LinkedId | None
    uniqueid: UniqueId | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Resynced(DomainEvent):
    """After a (re)login the state was rebuilt from CoreShowChannels/QueueStatus: events may be missing."""

    reason: str  # "login", "reconnect", "overflow"
    channels: int
    queues: int


@dataclass(frozen=True, slots=True)
class StreamProblem(DomainEvent):
    """Malformed AMI input was reported and skipped, or the event queue overflowed."""

    problem: str
