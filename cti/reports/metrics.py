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

import bisect
import copy
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
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
    short_abandon: float = 0.0  # S: abandons with wait < S are short (excluded from the suite variants)
    short_abandoned: int = 0
    unanswered: int = 0  # app_queue's "Abandoned": abandoned + timed out + exited empty
    unanswered_within: int = 0
    sl_asterisk: float | None = None  # app_queue ServicelevelPerf
    sl_asterisk2: float | None = None  # app_queue ServicelevelPerf2
    sl_abandons_ignored: float | None = None
    sl_abandons_for: float | None = None
    abandon_rate_long: float | None = None  # short abandons excluded

    def to_json(self) -> dict[str, Any]:
        return _as_json(self, self.__slots__)


@dataclass(frozen=True, slots=True)
class ServiceLevels:
    """Every service-level variant of docs/metrics.md, from one queue's counters (None: no denominator)."""

    service_level: float | None  # abandons counted against (short ones excluded): the headline figure
    sl_abandons_ignored: float | None
    sl_abandons_for: float | None
    sl_asterisk: float | None  # app_queue ServicelevelPerf
    sl_asterisk2: float | None  # app_queue ServicelevelPerf2
    abandon_rate: float | None
    abandon_rate_long: float | None


def service_levels(
    *,
    offered: int,
    answered: int,
    answered_within: int,
    abandoned: int,
    abandoned_within: int,
    short_abandoned: int,
    unanswered: int,
    unanswered_within: int,
) -> ServiceLevels:
    """The service-level variants over additive counters (what the 15-minute rollups store).

    ``short_abandoned`` must be a subset of ``abandoned_within`` (short-abandon threshold <= service-level
    threshold); ``unanswered`` is app_queue's "Abandoned" (abandoned + timed out + exited empty).
    """
    served = offered - short_abandoned
    return ServiceLevels(
        service_level=_ratio(answered_within, served),
        sl_abandons_ignored=_ratio(answered_within, offered - abandoned),
        sl_abandons_for=_ratio(answered_within + abandoned_within - short_abandoned, served),
        sl_asterisk=_ratio(answered_within, answered),
        sl_asterisk2=_ratio(answered_within + unanswered_within, answered + unanswered),
        abandon_rate=_ratio(abandoned, offered),
        abandon_rate_long=_ratio(abandoned - short_abandoned, served),
    )


def check_short_abandon(threshold: float, short_abandon: float) -> None:
    if not 0 <= short_abandon <= threshold:
        raise ValueError(
            f"the short-abandon threshold ({short_abandon} s) must be between 0 and the service-level "
            f"threshold ({threshold} s)"
        )


