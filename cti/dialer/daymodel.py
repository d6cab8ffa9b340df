"""The dialler's day, simulated (pure: a seeded ``random.Random``, a heap of timed events, no clock).

A campaign of ``agents`` agents, all logged in for the whole day (agent time = agents * hours). Every
``tick`` seconds the strategy (``cti.dialer.strategies``) says how many lines to dial. Each line's
outcome is drawn at the dial (``AnswerMix``): a live answer after its ring time, an answering machine
after its ring time (detected, hung up: it only held the line, it never reaches an agent), busy after
``busy_after`` s, else no answer at ``no_answer_after`` s. A live answer takes a free agent at once; if
none is free it waits, and an agent that comes free within 2 s of the answer takes it (oldest first);
after 2 s it is an abandon (the FTC rule). An agent talks (``talk``), wraps up (``wrap`` s), then is
free. Dialling stops at the end of the day; what is in flight then still plays out, and talk after the
end is not counted.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from dataclasses import dataclass, field

from cti.dialer.pacing import CONNECT_SECONDS, DialerState
from cti.dialer.strategies import Outcome, Strategy, View

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Duration:
    """``constant`` (a), ``uniform`` (a..b), ``exponential`` (mean a), ``lognormal`` (mean a, sd b)."""

    kind: str
    a: float
    b: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("constant", "uniform", "exponential", "lognormal"):
            raise ValueError(f"unknown distribution {self.kind!r}")
        if self.a < 0 or self.b < 0 or (self.kind == "uniform" and self.b < self.a):
            raise ValueError(f"bad parameters for {self.kind}: {self.a}, {self.b}")
        if self.kind in ("exponential", "lognormal") and not self.a > 0:
            raise ValueError(f"{self.kind} needs a mean > 0")

    def sample(self, rng: random.Random) -> float:
        if self.kind == "constant":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        if self.kind == "exponential":
            return rng.expovariate(1.0 / self.a)
        sigma2 = math.log(1 + (self.b * self.b) / (self.a * self.a))
        return rng.lognormvariate(math.log(self.a) - sigma2 / 2, math.sqrt(sigma2))

    @property
    def mean(self) -> float:
        return (self.a + self.b) / 2 if self.kind == "uniform" else self.a


@dataclass(frozen=True, slots=True)
class AnswerMix:
    live: float = 0.20
    machine: float = 0.15
    busy: float = 0.10
    live_ring: Duration = Duration("uniform", 3.0, 15.0)
    machine_ring: Duration = Duration("uniform", 3.0, 15.0)
    busy_after: float = 2.0
    no_answer_after: float = 26.0

    def __post_init__(self) -> None:
        parts = (self.live, self.machine, self.busy)
        if any(p < 0 for p in parts) or sum(parts) > 1.0 + 1e-9:
            raise ValueError(f"the answer mix must be >= 0 and sum to <= 1, got {parts}")


@dataclass(frozen=True, slots=True)
class DayConfig:
    agents: int
    talk: Duration = Duration("exponential", 120.0)
    wrap: float = 15.0
    mix: AnswerMix = AnswerMix()
    hours: float = 8.0
    tick: float = 1.0
    max_lines: int = 10_000  # trunk capacity: lines ringing at once

    def __post_init__(self) -> None:
        if self.agents < 1 or not self.hours > 0 or not self.tick > 0 or self.wrap < 0:
            raise ValueError("need agents >= 1, hours > 0, tick > 0, wrap >= 0")

    @property
    def ceiling(self) -> float:
        """Talk / (talk + wrap): the utilisation if every agent took a call the moment it came free."""
        return self.talk.mean / (self.talk.mean + self.wrap)


@dataclass(slots=True)
class DayResult:
    agents: int
    hours: float
    talk_seconds: float = 0.0
    dials: int = 0
    live: int = 0
    abandons: int = 0
    machines: int = 0
    hour_live: list[int] = field(default_factory=list)
    hour_abandons: list[int] = field(default_factory=list)

    @property
    def talk_utilisation(self) -> float:
        return self.talk_seconds / (self.agents * self.hours * HOUR)

    @property
    def abandon_rate(self) -> float:
        return self.abandons / self.live if self.live else 0.0

    @property
    def max_hour_abandon(self) -> float:
        return max((a / n for a, n in zip(self.hour_abandons, self.hour_live, strict=True) if n), default=0.0)

    @property
    def dials_per_agent_hour(self) -> float:
        return self.dials / (self.agents * self.hours)


_FREE, _DEADLINE, _RESOLVE = 0, 1, 2  # at one instant: agents come free before a wait runs out


def run_day(cfg: DayConfig, strategy: Strategy, seed: int) -> DayResult:
    """One seeded day of ``strategy`` (the same seed draws the same outcomes for every strategy)."""
    lines_rng = random.Random(f"lines-{seed}")
    talk_rng = random.Random(f"talk-{seed}")
    mix = cfg.mix
    p_live, p_machine, p_busy = mix.live, mix.live + mix.machine, mix.live + mix.machine + mix.busy
    end = cfg.hours * HOUR
    hours = max(1, math.ceil(cfg.hours))
    res = DayResult(cfg.agents, cfg.hours, hour_live=[0] * hours, hour_abandons=[0] * hours)
    heap: list[tuple[float, int, int, int, Outcome]] = []
    seq = 0
    free_agents = list(range(cfg.agents))
    busy: dict[int, tuple[float, float, float]] = {}  # agent -> (talk start, talk end, free at)
    ringing: dict[int, float] = {}  # line -> dial time
    waiting: deque[int] = deque()
    pending: dict[int, float] = {}  # live answers waiting for an agent -> answer time
    wrap, detail = cfg.wrap, strategy.wants_detail

    def connect(t: float) -> None:
        nonlocal seq
        agent = free_agents.pop()
        talk = cfg.talk.sample(talk_rng)
        busy[agent] = (t, t + talk, t + talk + wrap)
        res.talk_seconds += max(0.0, min(t + talk, end) - min(t, end))
        seq += 1
        heapq.heappush(heap, (t + talk + wrap, _FREE, seq, agent, "live"))

    next_tick = 0.0
    while True:
        te = heap[0][0] if heap else math.inf
        if next_tick < end and next_tick <= te:
            now = next_tick
            next_tick += cfg.tick
            state = None
            if detail:
                state = DialerState(
                    len(free_agents),
                    tuple(f - now for (_, te_, f) in busy.values() if te_ <= now),
                    tuple(now - s for (s, te_, _) in busy.values() if te_ > now),
                    tuple(now - d for d in ringing.values()),
                    len(pending),
                    wrap,
                )
            hour = min(hours - 1, int(now // HOUR))
            view = View(
                now, hour, len(free_agents), len(ringing), len(pending), res.live, res.abandons, state
            )
            n = min(strategy.decide(view), cfg.max_lines - len(ringing))
            for _ in range(max(0, n)):
                u = lines_rng.random()
                outcome: Outcome
                if u < p_live:
                    outcome, ring = "live", mix.live_ring.sample(lines_rng)
                elif u < p_machine:
                    outcome, ring = "machine", mix.machine_ring.sample(lines_rng)
                elif u < p_busy:
                    outcome, ring = "busy", mix.busy_after
                else:
                    outcome, ring = "noanswer", mix.no_answer_after
                seq += 1
                ringing[seq] = now
                heapq.heappush(heap, (now + ring, _RESOLVE, seq, seq, outcome))
                res.dials += 1
            continue
        if not heap:
            break
        t, kind, _, ident, outcome = heapq.heappop(heap)
        if kind == _RESOLVE:
            ring = t - ringing.pop(ident)
            strategy.observe(t, outcome, ring)
            if outcome == "live":
                res.live += 1
                res.hour_live[min(hours - 1, int(t // HOUR))] += 1
                if free_agents:
                    connect(t)
                else:
                    pending[ident] = t
                    waiting.append(ident)
                    seq += 1
                    heapq.heappush(heap, (t + CONNECT_SECONDS, _DEADLINE, seq, ident, outcome))
            elif outcome == "machine":
                res.machines += 1
        elif kind == _FREE:
            start, talk_end, _ = busy.pop(ident)
            free_agents.append(ident)
            strategy.talked(talk_end - start)
            while waiting:
                line = waiting.popleft()
                if line in pending:
                    del pending[line]
                    connect(t)
                    break
        else:  # _DEADLINE
            answered = pending.pop(ident, None)
            if answered is not None:
                res.abandons += 1
                res.hour_abandons[min(hours - 1, int(answered // HOUR))] += 1
                strategy.abandoned(t)
    return res
