"""Every queue and agent metric, defined once, as pure functions over finished queue legs.

Two shapes of the same definitions:

* ``queue_stats(legs, threshold)`` / ``agent_stats(legs)``: the definitions, written as plain folds over a
  list of legs (what `cti report` and `cti replay --summary` compute over history);
* ``QueueRollup`` / ``AgentRollup``: running totals fed one leg at a time (what the live supervisor view
  keeps), which give *identical* figures: a hypothesis test feeds both the same legs in any order.

Durations are summed as whole microseconds (integers), so a total never depends on the order the legs
arrive in and the two shapes agree exactly. docs/metrics.md states each definition in prose.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from cti.core.ids import AgentId
from cti.core.journey import LegOutcome, QueueLeg

US = 1_000_000
DEFAULT_SERVICE_LEVEL_SECONDS = 20.0
ANSWERED_OUTCOMES = (LegOutcome.ANSWERED, LegOutcome.TRANSFERRED)  # a leg an agent answered
_ANSWERED = ANSWERED_OUTCOMES


def us(seconds: float) -> int:
    """Seconds as whole microseconds: the unit every total is kept in."""
    return round(seconds * US)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _as_json(obj: object, names: Iterable[str]) -> dict[str, Any]:
    """A stats record as JSON: floats rounded to the microsecond."""
    d: dict[str, Any] = {}
    for k in names:
        v = getattr(obj, k)
        d[k] = round(v, 6) if isinstance(v, float) else v
    return d


def _mean_s(total_us: int, n: int) -> float | None:
    return total_us / n / US if n else None


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Figures for one queue over a set of finished visits (legs). Means are None when undefined."""

    queue: str
    threshold: float
    offered: int
    answered: int
    abandoned: int
    timed_out: int
    exited_empty: int
    exited_with_key: int
    transferred: int
    answered_within: int
    abandoned_within: int
    avg_wait_answered: float | None  # ASA
    avg_wait: float | None
    max_wait: float
    avg_wait_abandoned: float | None
    avg_talk: float | None
    aht: float | None
    abandon_rate: float | None
    service_level: float | None
    transfer_rate: float | None
    ring_no_answer: int

    def to_json(self) -> dict[str, Any]:
        return _as_json(self, self.__slots__)


@dataclass(frozen=True, slots=True)
class AgentStats:
    agent: AgentId
    offered: int
    answered: int
    answer_rate: float | None
    ring_no_answer: int
    transfers: int
    talk_seconds: float
    aht: float | None
    avg_wait_answered: float | None
    max_wait_answered: float

    def to_json(self) -> dict[str, Any]:
        return _as_json(self, self.__slots__)


def _finished(legs: Iterable[QueueLeg]) -> list[QueueLeg]:
    return [leg for leg in legs if leg.outcome is not None]


def queue_stats(
    queue: str, legs: Iterable[QueueLeg], threshold: float = DEFAULT_SERVICE_LEVEL_SECONDS
) -> QueueStats:
    """The definitions (docs/metrics.md). Only finished legs of ``queue`` count; the rest are ignored."""
    done = [leg for leg in _finished(legs) if leg.queue == queue]
    limit = us(threshold)
    answered = [leg for leg in done if leg.outcome in _ANSWERED]
    abandoned = [leg for leg in done if leg.outcome is LegOutcome.ABANDONED]
    offered = len(done)
    talk = sum(us(leg.talk_seconds) for leg in answered)
    within = sum(1 for leg in answered if us(leg.wait_seconds) <= limit)
    transferred = sum(1 for leg in done if leg.outcome is LegOutcome.TRANSFERRED)
    return QueueStats(
        queue=queue,
        threshold=threshold,
        offered=offered,
        answered=len(answered),
        abandoned=len(abandoned),
        timed_out=sum(1 for leg in done if leg.outcome is LegOutcome.TIMEOUT),
        exited_empty=sum(1 for leg in done if leg.outcome is LegOutcome.EXIT_EMPTY),
        exited_with_key=sum(1 for leg in done if leg.outcome is LegOutcome.EXIT_WITH_KEY),
        transferred=transferred,
        answered_within=within,
        abandoned_within=sum(1 for leg in abandoned if us(leg.wait_seconds) <= limit),
        avg_wait_answered=_mean_s(sum(us(leg.wait_seconds) for leg in answered), len(answered)),
        avg_wait=_mean_s(sum(us(leg.wait_seconds) for leg in done), offered),
        max_wait=max((us(leg.wait_seconds) for leg in done), default=0) / US,
        avg_wait_abandoned=_mean_s(sum(us(leg.wait_seconds) for leg in abandoned), len(abandoned)),
        avg_talk=_mean_s(talk, len(answered)),
        aht=_mean_s(talk, len(answered)),
        abandon_rate=_ratio(len(abandoned), offered),
        service_level=_ratio(within, offered),
        transfer_rate=_ratio(transferred, len(answered)),
        ring_no_answer=sum(len(leg.ring_no_answer) for leg in done),
    )


