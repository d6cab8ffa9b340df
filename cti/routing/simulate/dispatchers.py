"""cti's router as the simulation's dispatcher (the app_queue baselines: ``cti.simulate.app_queue``).

``RouterDispatcher`` is a thin adapter: it speaks the router's usage protocol (``set_agent`` and
``observe`` at login, ``enqueue``, ``decide``, ``ringing``, ``answered``, ``missed``, ``cancel``, the
talk's end as an observation) and nothing of its own decides who gets a call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from cti.core.events import AgentState
from cti.core.ids import AgentId
from cti.routing.ewt import AppQueueHoldtime, WaitModel, estimate
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

    def login(self, agent: SimAgent, at: float) -> None:
        self.router.set_agent(AgentId(agent.id), agent.skills, at)
        self.router.observe(AgentId(agent.id), S.AVAILABLE, at, queues=self.queues)
        self._in.add(agent.id)

    def logout(self, agent: SimAgent, at: float) -> None:
        self.router.observe(AgentId(agent.id), S.LOGGED_OUT, at)
        self._in.discard(agent.id)
        self._resume.pop(AgentId(agent.id), None)

    def arrive(self, call: SimCall, at: float) -> None:
        r = self.router
        r.enqueue(call.id, call.queue, at, needs=call.needs)
        if self.announce:
            e = estimate(r.policies, r.agents(), r.waiting(at), self.ewt, call=call.id, at=at)
            call.announced = e.seconds
            call.announced_app_queue = self.holdtime.announced(call.queue)
            call.announced_app_queue_position = self.holdtime.with_position(call.queue, r.position(call.id))

    def abandon(self, call: SimCall, at: float) -> None:
        self.router.cancel(call.id, at)
        self._offered.pop(call.id, None)
        self.ewt.left(call.queue, at - call.arrive, abandoned=True)

    def answered(self, call: SimCall, agent: SimAgent, at: float) -> None:
        if not self.router.answered(call.id, AgentId(agent.id), at):
            raise RuntimeError(f"router refused the answer of {call.id} by {agent.id}")
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
        return min(self.router.next_deadline(), *self._resume.values(), math.inf)

    def wrap_floor(self, call: SimCall) -> float:
        return self.policies[call.queue].wrapup_seconds
