"""Calls per 15-minute interval from history, and the agents each interval needs (pure).

The forecast of interval ``i`` (local wall-clock ``HH:MM``, 96 per day) of a day is the mean of the
calls that arrived in the same interval of the same weekday over the previous ``weeks`` weeks (a
week with no call in that interval counts as 0). A call is a queue arrival (a queue leg's
``entered_at``): the work each queue was offered. On the day clocks go back, the repeated local hour's
calls fall in the same four intervals.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cti.core.errors import UsageError
from cti.staffing.erlang import Figures, Traffic, agents_needed, scheduled

INTERVAL = 15 * 60
SLOTS = 24 * 60 * 60 // INTERVAL


def slot_of(at: float, tz: dt.tzinfo | None) -> tuple[dt.date, int]:
    """The local day and the 15-minute interval (0..95) of epoch second ``at`` (``tz`` None: the
    system's local time)."""
    local = dt.datetime.fromtimestamp(at, tz)
    return local.date(), (local.hour * 60 + local.minute) * 60 // INTERVAL


def history_window(day: dt.date, weeks: int, tz: dt.tzinfo | None) -> tuple[float, float]:
    """[start, end) in epoch seconds covering the ``weeks`` same weekdays before ``day``."""
    if weeks < 1:
        raise UsageError(f"weeks must be >= 1, not {weeks}")
    first = day - dt.timedelta(weeks=weeks)
    last = day - dt.timedelta(weeks=1) + dt.timedelta(days=1)
    start = dt.datetime.combine(first, dt.time(), tz).timestamp()
    end = dt.datetime.combine(last, dt.time(), tz).timestamp()
    return start, end


def forecast(arrivals: Iterable[float], day: dt.date, weeks: int, tz: dt.tzinfo | None) -> list[float]:
    """The expected calls of each of ``day``'s 96 intervals: the mean over the ``weeks`` previous same
    weekdays of the calls that arrived in that interval."""
    if weeks < 1:
        raise UsageError(f"weeks must be >= 1, not {weeks}")
    days = {day - dt.timedelta(weeks=k) for k in range(1, weeks + 1)}
    counts: Counter[int] = Counter()
    for at in arrivals:
        d, slot = slot_of(at, tz)
        if d in days:
            counts[slot] += 1
    return [counts[slot] / weeks for slot in range(SLOTS)]


@dataclass(frozen=True, slots=True)
class IntervalPlan:
    start: str  # local HH:MM
    calls: float
    figures: Figures
    scheduled: int  # with shrinkage

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"interval": self.start, "calls": self.calls}
        out.update(self.figures.to_json())
        out["agents_needed"] = out.pop("agents")
        out["scheduled"] = self.scheduled
        return out


def plan(
    calls: Sequence[float],
    *,
    aht: float,
    target: float,
    service_level: float,
    shrinkage: float = 0.0,
    patience: float | None = None,
) -> list[IntervalPlan]:
    """Per 15-minute interval: the agents needed for ``service_level`` within ``target`` s (Erlang C, or
    Erlang A with ``patience``), and the agents to schedule with ``shrinkage``."""
    out = []
    for slot, n in enumerate(calls):
        need = agents_needed(Traffic(n, INTERVAL, aht, patience), target, service_level)
        minutes = slot * INTERVAL // 60
        out.append(
            IntervalPlan(
                f"{minutes // 60:02d}:{minutes % 60:02d}", n, need, scheduled(need.agents, shrinkage)
            )
        )
    return out
