"""The discrete-event engine: seeded traffic through a dispatcher, and the figures it measures.

Pure: a heap of timed events, a seeded ``random.Random`` per stream, no wall clock, no I/O.

Theory of operation:

1. The traffic is drawn first, from the seed alone (``generate_calls``): per call type, Poisson
   arrivals at the hour's rate, then each call's talk, wrap and patience. Every dispatcher run on the
   same traffic and seed sees the same calls; only what the agents' phones do (answer or not, how
   fast) is drawn as it happens, from its own stream.
2. The engine owns the phones and the clock; the dispatcher (``Dispatcher``) owns who rings. After
   every instant's events are handled (all events of one time, then one decision), ``decide`` returns
   the rings to start. A ring is answered after the agent's ring delay with the group's answer
   probability, else it ends unanswered after the ring's timeout (``missed``). The first answer of a
   call wins; its other rings stop (ringall).
3. An answered call talks for its talk time, scaled by the answering agent's proficiency
   (``Proficiency``: by its level in the call's first needed skill, the same rule for every
   dispatcher; none by default); then the agent is busy for ``max(wrap, the dispatcher's wrap
   floor)`` (the queue's ``wrapup_seconds`` for cti, app_queue's ``wrapuptime``); then free.
4. A caller whose patience runs out before an answer abandons (also while a phone rings for it).
5. Agents log in at their shift start and out at its end (or at the end of the arrivals), after the
   call or ring in progress. Arrivals stop after ``hours``; the run goes on ``drain_hours`` more for
   the calls still waiting; a call still unfinished then is not counted (``unfinished``).
"""

from __future__ import annotations

import heapq
import math
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cti.routing.policy import Requirements
from cti.routing.simulate.traffic import AgentGroup, Distribution, Proficiency, Traffic

HOUR = 3600.0


@dataclass(slots=True)
class SimCall:
    id: str
    type: str
    queue: str
    needs: Requirements
    arrive: float
    talk: float
    wrap: float
    patience: float
    answered_at: float = math.nan
    handled: float = math.nan  # the talk as the answering agent's proficiency made it
    agent: str | None = None
    abandoned: bool = False
    done: bool = False
    rings: dict[str, int] = field(default_factory=dict)  # agent -> ring serial, while ringing
    # the wait announced at entry (cti.routing.ewt): cti's EWT, app_queue's holdtime, that times the place
    announced: float = math.nan
    announced_app_queue: float = math.nan
    announced_app_queue_position: float = math.nan
    place: tuple[float, int] | None = None  # at entry: the calls ahead (shares) and the free agents
    # the periodic announcements while it waits (the queue's announce_every): (at, cti's EWT, app_queue's)
    announcements: list[tuple[float, float, float]] = field(default_factory=list)
    entry_queue: str = ""  # the queue its type sends it to ("" : ``queue``); ``queue``: where it was served
    overflowed_at: float = math.nan  # when its EWT sent it to the queue's overflow_to
    callback_offers: int = 0  # the callback offers it heard (offer_callback_above, offer_callback_every)


@dataclass(slots=True)
class SimAgent:
    id: str
    group: str
    skills: dict[str, int]
    ring_delay: Distribution
    answer_probability: float
    start: float  # seconds
    end: float
    logged_in: bool = False
    login_at: float = 0.0
    logged_seconds: float = 0.0
    talk_seconds: float = 0.0
    wrap_seconds: float = 0.0
    calls: int = 0
    phone: str | None = None  # the call it rings for or talks with (or wraps up after)
    ring: int = 0  # serial of the ring in progress (0: none)
    leaving: bool = False

    @property
    def idle(self) -> bool:
        return self.logged_in and self.phone is None


@dataclass(frozen=True, slots=True)
class Ring:
    """Ring ``agent`` for ``call``; unanswered, the ring ends after ``timeout`` seconds."""

    call: str
    agent: str
    timeout: float


class Dispatcher(Protocol):
    """Who rings for which call: cti's router (an adapter) or an app_queue strategy."""

    name: str

    def login(self, agent: SimAgent, at: float) -> None: ...
    def logout(self, agent: SimAgent, at: float) -> None: ...
    def arrive(self, call: SimCall, at: float) -> None: ...
    def abandon(self, call: SimCall, at: float) -> None: ...
    def answered(self, call: SimCall, agent: SimAgent, at: float) -> None: ...
    def missed(self, call: SimCall, agent: SimAgent, at: float) -> None: ...
    def talk_ended(self, agent: SimAgent, at: float, wrap: float) -> None: ...
    def free(self, agent: SimAgent, at: float) -> None: ...
    def decide(self, at: float) -> list[Ring]: ...
    def next_deadline(self) -> float: ...
    def wrap_floor(self, call: SimCall) -> float: ...


