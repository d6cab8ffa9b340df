"""The router: which agent takes which waiting call. Pure: no I/O, no clock (``at`` is passed in).

Theory of operation (every rule that decides who gets a call lives in this file):

1. A call waits in one queue with its requirements (the queue's skills merged with the inbound rule's
   and the CRM's), a priority and an entry time. Waiting calls are served highest priority first (the
   call's, plus what the escalation steps in force add), then oldest entry first (FIFO within a
   priority). The entry time never changes: a call that rang an agent
   who did not answer, or whose delivery failed, goes back to where it was; a caller who asks to be
   called back leaves a virtual entry that is the same entry under another name (``rekey``;
   cti.routing.callbacks).
1a. Opt-in, per queue (``QueuePolicy.service_level_order = T``): within a priority, the calls that
   have not yet waited longer than their queue's ``T`` go first, by how soon they pass it
   (``entered + T``; a queue without the option counts ``T = 0``: its calls are due at entry), then
   the calls past their ``T``, oldest first. This serves first the calls that can still be answered
   within the threshold and makes the late ones wait longer: it is not FIFO, and it is off by default.
2. An agent is eligible for a call when it is AVAILABLE, serves the call's queue (``members``), has
   every required skill at the required level, has not let this call ring within ``miss_retry``
   seconds, no other instance holds it (``block``), and it is not working an e-mail task (``working_task``)
   unless it allows calls to interrupt it. Escalation steps (``QueuePolicy.escalation``)
   widen this as the wait grows: lower levels, dropped skills, generalists, an overflow queue's agents.
   Every offer records the step that made the agent eligible (-1: none was needed).
3. Relationship routing: a call with preferred agents (the customer's owner, the last agent) is
   offered only to them while they are logged in, for the queue's ``relationship_seconds``.
4. Among the eligible agents: best fit first (the fewest skills the call does not need, so that the
   versatile agents stay free for the calls only they can take), then higher levels in the needed
   skills, then the queue's selection order (longest idle, fewest calls, least talk), or for
   ``WEIGHTED`` the highest ``wait_weight * wait + idle_weight * idle``. The calls are taken one at a
   time in their order (rule 1), so the wait is the same for every agent a call is matched against:
   ``WEIGHTED`` orders the agents by idle time (``wait_weight`` does not change who gets the call).
5. An offer reserves the agent (RESERVED, with a fencing token that grows with every offer) for
   ``reservation_timeout`` seconds: the phone must ring by then or the reservation expires and the call
   goes back; a reservation that ends by itself (the agent paused, logged out, or shown on another call
   or in app_queue's wrap-up) sends the call back, with its place, as soon as the agent is not on a
   call. A ring must be answered within ``ring_timeout``: else it is a ring-no-answer (also when
   the dialplan reports the failed delivery first). ``max_misses`` ring-no-answers in a row pause the
   agent, with a reason the supervisor sees. A call that leaves (hung up) or whose delivery failed
   ends the ring cti recorded for it.
6. Wrap-up is cti's: when an agent's ACD call ends, it is held in WRAP_UP for the queue's
   ``wrapup_seconds`` (and until its disposition is filed, with ``need_disposition``).
7. The agents' observed facts (logged in, paused, ringing, on a call) come from ``observe``: what
   Asterisk reports (via the call tracker), or what a simulation says. The router adds what only it
   knows (reservations, wrap-up) on top, in the one agent state machine (``cti.routing.agents``).
8. What happened is queued as ``RoutingEvent``s and handed out by ``drain``: the daemon publishes
   them, a simulation counts them.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cti.core.events import AgentState
from cti.core.ids import AgentId
from cti.routing.agents import Agent, CallKind, Transition
from cti.routing.events import (
    CALL_TRANSITIONS,
    AgentAutoPaused,
    AgentMoved,
    AgentRouteView,
    CallLeft,
    CallServed,
    CallStatus,
    Offer,
    ReservationExpired,
    RingMissed,
    RoutingError,
    RoutingEvent,
    WaitingCall,
    WaitingView,
)
from cti.routing.matching import eligible, rank
from cti.routing.matching import stage as stage_of
from cti.routing.policy import QueuePolicy, Requirements, SkillNeed, language_skill
from cti.routing.tasks import may_ring

__all__ = [
    "CALL_TRANSITIONS",
    "AgentAutoPaused",
    "AgentMoved",
    "AgentRouteView",
    "CallLeft",
    "CallServed",
    "CallStatus",
    "Offer",
    "ReservationExpired",
    "RingMissed",
    "Router",
    "RoutingError",
    "RoutingEvent",
    "WaitingCall",
    "WaitingView",
]

S = AgentState


@dataclass(slots=True)
class _RoutedAgent:
    machine: Agent
    skills: dict[str, int]
    calls: int = 0
    talk_seconds: float = 0.0
    talk_since: float | None = None
    misses: int = 0
    blocked_until: float = 0.0
    delivered: tuple[str, str] | None = None  # (call, queue) of the ACD call it rings or talks on
    observed: AgentState = S.LOGGED_OUT
    pending_pause: str | None = None  # cti paused the agent; Asterisk has not confirmed it yet
    cti_wrap_until: float = 0.0
    last_queue: str | None = None
    offered: str | None = None  # the call cti last reserved it for
    task: str | None = None  # the e-mail task it is working (cti.routing.tasks), if any
    interruptible: bool = False  # it allows a call to ring while it works that task


class Router:
    """Waiting calls and agents of one routing domain (every queue of one daemon)."""

    def __init__(self, policies: Mapping[str, QueuePolicy]) -> None:
        self.policies: dict[str, QueuePolicy] = dict(policies)
        self._agents: dict[AgentId, _RoutedAgent] = {}
        self._calls: dict[str, WaitingCall] = {}
        self._order: list[tuple[tuple[int, float, int], str]] = []  # waiting and offered, by key
        self._seq = 0
        self._token = 0
        self._events: list[RoutingEvent] = []
        # timed work, earliest first: (when, seq, what, call or agent); an entry that no longer matches
        # (the call was answered, the wrap-up was extended) is dropped when it comes up
        self._timers: list[tuple[float, int, int, str]] = []
        self._timer_seq = 0
        self._free: dict[AgentId, _RoutedAgent] = {}  # AVAILABLE agents
        self._kinds: dict[tuple[str, tuple[SkillNeed, ...], int], int] = {}
        # the policies are fixed for the router's life: what the serving order depends on, once
        self._afters = {q: tuple(s.after for s in p.escalation) for q, p in self.policies.items()}
        self._boosts = any(s.priority for p in self.policies.values() for s in p.escalation)
        self._sl = {q: p.service_level_order for q, p in self.policies.items()}
        self._sl_order = any(self._sl.values())
        self.decisions = 0

    # ---- agents ----------------------------------------------------------------------------------------
    def set_agent(self, agent: AgentId, skills: Mapping[str, int], at: float = 0.0) -> None:
        """Add an agent, or replace its skills (pushed at run time by a supervisor)."""
        rec = self._agents.get(agent)
        if rec is None:
            self._agents[agent] = _RoutedAgent(Agent(agent, at=at), dict(skills))
        else:
            rec.skills = dict(skills)

    def remove_agent(self, agent: AgentId, at: float) -> None:
        rec = self._agents.pop(agent, None)
        self._free.pop(agent, None)
        if rec is not None and rec.machine.reserved_for is not None:
            self._back(rec.machine.reserved_for, at)

    def has_agent(self, agent: AgentId) -> bool:
        return agent in self._agents

    def skills(self, agent: AgentId) -> Mapping[str, int]:
        return dict(self._agents[agent].skills)

    def state(self, agent: AgentId) -> AgentState:
        return self._agents[agent].machine.state

    def observe(
        self,
        agent: AgentId,
        state: AgentState,
        at: float,
        reason: str = "",
        queues: Iterable[str] = (),
    ) -> None:
        """What Asterisk shows of the agent now (rule 7). Unknown agents are added without skills.

        An observation is Asterisk's word: after a gap it may jump in a way the table does not allow, so
        it is applied with ``force`` (and the transition says so). cti's own moves never force.
        """
        rec = self._agents.get(agent)
        if rec is None:
            self.set_agent(agent, {}, at)
            rec = self._agents[agent]
        f = rec.machine.facts
        names = list(queues) or list(f.queues) or ["*"]
        if state is S.LOGGED_OUT:
            f.queues.clear()
            rec.pending_pause = None
        elif state in (S.AVAILABLE, S.PAUSED):
            paused = state is S.PAUSED
            if paused:
                rec.pending_pause = None
            elif rec.pending_pause is not None:  # cti paused it; Asterisk has not said so yet
                paused, reason = True, rec.pending_pause
            f.queues = dict.fromkeys(names, paused)
            f.reason = reason if paused else ""
        else:  # ringing, on a call, in wrap-up: the pause flags are not shown, keep what was known
            f.queues = {q: f.queues.get(q, False) for q in names}
            if state is not S.RINGING:
                # on a call or in app_queue's wrap-up, it cannot take the call it is reserved for (a
                # ring may be that call's, before ``ringing``): the reservation ends, and the call goes
                # back when the agent is free (or its answer is ours: ``answered`` still takes it)
                f.reservation = None
        rec.observed = state
        if state is S.RINGING:
            f.rings.add("observed")
        else:
            f.rings.clear()
        if state is S.ON_CALL:
            if not f.calls:
                f.calls["observed"] = CallKind.ACD_INBOUND if rec.delivered else CallKind.DIRECT_INBOUND
            if rec.talk_since is None:
                rec.talk_since = at
        elif f.calls:
            self._call_over(rec, at)
        if state is S.WRAP_UP:
            f.wrapup_until = math.inf  # app_queue's own wrap-up, until it says otherwise
        elif f.wrapup_until == math.inf:
            f.wrapup_until = rec.cti_wrap_until
        self._moved(rec.machine.update(at, force=True))
        if state is not S.RINGING and state is not S.ON_CALL and rec.delivered is not None:
            self._delivery_ended(rec, at)

    def _call_over(self, rec: _RoutedAgent, at: float) -> None:
        """The agent's call ended: an ACD call that cti delivered starts the queue's wrap-up (rule 6)."""
        f = rec.machine.facts
        acd = any(kind.acd for kind in f.calls.values())
        f.calls.clear()
        ringing = self._calls.get(rec.delivered[0]) if rec.delivered is not None else None
        if ringing is not None and ringing.status is CallStatus.RINGING and ringing.agent == rec.machine.id:
            pass  # the call that ended is another one: the delivered call still rings (call waiting)
        elif rec.delivered is not None:
            rec.last_queue = rec.delivered[1]
            rec.delivered = None
        policy = self.policies.get(rec.last_queue) if acd and rec.last_queue else None
        if policy is not None:
            f.wrapup_until = max(
                f.wrapup_until if f.wrapup_until != math.inf else 0.0, at + policy.wrapup_seconds
            )
            f.awaiting_disposition = f.awaiting_disposition or policy.need_disposition
            rec.cti_wrap_until = f.wrapup_until
            self._watch_agent(rec)
        if rec.talk_since is not None:
            rec.talk_seconds += max(0.0, at - rec.talk_since)
            rec.talk_since = None

    def _delivery_ended(self, rec: _RoutedAgent, at: float) -> None:
        """The agent's phone stopped ringing without a call: a ring we delivered was not answered."""
        assert rec.delivered is not None
        call = self._calls.get(rec.delivered[0])
        rec.delivered = None
        if call is not None and call.agent == rec.machine.id and call.status is CallStatus.RINGING:
            self._missed(call, at)

    def end_wrapup(self, agent: AgentId, at: float, *, force: bool = False) -> bool:
        """The agent ends its wrap-up early: allowed when its last queue allows it (or ``force``)."""
        rec = self._agents[agent]
        if rec.machine.state is not S.WRAP_UP:
            return False
        policy = self.policies.get(rec.last_queue) if rec.last_queue else None
        if not force and policy is not None and not policy.wrapup_early_end:
            return False
        if policy is not None and policy.need_disposition and rec.machine.facts.awaiting_disposition:
            if not force:
                return False
        rec.cti_wrap_until = at
        self._moved(rec.machine.end_wrapup(at))
        return True

    def disposition_filed(self, agent: AgentId, at: float) -> None:
        rec = self._agents.get(agent)
        if rec is not None:
            self._moved(rec.machine.disposition_filed(at))
            if rec.machine.state is S.WRAP_UP:  # held by time now: advance must end it
                self._watch_agent(rec)

    def pause(self, agent: AgentId, at: float, reason: str) -> None:
        """cti pauses the agent at once (before Asterisk confirms it)."""
        rec = self._agents[agent]
        rec.pending_pause = reason
        self._moved(rec.machine.paused(True, at, reason))

    def hold_call(self, call: str, until: float) -> None:
        """Another instance is delivering this call: do not offer it before ``until`` (0: release)."""
        wc = self._calls.get(call)
        if wc is not None:
            wc.held_until = until
            if until != math.inf:
                self._push_timer(until, _WAKE, call)

    def block(self, agent: AgentId, until: float) -> None:
        """Another instance holds this agent (its lease): do not offer it before ``until``."""
        self._agents[agent].blocked_until = until

    def working_task(self, agent: AgentId, task: str | None, *, interruptible: bool = False) -> None:
        """The agent works an e-mail task (None: no longer): no call rings it meanwhile unless it
        allows it (``interruptible``; cti.routing.tasks.may_ring)."""
        rec = self._agents.get(agent)
        if rec is not None:
            rec.task, rec.interruptible = task, interruptible

    def task_of(self, agent: AgentId) -> str | None:
        rec = self._agents.get(agent)
        return None if rec is None else rec.task

    # ---- calls -----------------------------------------------------------------------------------------
    def enqueue(
        self,
        call: str,
        queue: str,
        at: float,
        *,
        needs: Requirements | None = None,
        preferred: Sequence[AgentId] = (),
        entered: float | None = None,
        prefer_until: float | None = None,
    ) -> WaitingCall:
        """A call waits for an agent. Enqueueing a call that already waits keeps its place (rule 1)."""
        existing = self._calls.get(call)
        if existing is not None:
            return existing
        req, needs_t, priority, kind = self._needs(queue, needs)
        self._seq += 1
        wc = WaitingCall(
            call,
            queue,
            needs_t,
            priority,
            at if entered is None else entered,
            self._seq,
            tuple(preferred),
            (at if entered is None else entered) + self.policies[queue].relationship_seconds
            if prefer_until is None
            else prefer_until,
            req.tier,
            kind=kind,
            needed=frozenset(n.skill for n in needs_t),
            asked=needs,
        )
        self._calls[call] = wc
        bisect.insort(self._order, (wc.key(), call))
        return wc

    def _needs(
        self, queue: str, needs: Requirements | None
    ) -> tuple[Requirements, tuple[SkillNeed, ...], int, int]:
        """A call of ``queue`` asking ``needs``: its requirements, skills, priority and kind."""
        policy = self.policies.get(queue)
        if policy is None:
            raise RoutingError(f"no routing policy for queue {queue!r}")
        req = Requirements(policy.skills, priority=policy.priority)
        if needs is not None:
            req = req.merged(needs)
        skills = list(req.skills)
        if req.language:
            skills.append(SkillNeed(language_skill(req.language)))
        priority = req.priority
        if req.tier is not None:
            priority += policy.tier_priority.get(req.tier, 0)
            tier_need = policy.tier_skills.get(req.tier)
            if tier_need is not None:
                skills.append(tier_need)
        needs_t = tuple(skills)
        return req, needs_t, priority, self._kinds.setdefault((queue, needs_t, priority), len(self._kinds))

    def requeue(self, call: str, queue: str) -> WaitingCall | None:
        """A waiting call (not offered) moves to ``queue`` (an overflow by its EWT while it waits,
        cti.routing.ewt.reannounce) with its entry time and sequence (rule 1: its age counts there) and
        its own needs, now with that queue's skills and priority instead of the old one's. None when it
        does not wait, is offered, or ``queue`` has no policy."""
        wc = self._calls.get(call)
        if wc is None or wc.status is not CallStatus.WAITING or queue not in self.policies:
            return None
        _, needs_t, priority, kind = self._needs(queue, wc.asked)
        self._unorder(wc)
        wc.queue, wc.needs, wc.priority, wc.kind = queue, needs_t, priority, kind
        wc.needed = frozenset(n.skill for n in needs_t)
        bisect.insort(self._order, (wc.key(), call))
        return wc

    def rekey(self, call: str, new: str) -> WaitingCall | None:
        """The call goes on under another name with its place (entry time, sequence, priority, needs:
        rule 1): a caller who asks to be called back leaves a virtual entry (cti.routing.callbacks).
        A reservation or a ring for it follows it. None when ``call`` does not wait or ``new`` does."""
        wc = self._calls.get(call)
        if wc is None or new in self._calls:
            return None
        self._unorder(wc)
        del self._calls[call]
        wc.call = new
        self._calls[new] = wc
        bisect.insort(self._order, (wc.key(), new))
        self._push_timer(wc.deadline, _CALL, new)
        if wc.held_until > 0.0:
            self._push_timer(wc.held_until, _WAKE, new)
        rec = self._agents.get(wc.agent) if wc.agent is not None else None
        if rec is not None:
            f = rec.machine.facts
            if rec.offered == call:
                rec.offered = new
            if f.reservation == call:
                f.reservation = new
            if rec.delivered is not None and rec.delivered[0] == call:
                rec.delivered = (new, rec.delivered[1])
            if call in f.rings:
                f.rings.discard(call)
                f.rings.add(new)
        return wc

    def extend(self, call: str, until: float) -> bool:
        """Keep the agent reserved for ``call`` until ``until`` (a callback dials its customer first)."""
        wc = self._calls.get(call)
        if wc is None or wc.status is not CallStatus.OFFERED:
            return False
        wc.deadline = max(wc.deadline, until)
        self._push_timer(wc.deadline, _CALL, call)
        return True

    def cancel(self, call: str, at: float) -> WaitingCall | None:
        """The caller left (hung up, or the call was taken out of routing)."""
        wc = self._calls.pop(call, None)
        if wc is None:
            return None
        self._unorder(wc)
        status = wc.status
        wc.move(CallStatus.GONE)
        if wc.agent is not None:
            rec = self._agents.get(wc.agent)
            if rec is not None:
                if rec.delivered is not None and rec.delivered[0] == call:
                    rec.delivered = None
                self._moved(rec.machine.ring_ended(call, at))  # its phone stops ringing
                self._moved(rec.machine.release(at, call))
        self._events.append(CallLeft(at, call, wc.queue, max(0.0, at - wc.entered), status))
        return wc

    def call(self, call: str) -> WaitingCall | None:
        return self._calls.get(call)

    def ringing(self, call: str, agent: AgentId, at: float) -> bool:
        """The phone of ``agent`` rings for ``call``. False when it is not the agent we reserved."""
        wc = self._calls.get(call)
        if wc is None or wc.agent != agent or wc.status is not CallStatus.OFFERED:
            return False
        policy = self.policies[wc.queue]
        wc.move(CallStatus.RINGING)
        wc.deadline = at + policy.ring_timeout
        self._push_timer(wc.deadline, _CALL, call)
        rec = self._agents[agent]
        rec.delivered = (call, wc.queue)
        self._moved(rec.machine.ring_started(call, at))
        return True

    def answered(self, call: str, agent: AgentId, at: float) -> bool:
        wc = self._calls.get(call)
        if wc is None or wc.agent != agent:
            return False
        wc.move(CallStatus.ANSWERED)
        self._calls.pop(call)
        self._unorder(wc)
        rec = self._agents[agent]
        rec.delivered = (call, wc.queue)
        rec.calls += 1
        rec.misses = 0
        rec.last_queue = wc.queue
        rec.machine.facts.rings.discard(call)
        self._moved(rec.machine.call_started(call, CallKind.ACD_INBOUND, at))
        if rec.talk_since is None:
            rec.talk_since = at
        self._events.append(CallServed(at, call, agent, wc.queue, max(0.0, at - wc.entered)))
        return True

    def missed(self, call: str, agent: AgentId, at: float) -> bool:
        """The reserved agent let the call ring (or refused it): the call keeps its place (rule 5)."""
        wc = self._calls.get(call)
        if wc is None or wc.agent != agent or wc.status not in (CallStatus.OFFERED, CallStatus.RINGING):
            return False
        self._missed(wc, at)
        return True

    def failed(self, call: str, agent: AgentId, at: float) -> bool:
        """The delivery failed for a reason that is not the agent's (Redirect refused, link lost)."""
        wc = self._calls.get(call)
        if wc is None or wc.agent != agent:
            return False
        self._back(call, at)
        return True

    def _missed(self, wc: WaitingCall, at: float) -> None:
        agent = wc.agent
        assert agent is not None
        policy = self.policies[wc.queue]
        rec = self._agents.get(agent)
        wc.misses[agent] = at + policy.miss_retry
        self._back(wc.call, at)
        if rec is None:
            return
        rec.misses += 1
        rec.delivered = None
        self._moved(rec.machine.ring_ended(wc.call, at))
        self._events.append(RingMissed(at, wc.call, agent, rec.misses))
        if policy.max_misses and rec.misses >= policy.max_misses:
            self.pause(agent, at, policy.miss_pause_reason)
            self._events.append(AgentAutoPaused(at, agent, policy.miss_pause_reason, rec.misses))
            rec.misses = 0

    def _back(self, call: str, at: float) -> None:
        """The call returns to waiting, with its place (rule 1); its agent is released."""
        wc = self._calls.get(call)
        if wc is None:
            return
        agent = wc.agent
        wc.move(CallStatus.WAITING)
        wc.agent, wc.deadline = None, math.inf
        if agent is not None:
            rec = self._agents.get(agent)
            if rec is not None:
                if rec.delivered is not None and rec.delivered[0] == call:
                    rec.delivered = None
                self._moved(rec.machine.ring_ended(call, at))  # a failed delivery that rang
                self._moved(rec.machine.release(at, call))

    def _in_order(self, at: float) -> list[str]:
        """The waiting and offered calls in the order they are served at ``at`` (rules 1 and 1a)."""
        if not self._boosts and not self._sl_order:
            return [call for _, call in self._order]
        if not self._boosts:  # rule 1a alone: the same keys as _key_at's, without its look-ups
            calls, sl = self._calls, self._sl
            keyed: list[tuple[int, int, float, int, str]] = []
            for (prio, entered, seq), call in self._order:
                t = sl[calls[call].queue]
                if t and at - entered > t:
                    keyed.append((prio, 1, entered, seq, call))
                else:
                    keyed.append((prio, 0, entered + t, seq, call))
            keyed.sort()
            return [k[4] for k in keyed]
        return sorted((call for _, call in self._order), key=lambda call: self._key_at(self._calls[call], at))

    def _key_at(self, wc: WaitingCall, at: float) -> tuple[int, int, float, int]:
        """The call's place at ``at``: its priority raised by the escalation steps in force; with
        ``service_level_order`` (rule 1a), the calls past their threshold after the others."""
        policy = self.policies[wc.queue]
        boost = sum(s.priority for s in policy.escalation[: stage_of(policy, at - wc.entered)])
        sl = policy.service_level_order
        if not self._sl_order:
            return (-(wc.priority + boost), 0, wc.entered, wc.seq)
        if sl and at - wc.entered > sl:
            return (-(wc.priority + boost), 1, wc.entered, wc.seq)
        return (-(wc.priority + boost), 0, wc.entered + sl, wc.seq)

    def _unorder(self, wc: WaitingCall) -> None:
        i = bisect.bisect_left(self._order, (wc.key(), wc.call))
        if i < len(self._order) and self._order[i][1] == wc.call:
            del self._order[i]

    # ---- deciding --------------------------------------------------------------------------------------
    def decide(self, at: float) -> list[Offer]:
        """Reserve agents for waiting calls, in the calls' order (rules 1-5). Call after every change."""
        self.advance(at)
        free = [r for r in self._free.values() if r.blocked_until <= at and may_ring(r.task, r.interruptible)]
        if not free or not self._order:
            return []
        offers: list[Offer] = []
        dead: set[int] = set()
        calls = self._calls
        for call in self._in_order(at):
            if not free:
                break
            wc = calls[call]
            if wc.status is not CallStatus.WAITING or wc.held_until > at:
                continue
            # calls of one queue with the same needs, priority and escalation stage are alike: when the
            # oldest found no agent, none of the younger ones will (unless it has preferences or misses)
            policy = self.policies[wc.queue]
            afters = self._afters[wc.queue]
            stage = bisect.bisect_right(afters, at - wc.entered) if afters else 0
            bucket = (wc.kind << 16) | stage
            plain = not wc.preferred and not wc.misses
            if plain and bucket in dead:
                continue
            best = self._best(wc, policy, stage, free, at)
            if best is None:
                if plain:
                    dead.add(bucket)
                continue
            rec, step = best
            free.remove(rec)
            offers.append(self._offer(wc, rec, policy, step, at))
        return offers

    def _best(
        self, wc: WaitingCall, policy: QueuePolicy, stage: int, free: list[_RoutedAgent], at: float
    ) -> tuple[_RoutedAgent, int] | None:
        pool = free
        if wc.preferred and at < wc.prefer_until:
            logged_in = [
                a
                for a in wc.preferred
                if a in self._agents and self._agents[a].machine.state is not S.LOGGED_OUT
            ]
            if logged_in:
                pool = [r for r in free if r.machine.id in logged_in]
        best: tuple[_RoutedAgent, int] | None = None
        best_key: tuple[float, ...] | None = None
        needed = wc.needed
        waited = at - wc.entered
        for rec in pool:
            if wc.misses and wc.misses.get(rec.machine.id, 0.0) > at:
                continue
            step = eligible(self.policies, policy, wc.needs, stage, rec)
            if step is None:
                continue
            key = rank(policy, rec, needed, wc.needs, waited, at)
            if best_key is None or key < best_key:
                best, best_key = (rec, step), key
        return best

    def _offer(self, wc: WaitingCall, rec: _RoutedAgent, policy: QueuePolicy, step: int, at: float) -> Offer:
        self._token += 1
        wc.move(CallStatus.OFFERED)
        wc.agent, wc.token = rec.machine.id, self._token
        wc.deadline = at + policy.reservation_timeout
        wc.offers += 1
        self._push_timer(wc.deadline, _CALL, wc.call)
        rec.offered = wc.call
        self._moved(rec.machine.reserve(wc.call, at))
        self.decisions += 1
        return Offer(wc.call, rec.machine.id, wc.queue, self._token, at, wc.deadline, step, at - wc.entered)

    # ---- time ------------------------------------------------------------------------------------------
    def advance(self, at: float) -> None:
        """Expire reservations and rings, end wrap-ups (rules 5 and 6), earliest deadline first."""
        timers = self._timers
        while timers and timers[0][0] <= at:
            when, _, what, key = heapq.heappop(timers)
            if what == _CALL:
                wc = self._calls.get(key)
                if wc is None or wc.deadline != when:
                    continue  # answered, gone, or offered again since
                if wc.status is CallStatus.OFFERED and wc.agent is not None:
                    self._events.append(ReservationExpired(at, wc.call, wc.agent))
                    self._back(wc.call, at)
                elif wc.status is CallStatus.RINGING:
                    self._missed(wc, at)
            elif what == _AGENT:
                rec = self._agents.get(AgentId(key))
                if rec is not None and rec.machine.state is S.WRAP_UP and rec.machine.wrapup_ends <= at:
                    self._moved(rec.machine.advance(at))

    def next_deadline(self) -> float:
        """When ``advance`` next has something to do (inf: nothing is timed)."""
        timers = self._timers
        while timers and not self._live(timers[0]):
            heapq.heappop(timers)
        return timers[0][0] if timers else math.inf

    def _live(self, timer: tuple[float, int, int, str]) -> bool:
        when, _, what, key = timer
        if what == _CALL:
            wc = self._calls.get(key)
            return wc is not None and wc.deadline == when
        if what == _AGENT:
            rec = self._agents.get(AgentId(key))
            return rec is not None and rec.machine.state is S.WRAP_UP and rec.machine.wrapup_ends == when
        return True

    def _push_timer(self, when: float, what: int, key: str) -> None:
        if when != math.inf:
            self._timer_seq += 1
            heapq.heappush(self._timers, (when, self._timer_seq, what, key))

    def _watch_agent(self, rec: _RoutedAgent) -> None:
        self._push_timer(rec.machine.wrapup_ends, _AGENT, rec.machine.id)

    # ---- views and events ------------------------------------------------------------------------------
    def drain(self) -> list[RoutingEvent]:
        events, self._events = self._events, []
        return events

    def _moved(self, t: Transition | None) -> None:
        if t is not None:
            self._events.append(AgentMoved(t.at, t))
            rec = self._agents.get(t.agent)
            if t.new is S.AVAILABLE and rec is not None:
                self._free[t.agent] = rec
            else:
                self._free.pop(t.agent, None)
            if rec is None:
                return
            if t.new is S.WRAP_UP:
                self._watch_agent(rec)
            if rec.offered is not None and rec.machine.reserved_for is None and t.new in _UNRESERVED:
                # the reservation ended by itself (a pause, a logout: agents rule 4): the call goes back
                call, rec.offered = self._calls.get(rec.offered), None
                if call is not None and call.status is CallStatus.OFFERED and call.agent == t.agent:
                    self._back(call.call, t.at)

    def waiting(self, at: float, queue: str | None = None) -> list[WaitingView]:
        out = []
        for pos, call in enumerate(self._in_order(at), 1):
            wc = self._calls[call]
            if queue is not None and wc.queue != queue:
                continue
            stage = stage_of(self.policies[wc.queue], at - wc.entered)
            out.append(
                WaitingView(
                    call,
                    wc.queue,
                    pos,
                    max(0.0, at - wc.entered),
                    wc.priority,
                    wc.needs,
                    wc.status,
                    wc.agent,
                    stage,
                )
            )
        return out

    def agents(self) -> list[AgentRouteView]:
        return [
            AgentRouteView(
                r.machine.id,
                r.machine.state,
                r.machine.reason,
                r.machine.since,
                dict(r.skills),
                r.machine.reserved_for,
                r.calls,
                r.talk_seconds,
                r.misses,
                r.delivered[1] if r.delivered is not None else r.last_queue,
            )
            for r in self._agents.values()
        ]

    def position(self, call: str) -> int:
        """1-based place of a waiting call in its queue's order (0: not waiting)."""
        wc = self._calls.get(call)
        if wc is None:
            return 0
        pos = 0
        for _, other in self._order:
            if self._calls[other].queue == wc.queue:
                pos += 1
            if other == call:
                return pos
        return 0

    def wrapup_ends(self, agent: AgentId) -> float:
        """When the agent's wrap-up ends by time (inf while a disposition is awaited; 0: none)."""
        rec = self._agents.get(agent)
        return 0.0 if rec is None else rec.machine.wrapup_ends

    def queues_of(self, agent: AgentId) -> list[str]:
        rec = self._agents.get(agent)
        return [] if rec is None else [q for q in rec.machine.facts.queues if q != "*"]

    @property
    def waiting_count(self) -> int:
        return len(self._order)


_UNRESERVED = frozenset({S.AVAILABLE, S.PAUSED, S.LOGGED_OUT, S.WRAP_UP})
_CALL, _AGENT, _WAKE = 0, 1, 2  # what a timer is for
