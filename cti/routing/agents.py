"""THE agent state machine: one state per agent across every queue (and, with Redis, every instance).

Theory of operation (every rule that decides an agent's state lives in this file):

1. What is known of an agent is a set of *facts* (``AgentFacts``): the queues it is a member of and
   whether it is paused in each, the rings and calls its phone has, what its device reports, cti's own
   reservation of it for a call, and the wrap-up cti holds it in after an ACD call. Asterisk is the
   authority for the observed facts (app_queue membership, rings, bridges, device state); cti is the
   authority for reservations and wrap-up.
2. The state is the first rule of ``RULES`` that holds, top to bottom: a call in progress (or a busy
   device) is ON_CALL; a ring is RINGING; a reservation is RESERVED; a wrap-up not yet over is WRAP_UP;
   no queue (or a device that is gone) is LOGGED_OUT; paused in every queue is PAUSED; else AVAILABLE.
3. Every change of state must be a move the table ``TRANSITIONS`` allows. A move it does not allow raises
   ``IllegalTransition``: it is a bug in whoever fed the facts, never something to paper over. The one
   exception is what Asterisk reports after a gap (a resync can show any state): ``update(force=True)``
   makes the move and marks the transition ``forced``, so it is counted and visible. The table
   encodes the rules a router depends on: only an AVAILABLE agent can be reserved, and wrap-up only
   follows a call (or a ring that came during wrap-up).
4. A reservation ends when the agent's phone rings for it, when it is released (the call went elsewhere,
   the caller hung up, the reservation timed out), and by itself when the agent is paused or logs out:
   the router learns of it from the transition (RESERVED -> PAUSED) and keeps the caller's place. (What
   Asterisk shows of a reserved agent on another call, or in app_queue's wrap-up, also ends it: that is
   the router's ``observe``.)
5. Wrap-up: when an ACD call ends, the agent is held for the queue's wrap-up seconds; with
   ``need_disposition`` it is held until the disposition is filed, however long that takes (and at
   least the wrap-up seconds). ``end_wrapup`` ends it early (whether the agent may is the queue's policy,
   checked by the caller). Wrap-up ends by time: ``advance(at)`` makes the move at its end.
6. ``since`` is when the current state began: time in state is ``at - since``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from cti.core.events import AgentState
from cti.core.frozen import quick_constructor
from cti.core.ids import AgentId

S = AgentState


class IllegalTransition(RuntimeError):
    """A fact would move an agent in a way the table does not allow (a bug in the caller)."""

    def __init__(self, agent: str, old: AgentState, new: AgentState) -> None:
        super().__init__(f"agent {agent}: {old.value} -> {new.value} is not an allowed transition")
        self.agent, self.old, self.new = agent, old, new


class NotAvailable(RuntimeError):
    """``reserve`` was asked for an agent that is not AVAILABLE."""


# The legal moves, from -> to. Anything else is a bug (rule 3).
TRANSITIONS: dict[AgentState, frozenset[AgentState]] = {
    S.LOGGED_OUT: frozenset({S.AVAILABLE, S.PAUSED, S.RINGING, S.ON_CALL}),
    S.AVAILABLE: frozenset({S.LOGGED_OUT, S.PAUSED, S.RESERVED, S.RINGING, S.ON_CALL}),
    S.RESERVED: frozenset({S.AVAILABLE, S.RINGING, S.ON_CALL, S.PAUSED, S.LOGGED_OUT}),
    S.RINGING: frozenset({S.AVAILABLE, S.ON_CALL, S.WRAP_UP, S.PAUSED, S.LOGGED_OUT, S.RESERVED}),
    S.ON_CALL: frozenset({S.AVAILABLE, S.WRAP_UP, S.RINGING, S.PAUSED, S.LOGGED_OUT}),
    S.WRAP_UP: frozenset({S.AVAILABLE, S.RINGING, S.ON_CALL, S.PAUSED, S.LOGGED_OUT}),
    S.PAUSED: frozenset({S.AVAILABLE, S.LOGGED_OUT, S.RINGING, S.ON_CALL}),
}


class CallKind(Enum):
    """What kind of call an agent is on (ON_CALL): ACD (delivered by a queue or by cti) or not."""

    ACD_INBOUND = "acd_inbound"
    ACD_OUTBOUND = "acd_outbound"  # a dialer call delivered to the agent
    DIRECT_INBOUND = "direct_inbound"
    DIRECT_OUTBOUND = "direct_outbound"  # the agent dialled out (click-to-call, a phone)
    INTERNAL = "internal"

    @property
    def acd(self) -> bool:
        return self in (CallKind.ACD_INBOUND, CallKind.ACD_OUTBOUND)


@dataclass(slots=True)
class AgentFacts:
    """Everything known of one agent (rule 1)."""

    queues: dict[str, bool] = field(default_factory=dict)  # queue -> paused in it
    reason: str = ""  # pause reason
    rings: set[str] = field(default_factory=set)  # keys of rings in progress
    calls: dict[str, CallKind] = field(default_factory=dict)  # keys of calls in progress
    device_busy: bool = False
    device_ringing: bool = False
    device_gone: bool = False
    reservation: str | None = None  # the call cti reserved this agent for
    wrapup_until: float = 0.0
    awaiting_disposition: bool = False


# Rule 2, as data: (state, holds?) top to bottom; the first that holds is the state.
RULES: tuple[tuple[AgentState, Callable[[AgentFacts, float], bool]], ...] = (
    (S.ON_CALL, lambda f, at: bool(f.calls) or f.device_busy),
    (S.RINGING, lambda f, at: bool(f.rings) or f.device_ringing),
    (S.RESERVED, lambda f, at: f.reservation is not None),
    (S.WRAP_UP, lambda f, at: f.wrapup_until > at or f.awaiting_disposition),
    (S.LOGGED_OUT, lambda f, at: not f.queues or f.device_gone),
    (S.PAUSED, lambda f, at: all(f.queues.values())),
    (S.AVAILABLE, lambda f, at: True),
)


def derive(facts: AgentFacts, at: float) -> tuple[AgentState, str]:
    """The state the facts say (rule 2) and the reason shown with it (the pause reason when PAUSED)."""
    for state, holds in RULES:
        if holds(facts, at):
            return state, facts.reason if state is S.PAUSED else ""
    raise AssertionError("the last rule always holds")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class Transition:
    agent: AgentId
    old: AgentState
    new: AgentState
    reason: str
    at: float
    spent: float  # seconds in the old state
    forced: bool = False  # an observed jump the table does not allow (update(force=True))


# Built on the AMI hot path (one per move the tracker observes): a quick constructor (cti/core/frozen.py)
# makes the same exact, frozen Transition about three times faster than the dataclass's __init__.
_Transition = quick_constructor(Transition)


class Agent:
    """One agent's state machine. Mutators change a fact and return the transition it caused, if any."""

    __slots__ = ("facts", "id", "interface", "reason", "since", "state")

    def __init__(self, agent: AgentId, interface: str = "", at: float = 0.0) -> None:
        self.id = agent
        self.interface = interface
        self.facts = AgentFacts()
        self.state = S.LOGGED_OUT
        self.reason = ""
        self.since = at

    def __repr__(self) -> str:
        return f"Agent({self.id!r}, {self.state.value})"

    # ---- the one place a state changes -------------------------------------------------------------
    def update(self, at: float, *, force: bool = False) -> Transition | None:
        """Re-derive the state from the facts at ``at``; check the move against the table (rule 3).

        ``force``: the facts are Asterisk's word after a gap (a resync): an illegal move is made anyway
        and the transition is marked ``forced``. cti's own moves never force."""
        f = self.facts
        if f.reservation is not None and (not f.queues or f.device_gone or all(f.queues.values())):
            f.reservation = None  # rule 4: a pause or a logout ends a reservation
        state, reason = derive(f, at)
        if state is self.state:
            if reason == self.reason:
                return None
            self.reason = reason  # a new pause reason: same state, shown anew
            return _Transition(self.id, state, state, reason, at, 0.0)
        forced = state not in TRANSITIONS[self.state]
        if forced and not force:
            raise IllegalTransition(self.id, self.state, state)
        old, spent = self.state, max(0.0, at - self.since)
        self.state, self.reason, self.since = state, reason, at
        return _Transition(self.id, old, state, reason, at, spent, forced)

    def time_in_state(self, at: float) -> float:
        return max(0.0, at - self.since)

    @property
    def call_kind(self) -> CallKind | None:
        calls = self.facts.calls
        return next(iter(calls.values())) if calls else None

    # ---- membership and pause (Asterisk's, or cti's own in CTI mode) ----------------------------------
    def joined(self, queue: str, paused: bool, at: float, reason: str = "") -> Transition | None:
        self.facts.queues[queue] = paused
        if paused and reason:
            self.facts.reason = reason
        return self.update(at)

    def left(self, queue: str, at: float) -> Transition | None:
        self.facts.queues.pop(queue, None)
        return self.update(at)

    def paused(
        self, paused: bool, at: float, reason: str = "", queue: str | None = None
    ) -> Transition | None:
        q = self.facts.queues
        for name in [queue] if queue is not None else list(q):
            if name in q:
                q[name] = paused
        if paused:
            self.facts.reason = reason
        elif not all(q.values()) or not q:
            self.facts.reason = ""
        return self.update(at)

    # ---- reservations (cti's) ------------------------------------------------------------------------
    def reserve(self, call: str, at: float) -> Transition | None:
        if self.state is not S.AVAILABLE:
            raise NotAvailable(f"agent {self.id} is {self.state.value}, not available")
        self.facts.reservation = call
        return self.update(at)

    def release(self, at: float, call: str | None = None) -> Transition | None:
        """End the reservation (of ``call`` only, when given)."""
        if call is not None and self.facts.reservation != call:
            return None
        self.facts.reservation = None
        return self.update(at)

    @property
    def reserved_for(self) -> str | None:
        return self.facts.reservation

    # ---- the phone -----------------------------------------------------------------------------------
    def ring_started(self, key: str, at: float) -> Transition | None:
        self.facts.rings.add(key)
        self.facts.reservation = None  # rule 4: the reserved call rings (or another one does)
        return self.update(at)

    def ring_ended(self, key: str, at: float) -> Transition | None:
        self.facts.rings.discard(key)
        return self.update(at)

    def call_started(self, key: str, kind: CallKind, at: float) -> Transition | None:
        self.facts.calls[key] = kind
        self.facts.reservation = None
        return self.update(at)

    def call_ended(
        self, key: str, at: float, wrapup: float = 0.0, need_disposition: bool = False
    ) -> Transition | None:
        """A call ended; an ACD call starts ``wrapup`` seconds of wrap-up (rule 5)."""
        kind = self.facts.calls.pop(key, None)
        if kind is not None and kind.acd:
            if wrapup > 0:
                self.facts.wrapup_until = max(self.facts.wrapup_until, at + wrapup)
            if need_disposition:
                self.facts.awaiting_disposition = True
        return self.update(at)

    def start_wrapup(self, until: float, at: float) -> Transition | None:
        """Wrap-up measured by someone else (app_queue's wrapuptime in observing mode)."""
        self.facts.wrapup_until = max(self.facts.wrapup_until, until)
        return self.update(at)

    def disposition_filed(self, at: float) -> Transition | None:
        self.facts.awaiting_disposition = False
        return self.update(at)

    def end_wrapup(self, at: float) -> Transition | None:
        self.facts.wrapup_until = min(self.facts.wrapup_until, at)
        self.facts.awaiting_disposition = False
        return self.update(at)

    @property
    def wrapup_ends(self) -> float:
        """When wrap-up ends by time (inf while a disposition is awaited, 0 when there is none)."""
        return math.inf if self.facts.awaiting_disposition else self.facts.wrapup_until

    def device(
        self, at: float, *, busy: bool | None = None, ringing: bool | None = None, gone: bool | None = None
    ) -> Transition | None:
        f = self.facts
        if busy is not None:
            f.device_busy = busy
        if ringing is not None:
            f.device_ringing = ringing
        if gone is not None:
            f.device_gone = gone
        return self.update(at)

    def advance(self, at: float) -> Transition | None:
        """Time passed: a wrap-up that is over ends (rule 5)."""
        return self.update(at)
