"""app_queue's strategies as baseline dispatchers of the routing simulation (``cti simulate``, the benchmark).

``AppQueueDispatcher`` models app_queue: one queue per call type, whose members are the agents with
the skills its calls need (penalty ``10 - level`` when ``penalty_from_level``), each queue on its own
as app_queue's are. It reuses the simulated Asterisk's strategy ordering
(``cti.sim.queues.members_to_ring``: ringall, leastrecent, fewestcalls, rrmemory, linear) and its rules
(``cti.sim.queues`` 1-4): only idle members ring (``ringinuse = no``), lower penalty first; an attempt
rings for ``timeout`` seconds (ringall: every best free member at once; the others: one member), then
the caller waits ``retry`` seconds; the first N callers of a queue ring, N being its free members.
Callers poll once a second (app_queue's RECHECK), so a member who comes free is seen at the next
whole second; the queues are visited in a seeded random order at each poll, as app_queue's callers
run on their own threads.

It lives outside ``cti.routing`` (the core may not import the simulated Asterisk, ``cti.sim``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from cti.routing.policy import MAX_LEVEL
from cti.routing.simulate.engine import Ring, SimAgent, SimCall
from cti.routing.simulate.traffic import AppQueueSettings
from cti.sim.queues import Member, Queue, members_to_ring
from cti.sim.scenario import QueueSpec

APP_QUEUE_STRATEGIES = ("ringall", "leastrecent", "rrmemory", "fewestcalls", "linear")


@dataclass(eq=False, slots=True)
class _Entry:
    call: SimCall
    ringing: set[str] = field(default_factory=set)
    next_try: float = 0.0


class AppQueueDispatcher:
    """app_queue with one strategy; the module docstring has the rules."""

    def __init__(
        self,
        strategy: str,
        queues: Mapping[str, tuple[str, ...]],
        settings: AppQueueSettings,
        seed: int = 1,
    ) -> None:
        """``queues``: queue name -> the skills its calls need (its members are the agents with them)."""
        if strategy not in APP_QUEUE_STRATEGIES:
            raise ValueError(f"unknown app_queue strategy {strategy!r}")
        self.name = strategy
        self.settings = settings
        self.skills = dict(queues)
        self.queues = {
            q: Queue(QueueSpec(q, strategy, settings.timeout, settings.retry, settings.wrapuptime))
            for q in queues
        }
        self.entries: dict[str, list[_Entry]] = {q: [] for q in queues}
        self.by_call: dict[str, _Entry] = {}
        self.idle: set[str] = set()
        self.rng = random.Random(f"{seed}/app_queue/{strategy}")
        self._poll = math.inf
        self._last: dict[str, str] = {}  # agent -> the queue of its call

    def login(self, agent: SimAgent, at: float) -> None:
        for q, needs in self.skills.items():
            if needs and all(agent.skills.get(s, 0) > 0 for s in needs):
                level = agent.skills[needs[0]]
                penalty = MAX_LEVEL - level if self.settings.penalty_from_level else 0
                queue = self.queues[q]
                if agent.id not in queue.members:
                    queue.add_member(Member(queue, agent.id, agent.id, agent.id, penalty))
        self.idle.add(agent.id)

    def logout(self, agent: SimAgent, at: float) -> None:
        self.idle.discard(agent.id)
        for queue in self.queues.values():
            queue.members.pop(agent.id, None)

    def arrive(self, call: SimCall, at: float) -> None:
        entry = _Entry(call, next_try=at)
        self.entries[call.queue].append(entry)
        self.by_call[call.id] = entry

    def _leave(self, call: SimCall) -> _Entry:
        entry = self.by_call.pop(call.id)
        self.entries[call.queue].remove(entry)
        self.idle.update(entry.ringing)  # its other rings stop (the engine stopped them)
        return entry

    def abandon(self, call: SimCall, at: float) -> None:
        self._leave(call)

    def answered(self, call: SimCall, agent: SimAgent, at: float) -> None:
        entry = self._leave(call)
        self.idle.discard(agent.id)
        entry.ringing.clear()
        self._last[agent.id] = call.queue
        queue = self.queues[call.queue]
        m = queue.members.get(agent.id)
        if m is not None and queue.spec.strategy == "rrmemory":
            queue.rr_last = m.order

    def missed(self, call: SimCall, agent: SimAgent, at: float) -> None:
        entry = self.by_call[call.id]
        entry.ringing.discard(agent.id)
        self.idle.add(agent.id)
        if not entry.ringing:  # the attempt is over: wait ``retry`` before the next one
            entry.next_try = at + self.settings.retry

    def talk_ended(self, agent: SimAgent, at: float, wrap: float) -> None:
        queue = self.queues[self._last.pop(agent.id)]
        m = queue.members.get(agent.id)
        if m is not None:  # app_queue counts the call when it ends (update_queue), in whole seconds
            m.calls_taken += 1
            m.last_call = float(int(at))

    def free(self, agent: SimAgent, at: float) -> None:
        self.idle.add(agent.id)

    def decide(self, at: float) -> list[Ring]:
        tick = at >= self._poll
        if tick:
            self._poll = math.inf
        rings: list[Ring] = []
        names = list(self.queues)
        self.rng.shuffle(names)
        blocked = False
        nxt = math.inf
        for q in names:
            queue = self.queues[q]
            full = False
            for entry in self.entries[q]:
                if entry.ringing:
                    continue
                if entry.next_try > at:
                    nxt = min(nxt, entry.next_try)
                    continue
                # a caller tries at once when it joins or its retry ends; else at its next poll
                if full or not (tick or entry.next_try == at):
                    blocked = True
                    continue
                cands = [m for m in queue.members.values() if m.interface in self.idle]
                if not cands:
                    full = blocked = True
                    continue
                for m in members_to_ring(queue, cands, self.rng):
                    self.idle.discard(m.interface)
                    entry.ringing.add(m.interface)
                    rings.append(Ring(entry.call.id, m.interface, self.settings.timeout))
        if blocked and self.idle:
            nxt = min(nxt, math.floor(at) + 1.0)  # RECHECK: the waiting callers look again each second
        self._poll = min(self._poll, nxt)
        return rings

    def next_deadline(self) -> float:
        return self._poll

    def wrap_floor(self, call: SimCall) -> float:
        return self.settings.wrapuptime
