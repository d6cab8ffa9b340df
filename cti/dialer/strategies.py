"""Dialling strategies that the day model, the benchmark and ``cti simulate`` share (pure).

Each strategy answers "how many lines now?" on every tick from a ``View`` of the campaign, and hears
what happens (``observe``: a line's outcome; ``abandoned``; ``talked``):

- ``Progressive``: one line per idle agent, minus the lines already ringing (``progressive_lines``);
- ``FixedRatio``: ``ratio`` lines in flight per idle agent;
- ``Adaptive``: a VICIdial-style adaptive dial level: lines in flight = level * idle agents; every
  ``interval`` seconds the level moves in proportion to (target - the recent drop rate), and brakes to
  1.0 while the day's drop rate is at or over the limit (VICIdial's ``ADAPT_HARD_LIMIT``);
- ``Predictive``: cti's pacer (``cti.dialer.pacing.Pacer``) on online estimates
  (``cti.dialer.estimators``): the answer rate per (list, hour), the live ring time, the other outcomes'
  end, the talk time; the day is the compliance window it is given.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from cti.dialer.estimators import AnswerRates, DurationHistogram, uniform_pmf
from cti.dialer.pacing import DialerState, LineModel, Pacer, PacerSettings, WindowBudget, progressive_lines

Outcome = Literal["live", "machine", "busy", "noanswer"]
OUTCOMES: tuple[Outcome, ...] = ("live", "machine", "busy", "noanswer")


@dataclass(frozen=True, slots=True)
class View:
    """What a strategy sees on a tick: the time, the counts, and (when it asks) the full state."""

    now: float
    hour: int
    idle: int
    ringing: int
    waiting_live: int
    day_live: int
    day_abandons: int
    state: DialerState | None = None


class Strategy:
    """The interface (and no-op feedback). ``wants_detail``: the day model builds ``View.state``."""

    name = "strategy"
    wants_detail = False

    def decide(self, view: View) -> int:
        raise NotImplementedError

    def observe(self, now: float, outcome: Outcome, ring: float) -> None:
        """A line resolved after ``ring`` seconds with ``outcome``."""

    def abandoned(self, now: float) -> None:
        """A live answer found no agent within 2 s."""

    def talked(self, seconds: float) -> None:
        """A talk ended after ``seconds``."""


class Progressive(Strategy):
    name = "progressive"

    def decide(self, view: View) -> int:
        return progressive_lines(
            DialerState(view.idle, ringing=(0.0,) * view.ringing, waiting_live=view.waiting_live)
        )


class FixedRatio(Strategy):
    name = "fixed_ratio"

    def __init__(self, ratio: float) -> None:
        if not ratio >= 1.0:
            raise ValueError(f"the ratio must be >= 1, got {ratio}")
        self.ratio = ratio

    def decide(self, view: View) -> int:
        return max(0, math.floor(self.ratio * view.idle + 0.5) - view.ringing - view.waiting_live)


class Adaptive(Strategy):
    """VICIdial-style: a proportional dial level on the recent drop rate, braked by the day's."""

    name = "adaptive"

    def __init__(
        self,
        limit: float = 0.03,
        target: float | None = None,
        gain: float = 20.0,
        interval: float = 15.0,
        recent: int = 200,
        start: float = 1.0,
        ceiling: float = 10.0,
    ) -> None:
        self.limit = limit
        self.target = limit * 0.9 if target is None else target
        self.gain, self.interval, self.ceiling = gain, interval, ceiling
        self.level = start
        self._next = 0.0
        self._recent: deque[bool] = deque(maxlen=recent)  # the last live answers: abandoned or not

    def observe(self, now: float, outcome: Outcome, ring: float) -> None:
        if outcome == "live":
            self._recent.append(False)

    def abandoned(self, now: float) -> None:
        # the live answer was counted as not abandoned when it came: flip the newest such one
        for i in range(len(self._recent) - 1, -1, -1):
            if not self._recent[i]:
                self._recent[i] = True
                break

    def decide(self, view: View) -> int:
        if view.now >= self._next:
            self._next = view.now + self.interval
            day = view.day_abandons / view.day_live if view.day_live else 0.0
            if day >= self.limit:
                self.level = 1.0
            else:
                recent = sum(self._recent) / len(self._recent) if self._recent else 0.0
                self.level = min(self.ceiling, max(1.0, self.level + self.gain * (self.target - recent)))
        return max(0, math.floor(self.level * view.idle + 0.5) - view.ringing - view.waiting_live)


@dataclass(frozen=True, slots=True)
class Priors:
    """The campaign's guesses before any dial: the answer rate, live ring times, talk."""

    live_rate: float = 0.2
    live_ring: tuple[float, float] = (3.0, 15.0)  # uniform, seconds
    talk_mean: float = 120.0
    weight: float = 20.0


@dataclass
class Predictive(Strategy):
    """cti's pacer on online estimates; the window is the day so far (``limit``)."""

    limit: float = 0.03
    settings: PacerSettings = field(default_factory=PacerSettings)
    priors: Priors = field(default_factory=Priors)
    list_id: str = "list"
    refresh: float = 60.0  # seconds between rebuilds of the line model from the estimates
    ring_bins: int = 40
    talk_bins: int = 1800
    name: str = "cti"
    wants_detail: bool = True
    rates: AnswerRates = field(init=False)
    live_ring: DurationHistogram = field(init=False)
    other_end: DurationHistogram = field(init=False)
    talk: DurationHistogram = field(init=False)
    _pacer: Pacer | None = field(init=False, default=None)
    _built: tuple[float, int] = field(init=False, default=(-math.inf, -1))

    def __post_init__(self) -> None:
        pr = self.priors
        self.rates = AnswerRates(pr.live_rate, pr.weight)
        self.live_ring = DurationHistogram.uniform(*pr.live_ring, self.ring_bins, pr.weight)
        # other outcomes: an uninformed prior spread over the ring time, the estimate takes over fast
        self.other_end = DurationHistogram(self.ring_bins, uniform_pmf(1.0, 30.0, self.ring_bins), 5.0)
        self.talk = DurationHistogram.exponential(pr.talk_mean, self.talk_bins, pr.weight)

    def observe(self, now: float, outcome: Outcome, ring: float) -> None:
        self.heard(int(now // 3600), outcome, ring)

    def heard(self, hour: int, outcome: Outcome, ring: float, list_id: str | None = None) -> None:
        """A line of ``list_id`` (this strategy's list) resolved in ``hour`` of the day (the daemon's
        clock is not the day's seconds: it passes the local hour)."""
        self.rates.observe(self.list_id if list_id is None else list_id, hour, outcome == "live")
        (self.live_ring if outcome == "live" else self.other_end).observe(ring)

    def talked(self, seconds: float) -> None:
        self.talk.observe(seconds)

    def pacer(self, now: float, hour: int) -> Pacer:
        built_at, built_hour = self._built
        if self._pacer is None or now - built_at >= self.refresh or hour != built_hour:
            lines = LineModel(self.rates.rate(self.list_id, hour), self.live_ring.pmf(), self.other_end.pmf())
            self._pacer = Pacer(lines, self.talk.snapshot(), self.settings)
            self._built = (now, hour)
        return self._pacer

    def decide(self, view: View) -> int:
        assert view.state is not None, "the predictive strategy needs the state (wants_detail)"
        budget = WindowBudget(view.day_live, float(view.day_abandons), self.limit, "day")
        return self.pacer(view.now, view.hour).decide(view.state, (budget,)).lines
