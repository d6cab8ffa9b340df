"""The value-tier schedule: recompute the store's tiers every few hours, for as long as the daemon runs.

The store only knows the one-shot operations (``store.tiers.recompute()`` and ``computed_at()``); this
loop decides when. The first run comes when the last one (by any process: ``cti store tiers``, another
daemon) is ``interval`` old, so a restart does not redo fresh work. A failed run is logged and retried at
the next interval: the tiers shown meanwhile are the last ones computed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from cti.core.errors import UsageError
from cti.telemetry import Metric, counter

log = logging.getLogger(__name__)


class Tiers(Protocol):
    """What the schedule needs of the store: ``store.tiers`` (cti/store/tiers_repo.py)."""

    async def recompute(self, *, now: float | None = None) -> int: ...

    async def computed_at(self) -> float | None: ...


class TierSchedule:
    """``await TierSchedule(store.tiers, interval).run()`` recomputes every ``interval`` seconds, forever.

    ``clock`` (epoch seconds) and ``sleep`` are for tests. ``tier_runs`` and ``tier_failures`` count the
    scheduled recomputations done and failed (the daemon's ``cti_tier_runs_total`` and
    ``cti_tier_failures_total``).
    """

    def __init__(
        self,
        tiers: Tiers,
        interval: float,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if interval <= 0:
            raise UsageError("the tier schedule needs an interval > 0")
        self.tiers = tiers
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self.tier_runs = 0
        self.tier_failures = 0

    async def run(self) -> None:
        while True:
            try:
                last = await self.tiers.computed_at()
                due = 0.0 if last is None else max(0.0, last + self.interval - self._clock())
                await self._sleep(due)
                changed = await self.tiers.recompute()
                self.tier_runs += 1
                log.info("value tiers recomputed", extra={"changed": changed})
                await self._sleep(self.interval)
            except Exception as e:
                self.tier_failures += 1
                log.error("recomputing the value tiers failed: %s; next attempt in %.0f s", e, self.interval)
                await self._sleep(self.interval)

    def collect(self) -> Iterable[Metric]:
        yield counter("tier_runs_total", "scheduled value-tier recomputations", self.tier_runs)
        yield counter("tier_failures_total", "failed scheduled tier runs", self.tier_failures)
