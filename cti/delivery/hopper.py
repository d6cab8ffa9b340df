"""The hopper's store side: keeps leads fetched ahead of the dialer and raises the low-leads alarm.

The policy is pure (cti.dialer.hopper.HopperPolicy); this adapter asks the store for callable leads, holds
them, and on each ``refill`` compares the callable leads left with ``alarm_minutes`` of dialing. A change
into (or out of) the low state is logged, counted for Prometheus (``collect``) and handed to ``on_alarm``
as a ``kpi_alert``-shaped message (metric ``hopper_minutes_left``, scope ``campaign``) so the supervisors'
console shows it with its other alerts (docs/design/leads.md).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from cti.dialer.hopper import HopperPolicy
from cti.telemetry import Metric, counter, gauge

log = logging.getLogger("cti.hopper")


class CallableRows(Protocol):
    async def callable_leads(self, campaign: str, *, now: float | None = None, limit: int = 100) -> Any: ...

    async def count_callable(
        self, campaign: str, *, now: float | None = None, limit: int = 100_000
    ) -> int: ...


class Hopper:
    def __init__(
        self,
        rows: CallableRows,
        campaign: str,
        policy: HopperPolicy,
        *,
        on_alarm: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.rows, self.campaign, self.policy, self.on_alarm = rows, campaign, policy, on_alarm
        self.held: deque[Any] = deque()
        self.left = 0
        self.low = False
        self.alarms = 0

    async def refill(self, dial_rate: float, now: float) -> int:
        """Fetch ahead when the policy says so; returns how many leads were added. Checks the alarm."""
        want = self.policy.to_fetch(len(self.held), dial_rate)
        added = 0
        if want:
            held = {lead.id for lead in self.held}
            found = await self.rows.callable_leads(self.campaign, now=now, limit=want + len(held))
            fresh = [lead for lead in found if lead.id not in held][:want]
            self.held.extend(fresh)
            added = len(fresh)
        self.left = await self.rows.count_callable(self.campaign, now=now)
        low = self.policy.low(self.left, dial_rate)
        if low != self.low:
            self.low = low
            minutes = self.policy.minutes_left(self.left, dial_rate)
            if low:
                self.alarms += 1
                log.warning("hopper low: campaign %s has %d callable leads left", self.campaign, self.left)
            if self.on_alarm is not None:
                self.on_alarm(self._message(minutes, now))
        return added

    def take(self, n: int) -> list[Any]:
        return [self.held.popleft() for _ in range(min(n, len(self.held)))]

    def _message(self, minutes: float, now: float) -> dict[str, Any]:
        level, previous = ("breach", "ok") if self.low else ("ok", "breach")
        return {
            "type": "kpi_alert",
            "metric": "hopper_minutes_left",
            "scope": "campaign",
            "name": self.campaign,
            "threshold": self.policy.alarm_minutes,
            "direction": "min",
            "warn": self.policy.alarm_minutes,
            "subject": self.campaign,
            "level": level,
            "previous": previous,
            "value": None if minutes == float("inf") else round(minutes, 1),
            "at": now,
        }

    def collect(self) -> Iterable[Metric]:
        c = self.campaign
        yield gauge("hopper_leads", "leads fetched ahead in the hopper", len(self.held), campaign=c)
        yield gauge("hopper_callable_leads", "callable leads left in the campaign", self.left, campaign=c)
        yield gauge(
            "hopper_low", "1 while the callable leads left are below the alarm", int(self.low), campaign=c
        )
        yield counter("hopper_low_alarms_total", "times the hopper ran low", self.alarms, campaign=c)
