"""Online estimates for the pacer (pure): answer rates per (list, hour) and duration histograms.

- ``AnswerRates``: the probability that a dialled number gives a live answer, per (list, hour of the
  day), as a Beta posterior: a Beta(a, b) prior (``prior_rate``, ``prior_weight`` pseudo-dials) updated
  with the counted outcomes, ``rate = (a + live) / (a + b + dials)``. A (list, hour) seen little leans
  on the list's pooled counts over all hours (the pooled posterior is its prior), so a new hour starts
  from what the list has shown so far rather than from the campaign's guess.
- ``DurationHistogram``: a duration's distribution in 1 s bins (ring times, talk times), from a prior
  pmf of ``prior_weight`` pseudo-observations plus the observed ones; conditional probabilities such
  as P(T <= e + x | T > e) for a line that has rung ``e`` seconds or an agent that has talked ``e``.

No clock, no I/O: the caller counts what happened and asks.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Counts:
    dials: float = 0.0
    live: float = 0.0


@dataclass(slots=True)
class AnswerRates:
    """P(live answer) per (list, hour) with a Beta prior (``prior_rate``, ``prior_weight``)."""

    prior_rate: float = 0.2
    prior_weight: float = 20.0
    _cells: dict[tuple[str, int], _Counts] = field(default_factory=dict)
    _lists: dict[str, _Counts] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 < self.prior_rate < 1.0:
            raise ValueError(f"prior_rate must be in (0, 1), got {self.prior_rate}")
        if not self.prior_weight > 0:
            raise ValueError(f"prior_weight must be > 0, got {self.prior_weight}")

    def observe(self, list_id: str, hour: int, live: bool) -> None:
        """Count one resolved dial (``live``: a person answered; machines, busy, no answer: not)."""
        for counts in (
            self._cells.setdefault((list_id, hour), _Counts()),
            self._lists.setdefault(list_id, _Counts()),
        ):
            counts.dials += 1.0
            counts.live += 1.0 if live else 0.0

    def list_rate(self, list_id: str) -> float:
        c = self._lists.get(list_id, _Counts())
        return (self.prior_rate * self.prior_weight + c.live) / (self.prior_weight + c.dials)

    def rate(self, list_id: str, hour: int) -> float:
        """The posterior mean for (list, hour); its prior is the list's pooled posterior."""
        pooled = self.list_rate(list_id)
        c = self._cells.get((list_id, hour), _Counts())
        return (pooled * self.prior_weight + c.live) / (self.prior_weight + c.dials)

    def interval(self, list_id: str, hour: int, z: float = 1.96) -> tuple[float, float]:
        """A normal approximation of the Beta posterior's central interval (for reports)."""
        pooled = self.list_rate(list_id)
        c = self._cells.get((list_id, hour), _Counts())
        a = pooled * self.prior_weight + c.live
        b = (1 - pooled) * self.prior_weight + c.dials - c.live
        n = a + b
        mean = a / n
        sd = math.sqrt(a * b / (n * n * (n + 1)))
        return max(0.0, mean - z * sd), min(1.0, mean + z * sd)


