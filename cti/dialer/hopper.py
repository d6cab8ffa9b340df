"""The hopper: how many leads to fetch ahead of the dialer, and when the campaign is running dry (pure).

The dialer consumes ``dial_rate`` leads per minute; the hopper keeps ``ahead_minutes`` of them ready
(at least ``minimum``, at most ``maximum``) and asks the store for the difference when it falls below half
of its target. ``low`` is the alarm: fewer callable leads left than ``alarm_minutes`` of dialing at
the current rate (docs/design/leads.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HopperPolicy:
    ahead_minutes: float = 5.0
    minimum: int = 10
    maximum: int = 1000
    alarm_minutes: float = 30.0
    max_age: float = 60.0  # seconds a fetched lead is held: older, it is read again (a do-not-call entry,
    # a complaint or a recycling made since is honoured)

    def __post_init__(self) -> None:
        if self.ahead_minutes <= 0 or self.alarm_minutes < 0 or not 0 < self.minimum <= self.maximum:
            raise ValueError("hopper: ahead_minutes > 0, alarm_minutes >= 0, 0 < minimum <= maximum")
        if self.max_age <= 0:
            raise ValueError("hopper: max_age > 0")

    def target(self, dial_rate: float) -> int:
        """Leads to hold for ``dial_rate`` dials per minute."""
        want = math.ceil(max(dial_rate, 0.0) * self.ahead_minutes)
        return min(self.maximum, max(self.minimum, want))

    def to_fetch(self, in_hopper: int, dial_rate: float) -> int:
        """How many leads to fetch now (0 while the hopper holds at least half of its target)."""
        target = self.target(dial_rate)
        if in_hopper * 2 >= target:
            return 0
        return target - max(in_hopper, 0)

    def minutes_left(self, callable_left: int, dial_rate: float) -> float:
        return math.inf if dial_rate <= 0 else max(callable_left, 0) / dial_rate

    def low(self, callable_left: int, dial_rate: float) -> bool:
        """The alarm: callable leads left last less than ``alarm_minutes`` at ``dial_rate``."""
        if callable_left <= 0:
            return True
        return self.minutes_left(callable_left, dial_rate) < self.alarm_minutes