def agent_stats(agent: str, legs: Iterable[QueueLeg]) -> AgentStats:
    """One agent's figures over finished legs: the legs it answered, and every ring it let go."""
    done = _finished(legs)
    mine = [leg for leg in done if leg.agent == agent and leg.outcome in _ANSWERED]
    talk = sum(us(leg.talk_seconds) for leg in mine)
    let_go = sum(leg.ring_no_answer.count(AgentId(agent)) for leg in done)
    return AgentStats(
        agent=AgentId(agent),
        offered=len(mine) + let_go,
        answered=len(mine),
        answer_rate=_ratio(len(mine), len(mine) + let_go),
        ring_no_answer=let_go,
        transfers=sum(1 for leg in mine if leg.outcome is LegOutcome.TRANSFERRED),
        talk_seconds=talk / US,
        aht=_mean_s(talk, len(mine)),
        avg_wait_answered=_mean_s(sum(us(leg.wait_seconds) for leg in mine), len(mine)),
        max_wait_answered=max((us(leg.wait_seconds) for leg in mine), default=0) / US,
    )


@dataclass(frozen=True, slots=True)
class AgentOutcomes:
    """What an agent's answered calls came to, by the dispositions the agent saved (docs/metrics.md)."""

    agent: AgentId
    dispositioned: int
    successes: int
    disposition_rate: float | None
    success_rate: float | None
    by_disposition: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return _as_json(self, self.__slots__)


def agent_outcomes(
    agent: str, answered: int, dispositions: Iterable[str], success: Collection[str]
) -> AgentOutcomes:
    """``dispositions``: one per call the agent answered and dispositioned; ``success``: the dispositions
    that count as a good outcome. A call left without a disposition counts as no success."""
    by: dict[str, int] = {}
    for d in dispositions:
        by[d] = by.get(d, 0) + 1
    done = sum(by.values())
    wins = sum(n for d, n in by.items() if d in success)
    return AgentOutcomes(
        agent=AgentId(agent),
        dispositioned=done,
        successes=wins,
        disposition_rate=_ratio(done, answered),
        success_rate=_ratio(wins, answered),
        by_disposition=dict(sorted(by.items())),
    )


