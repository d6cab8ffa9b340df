"""KPIs against targets: each target's alert level per center, queue or agent, with hysteresis. Pure.

A target (``[[kpi.target]]``) names a figure of the live board (``metric``), what it judges
(``scope``: the whole center, a queue, an agent; ``name``: which one, empty for every one), the
``threshold`` it must meet (``direction`` ``min``: the figure must be >= it, ``max``: <= it), the
``warn`` level before it (between the ideal and the threshold) and a ``hysteresis``: a level, once
entered, is kept until the figure is better than its boundary by that much, so a figure sitting on a
boundary does not flap.

Each (target, subject) is a small state machine, ``ok``, ``warn``, ``breach``, driven by the
``Zone`` the figure is in; ``TRANSITIONS`` is the whole table. An undefined figure (nothing offered
yet: ``service_level`` is null) is in the ``CLEAR`` zone. Definitions: docs/metrics.md "KPI targets".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any


class KpiError(ValueError):
    """A target is wrong; ``field`` names its key."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class Level(Enum):
    OK = "ok"
    WARN = "warn"
    BREACH = "breach"


class Scope(Enum):
    CENTER = "center"
    QUEUE = "queue"
    AGENT = "agent"


class Zone(Enum):
    """Where a figure is: the level it ENTERS (crossed the boundary) / the level it HOLDS (not yet
    better than the boundary by the hysteresis)."""

    PAST_BREACH = "past-breach"  # worse than the threshold
    PAST_WARN_HOLD_BREACH = "past-warn-hold-breach"  # past warn, within the hysteresis of the threshold
    PAST_WARN = "past-warn"  # worse than warn, clear of the threshold's hysteresis
    HOLD_BREACH = "hold-breach"  # better than warn, within the threshold's hysteresis (wide hysteresis)
    HOLD_WARN = "hold-warn"  # better than warn, within its hysteresis
    CLEAR = "clear"  # better than warn by the hysteresis (or no figure)


_O, _W, _B = Level.OK, Level.WARN, Level.BREACH
# (level now, zone) -> next level: a level is entered when its boundary is crossed, kept while the figure
# is within the hysteresis, and left for the level the figure holds
TRANSITIONS: Mapping[tuple[Level, Zone], Level] = {
    (_O, Zone.PAST_BREACH): _B,
    (_O, Zone.PAST_WARN_HOLD_BREACH): _W,
    (_O, Zone.PAST_WARN): _W,
    (_O, Zone.HOLD_BREACH): _O,
    (_O, Zone.HOLD_WARN): _O,
    (_O, Zone.CLEAR): _O,
    (_W, Zone.PAST_BREACH): _B,
    (_W, Zone.PAST_WARN_HOLD_BREACH): _W,
    (_W, Zone.PAST_WARN): _W,
    (_W, Zone.HOLD_BREACH): _W,
    (_W, Zone.HOLD_WARN): _W,
    (_W, Zone.CLEAR): _O,
    (_B, Zone.PAST_BREACH): _B,
    (_B, Zone.PAST_WARN_HOLD_BREACH): _B,
    (_B, Zone.PAST_WARN): _W,
    (_B, Zone.HOLD_BREACH): _B,
    (_B, Zone.HOLD_WARN): _W,
    (_B, Zone.CLEAR): _O,
}

_ZONES = {
    (_B, _B): Zone.PAST_BREACH,
    (_W, _B): Zone.PAST_WARN_HOLD_BREACH,
    (_W, _W): Zone.PAST_WARN,
    (_O, _B): Zone.HOLD_BREACH,
    (_O, _W): Zone.HOLD_WARN,
    (_O, _O): Zone.CLEAR,
}

# the live figures a target may judge, per scope (cti/screenpop/live.py; docs/metrics.md)
QUEUE_METRICS = frozenset(
    {"service_level", "abandon_rate", "avg_wait_answered", "avg_wait", "max_wait", "waiting", "offered",
     "answered", "abandoned"}
)  # fmt: skip
METRICS: Mapping[Scope, frozenset[str]] = {
    Scope.CENTER: QUEUE_METRICS,
    Scope.QUEUE: QUEUE_METRICS,
    Scope.AGENT: frozenset(
        {"answered", "answer_rate", "aht", "talk_seconds", "ring_no_answer", "offered", "avg_wait_answered"}
    ),
}


