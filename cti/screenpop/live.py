"""The supervisor's live board: per queue and per agent figures, maintained from domain events. Pure.

The figures are the ones `cti report` prints, computed by the same code (cti/reports/metrics.py): a
``QueueRollup`` per queue and one ``AgentRollup`` are fed every finished queue leg (from ``CallEnded``).
A caller who has left the queue but whose call is still going (answered, talking) already counts: the
board keeps that leg as *pending* and adds it to a copy of the rollup when it reports, so "answered"
and "abandoned" move the moment the caller leaves the queue, and the finished leg replaces the pending
one when the call ends.

Everything is kept incrementally, so an event costs what it touches, not the size of the board: the
pending legs are indexed by call (``CallEnded`` finds its own), and counted in a second rollup per queue
(``pending``, with a heap for their longest wait) that ``queue_figures`` combines with the finished one
in constant time.

``apply(event)`` updates the board and says what changed (which queues, which agents), so the hub pushes
only those rows to supervisors (deltas, not polling). "Today" is the local calendar day of the event
time; the counters reset when the first event of a new day arrives. At start the daemon seeds the board
with the day's figures so far from the store's rollups (``seed``), so "today" survives a restart and
equals ``cti report`` for today.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cti.core.events import (
    AgentState,
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallLeftQueue,
    CallQueued,
    DomainEvent,
)
from cti.core.ids import AgentId, LinkedId, QueueName, UniqueId
from cti.core.journey import QueueLeg
from cti.reports.metrics import AgentRollup, QueueRollup, us


@dataclass(slots=True)
class QueueLive:
    name: QueueName
    rollup: QueueRollup
    waiting: dict[UniqueId, float] = field(default_factory=dict)  # waiting channel -> entered at
    pending: dict[tuple[LinkedId, UniqueId], QueueLeg] = field(default_factory=dict)  # left, call not ended
    states: dict[str, int] = field(default_factory=dict)  # agent state -> members in it (kept incrementally)
    pending_rollup: QueueRollup | None = None  # the pending legs, counted
    pending_waits: list[tuple[int, LinkedId, UniqueId]] = field(default_factory=list)  # heap of -wait_us

    def add_pending(self, key: tuple[LinkedId, UniqueId], leg: QueueLeg) -> None:
        self.drop_pending(key)
        self.pending[key] = leg
        if self.pending_rollup is None:
            self.pending_rollup = QueueRollup(self.name, self.rollup.threshold)
        self.pending_rollup.add(leg)
        heapq.heappush(self.pending_waits, (-us(leg.wait_seconds), *key))

    def drop_pending(self, key: tuple[LinkedId, UniqueId]) -> None:
        leg = self.pending.pop(key, None)
        if leg is not None and self.pending_rollup is not None:
            self.pending_rollup.add(leg, -1)

    def pending_max_us(self) -> int:
        heap = self.pending_waits
        while heap:
            wait, lid, uid = heap[0]
            leg = self.pending.get((lid, uid))
            if leg is not None and us(leg.wait_seconds) == -wait:
                break
            heapq.heappop(heap)  # lazily forget legs that are no longer pending
        return -heap[0][0] if heap else 0

    def clear_pending(self) -> None:
        self.pending.clear()
        self.pending_waits.clear()
        self.pending_rollup = None


@dataclass(slots=True)
class AgentLive:
    agent: AgentId
    state: AgentState
    since: float
    reason: str = ""
    queues: tuple[QueueName, ...] = ()
    server: str = ""


@dataclass(slots=True)
class Changes:
    queues: set[QueueName] = field(default_factory=set)
    agents: set[AgentId] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.queues or self.agents)


def _day(at: float) -> dt.date:
    return dt.datetime.fromtimestamp(at).date()


class LiveBoard:
    def __init__(
        self, threshold: Callable[[str], float], short_abandon: Callable[[str], float] = lambda _q: 0.0
    ) -> None:
        self._threshold = threshold
        self._short = short_abandon
        self.queues: dict[QueueName, QueueLive] = {}
        self.agents: dict[AgentId, AgentLive] = {}
        self.agent_rollup = AgentRollup()
        self.day: dt.date | None = None
        self._pending_of: dict[LinkedId, set[tuple[QueueName, UniqueId]]] = {}  # call -> its pending legs

    def _queue(self, name: QueueName) -> QueueLive:
        q = self.queues.get(name)
        if q is None:
            q = self.queues[name] = QueueLive(name, self._new_rollup(name))
        return q

    def _new_rollup(self, name: str) -> QueueRollup:
        return QueueRollup(name, self._threshold(name), short_abandon=self._short(name))

    def seed(self, day: dt.date, queues: Mapping[str, QueueRollup], agents: AgentRollup) -> None:
        """Start the board with ``day``'s figures so far (the store's rollups, at daemon start): "today"
        is the calendar day, not the time since the daemon started. Call before any event."""
        self.day = day
        for name, rollup in queues.items():
            self._queue(QueueName(name)).rollup = rollup
        self.agent_rollup = agents

    def _roll_day(self, at: float, changes: Changes) -> None:
        day = _day(at)
        if self.day is None:
            self.day = day
        elif day > self.day:
            self.day = day
            for q in self.queues.values():
                q.rollup = self._new_rollup(q.name)
                q.clear_pending()
                changes.queues.add(q.name)
            self._pending_of.clear()
            self.agent_rollup = AgentRollup()
            changes.agents.update(self.agents)

    def apply(self, event: DomainEvent) -> Changes:
        changes = Changes()
        self._roll_day(event.at, changes)
        match event:
            case CallQueued(queue=queue, uniqueid=uid, at=at):
                self._queue(queue).waiting[uid] = at
                changes.queues.add(queue)
            case CallLeftQueue(queue=queue, uniqueid=uid, outcome=outcome, waited_seconds=waited, at=at):
                q = self._queue(queue)
                entered = q.waiting.pop(uid, at - waited)
                q.add_pending(
                    (event.linkedid, uid),
                    QueueLeg(queue, uid, entered, 0, left_at=at, outcome=outcome, wait_seconds=waited),
                )
                self._pending_of.setdefault(event.linkedid, set()).add((queue, uid))
                changes.queues.add(queue)
            case CallAnswered(queue=queue, agent=agent, uniqueid=uid) if queue is not None:
                leg = self._queue(queue).pending.get((event.linkedid, uid))
                if leg is not None:
                    leg.agent = agent
            case CallEnded(journey=journey):
                # its pending legs, including those the journey no longer lists (merged calls)
                for queue, uid in self._pending_of.pop(journey.linkedid, ()):
                    self._queue(queue).drop_pending((journey.linkedid, uid))
                for leg in journey.queue_legs:
                    q = self._queue(leg.queue)
                    q.waiting.pop(leg.uniqueid, None)
                    if leg.outcome is not None and _day(leg.entered_at) == self.day:
                        q.rollup.add(leg)
                        self.agent_rollup.add(leg)
                        if leg.agent in self.agents:
                            changes.agents.add(leg.agent)
                    changes.queues.add(leg.queue)
            case AgentStateChanged(agent=agent, state=state, at=at, reason=reason, queues=queues):
                a = self.agents.get(agent)
                if a is None:
                    a = self.agents[agent] = AgentLive(agent, state, at, reason, queues, event.server)
                    self._count(a, +1, changes)
                else:
                    self._count(a, -1, changes)
                    if a.state is not state:
                        a.since = at
                    a.state, a.reason = state, reason
                    if queues:
                        a.queues = queues
                    self._count(a, +1, changes)
                changes.agents.add(agent)
            case _:
                pass
        return changes

    def _count(self, a: AgentLive, delta: int, changes: Changes) -> None:
        key = a.state.value
        for name in a.queues:
            q = self._queue(name)
            n = q.states.get(key, 0) + delta
            if n:
                q.states[key] = n
            else:
                q.states.pop(key, None)
            if delta > 0:
                changes.queues.add(name)

    def queue_figures(self, name: QueueName) -> dict[str, Any]:
        q = self._queue(name)
        rollup = q.rollup
        if q.pending and q.pending_rollup is not None:
            rollup = rollup.combined(q.pending_rollup, q.pending_max_us())
        return {
            **rollup.stats().to_json(),
            "waiting": len(q.waiting),
            "oldest_waiting_since": min(q.waiting.values()) if q.waiting else None,
            "agents": dict(sorted(q.states.items())),
        }

    def agent_figures(self, agent: AgentId) -> dict[str, Any]:
        a = self.agents[agent]
        stats = self.agent_rollup.stats(agent).to_json()
        return {
            **stats,
            "agent": a.agent,
            "state": a.state.value,
            "since": a.since,
            "reason": a.reason,
            "queues": list(a.queues),
        }
