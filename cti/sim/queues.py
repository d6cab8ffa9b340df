"""app_queue, modelled: queues, members, strategies, and one waiting caller's life in a queue.

Rules followed (apps/app_queue.c and the shared transcripts):

1. A member is rung only if it is logged in, not paused, not in wrap-up and its device is idle
   (``ringinuse = no``). Lower penalty first: a member of a higher penalty is rung only when no
   member of a lower penalty is left to try in the current attempt.
2. Strategies order the candidates: ``ringall`` rings every best candidate at once; ``leastrecent``
   the one whose last call ended longest ago; ``fewestcalls`` the one with fewest calls taken;
   ``rrmemory`` the one after the last member that answered; ``linear`` the configured order;
   ``random`` a seeded shuffle.
3. One *attempt* lasts ``timeout`` seconds. A member who rejects (busy) ends its own ring and the
   next candidate is rung at once within the same attempt. When the attempt times out every ringing
   leg gets ``AgentRingNoAnswer`` (RingTime in milliseconds since the attempt began), and the caller
   waits ``retry`` seconds before the next attempt, in which every member may be tried again.
4. Only the first N waiting callers ring, N being the number of members free to ring.
5. ``QueueCallerAbandon`` precedes ``QueueCallerLeave`` both when the caller hangs up and when
   the queue's own wait (``maxwait``, the Queue() timeout argument) runs out; the queue_log says
   ``ABANDON`` or ``EXITWITHTIMEOUT`` and the channel's ``QUEUESTATUS`` says why.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cti.sim.scenario import QueueSpec

if TYPE_CHECKING:
    from cti.sim.pbx import AgentLeg, Leg
    from cti.sim.timeline import Timer


@dataclass(eq=False, slots=True)
class Member:
    queue: Queue
    interface: str  # Local/1001@agents/n
    name: str  # the member name queue_log logs (Alice)
    extension: str
    penalty: int = 0
    dynamic: bool = False
    state_interface: str = ""
    paused: bool = False
    paused_reason: str = ""
    calls_taken: int = 0
    last_call: float = 0.0
    last_pause: float = 0.0
    login_time: float = 0.0
    wrapup_until: float = 0.0
    order: int = 0

    def blob(self, status: int, in_call: bool) -> list[tuple[str, str]]:
        """The queue_member_blob_create block, in its order."""
        return [
            ("Queue", self.queue.name),
            ("MemberName", self.name),
            ("Interface", self.interface),
            ("StateInterface", self.state_interface or self.interface),
            ("Membership", "dynamic" if self.dynamic else "static"),
            ("Penalty", str(self.penalty)),
            ("CallsTaken", str(self.calls_taken)),
            ("LastCall", str(int(self.last_call))),
            ("LastPause", str(int(self.last_pause))),
            ("LoginTime", str(int(self.login_time))),
            ("InCall", "1" if in_call else "0"),
            ("Status", str(status)),
            ("Paused", "1" if self.paused else "0"),
            ("PausedReason", self.paused_reason),
            ("Ringinuse", "0"),
            ("Wrapuptime", "0"),
        ]


@dataclass(eq=False, slots=True)
class Queue:
    spec: QueueSpec
    members: dict[str, Member] = field(default_factory=dict)  # by interface, in join order
    entries: list[QueueEntry] = field(default_factory=list)
    rr_last: int = -1
    completed: int = 0
    abandoned: int = 0
    completed_in_sl: int = 0
    abandoned_in_sl: int = 0
    holdtime: float = 0.0
    talktime: float = 0.0
    connects: int = 0
    member_order: int = 0

    @property
    def name(self) -> str:
        return self.spec.name

    def add_member(self, m: Member) -> None:
        m.order = self.member_order
        self.member_order += 1
        self.members[m.interface] = m

    def record_hold(self, hold: float) -> None:
        """The mean hold time of connected calls (QueueParams ``Holdtime``)."""
        self.connects += 1
        self.holdtime += (hold - self.holdtime) / self.connects

    def record_talk(self, talk: float) -> None:
        """The mean talk time of completed calls (QueueParams ``TalkTime``)."""
        self.talktime += (talk - self.talktime) / max(1, self.completed)

    def sl_perf(self) -> tuple[str, str]:
        perf = 100.0 * self.completed_in_sl / self.completed if self.completed else 0.0
        tot = self.completed + self.abandoned
        perf2 = 100.0 * (self.completed_in_sl + self.abandoned_in_sl) / tot if tot else 0.0
        return f"{perf:.1f}", f"{perf2:.1f}"


def order_candidates(queue: Queue, candidates: list[Member], rng: random.Random) -> list[Member]:
    """Candidates in ring order for the queue's strategy (penalty first, then the strategy's metric)."""
    s = queue.spec.strategy
    n = max(1, queue.member_order)
    # app_queue prepends each call attempt to its list and find_best keeps the first of equal
    # metrics, so among equals the member configured last wins (the transcripts' 01 rings Bob).
    if s == "leastrecent":
        key = {m: (m.penalty, m.last_call, -m.order) for m in candidates}
    elif s == "fewestcalls":
        key = {m: (m.penalty, m.calls_taken, -m.order) for m in candidates}
    elif s == "rrmemory":
        key = {m: (m.penalty, (m.order - queue.rr_last - 1) % n, 0) for m in candidates}
    elif s == "random":
        key = {m: (m.penalty, rng.random(), 0) for m in candidates}
    else:  # linear, ringall
        key = {m: (m.penalty, m.order, 0) for m in candidates}
    return sorted(candidates, key=lambda m: key[m])


def members_to_ring(queue: Queue, candidates: list[Member], rng: random.Random) -> list[Member]:
    """Who one attempt rings (rule 2): ``ringall`` every best candidate (the lowest penalty) at once, the
    other strategies the first in their order."""
    ordered = order_candidates(queue, candidates, rng)
    if queue.spec.strategy == "ringall":
        return [m for m in ordered if m.penalty == ordered[0].penalty]
    return ordered[:1]


@dataclass(eq=False, slots=True)
class QueueEntry:
    """One caller waiting in one queue (the Queue() application running on the caller's channel)."""

    queue: Queue
    leg: Leg
    joined: float
    original_position: int
    maxwait: float
    ringing: list[AgentLeg] = field(default_factory=list)
    tried: set[str] = field(default_factory=set)
    attempt_start: float = 0.0
    in_attempt: bool = False
    next_poll: float = 0.0  # when this caller next tries the members (after retry, or its turn)
    head: bool = False  # has been at the head of the queue (or autofill): polling on its own
    poll_timer: Timer | None = None
    timers: list[object] = field(default_factory=list)
    done: bool = False

    @property
    def position(self) -> int:
        return self.queue.entries.index(self) + 1