def generate_calls(traffic: Traffic, seed: int) -> list[SimCall]:
    """The calls of a run, from the seed alone (rule 1)."""
    calls: list[tuple[float, int, SimCall]] = []
    end = traffic.hours * HOUR
    for i, ct in enumerate(traffic.call_types):
        rng = random.Random(f"{seed}/arrivals/{ct.name}")
        t = 0.0
        for hour in range(math.ceil(traffic.hours)):
            rate = ct.rate(hour) / HOUR
            hour_end = min((hour + 1) * HOUR, end)
            t = hour * HOUR
            if rate <= 0:
                continue
            while True:
                t += rng.expovariate(rate)
                if t >= hour_end:
                    break
                talk, wrap, patience = ct.talk.sample(rng), ct.wrap.sample(rng), ct.patience.sample(rng)
                calls.append((t, i, SimCall("", ct.name, ct.queue, ct.needs, t, talk, wrap, patience)))
    calls.sort(key=lambda x: (x[0], x[1]))
    out = [c for _, _, c in calls]
    for n, c in enumerate(out, 1):
        c.id = f"c{n}"
    return out


def make_agents(groups: Sequence[AgentGroup], hours: float) -> list[SimAgent]:
    agents = []
    for g in groups:
        for k in range(g.count):
            end = min(g.end, hours) * HOUR
            agents.append(
                SimAgent(
                    f"{g.name}-{k + 1}",
                    g.name,
                    dict(g.skills),
                    g.ring_delay,
                    g.answer_probability,
                    g.start * HOUR,
                    end,
                )
            )
    return agents


# event kinds, in the order handled at one instant
_LOGIN, _ARRIVE, _ANSWER, _NOANSWER, _TALK_END, _FREE, _ABANDON, _LOGOUT, _WAKE = range(9)