_UNANSWERED = (LegOutcome.ABANDONED, LegOutcome.TIMEOUT, LegOutcome.EXIT_EMPTY)  # app_queue record_abandoned


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
    queue: str,
    legs: Iterable[QueueLeg],
    threshold: float = DEFAULT_SERVICE_LEVEL_SECONDS,
    short_abandon: float = 0.0,
) -> QueueStats:
    """The definitions (docs/metrics.md). Only finished legs of ``queue`` count; the rest are ignored."""
    check_short_abandon(threshold, short_abandon)
    done = [leg for leg in _finished(legs) if leg.queue == queue]
    limit, short = us(threshold), us(short_abandon)
    answered = [leg for leg in done if leg.outcome in _ANSWERED]
    abandoned = [leg for leg in done if leg.outcome is LegOutcome.ABANDONED]
    offered = len(done)
    talk = sum(us(leg.talk_seconds) for leg in answered)
    within = sum(1 for leg in answered if us(leg.wait_seconds) <= limit)
    transferred = sum(1 for leg in done if leg.outcome is LegOutcome.TRANSFERRED)
    abandoned_within = sum(1 for leg in abandoned if us(leg.wait_seconds) <= limit)
    short_abandoned = sum(1 for leg in abandoned if us(leg.wait_seconds) < short)
    unanswered = [leg for leg in done if leg.outcome in _UNANSWERED]
    unanswered_within = sum(1 for leg in unanswered if us(leg.wait_seconds) <= limit)
    sl = service_levels(
        offered=offered,
        answered=len(answered),
        answered_within=within,
        abandoned=len(abandoned),
        abandoned_within=abandoned_within,
        short_abandoned=short_abandoned,
        unanswered=len(unanswered),
        unanswered_within=unanswered_within,
    )
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
        abandoned_within=abandoned_within,
        avg_wait_answered=_mean_s(sum(us(leg.wait_seconds) for leg in answered), len(answered)),
        avg_wait=_mean_s(sum(us(leg.wait_seconds) for leg in done), offered),
        max_wait=max((us(leg.wait_seconds) for leg in done), default=0) / US,
        avg_wait_abandoned=_mean_s(sum(us(leg.wait_seconds) for leg in abandoned), len(abandoned)),
        avg_talk=_mean_s(talk, len(answered)),
        aht=_mean_s(talk, len(answered)),
        transfer_rate=_ratio(transferred, len(answered)),
        ring_no_answer=sum(len(leg.ring_no_answer) for leg in done),
        short_abandon=short_abandon,
        short_abandoned=short_abandoned,
        unanswered=len(unanswered),
        unanswered_within=unanswered_within,
        **_sl_fields(sl),
    )


def _sl_fields(sl: ServiceLevels) -> dict[str, float | None]:
    return {name: getattr(sl, name) for name in ServiceLevels.__slots__}


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
    short_abandon: float = 0.0
    short_abandoned: int = 0
    unanswered: int = 0
    unanswered_within: int = 0

    def __post_init__(self) -> None:
        check_short_abandon(self.threshold, self.short_abandon)

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
            if wait < us(self.short_abandon):
                self.short_abandoned += sign
        if o in _UNANSWERED:
            self.unanswered += sign
            if wait <= limit:
                self.unanswered_within += sign
        if o is LegOutcome.TIMEOUT:
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
            transfer_rate=_ratio(self.transferred, self.answered),
            ring_no_answer=self.ring_no_answer,
            short_abandon=self.short_abandon,
            short_abandoned=self.short_abandoned,
            unanswered=self.unanswered,
            unanswered_within=self.unanswered_within,
            **_sl_fields(
                service_levels(
                    offered=self.offered,
                    answered=self.answered,
                    answered_within=self.answered_within,
                    abandoned=self.abandoned,
                    abandoned_within=self.abandoned_within,
                    short_abandoned=self.short_abandoned,
                    unanswered=self.unanswered,
                    unanswered_within=self.unanswered_within,
                )
            ),
        )


