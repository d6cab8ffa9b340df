"""Erlang C (M/M/n) and Erlang A (Palm, M/M/n+M: exponential patience), pure and exact.

Definitions (docs/metrics.md "Staffing (Erlang C / Erlang A)"): ``calls`` arrive per ``interval`` seconds
(Poisson, rate lambda), each holds an agent ``aht`` seconds on average (exponential, rate mu), the
offered load is A = lambda / mu Erlangs; ``n`` agents. The service level is the share of ALL offered
calls answered within ``target`` seconds (abandons count against it).

Numerics: Erlang B by its recurrence B(k) = A B(k-1) / (k + A B(k-1)) (never factorials or powers:
stable for any agent count); Erlang A sums its queue states as running products relative to state
``n``, rescaled when they grow, and the waiting-time law of a caller who finds ``j`` ahead is a
negative-binomial tail (every term positive), so no alternating sums.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cti.core.errors import UsageError

_RESCALE = 1e200
_MAX_TERMS = 5_000_000
_MAX_AGENTS = 10_000_000


@dataclass(frozen=True, slots=True)
class Traffic:
    """``calls`` per ``interval`` seconds, ``aht`` seconds each; ``patience`` the callers' mean patience in
    seconds (exponential) for Erlang A, None for Erlang C (infinitely patient)."""

    calls: float
    interval: float
    aht: float
    patience: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.calls) and self.calls >= 0):
            raise UsageError(f"calls must be a number >= 0, not {self.calls!r}")
        if not (math.isfinite(self.interval) and self.interval > 0):
            raise UsageError(f"the interval must be > 0 seconds, not {self.interval!r}")
        if not (math.isfinite(self.aht) and self.aht > 0):
            raise UsageError(f"the AHT must be > 0 seconds, not {self.aht!r}")
        if self.patience is not None and not (self.patience > 0):
            raise UsageError(f"the patience must be > 0 seconds, not {self.patience!r}")

    @property
    def arrival_rate(self) -> float:
        return self.calls / self.interval

    @property
    def load(self) -> float:
        """The offered load in Erlangs."""
        return self.calls * self.aht / self.interval


@dataclass(frozen=True, slots=True)
class Figures:
    """What ``agents`` agents give. ``asa``: mean wait of the answered calls (inf when the queue grows
    without bound); ``avg_wait``: mean wait of all calls (the abandoned ones until they hang up)."""

    agents: int
    p_wait: float
    p_abandon: float
    asa: float
    avg_wait: float
    service_level: float
    occupancy: float

    def to_json(self) -> dict[str, float | int | None]:
        def num(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {
            "agents": self.agents,
            "p_wait": self.p_wait,
            "p_abandon": self.p_abandon,
            "asa": num(self.asa),
            "avg_wait": num(self.avg_wait),
            "service_level": self.service_level,
            "occupancy": self.occupancy,
        }


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of ``agents`` servers offered ``load`` Erlangs (the stable recurrence)."""
    b = 1.0
    for k in range(1, agents + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(agents: int, load: float) -> float:
    """P(wait) of M/M/n: 1 when ``agents`` <= ``load`` (the queue grows without bound)."""
    if agents <= load:
        return 1.0
    b = erlang_b(agents, load)
    return agents * b / (agents - load * (1.0 - b))


def _clip(p: float) -> float:
    return min(1.0, max(0.0, p))


def erlang_c_figures(traffic: Traffic, agents: int, target: float) -> Figures:
    """Erlang C: P(wait) = C(n, A), SL = 1 - C e^{-(n - A) t / AHT}, ASA = C AHT / (n - A), occ. A / n."""
    _check(agents, target)
    a = traffic.load
    if agents == 0 or (agents <= a and traffic.calls > 0):
        occ = 1.0 if agents else 0.0
        return Figures(agents, 1.0, 0.0, math.inf, math.inf, 0.0, occ)
    pw = erlang_c(agents, a)
    sl = 1.0 - pw * math.exp(-(agents - a) * target / traffic.aht)
    wait = pw * traffic.aht / (agents - a)
    return Figures(agents, pw, 0.0, wait, wait, _clip(sl), a / agents)


def erlang_a_figures(traffic: Traffic, agents: int, target: float) -> Figures:
    """Erlang A (M/M/n+M), exact: stationary law of the birth-death chain (queue states ``n + j`` relative
    to state ``n``: r_j = prod_{i<=j} lambda / (n mu + i theta)), P(abandon) = theta E[Q] / lambda (Little),
    and for a caller finding ``j`` ahead: answered with probability beta / (beta + j + 1) (beta = n mu /
    theta) after j + 1 exponential stages of rates n mu + (i + 1) theta, whose sum is within ``t`` with
    the negative-binomial tail I_{1 - e^{-theta t}}(j + 1, beta + 1)."""
    _check(agents, target)
    if traffic.patience is None:
        return erlang_c_figures(traffic, agents, target)
    lam, mu, theta, n, t = traffic.arrival_rate, 1.0 / traffic.aht, 1.0 / traffic.patience, agents, target
    if lam == 0:
        return Figures(n, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    if n == 0:  # every caller waits and abandons
        return Figures(0, 1.0, 1.0, math.inf, traffic.patience, 0.0, 0.0)
    a = lam / mu
    b = erlang_b(n, a)
    nmu = n * mu
    beta = nmu / theta
    y = -math.expm1(-theta * t)  # 1 - e^{-theta t}
    log_y = math.log(y) if y > 0 else -math.inf
    log_h = -(nmu + theta) * t  # log of the negative-binomial pmf at 0, x^(beta + 1), in log space
    cdf = math.exp(log_h)
    stages = 1.0 / (nmu + theta)  # mean time of the j + 1 stages
    r = 1.0  # r_j, scaled by e^{-log_scale}
    log_scale = 0.0
    total = queue = answered_in_time = answered_wait = 0.0
    j = 0
    while True:
        survive = beta / (beta + j + 1)
        total += r
        queue += j * r
        answered_in_time += r * survive * max(0.0, 1.0 - cdf)
        answered_wait += r * survive * stages
        j += 1
        q = lam / (nmu + j * theta)
        r *= q
        if r > _RESCALE:
            r, total, queue = r / _RESCALE, total / _RESCALE, queue / _RESCALE
            answered_in_time, answered_wait = answered_in_time / _RESCALE, answered_wait / _RESCALE
            log_scale += math.log(_RESCALE)
        # the tails of both sums (terms shrink at least by q from here) negligible
        if q < 1.0 and r * q / (1.0 - q) * (1.0 + j + 1.0 / (1.0 - q)) < 1e-16 * total:
            break
        if j > _MAX_TERMS:
            raise UsageError("Erlang A did not converge: the patience is too long for this overload")
        log_h += math.log((j + beta) / j) + log_y
        cdf += math.exp(log_h)
        stages += 1.0 / (nmu + (j + 1) * theta)
    # state probabilities: P(k < n) ~ 1 - B, P(n + j) ~ B r_j (with P(k <= n) = 1 as the unit)
    norm = (1.0 - b) * math.exp(-log_scale) + b * total
    p_wait = _clip(b * total / norm)
    mean_queue = b * queue / norm
    p_abandon = _clip(theta * mean_queue / lam)
    sl = _clip(1.0 - p_wait + b * answered_in_time / norm)
    answered = 1.0 - p_abandon
    asa = (b * answered_wait / norm) / answered if answered > 0 else math.inf
    occupancy = min(1.0, a * answered / n)
    return Figures(n, p_wait, p_abandon, asa, mean_queue / lam, sl, occupancy)


def figures(traffic: Traffic, agents: int, target: float) -> Figures:
    """Erlang A when the traffic has a patience, else Erlang C."""
    if traffic.patience is None:
        return erlang_c_figures(traffic, agents, target)
    return erlang_a_figures(traffic, agents, target)


def agents_needed(traffic: Traffic, target: float, service_level: float) -> Figures:
    """The fewest agents whose service level (answered within ``target`` s) reaches ``service_level``
    (service level is non-decreasing in agents: doubling, then bisection)."""
    if not 0.0 < service_level < 1.0:
        raise UsageError(
            f"the service-level target must be between 0 and 1 (exclusive), not {service_level!r}"
        )
    if traffic.calls == 0:
        return figures(traffic, 0, target)
    lo, hi = 0, max(1, math.ceil(traffic.load))
    while figures(traffic, hi, target).service_level < service_level:
        lo, hi = hi, hi * 2
        if hi > _MAX_AGENTS:
            raise UsageError(f"more than {_MAX_AGENTS} agents would be needed")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if figures(traffic, mid, target).service_level >= service_level:
            hi = mid
        else:
            lo = mid
    return figures(traffic, hi, target)


def scheduled(agents: int, shrinkage: float) -> int:
    """Agents to schedule so that ``agents`` are available after ``shrinkage`` (breaks, training,
    absence; a share in [0, 1)): ceil(agents / (1 - shrinkage))."""
    if not 0.0 <= shrinkage < 1.0:
        raise UsageError(f"the shrinkage must be in [0, 1), not {shrinkage!r}")
    return math.ceil(agents / (1.0 - shrinkage) - 1e-9)


def _check(agents: int, target: float) -> None:
    if agents < 0:
        raise UsageError(f"the agent count must be >= 0, not {agents}")
    if not (math.isfinite(target) and target >= 0):
        raise UsageError(f"the target answer time must be >= 0 seconds, not {target!r}")