class Engine:
    """One run: the calls and agents through one dispatcher (rules 2-5)."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        calls: Sequence[SimCall],
        agents: Sequence[SimAgent],
        *,
        seed: int,
        end: float,
        proficiency: Proficiency | None = None,
    ) -> None:
        self.d = dispatcher
        self.proficiency = proficiency
        self.calls = {c.id: c for c in calls}
        self.agents = {a.id: a for a in agents}
        self.rng = random.Random(f"{seed}/phones")
        self.end = end
        self.now = 0.0
        self._heap: list[tuple[float, int, int, str, str, int]] = []
        self._seq = 0
        self._wakes: set[float] = set()
        self.events = 0
        for a in agents:
            if a.start < a.end:
                self._push(a.start, _LOGIN, a.id)
                self._push(a.end, _LOGOUT, a.id)
        for c in calls:
            self._push(c.arrive, _ARRIVE, c.id)
            if math.isfinite(c.patience):
                self._push(c.arrive + c.patience, _ABANDON, c.id)

    def _push(self, at: float, kind: int, a: str, b: str = "", serial: int = 0) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at, kind, self._seq, a, b, serial))

    def run(self) -> None:
        heap = self._heap
        while heap and heap[0][0] <= self.end:
            now = heap[0][0]
            self.now = now
            while heap and heap[0][0] == now:
                _, kind, _, a, b, serial = heapq.heappop(heap)
                self.events += 1
                self._handle(kind, a, b, serial, now)
            for ring in self.d.decide(now):
                self._ring(ring, now)
            nd = self.d.next_deadline()
            if now < nd <= self.end and nd not in self._wakes:
                self._wakes.add(nd)
                self._push(nd, _WAKE, "")
        for agent in self.agents.values():
            if agent.logged_in:
                agent.logged_seconds += max(0.0, min(self.now, self.end) - agent.login_at)

    def _handle(self, kind: int, a: str, b: str, serial: int, now: float) -> None:
        if kind == _WAKE:
            self._wakes.discard(now)
        elif kind == _ARRIVE:
            self.d.arrive(self.calls[a], now)
        elif kind == _ANSWER:
            self._answer(self.calls[a], self.agents[b], serial, now)
        elif kind == _NOANSWER:
            call, agent = self.calls[a], self.agents[b]
            if call.rings.get(agent.id) == serial and not call.done:
                self._stop_rings(call, [agent])
                self.d.missed(call, agent, now)
                self._settle([agent], now)
        elif kind == _TALK_END:
            agent = self.agents[a]
            call = self.calls[agent.phone or ""]
            wrap = max(call.wrap, self.d.wrap_floor(call))
            agent.talk_seconds += call.handled
            agent.wrap_seconds += wrap
            self.d.talk_ended(agent, now, wrap)
            if wrap > 0:
                self._push(now + wrap, _FREE, agent.id)
            else:
                self._free(agent, now)
        elif kind == _FREE:
            self._free(self.agents[a], now)
        elif kind == _ABANDON:
            call = self.calls[a]
            if not call.done:
                call.done = call.abandoned = True
                ringing = [self.agents[x] for x in call.rings]
                self._stop_rings(call, ringing)
                self.d.abandon(call, now)
                self._settle(ringing, now)
        elif kind == _LOGIN:
            agent = self.agents[a]
            agent.logged_in, agent.login_at = True, now
            self.d.login(agent, now)
        elif kind == _LOGOUT:
            agent = self.agents[a]
            agent.leaving = True
            if agent.phone is None:
                self._logout(agent, now)

    def _ring(self, ring: Ring, now: float) -> None:
        call, agent = self.calls[ring.call], self.agents[ring.agent]
        if call.done or not agent.idle:
            raise RuntimeError(f"{self.d.name}: rang {agent.id} ({agent.phone}) for {call.id} ({call.done})")
        agent.ring += 1
        agent.phone = call.id
        call.rings[agent.id] = agent.ring
        if self.rng.random() < agent.answer_probability:
            delay = agent.ring_delay.sample(self.rng)
            if delay < ring.timeout:
                self._push(now + delay, _ANSWER, call.id, agent.id, agent.ring)
                return
        self._push(now + ring.timeout, _NOANSWER, call.id, agent.id, agent.ring)

    def _stop_rings(self, call: SimCall, agents: list[SimAgent]) -> None:
        for agent in agents:
            call.rings.pop(agent.id, None)
            if agent.phone == call.id:
                agent.phone = None

    def _settle(self, agents: list[SimAgent], now: float) -> None:
        """After the dispatcher heard of it: an agent at the end of its shift leaves when idle."""
        for agent in agents:
            if agent.leaving and agent.phone is None:
                self._logout(agent, now)

    def _answer(self, call: SimCall, agent: SimAgent, serial: int, now: float) -> None:
        if call.done or call.rings.get(agent.id) != serial:
            return
        call.done = True
        call.answered_at, call.agent = now, agent.id
        del call.rings[agent.id]
        others = [self.agents[x] for x in call.rings]
        self._stop_rings(call, others)
        agent.calls += 1
        self.d.answered(call, agent, now)
        self._settle(others, now)
        call.handled = call.talk
        if self.proficiency is not None and call.needs.skills:
            level = agent.skills.get(call.needs.skills[0].skill, 0)
            call.handled = call.talk * self.proficiency.factor(level)
        self._push(now + call.handled, _TALK_END, agent.id)

    def _free(self, agent: SimAgent, now: float) -> None:
        agent.phone = None
        self.d.free(agent, now)
        if agent.leaving:
            self._logout(agent, now)

    def _logout(self, agent: SimAgent, now: float) -> None:
        if not agent.logged_in:
            return
        agent.logged_in = False
        agent.logged_seconds += now - agent.login_at
        self.d.logout(agent, now)


# ---- figures ----------------------------------------------------------------------------------------------
def call_figures(calls: Sequence[SimCall], threshold: Mapping[str, float], default: float) -> dict[str, Any]:
    """Per docs/simulate.md (and docs/metrics.md): finished calls only; SL = answered within T / offered."""
    done = [c for c in calls if c.done]
    answered = [c for c in done if not c.abandoned]
    waits = [c.answered_at - c.arrive for c in answered]
    within = sum(
        1 for c, w in zip(answered, waits, strict=True) if w <= threshold.get(c.queue, default) + 1e-9
    )
    offered = len(done)
    return {
        "offered": offered,
        "answered": len(answered),
        "abandoned": offered - len(answered),
        "answered_within": within,
        "service_level": within / offered if offered else None,
        "asa": sum(waits) / len(waits) if waits else None,
        "abandon_rate": (offered - len(answered)) / offered if offered else None,
        "unfinished": len(calls) - offered,
    }


def occupancy_figures(agents: Sequence[SimAgent]) -> dict[str, Any]:
    """Occupancy = (talk + wrap) / logged-in time, over the agents; spread over the agents' own."""
    logged = [a for a in agents if a.logged_seconds > 0]
    own = [(a.talk_seconds + a.wrap_seconds) / a.logged_seconds for a in logged]
    total = sum(a.logged_seconds for a in logged)
    busy = sum(a.talk_seconds + a.wrap_seconds for a in logged)
    return {
        "agents": len(agents),
        "occupancy": busy / total if total else None,
        "occupancy_spread": max(own) - min(own) if own else None,
        "occupancy_stdev": statistics.pstdev(own) if own else None,
        "calls": sum(a.calls for a in agents),
    }


