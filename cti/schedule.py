"""The store's scheduled jobs as daemon components: today the value-tier recomputation.

The store does the work and keeps the counters (``run_tier_schedule``, ``tier_runs``, ``tier_failures``);
this component runs it in the daemon's TaskGroup and reports it on ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from cti.telemetry import Metric, counter


class TierStore(Protocol):
    @property
    def tier_runs(self) -> int: ...

    @property
    def tier_failures(self) -> int: ...

    async def run_tier_schedule(self, interval: float) -> None: ...


class TierSchedule:
    """Recompute the value tiers every ``every`` seconds (0: never, the metrics still show)."""

    def __init__(self, store: TierStore, every: float) -> None:
        self.store = store
        self.every = every

    @property
    def enabled(self) -> bool:
        return self.every > 0

    async def run(self) -> None:
        if self.enabled:
            await self.store.run_tier_schedule(self.every)

    def collect(self) -> Iterable[Metric]:
        yield counter("tier_runs_total", "scheduled value-tier recomputations", self.store.tier_runs)
        yield counter("tier_failures_total", "failed scheduled tier runs", self.store.tier_failures)
