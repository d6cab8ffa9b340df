"""cti's router as the simulation's dispatcher (the app_queue baselines: ``cti.simulate.app_queue``).

``RouterDispatcher`` is a thin adapter: it speaks the router's usage protocol (``set_agent`` and
``observe`` at login, ``enqueue``, ``decide``, ``ringing``, ``answered``, ``missed``, ``cancel``, the
talk's end as an observation) and nothing of its own decides who gets a call.

The estimated wait is used as the daemon uses it, with the daemon's functions: at entry, a call of a
queue with ``overflow_if_ewt_above`` joins ``overflow_to`` when ``cti.routing.ewt.overflow_queue`` says
so (the routing service's ``placed``); while it waits, every ``announce_every`` seconds of its queue,
``cti.routing.ewt.reannounce`` (the service's FastAGI ``/announce``) re-estimates, moves it to the
overflow queue (``Router.requeue``) and counts the callback offers (a simulated caller does not take
them). Each announcement is recorded (``SimCall.announcements``) with app_queue's on the same call.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping

from cti.core.events import AgentState
from cti.core.ids import AgentId
from cti.routing.events import CallStatus
from cti.routing.ewt import (
    Announcing,
    AppQueueHoldtime,
    Estimate,
    WaitModel,
    callback_due,
    estimate,
    overflow_queue,
    reannounce,
)
from cti.routing.policy import QueuePolicy
from cti.routing.router import AgentAutoPaused, Router
from cti.routing.simulate.engine import Ring, SimAgent, SimCall

S = AgentState


class RouterDispatcher:
    """cti's ``Router`` with the given policies (the daemon's, from ``[routing]``)."""

    name = "cti"

    def __init__(
        self, policies: Mapping[str, QueuePolicy], unpause_after: float = 60.0, *, announce: bool = False
    ) -> None:
        self.router = Router(policies)
        # announce: the wait each caller is told at entry (cti.routing.ewt), and app_queue's on the same
        # calls, measured (SimCall.announced...); it costs a look at every waiting call and agent per arrival
        self.announce = announce
        self.ewt = WaitModel()
        self.holdtime = AppQueueHoldtime()
        self._talking: dict[str, tuple[str, float]] = {}  # agent -> (queue, answered at)
        self._offered: dict[str, float] = {}  # call -> its first offer
        self.policies = dict(policies)
        self.queues = list(policies)
        self.unpause_after = unpause_after
        self._resume: dict[AgentId, float] = {}  # agents the router paused for ring-no-answer -> when back
        self._in: set[str] = set()
        self._calls: dict[str, SimCall] = {}  # the waiting calls
        self._due: list[tuple[float, int, str]] = []  # (next announcement, serial, call)
        self._state: dict[str, Announcing] = {}
        self._serial = 0
        self.overflows = {"at_entry": 0, "while_waiting": 0}

    def login(self, agent: SimAgent, at: float) -> None:
        self.router.set_agent(AgentId(agent.id), agent.skills, at)
        self.router.observe(AgentId(agent.id), S.AVAILABLE, at, queues=self.queues)
        self._in.add(agent.id)

    def logout(self, agent: SimAgent, at: float) -> None:
        self.router.observe(AgentId(agent.id), S.LOGGED_OUT, at)
        self._in.discard(agent.id)
        self._resume.pop(AgentId(agent.id), None)

    def _estimate(
        self, at: float, call: str | None = None, queue: str | None = None, c: SimCall | None = None
    ) -> Estimate:
        r = self.router
        if call is not None:
            return estimate(r.policies, r.agents(), r.waiting(at), self.ewt, call=call, at=at)
        assert c is not None
        needs, priority = c.needs.skills, c.needs.priority
        return estimate(
            r.policies,
            r.agents(),
            r.waiting(at),
            self.ewt,
            queue=queue,
            needs=needs,
            priority=priority,
            at=at,
        )

    def arrive(self, call: SimCall, at: float) -> None:
        r = self.router
        call.entry_queue = call.entry_queue or call.queue
        policy = self.policies[call.queue]
        if policy.overflow_to is not None:  # the routing service's placed(): the same decision
            target = overflow_queue(
                call.queue, r.policies, lambda q: self._estimate(at, queue=q, c=call).seconds
            )
            if target is not None:
                call.queue, call.overflowed_at = target, at
                self.overflows["at_entry"] += 1
        wc = r.enqueue(call.id, call.queue, at, needs=call.needs)
        self.ewt.entered(wc.queue, wc.needs, wc.priority, at)
        self._calls[call.id] = call
        state = self._state[call.id] = Announcing(overflowed=not math.isnan(call.overflowed_at))
        if self.announce:
            e = self._estimate(at, call=call.id)
            call.announced, call.place = e.seconds, (e.ahead, e.free)
            call.announced_app_queue = self.holdtime.announced(call.queue)
            call.announced_app_queue_position = self.holdtime.with_position(call.queue, r.position(call.id))
            call.callback_offers += callback_due(self.policies[call.queue], e.seconds, at, state)
        self._next_announcement(call, at)

    def _next_announcement(self, call: SimCall, at: float) -> None:
        every = self.policies[call.queue].announce_every
        if every > 0:
            self._serial += 1
            heapq.heappush(self._due, (at + every, self._serial, call.id))

    def _announce(self, call: SimCall, at: float) -> None:
        """The periodic announcement of a waiting call: the daemon's reannounce, measured."""
        r = self.router
        state = self._state[call.id]

        def move(q: str) -> bool:
            return r.requeue(call.id, q) is not None

        a = reannounce(
            r.policies,
            call.queue,
            at,
            state,
            here=lambda: self._estimate(at, call=call.id).seconds,
            there=lambda q: self._estimate(at, queue=q, c=call).seconds,
            move=move,
        )
        if a.overflowed:
            call.queue, call.overflowed_at = a.queue, at
            self.overflows["while_waiting"] += 1
        call.callback_offers += a.offer
        held = at - call.arrive
        call.announcements.append((at, a.seconds, max(0.0, self.holdtime.announced(call.queue) - held)))

    def _gone(self, call: SimCall) -> None:
        self._calls.pop(call.id, None)
        self._state.pop(call.id, None)

    def abandon(self, call: SimCall, at: float) -> None:
        self.router.cancel(call.id, at)
        self._offered.pop(call.id, None)
        self._gone(call)
        self.ewt.left(call.queue, at - call.arrive, abandoned=True)

    def answered(self, call: SimCall, agent: SimAgent, at: float) -> None:
        if not self.router.answered(call.id, AgentId(agent.id), at):
            raise RuntimeError(f"router refused the answer of {call.id} by {agent.id}")
        self._gone(call)
        self.ewt.left(call.queue, at - call.arrive, abandoned=False)
        self.holdtime.connected(call.queue, at - call.arrive)
        self._talking[agent.id] = (call.queue, at)
        self.ewt.delivered_after(call.queue, at - self._offered.pop(call.id, at))

    def missed(self, call: SimCall, agent: SimAgent, at: float) -> None:
        self.router.missed(call.id, AgentId(agent.id), at)  # False when its own ring timeout came first

    def talk_ended(self, agent: SimAgent, at: float, wrap: float) -> None:
        talk = self._talking.pop(agent.id, None)
        if talk is not None:
            self.ewt.handled(talk[0], at - talk[1] + wrap, wrap)
        self.router.observe(AgentId(agent.id), S.WRAP_UP if wrap > 0 else S.AVAILABLE, at)

    def free(self, agent: SimAgent, at: float) -> None:
        self.router.observe(AgentId(agent.id), S.AVAILABLE, at)

    def decide(self, at: float) -> list[Ring]:
        r = self.router
        for agent, when in list(self._resume.items()):
            if when <= at:
                del self._resume[agent]
                if agent in self._in:  # the supervisor (or the agent) unpauses
                    r.observe(agent, S.PAUSED, at, reason="ring-no-answer")
                    r.observe(agent, S.AVAILABLE, at)
        due = self._due
        while due and due[0][0] <= at:
            _, _, cid = heapq.heappop(due)
            call = self._calls.get(cid)
            wc = r.call(cid)
            if call is None or wc is None:
                continue  # answered or gone
            if wc.status is CallStatus.WAITING:
                self._announce(call, at)
            self._next_announcement(call, at)
        rings = []
        for offer in r.decide(at):
            r.ringing(offer.call, offer.agent, at)
            self._offered.setdefault(offer.call, at)
            rings.append(Ring(offer.call, offer.agent, self.policies[offer.queue].ring_timeout))
        for ev in r.drain():
            if isinstance(ev, AgentAutoPaused):
                self._resume[ev.agent] = at + self.unpause_after
        return rings

    def next_deadline(self) -> float:
        due = self._due[0][0] if self._due else math.inf
        return min(self.router.next_deadline(), due, *self._resume.values(), math.inf)

    def wrap_floor(self, call: SimCall) -> float:
        return self.policies[call.queue].wrapup_seconds
