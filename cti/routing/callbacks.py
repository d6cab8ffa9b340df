"""Callbacks that keep their place. Pure: no I/O, no clock (``at`` is passed in).

Theory of operation (the edges are ``cti.delivery.callbacks``; the settings ``[routing.callbacks]``):

1. A callback is a promise to call a customer back, from one of three sources: a key pressed while
   waiting in the holding extension (``KEY``), the HTTP API (``WEB``), an agent's disposition
   (``AGENT``, a date and time, for that agent or for anyone).
2. Its place is its ``entered`` time: for a key press, the time the caller reached the holding
   extension, so the virtual entry it leaves in the router (``virtual_id``) keeps the caller's
   priority, entry time and sequence (``Router.rekey``) and is served exactly where the caller would
   have been; for a web request the time of the request; for a scheduled one the time it is due.
3. A scheduled callback waits outside the router until it is due, then it enters with ``entered`` =
   its due time. One for a named agent is offered only to that agent while the agent is logged in.
4. When the virtual entry reaches the head, the router reserves an agent (an ordinary offer); then cti
   dials the customer. When the customer answers, the call is an ordinary held call being delivered
   to the reserved agent, with the callback's place. An attempt that does not reach the customer
   (busy, no answer, congestion, failed) releases the agent; the entry stays in the router with its
   place but is not offered before ``spacing`` seconds; after ``attempts`` failed attempts the
   callback has FAILED and leaves the router.
5. Every move is checked against ``CALLBACK_TRANSITIONS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from cti.core.ids import AgentId
from cti.routing.events import RoutingError, WaitingCall
from cti.routing.router import Router

VIRTUAL_PREFIX = "cb:"


class Source(Enum):
    KEY = "key"  # pressed while waiting
    WEB = "web"  # the HTTP API
    AGENT = "agent"  # an agent's disposition


class CallbackStatus(Enum):
    SCHEDULED = "scheduled"  # not due yet (or not yet in this instance's router)
    QUEUED = "queued"  # a virtual entry waits in the router
    DIALING = "dialing"  # an agent is reserved and the customer is being called
    DONE = "done"  # the customer answered
    FAILED = "failed"  # every attempt failed
    CANCELLED = "cancelled"


CS = CallbackStatus
CALLBACK_TRANSITIONS: dict[CallbackStatus, frozenset[CallbackStatus]] = {
    CS.SCHEDULED: frozenset({CS.QUEUED, CS.CANCELLED}),
    CS.QUEUED: frozenset({CS.DIALING, CS.CANCELLED, CS.SCHEDULED}),
    CS.DIALING: frozenset({CS.DONE, CS.QUEUED, CS.FAILED, CS.CANCELLED}),
    CS.DONE: frozenset(),
    CS.FAILED: frozenset(),
    CS.CANCELLED: frozenset(),
}

# what an attempt can end in (OriginateResponse reasons, as cti.core.events.OriginateFinished names them)
ANSWERED = "answered"
ATTEMPT_OUTCOMES = frozenset({ANSWERED, "busy", "no-answer", "congestion", "failed"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3  # attempts in all (the first one included)
    spacing: float = 120.0  # seconds between two attempts
    ring_timeout: float = 30.0  # how long the customer's phone rings per attempt

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise RoutingError("routing.callbacks.attempts: must be >= 1")
        if self.spacing < 0 or self.ring_timeout <= 0:
            raise RoutingError("routing.callbacks: spacing must be >= 0 and ring_timeout > 0 seconds")


@dataclass(frozen=True, slots=True)
class Attempt:
    at: float
    agent: AgentId
    outcome: str


@dataclass(slots=True)
class Callback:
    id: int
    number: str  # E.164
    queue: str
    entered: float  # its place (rule 2)
    due: float
    source: Source
    agent: AgentId | None = None  # for this agent only (rule 3); None: anyone
    status: CallbackStatus = CS.SCHEDULED
    attempts: list[Attempt] = field(default_factory=list)
    retry_at: float = 0.0

    @property
    def virtual(self) -> str:
        return virtual_id(self.id)

    def move(self, to: CallbackStatus) -> None:
        if to not in CALLBACK_TRANSITIONS[self.status]:
            raise RoutingError(f"callback {self.id}: {self.status.value} -> {to.value} is not allowed")
        self.status = to

    @property
    def outcome(self) -> str | None:
        return self.attempts[-1].outcome if self.attempts else None


def virtual_id(callback: int) -> str:
    return f"{VIRTUAL_PREFIX}{callback}"


def is_virtual(call: str) -> bool:
    return call.startswith(VIRTUAL_PREFIX)


def callback_of(call: str) -> int | None:
    if not is_virtual(call):
        return None
    rest = call[len(VIRTUAL_PREFIX) :]
    return int(rest) if rest.isdigit() else None


def keep_place(router: Router, call: str, cb: Callback, at: float) -> WaitingCall | None:
    """The caller of ``call`` asked to be called back: its entry becomes ``cb``'s virtual entry, with
    its place (rule 2). An agent reserved for the caller is released first. None: it was not waiting."""
    wc = router.call(call)
    if wc is None:
        return None
    if wc.agent is not None:
        router.failed(call, wc.agent, at)
    moved = router.rekey(call, cb.virtual)
    if moved is not None:
        cb.entered = moved.entered
        cb.move(CS.QUEUED)
    return moved


def enter(router: Router, cb: Callback, at: float) -> WaitingCall:
    """A due callback enters the router at its place (rules 2 and 3)."""
    preferred = (cb.agent,) if cb.agent is not None else ()
    wc = router.enqueue(
        cb.virtual,
        cb.queue,
        at,
        entered=cb.entered,
        preferred=preferred,
        prefer_until=float("inf") if preferred else None,
    )
    cb.move(CS.QUEUED)
    if cb.retry_at > at:
        router.hold_call(cb.virtual, cb.retry_at)
    return wc


def dialing(cb: Callback) -> None:
    """An agent is reserved for the callback; cti dials the customer (rule 4)."""
    cb.move(CS.DIALING)


def reached(router: Router, cb: Callback, agent: AgentId, call: str, at: float) -> WaitingCall | None:
    """The customer answered: the virtual entry is the held call ``call`` now, with the callback's place
    and the agent still reserved for it (rule 4)."""
    cb.attempts.append(Attempt(at, agent, ANSWERED))
    cb.move(CS.DONE)
    return router.rekey(cb.virtual, call)


def attempt_failed(
    router: Router, cb: Callback, agent: AgentId, outcome: str, at: float, policy: RetryPolicy
) -> None:
    """An attempt did not reach the customer (rule 4): the agent is released and the entry keeps its
    place, not offered before the next attempt is due; after the last attempt the callback FAILED."""
    if outcome not in ATTEMPT_OUTCOMES or outcome == ANSWERED:
        outcome = "failed"
    cb.attempts.append(Attempt(at, agent, outcome))
    router.failed(cb.virtual, agent, at)
    if len(cb.attempts) >= policy.attempts:
        cb.move(CS.FAILED)
        router.cancel(cb.virtual, at)
        return
    cb.move(CS.QUEUED)
    cb.retry_at = at + policy.spacing
    router.hold_call(cb.virtual, cb.retry_at)


def cancel(router: Router, cb: Callback, at: float) -> None:
    cb.move(CS.CANCELLED)
    router.cancel(cb.virtual, at)