@dataclass(slots=True)
class QueueRollup:
    """Running totals for one queue: ``add`` finished legs one at a time, read ``stats()`` any time."""

    queue: str
    threshold: float = DEFAULT_SERVICE_LEVEL_SECONDS
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    timed_out: int = 0
    exited_empty: int = 0
    exited_with_key: int = 0
    transferred: int = 0
    answered_within: int = 0
    abandoned_within: int = 0
    wait_us: int = 0
    wait_answered_us: int = 0
    wait_abandoned_us: int = 0
    max_wait_us: int = 0
    talk_us: int = 0
    ring_no_answer: int = 0

    def add(self, leg: QueueLeg, sign: int = 1) -> None:
        """Count one leg of this queue (``sign=-1``: take back a leg added before; the maximum wait is
        not taken back). Unfinished legs and other queues' legs are ignored."""
        if leg.outcome is None or leg.queue != self.queue:
            return
        wait = us(leg.wait_seconds)
        limit = us(self.threshold)
        self.offered += sign
        self.wait_us += sign * wait
        if sign > 0 and wait > self.max_wait_us:
            self.max_wait_us = wait
        self.ring_no_answer += sign * len(leg.ring_no_answer)
        o = leg.outcome
        if o is LegOutcome.ANSWERED or o is LegOutcome.TRANSFERRED:
            self.answered += sign
            self.wait_answered_us += sign * wait
            self.talk_us += sign * us(leg.talk_seconds)
            if wait <= limit:
                self.answered_within += sign
            if o is LegOutcome.TRANSFERRED:
                self.transferred += sign
        elif o is LegOutcome.ABANDONED:
            self.abandoned += sign
            self.wait_abandoned_us += sign * wait
            if wait <= limit:
                self.abandoned_within += sign
        elif o is LegOutcome.TIMEOUT:
            self.timed_out += sign
        elif o is LegOutcome.EXIT_EMPTY:
            self.exited_empty += sign
        elif o is LegOutcome.EXIT_WITH_KEY:
            self.exited_with_key += sign

    def combined(self, other: QueueRollup, max_wait_us: int) -> QueueRollup:
        """This rollup plus ``other`` (whose maximum wait the caller gives: ``add`` cannot take one back)."""
        out = copy.copy(self)
        for name in _ROLLUP_SUMS:
            setattr(out, name, getattr(self, name) + getattr(other, name))
        out.max_wait_us = max(self.max_wait_us, max_wait_us)
        return out

    def stats(self) -> QueueStats:
        return QueueStats(
            queue=self.queue,
            threshold=self.threshold,
            offered=self.offered,
            answered=self.answered,
            abandoned=self.abandoned,
            timed_out=self.timed_out,
            exited_empty=self.exited_empty,
            exited_with_key=self.exited_with_key,
            transferred=self.transferred,
            answered_within=self.answered_within,
            abandoned_within=self.abandoned_within,
            avg_wait_answered=_mean_s(self.wait_answered_us, self.answered),
            avg_wait=_mean_s(self.wait_us, self.offered),
            max_wait=self.max_wait_us / US,
            avg_wait_abandoned=_mean_s(self.wait_abandoned_us, self.abandoned),
            avg_talk=_mean_s(self.talk_us, self.answered),
            aht=_mean_s(self.talk_us, self.answered),
            abandon_rate=_ratio(self.abandoned, self.offered),
            service_level=_ratio(self.answered_within, self.offered),
            transfer_rate=_ratio(self.transferred, self.answered),
            ring_no_answer=self.ring_no_answer,
        )


_ROLLUP_SUMS = tuple(
    f.name for f in fields(QueueRollup) if f.name not in ("queue", "threshold", "max_wait_us")
)


@dataclass(slots=True)
class AgentRollup:
    """Running totals for every agent, fed finished legs one at a time."""

    answered: dict[str, int] = field(default_factory=dict)
    ring_no_answer: dict[str, int] = field(default_factory=dict)
    transfers: dict[str, int] = field(default_factory=dict)
    talk_us: dict[str, int] = field(default_factory=dict)
    wait_us: dict[str, int] = field(default_factory=dict)
    max_wait_us: dict[str, int] = field(default_factory=dict)

    def add(self, leg: QueueLeg) -> None:
        if leg.outcome is None:
            return
        for a in leg.ring_no_answer:
            self.ring_no_answer[a] = self.ring_no_answer.get(a, 0) + 1
        if leg.agent is None or leg.outcome not in _ANSWERED:
            return
        a = leg.agent
        self.answered[a] = self.answered.get(a, 0) + 1
        self.talk_us[a] = self.talk_us.get(a, 0) + us(leg.talk_seconds)
        self.wait_us[a] = self.wait_us.get(a, 0) + us(leg.wait_seconds)
        self.max_wait_us[a] = max(self.max_wait_us.get(a, 0), us(leg.wait_seconds))
        if leg.outcome is LegOutcome.TRANSFERRED:
            self.transfers[a] = self.transfers.get(a, 0) + 1

    def agents(self) -> list[str]:
        return sorted(set(self.answered) | set(self.ring_no_answer))

    def stats(self, agent: str) -> AgentStats:
        n = self.answered.get(agent, 0)
        talk = self.talk_us.get(agent, 0)
        let_go = self.ring_no_answer.get(agent, 0)
        return AgentStats(
            agent=AgentId(agent),
            offered=n + let_go,
            answered=n,
            answer_rate=_ratio(n, n + let_go),
            ring_no_answer=let_go,
            transfers=self.transfers.get(agent, 0),
            talk_seconds=talk / US,
            aht=_mean_s(talk, n),
            avg_wait_answered=_mean_s(self.wait_us.get(agent, 0), n),
            max_wait_answered=self.max_wait_us.get(agent, 0) / US,
        )


def queue_stats_json(rollups: Mapping[str, QueueRollup]) -> dict[str, dict[str, Any]]:
    """Per-queue figures as JSON, queues sorted by name (what `cti replay --summary` prints)."""
    return {name: rollups[name].stats().to_json() for name in sorted(rollups)}