@dataclass(slots=True)
class DurationHistogram:
    """A duration distribution in 1 s bins up to ``bins`` seconds (longer ones land in the last bin).

    Bin ``i`` holds durations in [i, i + 1). ``prior`` is a pmf over the bins (normalised here) worth
    ``prior_weight`` observations."""

    bins: int
    prior: Sequence[float]
    prior_weight: float = 20.0
    _counts: list[float] = field(default_factory=list)
    _total: float = 0.0
    _cdf: list[float] | None = None
    _tables: dict[int, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.bins < 1 or len(self.prior) != self.bins:
            raise ValueError(f"the prior must have {self.bins} bins, got {len(self.prior)}")
        s = sum(self.prior)
        if not s > 0 or any(p < 0 for p in self.prior):
            raise ValueError("the prior must be a non-negative pmf with a positive sum")
        self._counts = [p / s * self.prior_weight for p in self.prior]
        self._total = self.prior_weight

    @classmethod
    def uniform(cls, lo: float, hi: float, bins: int, prior_weight: float = 20.0) -> DurationHistogram:
        """A prior spread evenly over [lo, hi) seconds."""
        return cls(bins, uniform_pmf(lo, hi, bins), prior_weight)

    @classmethod
    def exponential(cls, mean: float, bins: int, prior_weight: float = 20.0) -> DurationHistogram:
        return cls(bins, exponential_pmf(mean, bins), prior_weight)

    def observe(self, seconds: float) -> None:
        i = min(self.bins - 1, max(0, int(seconds)))
        self._counts[i] += 1.0
        self._total += 1.0
        self._cdf = None
        self._tables.clear()

    def pmf(self) -> tuple[float, ...]:
        return tuple(c / self._total for c in self._counts)

    def cdf(self) -> list[float]:
        """``cdf[i]`` = P(T < i) for i in 0..bins (cdf[bins] = 1)."""
        if self._cdf is None:
            total = self._total
            out = [0.0, *(acc / total for acc in itertools.accumulate(self._counts))]
            out[-1] = 1.0
            self._cdf = out
        return self._cdf

    def mean(self) -> float:
        return sum((i + 0.5) * c for i, c in enumerate(self._counts)) / self._total

    def end_within_table(self, extra: int) -> list[float]:
        """``table[e]`` = ``p_end_within(e, extra)`` for whole seconds e in 0..bins - 1 (cached)."""
        t = self._tables.get(extra)
        if t is None:
            cdf, b = self.cdf(), self.bins
            ahead = cdf[extra:] + [1.0] * min(extra, b + 1)  # ahead[e] = cdf[min(b, e + extra)]
            pairs = zip(cdf[: b - 1], ahead[: b - 1], strict=True)
            t = [(c2 - c1) / (1.0 - c1) if c1 < 1.0 - 1e-12 else 1.0 for c1, c2 in pairs]
            t.append(self.p_end_within(b - 1, extra))
            self._tables[extra] = t
        return t

    def snapshot(self) -> DurationHistogram:
        """A copy that later observations do not change (what a pacer holds between refreshes)."""
        copy = DurationHistogram(self.bins, self._counts, self._total)
        return copy

    def p_end_within(self, elapsed: float, extra: float) -> float:
        """P(T < elapsed + extra | T >= elapsed), by whole seconds (the last bin: the tail's hazard)."""
        if extra <= 0:
            return 0.0
        cdf = self.cdf()
        e = min(self.bins - 1, int(elapsed))
        left = 1.0 - cdf[e]
        if left <= 1e-12:
            return 1.0
        if e == self.bins - 1:  # beyond the table: the last bin's rate as a memoryless tail
            return 1.0 - math.exp(-extra / max(1.0, self.mean()))
        x = min(self.bins, e + int(extra))
        return (cdf[x] - cdf[e]) / left


def uniform_pmf(lo: float, hi: float, bins: int) -> tuple[float, ...]:
    """The pmf over 1 s bins [i, i + 1) of a uniform duration on [lo, hi)."""
    if not 0 <= lo < hi:
        raise ValueError(f"need 0 <= lo < hi, got {lo}, {hi}")
    out = [max(0.0, min(i + 1.0, hi) - max(float(i), lo)) for i in range(bins)]
    out[-1] += max(0.0, hi - max(lo, float(bins)))
    s = sum(out)
    return tuple(x / s for x in out)


def exponential_pmf(mean: float, bins: int) -> tuple[float, ...]:
    if not mean > 0:
        raise ValueError(f"mean must be > 0, got {mean}")
    cdf = [1.0 - math.exp(-i / mean) for i in range(bins + 1)]
    cdf[-1] = 1.0
    return tuple(cdf[i + 1] - cdf[i] for i in range(bins))
