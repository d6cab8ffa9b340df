"""Agent state history, pure: state changes folded into intervals, and time in state over a range.

An agent's history is a run of intervals ``[started_at, ended_at)``, one per state it was in, with the
pause reason; the newest one is open (``ended_at`` None) until the next change closes it at that change's
time. The store keeps the intervals (cti/store/agent_states_repo.py); this module decides what a change
does to them and what they add up to (docs/metrics.md "Agent state history").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

LOGGED_OUT = "logged_out"
AVAILABLE = "available"
PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class StateChange:
    """An agent entered ``state`` at ``at`` (an ``AgentStateChanged`` event, as stored)."""

    server: str
    agent: str
    state: str
    at: float
    reason: str = ""
    queues: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Interval:
    server: str
    agent: str
    state: str
    reason: str
    started_at: float
    ended_at: float | None = None  # None: open (the agent's current state)
    queues: tuple[str, ...] = ()
    id: int | None = None  # the store's row, once written


@dataclass(frozen=True, slots=True)
class Moves:
    """What a batch of changes does to the stored intervals."""

    closed: list[Interval] = field(default_factory=list)  # stored open intervals, now with ended_at
    changed: list[Interval] = field(default_factory=list)  # stored open intervals changed in place
    new: list[Interval] = field(default_factory=list)  # to insert (closed ones and the new open ones)


def _same(a: Interval, c: StateChange) -> bool:
    return a.state == c.state and a.reason == (c.reason if c.state == PAUSED else "")


def apply(open_now: Mapping[tuple[str, str], Interval], changes: Iterable[StateChange]) -> Moves:
    """Fold ``changes`` (any order; each agent's are taken by time) into the agents' open intervals.

    A change to the state (and pause reason) the agent is already in only updates the open interval's
    queues: a repeated identical change adds nothing. A change older than the open interval's start is
    ignored (already written). A change at the very instant the open interval started replaces its state
    (no zero-length interval)."""
    current: dict[tuple[str, str], Interval] = dict(open_now)
    stored = {k: v.id for k, v in open_now.items()}
    moves = Moves()
    by_key: dict[tuple[str, str], Interval] = {}  # new intervals not yet closed, by agent
    for c in sorted(changes, key=lambda c: c.at):
        key = (c.server, c.agent)
        reason = c.reason if c.state == PAUSED else ""
        cur = current.get(key)
        if cur is not None and c.at < cur.started_at:
            continue
        if cur is not None and (_same(cur, c) or c.at == cur.started_at):
            cur = current[key] = replace(cur, state=c.state, reason=reason, queues=c.queues)
            if key in by_key:
                by_key[key] = cur
            continue
        if cur is not None:
            closed = replace(cur, ended_at=c.at)
            if key in by_key:
                moves.new.append(closed)
            else:
                moves.closed.append(closed)
        current[key] = by_key[key] = Interval(c.server, c.agent, c.state, reason, c.at, None, c.queues)
    for key, cur in current.items():
        if key not in by_key and cur != open_now.get(key) and stored.get(key) is not None:
            moves.changed.append(cur)
    moves.new.extend(by_key.values())
    return moves


@dataclass(slots=True)
class AgentTime:
    """Seconds an agent spent in each state, and paused by reason ('' : no reason given)."""

    states: dict[str, float] = field(default_factory=dict)
    pauses: dict[str, float] = field(default_factory=dict)

    @property
    def staffed(self) -> float:
        """Logged-in time, paused included (utilisation's denominator)."""
        return sum(v for s, v in self.states.items() if s != LOGGED_OUT)

    @property
    def available(self) -> float:
        """Ready and idle time (occupancy's denominator, with handle)."""
        return self.states.get(AVAILABLE, 0.0)


def time_in_state(
    intervals: Iterable[Interval], start: float, end: float, now: float | None = None
) -> dict[str, AgentTime]:
    """Per agent, seconds in each state within ``[start, end)``: every interval clipped to the range; an
    open interval counts up to ``now`` (if given and earlier than ``end``), never into the future."""
    stop = end if now is None else min(end, now)
    out: dict[str, AgentTime] = {}
    for iv in intervals:
        hi = min(stop if iv.ended_at is None else iv.ended_at, stop)
        lo = max(iv.started_at, start)
        if hi <= lo:
            continue
        t = out.setdefault(iv.agent, AgentTime())
        t.states[iv.state] = t.states.get(iv.state, 0.0) + (hi - lo)
        if iv.state == PAUSED:
            t.pauses[iv.reason] = t.pauses.get(iv.reason, 0.0) + (hi - lo)
    for t in out.values():
        t.states = {k: round(v, 6) for k, v in sorted(t.states.items())}
        t.pauses = {k: round(v, 6) for k, v in sorted(t.pauses.items())}
    return out


def staffed(times: Mapping[str, AgentTime]) -> dict[str, tuple[float, float]]:
    """agent -> (staffed seconds, available seconds): ``ReportInput.staffed``."""
    return {a: (round(t.staffed, 6), round(t.available, 6)) for a, t in times.items() if t.staffed > 0}


def fold(changes: Sequence[StateChange]) -> list[Interval]:
    """Every interval of ``changes`` from nothing stored (the last one of each agent open)."""
    return apply({}, changes).new