def ewt_figures(calls: Sequence[SimCall]) -> dict[str, Any]:
    """The announced waits against the real ones (docs/routing.md "Estimated wait"): the answered calls
    with a finite announcement (its wait is known); mean absolute error, seconds."""
    sample = [c for c in calls if c.done and not c.abandoned and math.isfinite(c.announced)]
    if not sample:
        return {"ewt_calls": 0, "ewt_mae_s": None, "ewt_mae_app_queue_s": None, "mean_wait_s": None}
    waits = [c.answered_at - c.arrive for c in sample]
    n = len(sample)

    def mae(values: list[float]) -> float:
        return sum(abs(v - w) for v, w in zip(values, waits, strict=True)) / n

    return {
        "ewt_calls": n,
        "mean_wait_s": sum(waits) / n,
        "ewt_mae_s": mae([c.announced for c in sample]),
        "ewt_mae_app_queue_s": mae([c.announced_app_queue for c in sample]),
        "ewt_mae_app_queue_position_s": mae([c.announced_app_queue_position for c in sample]),
        **announcement_figures(sample),
    }


def announcement_figures(calls: Sequence[SimCall]) -> dict[str, Any]:
    """The periodic announcements (``announce_every``) of the answered calls against the wait left
    after each (app_queue's announce-frequency: ``holdtime - waited``, at least 0). A second figure, not
    the at-entry one: the later announcements know more (a shorter rest of the wait)."""
    rows = [
        (cti, aq, c.answered_at - t)
        for c in calls
        if c.done and not c.abandoned
        for t, cti, aq in c.announcements
        if math.isfinite(cti)
    ]
    if not rows:
        return {"announcements": 0}
    n = len(rows)
    return {
        "announcements": n,
        "mean_remaining_s": sum(r for _, _, r in rows) / n,
        "announced_mae_s": sum(abs(e - r) for e, _, r in rows) / n,
        "announced_mae_app_queue_s": sum(abs(a - r) for _, a, r in rows) / n,
    }


def overflow_figures(calls: Sequence[SimCall]) -> dict[str, Any]:
    """The calls the EWT sent to their queue's ``overflow_to``, at entry or while waiting, and the
    callback offers heard (cti's dispatcher; ``cti simulate`` also runs the traffic without overflow)."""
    moved = [c for c in calls if math.isfinite(c.overflowed_at)]
    return {
        "overflowed": len(moved),
        "overflowed_at_entry": sum(1 for c in moved if c.overflowed_at == c.arrive),
        "overflowed_while_waiting": sum(1 for c in moved if c.overflowed_at > c.arrive),
        "callback_offers": sum(c.callback_offers for c in calls),
        "calls_offered_a_callback": sum(1 for c in calls if c.callback_offers),
    }


@dataclass(slots=True)
class Result:
    dispatcher: str
    calls: list[SimCall]
    agents: list[SimAgent]
    events: int

    def figures(self, threshold: Mapping[str, float] | None = None, default: float = 20.0) -> dict[str, Any]:
        th = dict(threshold or {})
        by_queue: dict[str, list[SimCall]] = {}
        by_type: dict[str, list[SimCall]] = {}
        by_group: dict[str, list[SimAgent]] = {}
        for c in self.calls:
            by_queue.setdefault(c.queue, []).append(c)
            by_type.setdefault(c.type, []).append(c)
        for a in self.agents:
            by_group.setdefault(a.group, []).append(a)
        return {
            "dispatcher": self.dispatcher,
            "total": call_figures(self.calls, th, default),
            "queues": {
                q: {"threshold": th.get(q, default), **call_figures(cs, th, default)}
                for q, cs in by_queue.items()
            },
            "call_types": {t: call_figures(cs, th, default) for t, cs in by_type.items()},
            "agents": occupancy_figures(self.agents),
            "ewt": ewt_figures(self.calls),
            "overflow": overflow_figures(self.calls),
            "groups": {g: occupancy_figures(ags) for g, ags in by_group.items()},
        }


def simulate(
    traffic: Traffic, dispatcher: Dispatcher, seed: int | None = None, calls: Sequence[SimCall] | None = None
) -> Result:
    """Run ``traffic`` (drawn from ``seed``, or the file's) through ``dispatcher``."""
    s = traffic.seed if seed is None else seed
    cs = [
        SimCall(c.id, c.type, c.queue, c.needs, c.arrive, c.talk, c.wrap, c.patience)
        for c in (calls if calls is not None else generate_calls(traffic, s))
    ]
    agents = make_agents(traffic.groups, traffic.hours)
    end = (traffic.hours + traffic.drain_hours) * HOUR
    engine = Engine(dispatcher, cs, agents, seed=s, end=end, proficiency=traffic.proficiency)
    engine.run()
    return Result(dispatcher.name, cs, agents, engine.events)
