"""Estimated wait time (EWT): from the caller's place, the agents who serve the call, the handle times. Pure.

An estimate a caller can be told, that is used for overflow decisions and for offering a callback. It is
the Erlang C model read at the caller's place rather than averaged over every caller (the unconditional
Erlang C mean wait, ``cti.routing.simulate.erlang.asa``, is what a call would wait on average; a caller
who hears "you are fifth" wants the wait of the fifth):

1. The agents who serve the call: logged in, not paused, members of its queue (``members``) with every
   skill the call needs at its level (rule 2 of ``cti.routing.router``, without escalation steps), of
   whom ``free`` are AVAILABLE now. ``serving = 0``: no estimate (``math.inf``).
2. The calls ahead: the waiting calls (not yet offered to an agent) before it in the router's order
   (priority, then entry), each counted for the share of the agents who could take it that also serve
   this call (a sales call ahead that only the 5 sales-and-billing agents of 20 sales agents share with
   a billing call counts 1/4 for it).
3. In M/M/c, while the ``c`` serving agents are busy they finish calls at rate ``c / H`` (``H``: the
   mean handle time, talk + wrap-up, of the queue's recent calls), and each caller ahead gives up at
   rate ``1 / P`` (``P``: the mean patience, estimated as the waiting time of all calls divided by the
   abandons: the exponential's maximum likelihood with the answered calls as censored observations;
   Erlang A). With ``k`` calls ahead and ``f`` free agents, the first ``f`` go at once; the call then
   waits for ``k - f + 1`` departures, from ``q = k - f`` callers ahead down to none::

       EWT = sum over q = 0 .. k - f of 1 / (c / H + q / P)          (0 when k < f)

   which is ``(k - f + 1) H / c`` without abandons: the conditional Erlang C wait at that place.
   Plus ``D``, the mean time from an agent's first offer to the answer (the ring, the ring-no-answers),
   learnt from the answered calls: a caller who finds a free agent still waits for the phone.
4. Not a moving average of past waits (app_queue, VICIdial): that lags the traffic by design and tells
   the tenth caller what the first one waited. ``AppQueueHoldtime`` is app_queue's formula, kept only
   as the baseline ``cti simulate`` measures it against (docs/routing.md "Estimated wait").

Use ``estimate`` for a waiting call (``call=``) or for a call that would join now (``queue=``, the
callback offer before it enters); ``WaitModel`` learns ``H`` and ``P`` from what the daemon (or the
simulation) sees.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from cti.core.events import AgentState
from cti.routing.events import AgentRouteView, CallStatus, WaitingView
from cti.routing.matching import fits
from cti.routing.policy import QueuePolicy, SkillNeed

_OUT = frozenset({AgentState.LOGGED_OUT, AgentState.PAUSED})


def positional_wait(
    ahead: float, serving: int, free: int, handle: float, patience: float = math.inf
) -> float:
    """Rule 3: the expected wait at this place (seconds); ``math.inf`` when no agent serves the call.
    A fractional ``ahead`` (rule 2's shares) is interpolated between the whole places around it."""
    if serving <= 0 or handle <= 0:
        return math.inf
    waiting_ahead = ahead - free
    if waiting_ahead < 0:
        return 0.0
    rate = serving / handle
    give_up = 0.0 if not math.isfinite(patience) or patience <= 0 else 1.0 / patience
    whole = math.floor(waiting_ahead)
    terms = [1.0 / (rate + q * give_up) for q in range(whole + 2)]
    frac = waiting_ahead - whole
    mean = sum(terms[: whole + 1]) + frac * terms[whole + 1]
    variance = sum(t * t for t in terms[: whole + 1]) + frac * terms[whole + 1] ** 2
    shape = mean * mean / variance  # the wait is a sum of exponentials: a gamma of this shape, nearly
    return mean * (1.0 - 1.0 / (9.0 * shape)) ** 3  # its median (Wilson-Hilferty): half wait less


@dataclass(slots=True)
class _QueueStats:
    handles: deque[float]
    waited: float = 0.0  # seconds waited by every call that left the queue (answered or not)
    abandons: int = 0
    delivery: float = 0.0  # seconds from the first offer to the answer, summed over the answered calls
    delivered: int = 0


@dataclass(slots=True)
class WaitModel:
    """What EWT learns per queue: the recent handle times and the callers' patience (rule 3)."""

    default_handle: float = 180.0
    window: int = 200  # the handle times of the last calls the mean is taken over
    _queues: dict[str, _QueueStats] = field(default_factory=dict)

    def _q(self, queue: str) -> _QueueStats:
        q = self._queues.get(queue)
        if q is None:
            q = self._queues[queue] = _QueueStats(deque(maxlen=self.window))
        return q

    def handled(self, queue: str, seconds: float) -> None:
        """A call of ``queue`` ended: its talk plus its wrap-up."""
        if seconds >= 0 and math.isfinite(seconds):
            self._q(queue).handles.append(seconds)

    def left(self, queue: str, waited: float, abandoned: bool) -> None:
        """A call left the queue: answered after ``waited`` seconds, or abandoned after them."""
        if waited >= 0 and math.isfinite(waited):
            q = self._q(queue)
            q.waited += waited
            q.abandons += int(abandoned)

    def delivered_after(self, queue: str, seconds: float) -> None:
        """An answered call: ``seconds`` from its first offer to an agent to the answer."""
        if seconds >= 0 and math.isfinite(seconds):
            q = self._q(queue)
            q.delivery += seconds
            q.delivered += 1

    def delivery(self, queue: str) -> float:
        q = self._queues.get(queue)
        return 0.0 if q is None or q.delivered == 0 else q.delivery / q.delivered

    def handle(self, queue: str) -> float:
        q = self._queues.get(queue)
        if q is None or not q.handles:
            return self.default_handle
        return sum(q.handles) / len(q.handles)

    def patience(self, queue: str) -> float:
        q = self._queues.get(queue)
        if q is None or q.abandons == 0:
            return math.inf
        return q.waited / q.abandons


@dataclass(frozen=True, slots=True)
class Estimate:
    seconds: float  # math.inf: no agent serves the call
    ahead: float
    serving: int
    free: int
    handle: float
    patience: float


def _serves(agent: AgentRouteView, policy: QueuePolicy, needs: Iterable[SkillNeed]) -> bool:
    return (not policy.members or agent.agent in policy.members) and fits(agent.skills, needs, None, set())


def estimate(
    policies: Mapping[str, QueuePolicy],
    agents: Iterable[AgentRouteView],
    waiting: Iterable[WaitingView],
    model: WaitModel,
    *,
    call: str | None = None,
    queue: str | None = None,
    needs: tuple[SkillNeed, ...] = (),
    priority: int = 0,
) -> Estimate:
    """The EWT of the waiting ``call``, or of a call that would join ``queue`` now with ``needs``.

    ``agents`` and ``waiting`` are the router's (``Router.agents()``, ``Router.waiting(at)``, in its
    order); for a waiting call its own needs and queue are taken from ``waiting``."""
    ahead_views: list[WaitingView] = []
    if call is not None:
        for view in waiting:
            if view.call == call:
                queue, needs = view.queue, view.needs
                break
            ahead_views.append(view)
        else:
            raise KeyError(call)
    else:
        if queue is None:
            raise ValueError("estimate needs a call or a queue")
        policy = policies[queue]
        levels = {n.skill: n.level for n in policy.skills}
        for n in needs:
            levels[n.skill] = max(levels.get(n.skill, 0), n.level)
        needs = tuple(SkillNeed(s, lvl) for s, lvl in sorted(levels.items()))
        priority += policy.priority
        ahead_views = [v for v in waiting if v.priority >= priority]
    assert queue is not None
    policy = policies[queue]
    serving = [a for a in agents if a.state not in _OUT and _serves(a, policy, needs)]
    free = sum(1 for a in serving if a.state is AgentState.AVAILABLE)
    mine = {a.agent for a in serving}
    logged = [a for a in agents if a.state not in _OUT]
    ahead = 0.0
    shares: dict[tuple[str, tuple[SkillNeed, ...]], float] = {}
    for view in ahead_views:
        if view.status is not CallStatus.WAITING:
            continue  # offered: its agent is counted busy, and it leaves the line when answered
        kind = (view.queue, view.needs)
        share = shares.get(kind)
        if share is None:
            other = policies.get(view.queue)
            theirs = [a.agent for a in logged if other is not None and _serves(a, other, view.needs)]
            share = shares[kind] = sum(1 for a in theirs if a in mine) / len(theirs) if theirs else 0.0
        ahead += share
    handle, patience = model.handle(queue), model.patience(queue)
    seconds = positional_wait(ahead, len(serving), free, handle, patience)
    if math.isfinite(seconds):
        seconds += model.delivery(queue)
    return Estimate(seconds, ahead, len(serving), free, handle, patience)


@dataclass(slots=True)
class AppQueueHoldtime:
    """app_queue's hold-time estimate (apps/app_queue.c), the baseline EWT is measured against.

    ``recalc_holdtime`` at every connect: ``holdtime = ((holdtime << 2) - holdtime + newholdtime) >> 2``
    (an exponential moving average, weight 1/4 on the newest hold, whole seconds), where
    ``newholdtime = now - qe->start`` is the connected caller's wait; ``say_position`` announces
    ``(holdtime + 30) - (now - qe->start)`` rounded to minutes: at entry, ``holdtime`` itself. The same
    figure is the queue's ``Holdtime`` in QueueStatus/QueueParams. ``with_position`` is the variant that
    multiplies it by the caller's place (VICIdial-style "hold time times position")."""

    _holdtime: dict[str, int] = field(default_factory=dict)

    def connected(self, queue: str, waited: float) -> None:
        old = self._holdtime.get(queue, 0)
        self._holdtime[queue] = ((old << 2) - old + int(waited)) >> 2

    def announced(self, queue: str) -> float:
        return float(self._holdtime.get(queue, 0))

    def with_position(self, queue: str, position: int) -> float:
        return self.announced(queue) * max(1, position)


# ---- where the estimate is used (docs/routing.md "Estimated wait (EWT)") ------------------------------
def offers_callback(policy: QueuePolicy, seconds: float) -> bool:
    """The caller is offered a callback (never forced: the caller presses the key or keeps waiting) when
    the estimate is above the queue's ``offer_callback_above``; no agent serving the call (``math.inf``)
    is the longest wait of all. 0: never offered."""
    return policy.offer_callback_above > 0 and seconds > policy.offer_callback_above


def overflow_queue(
    queue: str, policies: Mapping[str, QueuePolicy], wait: Callable[[str], float]
) -> str | None:
    """The queue a call that would join ``queue`` joins instead, or None: its ``overflow_to`` when the
    estimate there (``wait(queue)``, for this call at entry) is above ``overflow_if_ewt_above`` and the
    estimate in ``overflow_to`` is shorter (an overflow never lengthens the wait: a target queue nobody
    serves is no way out). One step: the target's own overflow is not followed. ``wait`` is only called
    for a queue configured to overflow."""
    policy = policies.get(queue)
    if policy is None or policy.overflow_to is None or policy.overflow_if_ewt_above <= 0:
        return None
    target = policy.overflow_to
    if target not in policies:
        return None
    here = wait(queue)
    if not here > policy.overflow_if_ewt_above:
        return None
    return target if wait(target) < here else None
