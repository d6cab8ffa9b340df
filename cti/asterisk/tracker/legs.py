"""Queue visits: one ``Visit`` per ``QueueLeg``, with its state and the table of moves it may make.

A visit follows app_queue (rules 5 and 6 of the tracker): QueueCallerJoin opens it WAITING; AgentCalled
rings an agent for it (RINGING, back to WAITING when every ring ended); an agent's DialEnd ANSWER makes it
ANSWERING until QueueCallerLeave or AgentConnect closes it ANSWERED. A QueueCallerAbandon or a
QueueCallerLeave with no answer and no hangup request leaves it LEFT: out of the queue, its exit not
settled yet (provisionally a timeout, or an exit with a key), until the channel's QUEUESTATUS, its next
event, its hangup or ``close`` settles it. The closed states are the ``LegOutcome`` values.
"""

from __future__ import annotations

from enum import Enum

from cti.core.ids import AgentId
from cti.core.journey import LegOutcome, QueueLeg


class LegState(Enum):
    # Members are singletons: an identity hash (a C slot) instead of Enum's hash of the name (a Python
    # call), for the table lookups on the hot path.
    __hash__ = object.__hash__

    WAITING = "waiting"
    RINGING = "ringing"
    ANSWERING = "answering"  # an agent answered; app_queue has not said the caller left the queue yet
    LEFT = "left"  # out of the queue; the exit is provisional (``QueueLeg.outcome``) until settled
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    TIMED_OUT = "timeout"
    EXITED_EMPTY = "exit-empty"
    EXITED_WITH_KEY = "exit-with-key"
    TRANSFERRED = "transferred"


L = LegState
# The members as module globals, for the hot path: reading a global is ten times cheaper than an Enum
# class attribute (not specialised in Python 3.11).
WAITING, RINGING, ANSWERING, LEFT = L.WAITING, L.RINGING, L.ANSWERING, L.LEFT
ANSWERED, ABANDONED, TIMED_OUT, TRANSFERRED = L.ANSWERED, L.ABANDONED, L.TIMED_OUT, L.TRANSFERRED
EXITED_EMPTY, EXITED_WITH_KEY = L.EXITED_EMPTY, L.EXITED_WITH_KEY
OPEN = frozenset({L.WAITING, L.RINGING, L.ANSWERING})  # in the queue now (``CallTracker.waiting``)
_CLOSED_BY_QUEUE = frozenset({L.ANSWERED, L.ABANDONED, L.TIMED_OUT, L.EXITED_EMPTY, L.EXITED_WITH_KEY})

# The legal moves, from -> to. Any other is a bug in the tracker (``IllegalMove``).
LEG_TRANSITIONS: dict[LegState, frozenset[LegState]] = {
    L.WAITING: frozenset({L.RINGING, L.ANSWERING, L.LEFT} | _CLOSED_BY_QUEUE),
    L.RINGING: frozenset({L.WAITING, L.ANSWERING, L.LEFT} | _CLOSED_BY_QUEUE),
    L.ANSWERING: frozenset({L.LEFT} | _CLOSED_BY_QUEUE),
    L.LEFT: _CLOSED_BY_QUEUE | {L.TRANSFERRED},
    # AgentComplete Reason: transfer ends the talk of the leg AgentConnect answered, whatever app_queue
    # said of its exit first (an AgentConnect can follow a QueueCallerLeave that was read as a timeout).
    **{s: frozenset({L.TRANSFERRED}) for s in _CLOSED_BY_QUEUE},
    L.TRANSFERRED: frozenset(),
}

OUTCOME = {
    L.ANSWERED: LegOutcome.ANSWERED,
    L.ABANDONED: LegOutcome.ABANDONED,
    L.TIMED_OUT: LegOutcome.TIMEOUT,
    L.EXITED_EMPTY: LegOutcome.EXIT_EMPTY,
    L.EXITED_WITH_KEY: LegOutcome.EXIT_WITH_KEY,
    L.TRANSFERRED: LegOutcome.TRANSFERRED,
}
STATE = {outcome: state for state, outcome in OUTCOME.items()}

# The channel's QUEUESTATUS, set by app_queue when Queue() returns (rule 6).
QUEUESTATUS = {
    "TIMEOUT": L.TIMED_OUT,
    "LEAVEEMPTY": L.EXITED_EMPTY,
    "JOINEMPTY": L.EXITED_EMPTY,
    "LEAVEUNAVAIL": L.EXITED_EMPTY,
    "JOINUNAVAIL": L.EXITED_EMPTY,
    "FULL": L.EXITED_EMPTY,
    "WITHDRAW": L.ABANDONED,
}


class IllegalMove(RuntimeError):
    """A queue visit, a journey or an originate was asked for a move its table does not allow."""


class Visit:
    """One visit of a caller to a queue: the ``QueueLeg`` record and where it stands."""

    __slots__ = ("answerer", "cti", "estimated", "leg", "rings", "state")

    def __init__(self, leg: QueueLeg, estimated: bool = False, cti: bool = False) -> None:
        self.leg = leg
        self.state = WAITING
        self.estimated = estimated  # opened by a later event than the join: entry time is a guess
        # CTI-routed (``CallTracker.route_leg``): no app_queue event will close it; the deliver dial's
        # answer does, the caller's hangup abandons it
        self.cti = cti
        self.rings = 0  # agents' phones ringing for it now
        self.answerer: AgentId | None = None  # ANSWERING: who answered

    def __repr__(self) -> str:
        return f"Visit({self.leg.queue!r}, {self.leg.uniqueid!r}, {self.state.value})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN

    def move(self, new: LegState) -> None:
        if new is not self.state:
            if new not in LEG_TRANSITIONS[self.state]:
                raise IllegalMove(f"queue leg {self.leg.uniqueid}@{self.leg.queue}: {self.state} -> {new}")
            self.state = new

    # The two commonest moves, WAITING <-> RINGING (both in the table), are made in place.
    def ring_started(self) -> None:
        self.rings += 1
        if self.state is WAITING:
            self.state = RINGING

    def ring_ended(self) -> None:
        self.rings = max(0, self.rings - 1)
        if self.state is RINGING and not self.rings:
            self.state = WAITING

    def answering(self, agent: AgentId) -> None:
        self.answerer = agent
        self.move(ANSWERING)

    def leave(self, provisional: LegState, at: float) -> None:
        """Out of the queue; the exit is ``provisional`` until settled."""
        self.leg.left_at = at
        self.leg.outcome = OUTCOME[provisional]
        self.move(LEFT)

    def close(self, state: LegState, at: float) -> None:
        leg = self.leg
        self.move(state)
        leg.outcome = OUTCOME[state]
        if leg.left_at is None:
            leg.left_at = at
        leg.wait_seconds = max(0.0, leg.left_at - leg.entered_at)

    def transferred(self) -> None:
        """The talk this visit led to ended in a transfer (AgentComplete Reason: transfer)."""
        if self.state is LEFT:
            self.leg.outcome = LegOutcome.TRANSFERRED  # still to be settled: settles as transferred
        else:
            self.move(TRANSFERRED)
            self.leg.outcome = LegOutcome.TRANSFERRED

    def fix_entry(self, at: float, hold_time: int) -> bool:
        """An estimated entry corrected from an event's HoldTime; True when it moved."""
        if self.estimated and hold_time > 0:
            self.leg.entered_at = min(self.leg.entered_at, at - hold_time)
            self.estimated = False
            return True
        return False