_ROLLUP_SUMS = tuple(
    f.name
    for f in fields(QueueRollup)
    if f.name not in ("queue", "threshold", "max_wait_us", "short_abandon")
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


# ---- handle time, occupancy, utilisation --------------------------------------------------------------


def aht(talk_seconds: float, hold_seconds: float, wrap_seconds: float, handled: int) -> float | None:
    """Average handle time: (talk + hold + wrap-up) / handled calls (docs/metrics.md).

    ``talk_seconds`` is conversation time *without* hold. app_queue's talk (AgentConnect to AgentComplete)
    already spans any hold, so a caller with app_queue's figures passes ``talk - hold`` and ``hold``.
    """
    if handled <= 0:
        return None
    return (talk_seconds + hold_seconds + wrap_seconds) / handled


def occupancy(handle_seconds: float, available_seconds: float) -> float | None:
    """handle / (handle + available idle): the share of the time an agent was ready for calls (logged in,
    not paused) that went on calls. Paused time is outside both."""
    return _ratio_f(handle_seconds, handle_seconds + available_seconds)


def utilisation(handle_seconds: float, staffed_seconds: float) -> float | None:
    """handle / staffed (logged-in time, paused included): the share of paid, logged-in time on calls."""
    return _ratio_f(handle_seconds, staffed_seconds)


def _ratio_f(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


# ---- distributions -------------------------------------------------------------------------------------

DURATION_BUCKETS = (30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 1200.0)  # talk: upper bounds, seconds
WAIT_BUCKETS = (10.0, 20.0, 30.0, 60.0, 120.0, 300.0)  # wait


@dataclass(frozen=True, slots=True)
class Bucket:
    low: float  # included
    high: float | None  # excluded; None: no upper bound
    count: int
    share: float | None
    cumulative: float | None

    @property
    def label(self) -> str:
        return f"{self.low:g}+ s" if self.high is None else f"{self.low:g}-{self.high:g} s"


def histogram(values: Sequence[float], bounds: Sequence[float]) -> list[Bucket]:
    """Counts of ``values`` in [0, b1), [b1, b2), ..., [bn, inf); shares of the total, cumulative."""
    edges = [0.0, *bounds]
    counts = [0] * len(edges)
    for v in values:
        counts[bisect.bisect_right(edges, v) - 1 if v >= 0 else 0] += 1
    total, run, out = len(values), 0, []
    for i, n in enumerate(counts):
        run += n
        high = edges[i + 1] if i + 1 < len(edges) else None
        out.append(Bucket(edges[i], high, n, _ratio(n, total), _ratio(run, total)))
    return out


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q`` percentile (0 < q <= 100): the smallest value with at least q % at or below."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


# ---- repeat calls (first-contact-resolution proxy) -----------------------------------------------------

REPEAT_WINDOW_SECONDS = 7 * 86400.0


def repeat_flags(calls: Sequence[tuple[str, float]], window: float = REPEAT_WINDOW_SECONDS) -> list[bool]:
    """For each (customer key, start time) call: did the same customer call again within ``window`` seconds
    after it (strictly later, at most ``window``)? A call with an empty key (no number) never repeats."""
    by: dict[str, list[float]] = {}
    for key, at in calls:
        if key:
            by.setdefault(key, []).append(at)
    for times in by.values():
        times.sort()
    out = []
    for key, at in calls:
        times = by.get(key, []) if key else []
        i = bisect.bisect_right(times, at)
        out.append(i < len(times) and times[i] - at <= window)
    return out


# ---- campaign results ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CampaignResults:
    campaign: str
    dials: int
    contacts: int
    contact_rate: float | None
    abandoned: int
    abandon_rate: float | None  # over the window: abandoned / contacts
    conversions: int
    conversion_rate: float | None  # of contacts
    budget: float | None
    cost_per_conversion: float | None
    revenue: float
    return_on_spend: float | None  # revenue / budget

    def to_json(self) -> dict[str, Any]:
        return _as_json(self, self.__slots__)


def campaign_results(
    campaign: str,
    *,
    dials: int,
    contacts: int,
    abandoned: int,
    conversions: int,
    budget: float | None = None,
    revenue: float = 0.0,
) -> CampaignResults:
    """A campaign's results over one window (docs/metrics.md): ``dials`` placed, ``contacts`` answered by
    a person (connected to an agent or dropped), ``abandoned`` of those dropped with no agent, ``conversions``
    contacts whose disposition maps to a sale; ``budget`` what the window's calls cost."""
    return CampaignResults(
        campaign=campaign,
        dials=dials,
        contacts=contacts,
        contact_rate=_ratio(contacts, dials),
        abandoned=abandoned,
        abandon_rate=_ratio(abandoned, contacts),
        conversions=conversions,
        conversion_rate=_ratio(conversions, contacts),
        budget=budget,
        cost_per_conversion=budget / conversions if budget is not None and conversions else None,
        revenue=revenue,
        return_on_spend=revenue / budget if budget else None,
    )
