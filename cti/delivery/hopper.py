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
from collections.abc import Callable, Collection, Iterable
from typing import Any, Protocol

from cti.dialer.eligibility import in_calling_hours
from cti.dialer.hopper import HopperPolicy
from cti.telemetry import Metric, counter, gauge

log = logging.getLogger("cti.hopper")

RECOUNT = 30.0  # seconds between counts of a campaign's callable leads when nothing was fetched


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
        self.fetched: dict[int, float] = {}  # lead id -> when it was read from the store
        self.left = 0
        self.counted_at: float | None = None  # when ``left`` was counted in the store
        self.low = False
        self.alarms = 0

    async def refill(self, dial_rate: float, now: float, *, need: int = 0, skip: Collection[int] = ()) -> int:
        """Fetch ahead when the policy says so, or to hold at least ``need`` (leads in ``skip`` are being
        dialled: never held); returns how many leads were added. Checks the alarm."""
        self._drop_stale(now)
        want = max(self.policy.to_fetch(len(self.held), dial_rate), need - len(self.held))
        added = 0
        if want > 0:
            held = {lead.id for lead in self.held}
            limit = want + len(held) + len(skip)
            found = await self.rows.callable_leads(self.campaign, now=now, limit=limit)
            fresh = [lead for lead in found if lead.id not in held and lead.id not in skip][:want]
            self.held.extend(fresh)
            self.fetched.update((lead.id, now) for lead in fresh)
            added = len(fresh)
        # the callable leads left are counted with each fetch, else at most every RECOUNT seconds: the
        # dialer asks every pacing round (about a second), a COUNT over the leads each time is not needed
        if want > 0 or self.counted_at is None or now - self.counted_at >= RECOUNT:
            self.left = await self.rows.count_callable(self.campaign, now=now)
            self.counted_at = now
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

    def take(self, n: int, now: float | None = None) -> list[Any]:
        """Up to ``n`` held leads, oldest first. With ``now``: a lead held past ``max_age`` is dropped (read
        again on the next refill), and one whose local time left the campaign's window since it was
        fetched is dropped too: a lead fetched ahead is never dialled outside its window."""
        if now is not None:
            self._drop_stale(now)
        out: list[Any] = []
        while self.held and len(out) < n:
            lead = self.held.popleft()
            self.fetched.pop(lead.id, None)
            if now is not None and not _in_window(lead, now):
                continue
            out.append(lead)
        return out

    def _drop_stale(self, now: float) -> None:
        oldest = now - self.policy.max_age
        if any(self.fetched.get(lead.id, now) < oldest for lead in self.held):
            self.held = deque(lead for lead in self.held if self.fetched.get(lead.id, now) >= oldest)
            self.fetched = {lead.id: self.fetched[lead.id] for lead in self.held if lead.id in self.fetched}

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


def _in_window(lead: Any, now: float) -> bool:
    return in_calling_hours(lead.number, lead.timezone, now, lead.call_from_hour, lead.call_to_hour)
