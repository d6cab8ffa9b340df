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

5. Where the queue's talk times are not memoryless (``Samples.memoryless``: 30 or more recorded, their
   coefficient of variation not within 0.15 of 1), ``estimate(..., at=now)`` draws the wait instead
   (``drawn_wait``): 101 seeded futures, each busy agent's rest drawn from the recorded times of the
   queue of the call it handles, longer than its elapsed talk, wrap-up or ring; each caller ahead kept
   with its share, giving up with its patience, served with a recorded delivery and handle; the median
   of the draws plus a recorded delivery. Exponential talk keeps rule 3 (exact there).

6. Callers who arrive later with a higher priority are served first (router rule 1): ``WaitModel``
   learns the entries per kind (queue, needs, priority) over the last hour (``Arrivals``), and every
   kind of a higher priority than the call's is a Poisson stream at its rate times its share of the
   call's agents (rule 2's share). Rule 3 then waits ``1 / (c / H - λ + q / P)`` per departure (``λ``
   their total rate, at most ``JUMP_CAP`` of ``c / H``: the busy period's step); rule 5 draws their
   arrivals in each future, each taking the next agent free after it arrives, before the line.

While a call waits, ``reannounce`` (the daemon's FastAGI ``/announce``, ``cti simulate``'s periodic
announcements) estimates again, moves it to its queue's ``overflow_to`` when the estimate grew past the
threshold (``overflow_queue``, once) and offers the callback again (``callback_due``).

Use ``estimate`` for a waiting call (``call=``) or for a call that would join now (``queue=``, the
callback offer before it enters); ``WaitModel`` learns ``H`` and ``P`` from what the daemon (or the
simulation) sees.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cti.core.events import AgentState
from cti.routing.events import AgentRouteView, CallStatus, WaitingView
from cti.routing.matching import fits
from cti.routing.policy import QueuePolicy, SkillNeed

_OUT = frozenset({AgentState.LOGGED_OUT, AgentState.PAUSED})
JUMP_CAP = 0.9  # rule 6: the share of the agents' capacity the later, higher-priority callers may take
_PHASE = {AgentState.WRAP_UP: "wrap", AgentState.RESERVED: "ring", AgentState.RINGING: "ring"}


def positional_wait(
    ahead: float,
    serving: int,
    free: int,
    handle: float,
    patience: float = math.inf,
    jumping: float = 0.0,
) -> float:
    """Rule 3: the expected wait at this place (seconds); ``math.inf`` when no agent serves the call.
    A fractional ``ahead`` (rule 2's shares) is interpolated between the whole places around it.
    ``jumping``: the rate (per second) of later callers of a higher priority who take this call's
    agents before it (rule 6): each departure it waits for is then a busy period's step, ``1 / (c / H -
    jumping)``; a learnt rate above 90 % of the agents' capacity is taken as 90 % of it."""
    if serving <= 0 or handle <= 0:
        return math.inf
    waiting_ahead = ahead - free
    if waiting_ahead < 0:
        return 0.0
    rate = serving / handle
    rate -= min(max(0.0, jumping), JUMP_CAP * rate)
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
    talks: deque[float]  # the talk times of the last calls (handle = talk + wrap)
    wraps: deque[float]
    deliveries: deque[float]  # seconds from the first offer to the answer, the last answered calls
    waited: float = 0.0  # seconds waited by every call that left the queue (answered or not)
    abandons: int = 0
    talk_sum: float = 0.0
    wrap_sum: float = 0.0
    sorted_talks: list[float] | None = None  # caches, rebuilt after a change
    sorted_deliveries: list[float] | None = None
    sorted_wraps: list[float] | None = None


Kind = tuple[str, tuple[SkillNeed, ...], int]  # a queue, the needs of its calls, their priority


@dataclass(slots=True)
class Arrivals:
    """Rule 6's learnt arrival rates: per kind of call (queue, needs, priority), its last entries."""

    window: float = 3600.0  # seconds of entries the rate is taken over
    keep: int = 400  # at most this many entries per kind
    _at: dict[Kind, deque[float]] = field(default_factory=dict)
    _first: float = math.inf  # the first entry seen (a young model's window is shorter)

    def arrived(self, kind: Kind, at: float) -> None:
        if not math.isfinite(at):
            return
        d = self._at.get(kind)
        if d is None:
            d = self._at[kind] = deque(maxlen=self.keep)
        d.append(at)
        self._first = min(self._first, at)

    def rates(self, now: float) -> dict[Kind, float]:
        """Entries per second of each kind over the last ``window`` seconds (or since the first entry,
        when shorter; under a minute of history: no rate). A kind with ``keep`` entries in less than
        the window is measured over its own span."""
        span = min(self.window, now - self._first)
        if not span >= 60.0:
            return {}
        lo = now - span
        out: dict[Kind, float] = {}
        for kind, d in self._at.items():
            n = len(d) - bisect_right(d, lo)
            if n == 0:
                continue
            full = len(d) == d.maxlen and d[0] > lo  # older entries were dropped: its own span
            out[kind] = n / (max(60.0, now - d[0]) if full else span)
        return out


@dataclass(frozen=True, slots=True)
class Samples:
    """What rule 5 draws from, for one queue: its recent talk times and deliveries (sorted), wrap-ups."""

    talks: Sequence[float]  # each sorted
    wraps: Sequence[float]
    deliveries: Sequence[float]
    handle: float  # the mean handle time: an exponential's mean where the queue has no history yet

    @property
    def memoryless(self) -> bool:
        """Too few talk times to tell, or their coefficient of variation within 0.15 of 1 (an
        exponential's): the elapsed times say nothing and rule 3's closed form is exact."""
        n = len(self.talks)
        if n < MIN_TALKS:
            return True
        mean = sum(self.talks) / n
        var = sum((t - mean) ** 2 for t in self.talks) / (n - 1)
        return mean <= 0 or abs(math.sqrt(var) / mean - 1.0) < 0.15


@dataclass(slots=True)
class WaitModel:
    """What EWT learns per queue: the recent talk, wrap-up and delivery times, the callers' patience."""

    default_handle: float = 180.0
    window: int = 500  # the last calls the distributions are taken over
    _queues: dict[str, _QueueStats] = field(default_factory=dict)
    arrivals: Arrivals = field(default_factory=Arrivals)

    def entered(self, queue: str, needs: tuple[SkillNeed, ...], priority: int, at: float) -> None:
        """A call entered ``queue`` (the router's needs and priority for it): rule 6's arrival rates."""
        self.arrivals.arrived((queue, needs, priority), at)

    def _q(self, queue: str) -> _QueueStats:
        q = self._queues.get(queue)
        if q is None:
            w = self.window
            q = self._queues[queue] = _QueueStats(deque(maxlen=w), deque(maxlen=w), deque(maxlen=w))
        return q

    def handled(self, queue: str, seconds: float, wrap: float = 0.0) -> None:
        """A call of ``queue`` ended: ``seconds`` of talk plus wrap-up, of which ``wrap`` the wrap-up."""
        if not (seconds >= 0 and math.isfinite(seconds) and wrap >= 0 and math.isfinite(wrap)):
            return
        q = self._q(queue)
        wrap = min(wrap, seconds)
        if len(q.talks) == q.talks.maxlen:
            q.talk_sum -= q.talks[0]
            q.wrap_sum -= q.wraps[0]
        q.talks.append(seconds - wrap)
        q.wraps.append(wrap)
        q.talk_sum += seconds - wrap
        q.wrap_sum += wrap
        q.sorted_talks = q.sorted_wraps = None

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
            q.deliveries.append(seconds)
            q.sorted_deliveries = None

    def delivery(self, queue: str) -> float:
        """The median delivery time of the queue's last answered calls (0 before any)."""
        d = self.samples(queue).deliveries
        return 0.0 if not d else d[len(d) // 2]

    def handle(self, queue: str) -> float:
        q = self._queues.get(queue)
        if q is None or not q.talks:
            return self.default_handle
        return (q.talk_sum + q.wrap_sum) / len(q.talks)

    def patience(self, queue: str) -> float:
        q = self._queues.get(queue)
        if q is None or q.abandons == 0:
            return math.inf
        return q.waited / q.abandons

    def samples(self, queue: str) -> Samples:
        q = self._queues.get(queue)
        if q is None:
            return Samples((), (), (), self.default_handle)
        if q.sorted_talks is None:
            q.sorted_talks = sorted(q.talks)
        if q.sorted_deliveries is None:
            q.sorted_deliveries = sorted(q.deliveries)
        if q.sorted_wraps is None:
            q.sorted_wraps = sorted(q.wraps)
        return Samples(q.sorted_talks, q.sorted_wraps, q.sorted_deliveries, self.handle(queue))


@dataclass(frozen=True, slots=True)
class Estimate:
    seconds: float  # math.inf: no agent serves the call
    ahead: float
    serving: int
    free: int
    handle: float
    patience: float
    jumping: float = 0.0  # rule 6: later callers of a higher priority per second, on this call's agents


def _serves(agent: AgentRouteView, policy: QueuePolicy, needs: Iterable[SkillNeed]) -> bool:
    return (not policy.members or agent.agent in policy.members) and fits(agent.skills, needs, None, set())


# ---- rule 5: the wait drawn from the queue's own distributions ------------------------------------------
DRAWS = 101  # futures drawn per estimate (odd: the median is one of them)
MIN_TALKS = 30  # recorded talk times before rule 5 is used


def _residual(values: Sequence[float], elapsed: float, u: float, mean: float) -> float:
    """A draw of what is left of a time already ``elapsed`` long, from the recorded ``values`` (sorted)
    longer than it; beyond them (or with none), an exponential of ``mean`` (memoryless)."""
    lo = bisect_right(values, elapsed)
    n = len(values)
    if lo < n:
        return values[lo + int(u * (n - lo))] - elapsed
    return -mean * math.log(1.0 - u)


def _pick(values: Sequence[float], u: float) -> float:
    return values[int(u * len(values))] if values else 0.0


def _fresh(s: Samples, u_talk: float, u_wrap: float) -> float:
    """A new call's handle: a recorded talk and a recorded wrap-up (independent draws)."""
    if not s.talks:
        return -s.handle * math.log(1.0 - u_talk) if s.handle > 0 else 0.0
    return _pick(s.talks, u_talk) + _pick(s.wraps, u_wrap)


@dataclass(frozen=True, slots=True)
class Busy:
    """A serving agent not free now: ``phase`` "talk" (then its wrap-up), "wrap" or "ring" (reserved or
    ringing: then a whole call), ``elapsed`` seconds into it, on a call of ``queue``."""

    phase: str
    elapsed: float
    queue: str


def _cumulative(weighted: Sequence[tuple[float, str]]) -> tuple[list[float], list[str]]:
    total, acc, names = 0.0, [], []
    for w, name in weighted:
        total += w
        acc.append(total)
        names.append(name)
    return [a / total for a in acc] if total else [], names


def _jumped(
    at: list[float],
    arrival: float,
    u: Callable[[], float],
    rate: float,
    queues: tuple[list[float], list[str]],
    of: Callable[[str], Samples],
) -> float:
    """Rule 6: a jumper who arrived at ``arrival`` takes the next agent free (``at[0]``, not before it
    arrived: the caller is still ahead of it in the line); the next jumper's arrival."""
    cum, names = queues
    s = of(names[min(bisect_right(cum, u()), len(names) - 1)])
    t = max(at[0], arrival)
    heapq.heapreplace(at, t + _pick(s.deliveries, u()) + _fresh(s, u(), u()))
    return arrival - math.log(1.0 - u()) / rate


def drawn_wait(
    line: Sequence[tuple[float, str]],
    busy: Sequence[Busy],
    free: int,
    queue: str,
    samples: Callable[[str], Samples],
    patience: float,
    draws: int = DRAWS,
    seed: int = 0,
    jumpers: Sequence[tuple[float, str]] = (),
) -> float:
    """Rule 5: the median over ``draws`` futures of the wait of a call behind ``line`` (each call ahead:
    the chance it takes one of this call's agents, its queue) with ``free`` agents free and ``busy`` the
    others. ``jumpers`` (rule 6): the later callers of a higher priority, as (arrivals per second that
    take this call's agents, their queue): in each future they arrive as a Poisson stream and take the
    next agent free after their arrival before this call and its line. Deterministic (a seeded
    generator: the same state gives the same estimate)."""
    mine = samples(queue)
    if sum(1 for share, _ in line if share > 0) < free:
        d = mine.deliveries
        return d[len(d) // 2] if d else 0.0
    rng = random.Random(seed)
    by_queue: dict[str, Samples] = {queue: mine}

    def of(q: str) -> Samples:
        s = by_queue.get(q)
        if s is None:
            s = by_queue[q] = samples(q)
        return s

    give_up = 1.0 / patience if math.isfinite(patience) and patience > 0 else 0.0
    capacity = (free + len(busy)) / mine.handle if mine.handle > 0 else 0.0
    jump_rate = min(sum(r for r, _ in jumpers if r > 0), JUMP_CAP * capacity)  # as rule 3's cap
    jump_queues = _cumulative([(r, q) for r, q in jumpers if r > 0])
    jump: Callable[[], float] = random.random  # replaced per draw by a seeded stream
    agents = [(b, of(b.queue)) for b in busy]
    waits: list[float] = []
    for draw in range(draws):
        at: list[float] = [0.0] * free
        for b, s in agents:
            u = rng.random()
            if b.phase == "talk":
                wrap = _pick(s.wraps, rng.random())
                at.append(_residual(s.talks, b.elapsed, u, s.handle) + wrap)
            elif b.phase == "wrap":
                at.append(_residual(s.wraps, b.elapsed, u, 0.0) if s.wraps else 0.0)
            else:
                ring = _residual(s.deliveries, b.elapsed, u, 0.0) if s.deliveries else 0.0
                at.append(ring + _fresh(s, rng.random(), rng.random()))
        own = _pick(mine.deliveries, rng.random())
        heapq.heapify(at)
        # the line's own stream, the same numbers for the same caller whatever follows it: one more
        # caller ahead never shortens a draw (monotone in the place)
        ahead = random.Random(seed * 1_000_003 + draw).random
        if jump_rate > 0:  # rule 6: the jumpers' own stream (the same arrivals whatever the line)
            jump = random.Random(seed * 999_983 + draw + 1).random
            next_jump = -math.log(1.0 - jump()) / jump_rate
        else:
            next_jump = math.inf
        for share, q in line:
            u_share, u_patience, u_ring, u_talk, u_wrap = ahead(), ahead(), ahead(), ahead(), ahead()
            if share < 1.0 and u_share >= share:
                continue  # taken by an agent that does not serve this call
            while next_jump <= at[0]:
                next_jump = _jumped(at, next_jump, jump, jump_rate, jump_queues, of)
            t = at[0]
            if give_up and -math.log(1.0 - u_patience) / give_up < t:
                continue  # gave up before an agent came free for it
            s = of(q)
            heapq.heapreplace(at, t + _pick(s.deliveries, u_ring) + _fresh(s, u_talk, u_wrap))
        while next_jump <= at[0]:
            next_jump = _jumped(at, next_jump, jump, jump_rate, jump_queues, of)
        waits.append(at[0] + own)
    waits.sort()
    return waits[len(waits) // 2]


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
    at: float | None = None,
) -> Estimate:
    """The EWT of the waiting ``call``, or of a call that would join ``queue`` now with ``needs``.

    ``agents`` and ``waiting`` are the router's (``Router.agents()``, ``Router.waiting(at)``, in its
    order); for a waiting call its own needs and queue are taken from ``waiting``. With ``at`` (now, on
    the clock of the agents' ``since``) the wait is drawn from the queue's distributions and the busy
    agents' elapsed times (rule 5); without it, rule 3's formula."""
    ahead_views: list[WaitingView] = []
    if call is not None:
        for view in waiting:
            if view.call == call:
                queue, needs, priority = view.queue, view.needs, view.priority
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
    shares: dict[tuple[str, tuple[SkillNeed, ...]], float] = {}

    def share_of(q: str, q_needs: tuple[SkillNeed, ...]) -> float:
        """The share of the agents who serve a call of ``q`` with ``q_needs`` who also serve this one."""
        share = shares.get((q, q_needs))
        if share is None:
            other = policies.get(q)
            theirs = [a.agent for a in logged if other is not None and _serves(a, other, q_needs)]
            share = sum(1 for a in theirs if a in mine) / len(theirs) if theirs else 0.0
            shares[(q, q_needs)] = share
        return share

    line = [  # offered calls are not in the line: their agents are counted busy
        (share_of(v.queue, v.needs), v.queue) for v in ahead_views if v.status is CallStatus.WAITING
    ]
    ahead = sum(share for share, _ in line)
    handle, patience = model.handle(queue), model.patience(queue)
    jumpers: list[tuple[float, str]] = []
    if at is not None and serving:
        for (q, q_needs, q_priority), rate in model.arrivals.rates(at).items():
            share = share_of(q, q_needs) if q_priority > priority else 0.0  # equal: behind (rule 1)
            if share > 0:
                jumpers.append((rate * share, q))
    jumping = sum(r for r, _ in jumpers)
    if not serving:
        seconds = math.inf
    elif at is None or model.samples(queue).memoryless:
        seconds = positional_wait(ahead, len(serving), free, handle, patience, jumping)
        seconds += model.delivery(queue)
    else:
        busy = [
            Busy(_PHASE.get(a.state, "talk"), max(0.0, at - a.since), a.queue or queue)
            for a in serving
            if a.state is not AgentState.AVAILABLE
        ]
        seconds = drawn_wait(line, busy, free, queue, model.samples, patience, jumpers=jumpers)
    return Estimate(seconds, ahead, len(serving), free, handle, patience, jumping)


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


@dataclass(slots=True)
class Announcing:
    """What ``reannounce`` remembers of one waiting call between its announcements."""

    offered_at: float = -math.inf  # the last callback offer
    above: bool = False  # the last estimate was above the queue's offer_callback_above
    overflowed: bool = False  # it left its queue for overflow_to (one step only)


@dataclass(frozen=True, slots=True)
class Announcement:
    seconds: float  # the EWT where the call waits now (math.inf: unknown)
    queue: str  # where it waits now
    overflowed: bool  # it moved to that queue at this announcement
    offer: bool  # the dialplan plays the callback offer


def callback_due(policy: QueuePolicy, seconds: float, now: float, state: Announcing) -> bool:
    """At an announcement: offer the callback when the EWT is above ``offer_callback_above`` and either
    was not at the last announcement (it rose past the threshold, or this is the first) or the last
    offer is ``offer_callback_every`` seconds old (0: never repeated while the EWT stays above)."""
    above = offers_callback(policy, seconds)
    again = policy.offer_callback_every > 0 and now - state.offered_at >= policy.offer_callback_every
    due = above and (not state.above or again)
    state.above = above
    if due:
        state.offered_at = now
    return due


def reannounce(
    policies: Mapping[str, QueuePolicy],
    queue: str,
    now: float,
    state: Announcing,
    *,
    here: Callable[[], float],
    there: Callable[[str], float],
    move: Callable[[str], bool],
    offers: bool = True,
) -> Announcement:
    """A periodic announcement of a waiting call of ``queue`` (the daemon's FastAGI ``/announce``,
    ``cti simulate``'s announcements): the EWT again (``here()``, at its place), the overflow decided
    again (``overflow_queue`` with ``there(q)``: the wait of this call joining ``q`` now; ``move(q)``
    moves it, False when it could not: offered meanwhile), then the callback offer (``callback_due``;
    ``offers``: callbacks possible for this caller). A call that overflowed once stays."""
    moved = False
    seconds = here()
    if not state.overflowed:
        target = overflow_queue(queue, policies, lambda q: seconds if q == queue else there(q))
        if target is not None and move(target):
            queue, moved, state.overflowed = target, True, True
            seconds = here()
    offer = offers and callback_due(policies[queue], seconds, now, state)
    return Announcement(seconds, queue, moved, offer)
