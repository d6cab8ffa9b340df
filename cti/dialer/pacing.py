"""How many lines to dial now: the pacer (pure; time is passed in as elapsed seconds).

The daemon (or the day model, or ``cti simulate``) supplies a ``DialerState`` (the agents: idle, in
wrap-up with their known remaining time, talking with their elapsed talk; the lines ringing with their
elapsed ring; the live answers waiting for an agent), a ``WindowBudget`` per compliance window (the
caller passes every window, or the tightest), and the line model (``LineModel``: the answer
probability of the list and hour, the ring-time distributions, from ``cti.dialer.estimators``).
``Pacer.decide`` returns a ``Decision``: how many new lines to dial.

The math (docs/design/dialer-pacing.md): an abandon is a live answer that finds no agent free within
2 s of the answer. Over the next seconds the agents coming free are almost known (idle ones, wrap-ups
ending, a few talks ending); the live answers are random. At checkpoints ``k`` seconds ahead, the
supply ``S_k`` = agents free by ``k + 2`` minus the live answers already waiting, and the demand
``D_k`` = live answers before ``k`` from the lines ringing and from ``n`` new lines, a Poisson count of
mean ``mu_k(n)``. Live answers are lost when demand runs ahead of supply; the expected abandons of
everything in flight are ``A(n) = max_k E[(D_k - S_k)^+]``. The pacer dials the largest ``n`` with
``A(n) <= allowed(n)``, where ``allowed(n)`` is, for every window, the headroom left under its limit
with a safety margin, ``limit * (1 - margin) * (live_answers + L(n)) - abandons`` (``L(n)``: the live
answers expected from the lines in flight), and at most ``burst * limit * L(n)`` (the in-flight lines
may not be worse than ``burst`` times the limit, so a large headroom is spent gradually and lines that
are sure to be abandoned are never dialled).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

CONNECT_SECONDS = 2.0  # FTC: a live answer must reach an agent within 2 s, else it is an abandon


@dataclass(frozen=True, slots=True)
class WindowBudget:
    """One compliance window's counts so far: live answers, abandons (Ofcom: AMD false positives
    estimated and added), and its limit as a rate of live answers (0.03 = 3 %)."""

    live_answers: int
    abandons: float
    limit: float
    name: str = ""

    def __post_init__(self) -> None:
        if self.live_answers < 0 or self.abandons < 0:
            raise ValueError(f"window {self.name!r}: counts must be >= 0")
        if not 0.0 <= self.limit <= 1.0:
            raise ValueError(f"window {self.name!r}: limit must be in [0, 1], got {self.limit}")


@dataclass(frozen=True, slots=True)
class DialerState:
    """The campaign's agents and lines now (seconds are relative to now).

    ``idle``: agents free now; ``wrap_remaining``: per agent in wrap-up, the seconds left;
    ``talk_elapsed``: per agent talking, the seconds talked so far (they come free after the rest of
    the talk plus ``wrap_seconds``); ``ringing``: per line dialled and not yet resolved, the seconds
    since the dial; ``waiting_live``: live answers not yet connected to an agent."""

    idle: int
    wrap_remaining: tuple[float, ...] = ()
    talk_elapsed: tuple[float, ...] = ()
    ringing: tuple[float, ...] = ()
    waiting_live: int = 0
    wrap_seconds: float = 0.0


class TalkModel(Protocol):
    """``end_within_table(x)[e]`` = P(a talk that has lasted ``e`` whole seconds ends within ``x``
    more); the last entry stands for longer talks. ``DurationHistogram`` is one."""

    def end_within_table(self, extra: int) -> Sequence[float]: ...


@dataclass(frozen=True, slots=True)
class LineModel:
    """What a dialled line does, in 1 s bins since the dial: ``p_live`` the probability of a live
    answer (the list and hour's estimate), ``live_ring`` the pmf of the live answer's time, and
    ``other_end`` the pmf of the end of the other outcomes (machine, busy, no answer), mixed."""

    p_live: float
    live_ring: tuple[float, ...]
    other_end: tuple[float, ...]
    _q: tuple[tuple[float, ...], ...] = field(default=(), compare=False, repr=False)
    _eventual: tuple[float, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.p_live <= 1.0:
            raise ValueError(f"p_live must be in [0, 1], got {self.p_live}")
        if not self.live_ring or not self.other_end:
            raise ValueError("live_ring and other_end must not be empty")
        bins = max(len(self.live_ring), len(self.other_end))
        live = _normalised(self.live_ring, bins)
        other = _normalised(self.other_end, bins)
        p = self.p_live
        # unresolved[e] = P(no outcome in bins < e); live_after[e] = P(live answer in bins >= e)
        unresolved = [1.0] * (bins + 1)
        live_cum = [0.0] * (bins + 1)
        for i in range(bins):
            unresolved[i + 1] = unresolved[i] - p * live[i] - (1 - p) * other[i]
            live_cum[i + 1] = live_cum[i] + p * live[i]
        q: list[tuple[float, ...]] = []
        eventual: list[float] = []
        for e in range(bins + 1):
            left = unresolved[e]
            if left <= 1e-12:
                q.append((0.0,) * (bins + 1))
                eventual.append(0.0)
                continue
            row = tuple((live_cum[min(bins, e + k)] - live_cum[e]) / left for k in range(bins + 1))
            q.append(row)
            eventual.append((live_cum[bins] - live_cum[e]) / left)
        object.__setattr__(self, "_q", tuple(q))
        object.__setattr__(self, "_eventual", tuple(eventual))

    @property
    def bins(self) -> int:
        return len(self._eventual) - 1

    def p_live_before(self, elapsed: float, k: int) -> float:
        """P(a live answer within ``k`` s | the line has rung ``elapsed`` s unresolved)."""
        e = min(self.bins, max(0, int(elapsed)))
        return self._q[e][min(self.bins, k)]

    def p_live_eventually(self, elapsed: float) -> float:
        return self._eventual[min(self.bins, max(0, int(elapsed)))]

    def live_horizon(self) -> int:
        """The last second a live answer can come (the support of ``live_ring``)."""
        last = max(i for i, x in enumerate(self.live_ring) if x > 0) if any(self.live_ring) else 0
        return last + 1


def _normalised(pmf: Sequence[float], bins: int) -> list[float]:
    if any(x < 0 for x in pmf):
        raise ValueError("a pmf must not be negative")
    s = sum(pmf)
    if not s > 0:
        raise ValueError("a pmf must have a positive sum")
    out = [x / s for x in pmf]
    return out + [0.0] * (bins - len(out))


@dataclass(frozen=True, slots=True)
class PacerSettings:
    """``margin``: the pacer steers each window to ``limit * (1 - margin)``; ``burst``: the lines in
    flight may expect at most ``burst * limit`` abandons per live answer; lines whose in-flight abandons
    stay under ``floor * limit`` per live answer are dialled even when a window has no headroom left
    (they bring every rate down); ``step``: the checkpoints'
    spacing in seconds; ``max_lines``: the most lines one decision dials (trunks, the hopper)."""

    margin: float = 0.25
    burst: float = 2.0
    floor: float = 0.1
    step: int = 3
    max_lines: int = 1000

    def __post_init__(self) -> None:
        if not 0.0 <= self.margin < 1.0:
            raise ValueError(f"margin must be in [0, 1), got {self.margin}")
        if not 0 <= self.floor <= self.burst:
            raise ValueError(f"need 0 <= floor <= burst, got {self.floor}, {self.burst}")
        if self.step < 1 or self.max_lines < 0:
            raise ValueError("step must be >= 1 and max_lines >= 0")


@dataclass(frozen=True, slots=True)
class Decision:
    """``lines`` to dial now; the expected abandons and live answers of all lines in flight with them;
    what the windows allowed for them."""

    lines: int
    expected_abandons: float
    expected_live: float
    allowed: float


def poisson_excess(mu: float, s: float) -> float:
    """E[(X - s)^+] for X ~ Poisson(mu) and a real supply ``s`` (exact; O(s))."""
    if mu <= 0.0:
        return max(0.0, -s)
    if s <= 0.0:
        return mu - s
    # E[(X - s)^+] = mu - s + E[(s - X)^+] = mu - s + sum_{j <= s} (s - j) P(X = j)
    p = math.exp(-mu)
    acc = s * p
    for j in range(1, int(s) + 1):
        p *= mu / j
        acc += (s - j) * p
    return max(0.0, mu - s + acc)


def _last_fit(gap: Callable[[int], float], cap: int, start: int = 0) -> int:
    """The largest n in [start, cap] with gap(n) <= 0 for a convex ``gap`` (-1 if there is none)."""
    if start > cap:
        return -1
    lo = start
    if gap(lo) > 0:  # the fitting n, if any, form an interval past the minimum: find the minimum
        if lo > 0 and gap(lo) >= gap(lo - 1):  # convex: it only goes up from here
            return -1
        hi, width = lo + 1, 1
        while hi <= cap and gap(hi) < gap(hi - 1):
            lo, width = hi, width * 2
            hi = lo + width
        hi = min(hi, cap)
        while lo < hi:  # the first n whose next step does not go down
            mid = (lo + hi) // 2
            if gap(mid + 1) >= gap(mid):
                hi = mid
            else:
                lo = mid + 1
        if gap(lo) > 0:
            return -1
    good, step = lo, 1
    while good + step <= cap and gap(good + step) <= 0:
        good += step
        step *= 2
    bad = min(cap + 1, good + step)
    while bad - good > 1:
        mid = (good + bad) // 2
        if gap(mid) <= 0:
            good = mid
        else:
            bad = mid
    return good


def progressive_lines(state: DialerState) -> int:
    """Progressive mode: one line per idle agent, minus the lines already ringing for them."""
    return max(0, state.idle - len(state.ringing) - state.waiting_live)


class Pacer:
    """The predictive pacer: ``decide(state, budgets)`` (see the module's docstring)."""

    def __init__(self, lines: LineModel, talk: TalkModel, settings: PacerSettings | None = None) -> None:
        self.lines = lines
        self.talk = talk
        self.settings = settings or PacerSettings()
        horizon = max(1, lines.live_horizon())
        step = self.settings.step
        self.checkpoints = tuple(sorted({*range(step, horizon, step), horizon}))

    def supply(self, state: DialerState, k: int) -> float:
        """Agents expected free by ``k + 2`` s, minus the live answers already waiting."""
        t = k + CONNECT_SECONDS
        free = float(state.idle - state.waiting_live)
        free += sum(1 for r in state.wrap_remaining if r < t)
        extra = int(t - state.wrap_seconds)
        if extra > 0 and state.talk_elapsed:
            table = self.talk.end_within_table(extra)
            last = len(table) - 1
            free += sum(table[min(last, int(e))] for e in state.talk_elapsed)
        return free

    def supplies(self, state: DialerState) -> list[float]:
        """``supply(state, k)`` for every checkpoint (one pass over the agents)."""
        base = float(state.idle - state.waiting_live)
        wraps = sorted(state.wrap_remaining)
        talk_bins: list[int] | None = None
        out: list[float] = []
        for k in self.checkpoints:
            t = k + CONNECT_SECONDS
            free = base + bisect.bisect_left(wraps, t)
            extra = int(t - state.wrap_seconds)
            if extra > 0 and state.talk_elapsed:
                table = self.talk.end_within_table(extra)
                if talk_bins is None:
                    last = len(table) - 1
                    talk_bins = [min(last, int(e)) for e in state.talk_elapsed]
                free += sum(map(table.__getitem__, talk_bins))
            out.append(free)
        return out

    def decide(
        self, state: DialerState, budgets: Sequence[WindowBudget], capacity: int | None = None
    ) -> Decision:
        cap = self.settings.max_lines if capacity is None else max(0, min(capacity, self.settings.max_lines))
        lm = self.lines
        ks = self.checkpoints
        supply = self.supplies(state)
        by_bin: dict[int, int] = {}
        for e in state.ringing:
            i = min(lm.bins, max(0, int(e)))
            by_bin[i] = by_bin.get(i, 0) + 1
        rows = [(lm._q[i], c) for i, c in by_bin.items()]
        ringing_mu = [sum(row[k] * c for row, c in rows) for k in ks]
        new_mu = [lm.p_live_before(0.0, k) for k in ks]
        ring_live = sum(lm._eventual[i] * c for i, c in by_bin.items()) + state.waiting_live
        p = lm.p_live_eventually(0.0)
        margin, burst = 1.0 - self.settings.margin, self.settings.burst
        tightest = min((b.limit for b in budgets), default=1.0)
        terms = list(zip(ringing_mu, new_mu, supply, strict=True))
        # what the windows allow for n new lines: min over lines c + d * n (the in-flight live answers
        # are ring_live + n * p)
        lines = [(burst * tightest * ring_live, burst * tightest * p)]
        for b in budgets:
            lines.append((b.limit * margin * (b.live_answers + ring_live) - b.abandons, b.limit * margin * p))
        floor = self.settings.floor
        safe_c, safe_d = floor * tightest * ring_live, floor * tightest * p
        exp = math.exp
        cache: dict[int, float] = {}

        def expected(n: int) -> float:
            """max over the checkpoints of poisson_excess(r + n q, s), inlined (the pacer's hot loop)."""
            e = cache.get(n)
            if e is None:
                e = 0.0
                for r, q, s in terms:
                    mu = r + n * q
                    if mu <= 0.0:
                        x = -s
                    elif s <= 0.0:
                        x = mu - s
                    else:
                        pj = exp(-mu)
                        acc = s * pj
                        for j in range(1, int(s) + 1):
                            pj *= mu / j
                            acc += (s - j) * pj
                        x = mu - s + acc
                    if x > e:
                        e = x
                cache[n] = e
            return e

        def budget_gap(n: int) -> float:
            """Expected abandons of all in flight with ``n`` new lines minus what the windows allow."""
            return expected(n) - min(c + d * n for c, d in lines)

        def safe_gap(n: int) -> float:
            """The same against ``floor * limit`` per live answer: lines this safe lower every rate."""
            return expected(n) - (safe_c + safe_d * n)

        # both gaps are convex in n: the largest fit of either; the budget's counts only past the safe one
        n = _last_fit(safe_gap, cap)
        n = max(n, _last_fit(budget_gap, cap, n + 1))
        # never fewer than progressive: lines that each have an idle agent of their own cannot be abandoned
        # (the Poisson count overstates a few lines' live answers)
        n = max(n, min(cap, progressive_lines(state)))
        return self._decision(max(0, n), terms, ring_live, p, budgets, tightest)

    def _decision(
        self,
        n: int,
        terms: list[tuple[float, float, float]],
        ring_live: float,
        p: float,
        budgets: Sequence[WindowBudget],
        tightest: float,
    ) -> Decision:
        e = max(poisson_excess(r + n * q, s) for r, q, s in terms)
        live = ring_live + n * p
        a = self.settings.burst * tightest * live
        for b in budgets:
            a = min(a, b.limit * (1.0 - self.settings.margin) * (b.live_answers + live) - b.abandons)
        return Decision(n, e, live, a)
