"""The abandon-rate windows a dialer must stay inside, computed from a ledger of dial outcomes.

Definitions (docs/metrics.md, "Dialer compliance"):

- a *live answer* is a call answered by a person (AMD said human or not sure), abandoned or not;
- an *abandon* is a live answer not connected to an agent within 2 s of the greeting;
- ``rate = abandons / live answers`` (0 when there is no live answer);
- Ofcom also counts AMD false positives: each machine result adds ``amd_false_positive_rate`` to both
  the abandons and the live answers (a person taken for a machine was answered and dropped);
- ``headroom`` = how many more abandons fit: the largest x with ``(abandons + x) / (live + x) <= limit``
  (each new abandon is also a live answer), floored at 0.

Windows: FTC 3% over a rolling 30 days and over the campaign's life, Ofcom 3% over a rolling 24 h,
CRTC 5% over the calendar month (in the campaign's time zone) containing ``now``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

FTC_LIMIT = 0.03
OFCOM_LIMIT = 0.03
CRTC_LIMIT = 0.05
DEFAULT_AMD_FALSE_POSITIVE_RATE = 0.05
ABANDON_NO_REDIAL = timedelta(hours=72)  # Ofcom


class Window(enum.StrEnum):
    FTC_30D = "ftc_30d"
    FTC_LIFE = "ftc_life"
    OFCOM_24H = "ofcom_24h"
    CRTC_MONTH = "crtc_month"


@dataclass(frozen=True, slots=True)
class DialOutcome:
    """One dial's outcome as the ledger counts it."""

    at: datetime  # aware: when the call was started
    live_answer: bool = False
    abandoned: bool = False  # implies live_answer
    machine: bool = False  # AMD said machine


@dataclass(frozen=True, slots=True)
class Counts:
    live_answers: int = 0
    abandons: int = 0
    machines: int = 0


@dataclass(frozen=True, slots=True)
class WindowState:
    """One window's figures; ``live_answers``/``abandons``/``limit`` are what a pacer consumes."""

    window: Window
    start: datetime | None  # None: the campaign's life
    end: datetime
    live_answers: int
    abandons: float  # Ofcom: counted abandons + estimated AMD false positives
    limit: float
    estimated_false_positives: float = 0.0

    @property
    def denominator(self) -> float:
        return self.live_answers + self.estimated_false_positives

    @property
    def rate(self) -> float:
        return self.abandons / self.denominator if self.denominator > 0 else 0.0

    @property
    def headroom(self) -> float:
        return headroom(self.denominator, self.abandons, self.limit)

    @property
    def over_limit(self) -> bool:
        return self.rate > self.limit


def headroom(live: float, abandons: float, limit: float) -> float:
    """The largest x with (abandons + x) / (live + x) <= limit, at least 0."""
    if not 0.0 <= limit < 1.0:
        raise ValueError(f"limit {limit} must be in [0, 1)")
    return max(0.0, (limit * live - abandons) / (1.0 - limit))


def window_bounds(window: Window, now: datetime, zone: tzinfo) -> tuple[datetime | None, datetime]:
    """[start, end) of ``window`` at ``now``; the CRTC month is the calendar month in ``zone``."""
    if window is Window.FTC_30D:
        return now - timedelta(days=30), now
    if window is Window.OFCOM_24H:
        return now - timedelta(hours=24), now
    if window is Window.CRTC_MONTH:
        local = now.astimezone(zone)
        return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0), now
    return None, now


def count(outcomes: Iterable[DialOutcome], start: datetime | None, end: datetime) -> Counts:
    """Live answers, abandons and machine results started in [start, end]."""
    live = abandons = machines = 0
    for o in outcomes:
        if (start is not None and o.at < start) or o.at > end:
            continue
        live += o.live_answer or o.abandoned
        abandons += o.abandoned
        machines += o.machine and not o.live_answer
    return Counts(live, abandons, machines)


def state(
    window: Window, counts: Counts, start: datetime | None, end: datetime, amd_false_positive_rate: float
) -> WindowState:
    """A window's state from its counts (the store computes the counts in SQL)."""
    if window is Window.OFCOM_24H:
        fp = counts.machines * amd_false_positive_rate
        return WindowState(window, start, end, counts.live_answers, counts.abandons + fp, OFCOM_LIMIT, fp)
    limit = CRTC_LIMIT if window is Window.CRTC_MONTH else FTC_LIMIT
    return WindowState(window, start, end, counts.live_answers, float(counts.abandons), limit)


def windows(
    outcomes: Iterable[DialOutcome],
    now: datetime,
    *,
    zone: tzinfo,
    amd_false_positive_rate: float = DEFAULT_AMD_FALSE_POSITIVE_RATE,
) -> tuple[WindowState, ...]:
    """Every window's state at ``now`` from the ledger ``outcomes``."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    ledger = tuple(outcomes)
    result = []
    for w in Window:
        start, end = window_bounds(w, now, zone)
        result.append(state(w, count(ledger, start, end), start, end, amd_false_positive_rate))
    return tuple(result)


def may_redial(last_abandon_at: datetime | None, now: datetime) -> bool:
    """Ofcom: no redial of an abandoned number within 72 h."""
    return last_abandon_at is None or now - last_abandon_at >= ABANDON_NO_REDIAL


REPORT_COLUMNS = (
    "campaign",
    "window",
    "start",
    "end",
    "live_answers",
    "abandons",
    "estimated_false_positives",
    "rate",
    "limit",
    "headroom",
    "over_limit",
)


def report_csv(campaign: str, states: Iterable[WindowState]) -> str:
    """The compliance report of one campaign, one CSV row per window (ISO times, rates to 6 places)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    for s in states:
        writer.writerow(
            [
                campaign,
                s.window.value,
                "" if s.start is None else s.start.isoformat(),
                s.end.isoformat(),
                s.live_answers,
                f"{s.abandons:.6g}",
                f"{s.estimated_false_positives:.6g}",
                f"{s.rate:.6f}",
                f"{s.limit:.6f}",
                f"{s.headroom:.6f}",
                "yes" if s.over_limit else "no",
            ]
        )
    return out.getvalue()
