"""Customer value: A/B/C tiers, a recency/frequency/monetary (RFM) score and the "at risk" flag. Pure.

The store gathers one :class:`Activity` per customer (sums over orders and complaints) and calls
:func:`assess`; nothing here reads a clock or a database. The exact definitions are in docs/store.md and
in the docstrings below; tests/store/test_tiers.py pins them on a known data set.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

DAY = 86400.0
K = TypeVar("K", bound=Hashable)


class Tier(Enum):
    A = "A"
    B = "B"
    C = "C"


@dataclass(frozen=True, slots=True)
class TierPolicy:
    """The knobs. ``window_days`` is config ``[tiers] window_days``; the rest have documented defaults."""

    window_days: int = 365
    a_share: float = 0.05  # A: at most the top 5% of customers by spend in the window
    b_share: float = 0.15  # B: at most the next 15%
    quiet_days: int = 90  # "gone quiet": no order for this long
    complaint_days: int = 90  # "complains": a complaint opened this recently, or any still open

    def __post_init__(self) -> None:
        if self.window_days < 1:
            raise ValueError("window_days must be at least 1")
        if not (0.0 <= self.a_share and 0.0 <= self.b_share and self.a_share + self.b_share <= 1.0):
            raise ValueError("a_share and b_share must be non-negative and add up to at most 1")
        if self.quiet_days < 1 or self.complaint_days < 0:
            raise ValueError("quiet_days must be at least 1 and complaint_days not negative")


@dataclass(frozen=True, slots=True)
class Activity:
    """What the store knows about one customer's value, as of the moment of assessment."""

    window_spend: float = 0.0  # sum of order amounts placed in the last window_days
    window_orders: int = 0  # number of those orders
    lifetime_spend: float = 0.0  # sum of all order amounts ever
    last_order_at: float | None = None  # epoch seconds of the latest order, None if never
    last_complaint_at: float | None = None  # epoch seconds the latest complaint was opened
    open_complaints: int = 0  # complaints not resolved or closed


@dataclass(frozen=True, slots=True)
class Value:
    tier: Tier
    recency: int  # 1..5
    frequency: int  # 1..5
    monetary: int  # 1..5
    at_risk: bool
    window_spend: float

    @property
    def rfm_score(self) -> int:
        """recency + frequency + monetary: 3 (lost, never bought) .. 15 (best)."""
        return self.recency + self.frequency + self.monetary

    @property
    def rfm_code(self) -> str:
        """The classic three-digit code, e.g. ``"545"``."""
        return f"{self.recency}{self.frequency}{self.monetary}"


def tiers(spend: Mapping[K, float], *, a_share: float = 0.05, b_share: float = 0.15) -> dict[K, Tier]:
    """A/B/C by spend. ``spend`` has every customer (spend 0 included): N = ``len(spend)``.

    Let ``ahead(c)`` be the number of customers whose spend is at least ``c``'s (``c`` included).
    A customer with a positive spend is

    - **A** when ``ahead(c) <= floor(a_share * N)``,
    - **B** when not A and ``ahead(c) <= floor((a_share + b_share) * N)``,
    - **C** otherwise; every customer with zero spend is C.

    So ties are never split: customers with equal spend always share a tier, and a tie that would push a
    tier past its share drops to the next tier as a whole. A is therefore never more than the top 5%
    and A+B never more than 20% of the customers, whatever the data. With fewer than 20 customers there
    is no A (5% of 19 is less than one customer).
    """
    n = len(spend)
    a_max = int(a_share * n + 1e-9)
    ab_max = int((a_share + b_share) * n + 1e-9)
    ordered = sorted(spend.values())
    result: dict[K, Tier] = {}
    for key, value in spend.items():
        if value <= 0:
            result[key] = Tier.C
            continue
        ahead = n - bisect.bisect_left(ordered, value)
        if ahead <= a_max:
            result[key] = Tier.A
        elif ahead <= ab_max:
            result[key] = Tier.B
        else:
            result[key] = Tier.C
    return result


def recency_score(last_order_at: float | None, now: float) -> int:
    """5: ordered in the last 30 days; 4: 90; 3: 180; 2: 365; 1: longer ago or never."""
    if last_order_at is None:
        return 1
    days = (now - last_order_at) / DAY
    for score, limit in ((5, 30), (4, 90), (3, 180), (2, 365)):
        if days <= limit:
            return score
    return 1


def frequency_score(orders: int) -> int:
    """Orders in the window: 5: 12 or more (monthly); 4: 6+; 3: 3+; 2: 2; 1: one or none."""
    for score, least in ((5, 12), (4, 6), (3, 3), (2, 2)):
        if orders >= least:
            return score
    return 1


def monetary_scores(spend: Mapping[K, float]) -> dict[K, int]:
    """Spend in the window, relative to the other buyers (so it does not depend on the currency).

    Zero spend scores 1. A buyer scores ``2 + floor(4 * below / buyers)``, where ``buyers`` is the number
    of customers with positive spend and ``below`` the number of those who spent strictly less: the
    bottom quarter of buyers scores 2, the top quarter 5, and equal spend always scores the same.
    """
    buyers = sorted(v for v in spend.values() if v > 0)
    result: dict[K, int] = {}
    for key, value in spend.items():
        if value <= 0:
            result[key] = 1
        else:
            below = bisect.bisect_left(buyers, value)
            result[key] = 2 + (4 * below) // len(buyers)
    return result


def assess(activity: Mapping[K, Activity], now: float, policy: TierPolicy | None = None) -> dict[K, Value]:
    """Tier, RFM and at-risk for every customer in ``activity``.

    **At risk** means once valuable and now quiet or unhappy:

    - *once valuable*: the customer's lifetime spend puts them in A or B of the lifetime ranking (the same
      tie rule as :func:`tiers`, over lifetime spend instead of the window);
    - *quiet*: no order in the last ``quiet_days`` (90) days;
    - *unhappy*: a complaint still open, or one opened in the last ``complaint_days`` (90) days.
    """
    p = policy or TierPolicy()
    window = {k: a.window_spend for k, a in activity.items()}
    tier_of = tiers(window, a_share=p.a_share, b_share=p.b_share)
    lifetime = tiers({k: a.lifetime_spend for k, a in activity.items()}, a_share=p.a_share, b_share=p.b_share)
    monetary = monetary_scores(window)
    result: dict[K, Value] = {}
    for key, a in activity.items():
        quiet = a.last_order_at is None or now - a.last_order_at > p.quiet_days * DAY
        unhappy = a.open_complaints > 0 or (
            a.last_complaint_at is not None and now - a.last_complaint_at <= p.complaint_days * DAY
        )
        result[key] = Value(
            tier=tier_of[key],
            recency=recency_score(a.last_order_at, now),
            frequency=frequency_score(a.window_orders),
            monetary=monetary[key],
            at_risk=lifetime[key] is not Tier.C and (quiet or unhappy),
            window_spend=a.window_spend,
        )
    return result