@dataclass(frozen=True, slots=True)
class Target:
    metric: str
    scope: Scope
    name: str  # the queue or agent; "" for the center, or for every queue / agent
    threshold: float
    direction: str  # "min" or "max"
    warn: float
    hysteresis: float

    @classmethod
    def build(
        cls,
        metric: str,
        scope: str,
        name: str,
        threshold: float | None,
        direction: str,
        warn: float | None = None,
        hysteresis: float | None = None,
    ) -> Target:
        """A checked target. ``warn`` defaults to the threshold (no warn level), ``hysteresis`` to half
        the distance between warn and threshold."""
        try:
            sc = Scope(scope)
        except ValueError:
            raise KpiError("scope", f"{scope!r} is not center, queue or agent") from None
        if metric not in METRICS[sc]:
            known = ", ".join(sorted(METRICS[sc]))
            raise KpiError("metric", f"{metric!r} is not a {sc.value} figure (known: {known})")
        if sc is Scope.CENTER and name:
            raise KpiError("name", "a center target names no queue or agent")
        if direction not in ("min", "max"):
            raise KpiError("direction", f"{direction!r} is not min (at least) or max (at most)")
        if threshold is None or not math.isfinite(threshold):
            raise KpiError("threshold", "is required (a number)")
        w = threshold if warn is None else warn
        if not math.isfinite(w):
            raise KpiError("warn", "must be a number")
        if direction == "min" and w < threshold:
            raise KpiError("warn", f"must be >= the threshold {threshold:g} for a min target (warned first)")
        if direction == "max" and w > threshold:
            raise KpiError("warn", f"must be <= the threshold {threshold:g} for a max target (warned first)")
        h = abs(w - threshold) / 2 if hysteresis is None else hysteresis
        if not (math.isfinite(h) and h >= 0):
            raise KpiError("hysteresis", "must be a number >= 0")
        return cls(metric, sc, name, threshold, direction, w, h)

    def zone(self, value: float | None) -> Zone:
        if value is None:
            return Zone.CLEAR
        sign = 1.0 if self.direction == "max" else -1.0  # "worse" is larger after the sign
        v, t, w, h = sign * value, sign * self.threshold, sign * self.warn, self.hysteresis
        enter = _B if v > t else _W if v > w else _O
        hold = _B if v > t - h else _W if v > w - h else _O
        return _ZONES[(enter, hold)]

    def applies(self, scope: Scope, subject: str) -> bool:
        return scope is self.scope and (not self.name or self.name == subject)

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "scope": self.scope.value,
            "name": self.name,
            "threshold": self.threshold,
            "direction": self.direction,
            "warn": self.warn,
        }


@dataclass(frozen=True, slots=True)
class Alert:
    """A level change of one target for one subject (``subject``: the queue, the agent, "" for the center)."""

    target: Target
    subject: str
    level: Level
    previous: Level
    value: float | None
    at: float

    def to_json(self) -> dict[str, Any]:
        return {
            **self.target.to_json(),
            "subject": self.subject,
            "level": self.level.value,
            "previous": self.previous.value,
            "value": self.value,
            "at": self.at,
        }


def _figure(figures: Mapping[str, Any], metric: str) -> float | None:
    value = figures.get(metric)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class KpiEvaluator:
    """The level of every (target, subject); ``observe`` returns the changes."""

    def __init__(self, targets: Iterable[Target]) -> None:
        self.targets = tuple(targets)
        self._levels: dict[tuple[int, str], Alert] = {}

    def __bool__(self) -> bool:
        return bool(self.targets)

    def judges(self, scope: Scope) -> bool:
        return any(t.scope is scope for t in self.targets)

    def observe(self, scope: Scope, subject: str, figures: Mapping[str, Any], at: float) -> list[Alert]:
        out = []
        for i, target in enumerate(self.targets):
            if not target.applies(scope, subject):
                continue
            value = _figure(figures, target.metric)
            last = self._levels.get((i, subject))
            before = last.level if last is not None else Level.OK
            level = TRANSITIONS[(before, target.zone(value))]
            if level is not before:
                alert = Alert(target, subject, level, before, value, at)
                out.append(alert)
                if level is Level.OK:
                    self._levels.pop((i, subject), None)
                else:
                    self._levels[(i, subject)] = alert
        return out

    def active(self) -> list[Alert]:
        """The targets not at ok, in the order of the configuration, then subject."""
        return [self._levels[k] for k in sorted(self._levels)]


def center_figures(queues: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The center's figures from its queues' (``QueueStats`` plus ``waiting``): counts summed, rates and
    means over the sums, ``max_wait`` the largest."""
    rows = list(queues)

    def total(key: str) -> int:
        return sum(int(q.get(key) or 0) for q in rows)

    def weighted(mean: str, count: str) -> float | None:
        n = total(count)
        return sum(float(q.get(mean) or 0) * int(q.get(count) or 0) for q in rows) / n if n else None

    offered, answered, abandoned = total("offered"), total("answered"), total("abandoned")
    return {
        "offered": offered,
        "answered": answered,
        "abandoned": abandoned,
        "waiting": total("waiting"),
        "service_level": total("answered_within") / offered if offered else None,
        "abandon_rate": abandoned / offered if offered else None,
        "avg_wait_answered": weighted("avg_wait_answered", "answered"),
        "avg_wait": weighted("avg_wait", "offered"),
        "max_wait": max((float(q.get("max_wait") or 0) for q in rows), default=0.0),
    }
