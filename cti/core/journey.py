"""A call journey: everything that happened to one call, keyed by Linkedid.

This is the record `cti replay --format jsonl` prints, the store persists and the reports read.
Field names are part of the public contract (docs/metrics.md, docs/websocket-protocol.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from cti.core.ids import AgentId, LinkedId, QueueName, UniqueId


class Direction(Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class LegOutcome(Enum):
    """How one queue visit ended (queue_log: CONNECT, ABANDON, EXITWITHTIMEOUT, EXITEMPTY, EXITWITHKEY)."""

    ANSWERED = "answered"
    ABANDONED = "abandoned"
    TIMEOUT = "timeout"
    EXIT_EMPTY = "exit-empty"
    EXIT_WITH_KEY = "exit-with-key"
    TRANSFERRED = "transferred"


class JourneyOutcome(Enum):
    """How the whole call ended, from the caller's point of view."""

    ANSWERED = "answered"  # some agent (or, outbound, the callee) talked to the caller
    ABANDONED = "abandoned"  # the caller hung up while waiting
    TIMEOUT = "timeout"  # left a queue on its timeout and was never answered
    NO_ANSWER = "no-answer"  # outbound: the callee did not answer
    BUSY = "busy"
    CONGESTION = "congestion"
    DROPPED = "dropped"  # outbound: answered by the callee but no agent was free (the 2-second rule)
    FAILED = "failed"  # could not be placed at all
    UNANSWERED = "unanswered"  # ended without an answer for any other reason


@dataclass(slots=True)
class QueueLeg:
    queue: QueueName
    uniqueid: UniqueId  # the waiting channel
    entered_at: float
    position: int
    left_at: float | None = None
    outcome: LegOutcome | None = None
    agent: AgentId | None = None
    ring_no_answer: list[AgentId] = field(default_factory=list)
    wait_seconds: float = 0.0
    talk_seconds: float = 0.0
    answered_at: float | None = None
    ended_at: float | None = None  # end of talk: hangup or transfer
    repaired: bool = False  # spanned an AMI gap: rebuilt at a resync, not all of it was seen live

    def to_json(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "uniqueid": self.uniqueid,
            "entered_at": self.entered_at,
            "left_at": self.left_at,
            "position": self.position,
            "outcome": self.outcome.value if self.outcome else None,
            "agent": self.agent,
            "ring_no_answer": list(self.ring_no_answer),
            "wait_seconds": round(self.wait_seconds, 6),
            "talk_seconds": round(self.talk_seconds, 6),
            "repaired": self.repaired,
        }


@dataclass(slots=True)
class CallJourney:
    """Identified by ``(server, linkedid)``: a Linkedid is unique only within one Asterisk server."""

    linkedid: LinkedId
    direction: Direction
    started_at: float
    caller_number: str = ""
    caller_name: str = ""
    did: str = ""  # the number dialled (inbound) or the destination (outbound)
    ended_at: float | None = None
    outcome: JourneyOutcome | None = None
    queue_legs: list[QueueLeg] = field(default_factory=list)
    agents: list[AgentId] = field(default_factory=list)  # every agent who talked, in order
    hangup_cause: int | None = None
    transfers: int = 0
    hold_seconds: float = 0.0
    server: str = ""
    answered_at: float | None = None  # first time an agent (or, outbound, an agent after the callee) answered
    talk_seconds: float = 0.0  # total time agents talked with the caller, over every answer
    campaign: str | None = None  # outbound: the campaign/lead that placed it, when known
    lead_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "linkedid": self.linkedid,
            "direction": self.direction.value,
            "caller_number": self.caller_number,
            "caller_name": self.caller_name,
            "did": self.did,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "outcome": self.outcome.value if self.outcome else None,
            "queue_legs": [leg.to_json() for leg in self.queue_legs],
            "agents": list(self.agents),
            "hangup_cause": self.hangup_cause,
            "transfers": self.transfers,
            "hold_seconds": round(self.hold_seconds, 6),
            "answered_at": self.answered_at,
            "talk_seconds": round(self.talk_seconds, 6),
            "campaign": self.campaign,
        }
